package engine

import (
	"context"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// TestRecordRejectionsAndConfig checks that rejected values and configuration loads are
// in the audit chain, naming who sent them, and that the chain stays intact.
func TestRecordRejectionsAndConfig(t *testing.T) {
	f := newFixture(t, store.SQLite, options{stopped: true})
	ctx := WithCaller(context.Background(), Caller{Name: "api key eventbridge", Source: "192.0.2.7:4711", RequestID: "req-1"})
	if err := f.eng.Reject(ctx, "http", "api key eventbridge", []Rejection{{Index: 1, Error: "body:1:7: not an event"}, {Index: 3, Error: "body:1:20: a JSON number is not an event"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.eng.Reject(ctx, "http", "api key eventbridge", nil); err != nil {
		t.Fatal(err)
	}
	if err := f.eng.RecordConfig(context.Background(), "config.loaded", "firebreak.yaml", map[string]any{"playbooks": 10}); err != nil {
		t.Fatal(err)
	}
	f.verifyAudit(t)

	got := auditRecords(t, f.store)
	if len(got) != 3 {
		t.Fatalf("%d audit records, want 3: %+v", len(got), got)
	}
	r := got[0]
	if r.Kind != "event.rejected" || r.Actor != "api key eventbridge" || r.Source != "192.0.2.7:4711" || r.RequestID != "req-1" ||
		r.Subject != "http" || string(r.Data) != `{"error":"body:1:7: not an event","index":1}` {
		t.Errorf("first record %+v, want the first rejection with its caller", r)
	}
	if got[2].Kind != "config.loaded" || got[2].Actor != actor || got[2].Subject != "firebreak.yaml" {
		t.Errorf("last record %+v, want config.loaded by %s", got[2], actor)
	}
}
