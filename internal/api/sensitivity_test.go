package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

// TestSensitivity checks that an incident labelled with a sensitivity is listed, counted
// and shown only to callers cleared for the label, and answered 404 to the others on every
// route that names it, as an incident that does not exist is.
func TestSensitivity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s.Dialect(), RateLimit{}, nil)
		ctx := engine.WithCaller(context.Background(), engine.Caller{Name: "token:tok-someone"})
		var ids []string
		for i := range 3 {
			inc, _, err := f.eng.RequestAction(ctx, "ec2.terminate", action.Target{Kind: event.KindInstance,
				ID: fmt.Sprintf("i-sens%d", i), Account: prodAccount, Region: "us-east-1"}, "sensitivity", "")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, inc.ID)
		}
		restricted := ids[0]
		err := f.store.Write(context.Background(), func(tx *store.Tx) error {
			_, err := tx.Exec(context.Background(), `UPDATE incidents SET sensitivity = ? WHERE id = ?`, "restricted", restricted)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := f.token(t, auth.Approver, time.Hour)
		cleared, clearedName := f.token(t, auth.Approver, time.Hour)
		other, otherName := f.token(t, auth.Approver, time.Hour)
		f.h.opts.Clearance = func(p auth.Principal) []string {
			switch p.Name {
			case clearedName:
				return []string{"restricted"}
			case otherName:
				return []string{"secret"}
			}
			return nil
		}

		tests := []struct {
			name, token string
			sees        bool
		}{
			{"no clearance", plain, false},
			{"cleared for the label", cleared, true},
			{"cleared for another label", other, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := f.do(t, http.MethodGet, "/v1/incidents", bearer(tt.token), "")
				list := decodeAs[IncidentList](t, w)
				var got []string
				for _, inc := range list.Incidents {
					got = append(got, inc.ID)
					if inc.ID == restricted && inc.Sensitivity != "restricted" {
						t.Errorf("listed with sensitivity %q, want restricted", inc.Sensitivity)
					}
				}
				wantLen := 2
				if tt.sees {
					wantLen = 3
				}
				if len(got) != wantLen || slices.Contains(got, restricted) != tt.sees {
					t.Errorf("listed %v; want %d incidents, the restricted one included: %v", got, wantLen, tt.sees)
				}
				// A page of one must not be cut short by what the caller may not see.
				w = f.do(t, http.MethodGet, "/v1/incidents?limit=1", bearer(tt.token), "")
				if page := decodeAs[IncidentList](t, w); len(page.Incidents) != 1 || page.NextCursor == "" {
					t.Errorf("a page of one: %+v", page)
				}
				for _, rt := range []struct{ method, path string }{
					{http.MethodGet, "/v1/incidents/" + restricted},
					{http.MethodGet, "/v1/incidents/" + restricted + "/evidence"},
					{http.MethodPost, "/v1/incidents/" + restricted + "/steps/0/deny"},
				} {
					w := f.do(t, rt.method, rt.path, bearer(tt.token), "")
					want := http.StatusNotFound
					if tt.sees {
						want = http.StatusOK
					}
					if w.Code != want {
						t.Errorf("%s %s: %d %s, want %d", rt.method, rt.path, w.Code, w.Body, want)
					}
				}
			})
		}
	})
}
