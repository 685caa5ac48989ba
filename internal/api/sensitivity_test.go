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
// and shown only to callers cleared for the label (by their token's clearance, or as
// administrators), and answered 404 to the others on every route that names it, as an
// incident that does not exist is.
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
		cleared := f.clearedToken(t, auth.Approver, "Restricted")
		viewer := f.clearedToken(t, auth.Viewer, "restricted")
		other := f.clearedToken(t, auth.Approver, "secret")
		admin, _ := f.token(t, auth.Admin, time.Hour)

		tests := []struct {
			name, token string
			sees        bool
			// changes says the caller's role may approve and close: a viewer's answer to
			// those is 403 whether or not the incident exists.
			changes bool
		}{
			{"no clearance", plain, false, true},
			{"token cleared for the label", cleared, true, true},
			{"viewer token cleared for the label", viewer, true, false},
			{"cleared for another label", other, false, true},
			{"admin, cleared for every label", admin, true, true},
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
				for _, rt := range []struct {
					method, path string
					// seen are the answers to a caller who may see the incident: a change
					// the incident's state refuses (409) still says that it exists.
					seen   []int
					change bool
				}{
					{http.MethodGet, "/v1/incidents/" + restricted, []int{http.StatusOK}, false},
					{http.MethodGet, "/v1/incidents/" + restricted + "/evidence", []int{http.StatusOK}, false},
					// Waiting for approval it cannot be closed, and once denied it has closed.
					{http.MethodPost, "/v1/incidents/" + restricted + "/close", []int{http.StatusConflict}, true},
					// The first caller who sees it denies the step; the next finds it decided.
					{http.MethodPost, "/v1/incidents/" + restricted + "/steps/0/deny", []int{http.StatusOK, http.StatusConflict}, true},
				} {
					if rt.change && !tt.changes {
						continue
					}
					w := f.do(t, rt.method, rt.path, bearer(tt.token), "")
					want := []int{http.StatusNotFound}
					if tt.sees {
						want = rt.seen
					}
					if !slices.Contains(want, w.Code) {
						t.Errorf("%s %s: %d %s, want one of %v", rt.method, rt.path, w.Code, w.Body, want)
					}
				}
			})
		}
	})
}

// clearedToken issues an API token, valid for an hour, cleared for labels.
func (f *fixture) clearedToken(t *testing.T, role auth.Role, labels ...string) string {
	t.Helper()
	tok, _, err := auth.Issue(context.Background(), f.store, auth.IssueOptions{Role: role, Clearance: labels, TTL: time.Hour, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
