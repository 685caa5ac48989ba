package event

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/events/*")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "42", "[]", "[1,[2],{}]", `{"a":1`, "{\n\"a\":x}\n{}", "\xef\xbb\xbf{}", `"\ud800"`, "{\"a\":\"\xff\"}",
		`{"Type":"Notification","Message":"{\"Type\":\"Notification\",\"Message\":\"[]\"}"}`,
		`{"Records":[{"body":"{}"},{"Sns":{"Message":"1 2"}},{"eventVersion":"1","eventSource":"s","eventName":"n","eventTime":"2024-01-02T03:04:05Z","eventID":"x"}]}`,
		`{"Findings":[{"SchemaVersion":"1","ProductArn":"p","AwsAccountId":"1","Types":[],"Id":"i","UpdatedAt":"2024-01-02T03:04:05Z"}]}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzScan checks that scanning never panics and never loses a value: every value the
// input holds is either normalised into events or rejected, and values decode as
// encoding/json decodes them.
func FuzzScan(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSplitter(bytes.NewReader(data))
		items, rejected := 0, 0
		var values [][]byte
		for {
			it, err := s.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			items++
			if it.line < 1 || it.col < 1 {
				t.Fatalf("position %d:%d", it.line, it.col)
			}
			if it.err != nil {
				rejected++
				continue
			}
			values = append(values, bytes.Clone(it.data))
			outcomes := 0
			n := &normaliser{emit: func(e *Event) error {
				outcomes++
				if e.Resources == nil || e.Severity < 0 || e.Severity > 10 || e.Envelope == nil || !json.Valid(e.Raw) {
					t.Fatalf("malformed event %+v", e)
				}
				for _, r := range e.Resources {
					if r.Tags == nil {
						t.Fatalf("nil tags in %+v", e)
					}
				}
				return nil
			}, fail: func(error) { outcomes++ }}
			n.value(it.data)
			if outcomes == 0 {
				t.Fatalf("value %q was neither emitted nor rejected", it.data)
			}
		}

		// Compare with encoding/json on what it can judge: a stream of plain values.
		plain := bytes.TrimPrefix(data, bom)
		dec := json.NewDecoder(bytes.NewReader(plain))
		dec.UseNumber()
		var want []any
		for {
			var v any
			err := dec.Decode(&v)
			if err == io.EOF {
				break
			}
			if err != nil {
				if rejected == 0 {
					t.Fatalf("encoding/json rejects the input (%v) but nothing was rejected", err)
				}
				return
			}
			if a, ok := v.([]any); ok {
				want = append(want, a...)
			} else {
				want = append(want, v)
			}
		}
		if !utf8.Valid(plain) || depth(want) > MaxDepth || len(plain) > MaxEventSize {
			return
		}
		if rejected != 0 || len(values) != len(want) {
			t.Fatalf("%d values and %d rejections, want %d values", len(values), rejected, len(want))
		}
		for i, v := range values {
			if got := decodeValid(v); !equalJSON(got, want[i]) {
				t.Fatalf("value %d decodes to %#v, want %#v", i, got, want[i])
			}
		}
	})
}

func depth(v any) int {
	d := 0
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	case map[string]any:
		for _, e := range x {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}

// FuzzFromJSON checks that FromJSON never panics and accounts for its input: it returns
// events, an error, or the input holds no value at all.
func FuzzFromJSON(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		events, err := FromJSON(data)
		for _, e := range events {
			if e.Resources == nil || e.Envelope == nil || e.Severity < 0 || e.Severity > 10 {
				t.Fatalf("malformed event %+v", e)
			}
		}
		if len(events) == 0 && err == nil {
			var n int
			_ = Scan(context.Background(), "", bytes.NewReader(data), func(*Event) error { n++; return nil }, func(*InputError) { n++ })
			trimmed := bytes.TrimSpace(bytes.TrimPrefix(data, bom))
			if n != 0 || (len(trimmed) > 0 && !isEmptyArrays(trimmed)) {
				t.Fatalf("input %q gave no events and no error", data)
			}
		}
	})
}

// isEmptyArrays reports whether data is nothing but empty top-level arrays.
func isEmptyArrays(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var v []any
		if err := dec.Decode(&v); err == io.EOF {
			return true
		} else if err != nil || len(v) != 0 {
			return false
		}
	}
}
