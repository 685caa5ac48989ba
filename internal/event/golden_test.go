package event

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// render is the golden form of an event: its JSON without Raw, on one line.
func render(t testing.TB, e *Event) []byte {
	t.Helper()
	c := *e
	c.Raw = nil
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkInvariants holds for every event, whatever its source.
func checkInvariants(t *testing.T, e *Event) {
	t.Helper()
	if e.ID == "" || e.Source == "" || e.Type == "" || e.Account == "" || e.Time.IsZero() {
		t.Errorf("event lacks id, source, type, account or time: %s", render(t, e))
	}
	if e.Severity < 0 || e.Severity > 10 {
		t.Errorf("%s: severity %v out of 0-10", e.ID, e.Severity)
	}
	if !json.Valid(e.Raw) {
		t.Errorf("%s: raw is not JSON: %q", e.ID, e.Raw)
	}
	if e.Resources == nil {
		t.Errorf("%s: resources is nil", e.ID)
	}
	for _, r := range e.Resources {
		if r.Tags == nil {
			t.Errorf("%s: %s %s has nil tags", e.ID, r.Kind, r.ID)
		}
		if r.ID == "" {
			t.Errorf("%s: %s resource without id", e.ID, r.Kind)
		}
	}
	for _, f := range []string{"id", "detail-type", "source", "account", "time", "region", "detail"} {
		if _, ok := e.Envelope[f]; !ok {
			t.Errorf("%s: envelope lacks %q", e.ID, f)
		}
	}
	if e.Source != SourceSecurityHub && e.Envelope["id"] != e.ID {
		t.Errorf("%s: envelope id is %v", e.ID, e.Envelope["id"])
	}
	if raw, ok := decodeStd(t, e.Raw).(map[string]any); ok && raw["detail-type"] != nil && e.Source != SourceSecurityHub {
		if !equalJSON(raw, e.Envelope) {
			t.Errorf("%s: envelope differs from raw", e.ID)
		}
	}
	if e.Source == SourceSecurityHub {
		fs := e.Envelope["detail"].(map[string]any)["findings"].([]any)
		if len(fs) != 1 || fs[0].(map[string]any)["Id"] != e.ID {
			t.Errorf("%s: envelope does not hold just its finding", e.ID)
		}
		var raw map[string]any
		if err := json.Unmarshal(e.Raw, &raw); err != nil || raw["Id"] != e.ID {
			t.Errorf("%s: raw is not the finding", e.ID)
		}
	}
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/events/*")
	if err != nil || len(files) == 0 {
		t.Fatal("no fixtures", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			var got bytes.Buffer
			var events []*Event
			err := ScanPath(context.Background(), file, nil, func(e *Event) error {
				events = append(events, e)
				got.Write(render(t, e))
				return nil
			}, func(e *InputError) {
				t.Errorf("rejected: %v", e)
			})
			if err != nil {
				t.Fatal(err)
			}
			// Checked once the whole input is read: events must own what they hold.
			for _, e := range events {
				checkInvariants(t, e)
			}
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(name, filepath.Ext(name))+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/event -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("output differs from %s (run with -update to accept):\ngot:\n%s\nwant:\n%s", golden, got.Bytes(), want)
			}
		})
	}
}
