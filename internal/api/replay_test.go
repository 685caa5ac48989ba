package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// TestReplay checks that POST /v1/replay answers, for each event, the record replay
// --output json prints for it, reports the values that are not events, and stores, acts
// on and audits nothing.
func TestReplay(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	tok, _ := f.token(t, auth.Viewer, time.Hour)
	crypto, err := os.ReadFile(cryptoDev)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := os.ReadFile(replayEvent)
	if err != nil {
		t.Fatal(err)
	}
	before, err := f.store.VerifyAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// Two events and a value that is not one, as newline-delimited JSON.
	body := compact(t, crypto) + "\n" + `{"hello": "world"}` + "\n" + compact(t, prod) + "\n"
	w := f.do(t, http.MethodPost, "/v1/replay", bearer(tok), body)
	if w.Code != http.StatusOK {
		t.Fatalf("replay: %d %s", w.Code, w.Body)
	}
	var got struct {
		Records  []json.RawMessage `json:"records"`
		Rejected []Rejection       `json:"rejected"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := replayRecords(t, f.h.opts.Decider(), f.h.opts.Inventory, crypto, prod)
	if len(got.Records) != len(want) {
		t.Fatalf("%d records, want %d", len(got.Records), len(want))
	}
	for i := range want {
		if string(got.Records[i]) != want[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i, got.Records[i], want[i])
		}
	}
	if len(got.Rejected) != 1 || got.Rejected[0].Index != 1 || !strings.HasPrefix(got.Rejected[0].Error, "body:2:") {
		t.Errorf("rejected %+v, want the second value, at body:2", got.Rejected)
	}
	if n := len(f.incidents(t)); n != 0 {
		t.Errorf("%d incidents after a replay, want none", n)
	}
	if after, _ := f.store.VerifyAudit(context.Background()); after.Records != before.Records {
		t.Errorf("audit records went from %d to %d", before.Records, after.Records)
	}

	tests := []struct {
		name, body string
		want       int
		param      string
	}{
		{"empty", "", http.StatusBadRequest, "body"},
		{"only space", " \n ", http.StatusBadRequest, "body"},
		{"oversize", `{"x": "` + strings.Repeat("x", MaxReplayBytes) + `"}`, http.StatusRequestEntityTooLarge, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, http.MethodPost, "/v1/replay", bearer(tok), tt.body)
			if w.Code != tt.want {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tt.want)
			}
			if p := decodeAs[Problem](t, w); len(p.InvalidParams) == 0 || p.InvalidParams[0].Name != tt.param {
				t.Errorf("problem %+v, want it to name %s", p, tt.param)
			}
		})
	}
	if w := f.do(t, http.MethodPost, "/v1/replay?dry=1", bearer(tok), string(crypto)); w.Code != http.StatusBadRequest {
		t.Errorf("a query parameter: %d, want 400", w.Code)
	}
	f.h.opts.Decider = func() *decide.Engine { return nil }
	if w := f.do(t, http.MethodPost, "/v1/replay", bearer(tok), string(crypto)); w.Code != http.StatusServiceUnavailable {
		t.Errorf("no decider: %d, want 503", w.Code)
	}
}

// TestReplayScope checks that a caller scoped to some accounts gets no inventory facts
// about the others: a replayed event about them is decided on its own tags alone.
func TestReplayScope(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	w, err := world.Load(worldFile)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cryptoDev)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		accounts []string
		inv      decide.Inventory
	}{
		{"in scope", []string{devAccount}, decide.WorldInventory(w)},
		{"unscoped", nil, decide.WorldInventory(w)},
		{"out of scope", []string{prodAccount}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _ := f.token(t, auth.Viewer, time.Hour, tt.accounts...)
			resp := f.do(t, http.MethodPost, "/v1/replay", bearer(tok), string(data))
			if resp.Code != http.StatusOK {
				t.Fatalf("%d %s", resp.Code, resp.Body)
			}
			got := decodeAs[struct {
				Records []json.RawMessage `json:"records"`
			}](t, resp)
			want := replayRecords(t, f.h.opts.Decider(), tt.inv, data)
			if len(got.Records) != 1 || string(got.Records[0]) != want[0] {
				t.Errorf("got %s\nwant %s", got.Records, want)
			}
		})
	}
}

// replayRecords is what replay --output json prints for each input, line by line.
func replayRecords(t *testing.T, eng *decide.Engine, inv decide.Inventory, inputs ...[]byte) []string {
	t.Helper()
	var out []string
	for _, in := range inputs {
		evs, err := event.FromJSON(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			decide.Enrich(ev, inv)
			b, err := json.Marshal(ReplayRecord{Event: ev, Decisions: eng.Decide(context.Background(), ev, inv)})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
	}
	return out
}

// compact puts a JSON value on one line, its keys in their order, as a line of
// newline-delimited JSON.
func compact(t *testing.T, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
