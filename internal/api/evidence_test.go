package api

import (
	"context"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// TestEvidence follows a detector's event to an incident that snapshots and isolates an
// instance, and checks its evidence manifest: the snapshots, the AWS
// request ids of every step, the event, served as an attachment to callers in scope only.
func TestEvidence(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	data, err := os.ReadFile(cryptoDev)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := event.FromJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.eng.Accept(context.Background(), evs, "http"); err != nil {
		t.Fatal(err)
	}
	tok, _ := f.token(t, auth.Viewer, time.Hour, devAccount)
	list := f.incidents(t)
	if len(list) != 1 {
		t.Fatalf("%d incidents, want 1", len(list))
	}
	inc := f.waitFor(t, bearer(tok), list[0].ID, store.StateAwaitingApproval)

	w := f.do(t, http.MethodGet, "/v1/incidents/"+inc.ID+"/evidence", bearer(tok), "", "X-Request-Id", "manifest-1")
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename="`+inc.ID+`-evidence.json"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	m := decodeAs[EvidenceManifest](t, w)
	if m.Incident != inc.ID || m.RequestID != "manifest-1" || len(m.Steps) != len(inc.Steps) ||
		len(m.Events) != 1 || m.Events[0].ID != evs[0].ID || m.Generated.IsZero() {
		t.Errorf("manifest %+v", m)
	}
	kinds := map[string]int{}
	var ids []string
	for _, st := range m.Steps {
		for _, e := range st.Evidence {
			kinds[e.Kind]++
		}
		ids = append(ids, st.RequestIDs...)
	}
	if kinds["snapshot"] == 0 {
		t.Errorf("evidence kinds %v, want the volumes' snapshots", kinds)
	}
	for _, id := range ids {
		if !slices.Contains(m.RequestIDs, id) {
			t.Errorf("request id %s of a step is not in the manifest's list", id)
		}
	}
	for i, id := range m.RequestIDs {
		if !slices.Contains(ids, id) || slices.Index(m.RequestIDs, id) != i {
			t.Errorf("request id %s is no step's, or listed twice", id)
		}
	}

	other, _ := f.token(t, auth.Viewer, time.Hour, prodAccount)
	tests := []struct {
		name, path, token string
		want              int
	}{
		{"another account", "/v1/incidents/" + inc.ID + "/evidence", bearer(other), http.StatusForbidden},
		{"no such incident", "/v1/incidents/inc-nothere/evidence", bearer(tok), http.StatusNotFound},
		{"a query parameter", "/v1/incidents/" + inc.ID + "/evidence?format=zip", bearer(tok), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, http.MethodGet, tt.path, tt.token, "")
			if w.Code != tt.want || w.Header().Get("Content-Type") != ProblemContentType || w.Header().Get("Content-Disposition") != "" {
				t.Errorf("%d %q %s, want a %d problem, not an attachment", w.Code, w.Header().Get("Content-Type"), w.Body, tt.want)
			}
		})
	}
}
