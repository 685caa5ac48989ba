package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// TestPlaybooks checks the playbook routes: the list and one playbook as loaded, the
// runbook as Markdown, and problems naming what is wrong with a request.
func TestPlaybooks(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	tok, _ := f.token(t, auth.Viewer, time.Hour, devAccount)
	viewer := bearer(tok)

	w := f.do(t, http.MethodGet, "/v1/playbooks", viewer, "")
	if w.Code != http.StatusOK {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	list := decodeAs[PlaybookList](t, w)
	var dev *PlaybookView
	for i, p := range list.Playbooks {
		if i > 0 && list.Playbooks[i-1].Name >= p.Name {
			t.Errorf("playbooks not in name order: %s before %s", list.Playbooks[i-1].Name, p.Name)
		}
		if p.Name == "ec2-compromise-dev" {
			dev = &list.Playbooks[i]
		}
	}
	if dev == nil {
		t.Fatalf("ec2-compromise-dev not listed in %d playbooks", len(list.Playbooks))
	}
	if dev.Target != "instance" || dev.Mode != playbook.ModeEnforce || dev.Labels["environment"] != "dev" ||
		len(dev.Steps) != 4 || dev.Steps[0].Action != "ec2.snapshot-volumes" || !dev.Steps[3].Approval || dev.When == "" || len(dev.On) == 0 {
		t.Errorf("ec2-compromise-dev listed as %+v", dev)
	}

	w = f.do(t, http.MethodGet, "/v1/playbooks/ec2-compromise-dev", viewer, "")
	if got := decodeAs[PlaybookView](t, w); w.Code != http.StatusOK || got.Name != dev.Name || len(got.Steps) != len(dev.Steps) {
		t.Errorf("get: %d %+v", w.Code, got)
	}

	w = f.do(t, http.MethodGet, "/v1/playbooks/ec2-compromise-dev/runbook", viewer, "")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != MarkdownContentType ||
		!strings.HasPrefix(w.Body.String(), "#") || !strings.Contains(w.Body.String(), "snapshot") {
		t.Errorf("runbook: %d %q %.200s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}

	tests := []struct {
		name, path string
		want       int
		param      string
	}{
		{"unknown playbook", "/v1/playbooks/no-such-playbook", http.StatusNotFound, ""},
		{"unknown playbook's runbook", "/v1/playbooks/no-such-playbook/runbook", http.StatusNotFound, ""},
		{"not a name", "/v1/playbooks/Not_A_Name", http.StatusBadRequest, "name"},
		{"too long", "/v1/playbooks/" + strings.Repeat("a", 129), http.StatusBadRequest, "name"},
		{"list with a filter", "/v1/playbooks?mode=enforce", http.StatusBadRequest, "mode"},
		{"runbook with a format", "/v1/playbooks/ec2-compromise-dev/runbook?format=html", http.StatusBadRequest, "format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, http.MethodGet, tt.path, viewer, "")
			if w.Code != tt.want || w.Header().Get("Content-Type") != ProblemContentType {
				t.Fatalf("%d %q %s, want a %d problem", w.Code, w.Header().Get("Content-Type"), w.Body, tt.want)
			}
			if p := decodeAs[Problem](t, w); tt.param != "" && (len(p.InvalidParams) == 0 || p.InvalidParams[0].Name != tt.param) {
				t.Errorf("problem %+v, want it to name %s", p, tt.param)
			}
		})
	}
}

// TestPlaybooksReload checks that the routes read the set on every call, so that a reload
// shows at once, and that a server without playbooks says so.
func TestPlaybooksReload(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	tok, _ := f.token(t, auth.Viewer, time.Hour)
	var current *playbook.Set
	f.h.opts.Playbooks = func() *playbook.Set { return current }
	if w := f.do(t, http.MethodGet, "/v1/playbooks", bearer(tok), ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("no set: %d, want 503", w.Code)
	}
	current = &playbook.Set{Playbooks: []*playbook.Playbook{{Name: "only-one", Target: "instance", Mode: playbook.ModeDryRun}}}
	w := f.do(t, http.MethodGet, "/v1/playbooks", bearer(tok), "")
	if got := decodeAs[PlaybookList](t, w); len(got.Playbooks) != 1 || got.Playbooks[0].Name != "only-one" ||
		got.Playbooks[0].Labels == nil || got.Playbooks[0].Steps == nil {
		t.Errorf("after a reload: %+v, want only-one with empty, not null, labels and steps", got)
	}
}
