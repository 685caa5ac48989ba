package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/event"
)

// counting is an Intake that stores nothing and counts what it is given.
type counting struct{ events atomic.Int64 }

func (c *counting) Accept(_ context.Context, evs []*event.Event, _ string) (int, int, error) {
	c.events.Add(int64(len(evs)))
	return len(evs), 0, nil
}

// FuzzEvents posts arbitrary bodies. Every answer is 202, 400 or 413 with a JSON body;
// every event read is passed to the Intake and counted; and when the body is a stream of
// well-formed JSON values, each top-level value (each element of a top-level array) is
// accounted for: its events are counted, or its index is in rejected, exactly as reading
// the value on its own says.
func FuzzEvents(f *testing.F) {
	for _, name := range []string{"securityhub-two-findings.json", "sns-wrapped.json", "sqs-receive-message.json"} {
		f.Add([]byte(testdata(f, name)))
	}
	f.Add([]byte("[" + ev("a") + `, {"x": 1}, ` + ev("b") + ", 42, " + ev("c") + "]"))
	f.Add([]byte(ev("a") + "\n{\"id\": oops}\n" + ev("b") + "\n[1, [2]]\n"))
	f.Add([]byte("[" + ev("a") + ", " + ev("b")))
	f.Add([]byte("\xef\xbb\xbf" + ev("a")))
	f.Add([]byte(""))

	intake := &counting{}
	srv, err := New(Options{Intake: intake, APIKeys: []APIKey{{Key: testKey}}, MaxBodyBytes: 64 << 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := intake.events.Load()
		req := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body))
		req.Header.Set("X-Api-Key", testKey)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		given := int(intake.events.Load() - before)

		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("status %d, body not JSON: %q", rec.Code, rec.Body)
		}
		switch rec.Code {
		case http.StatusAccepted:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if given != 0 {
				t.Fatalf("status %d after giving %d events to the Intake", rec.Code, given)
			}
			return
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var r EventsResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.Rejected == nil {
			t.Fatalf("bad 202 body %q: %v", rec.Body, err)
		}
		if r.Accepted+r.Duplicates != given {
			t.Fatalf("answered %d accepted + %d duplicates, gave the Intake %d", r.Accepted, r.Duplicates, given)
		}
		if !slices.IsSortedFunc(r.Rejected, func(a, b Rejection) int { return a.Index - b.Index }) || len(r.Rejected) > 0 && r.Rejected[0].Index < 0 {
			t.Fatalf("rejected indexes out of order: %+v", r.Rejected)
		}

		// The same body read whole, without the server.
		evs, err := event.FromJSON(body)
		if len(evs) != given || countErrors(err) != len(r.Rejected) {
			t.Fatalf("server: %d events, %d rejected; FromJSON: %d events, %d errors", given, len(r.Rejected), len(evs), countErrors(err))
		}

		values, ok := topLevelValues(body)
		if !ok {
			return
		}
		want, events := []int{}, 0
		for i, v := range values {
			var n, bad int
			if v[0] == '[' {
				bad = 1 // an array inside a top-level array is no event
			} else {
				evs, err := event.FromJSON(v)
				n, bad = len(evs), countErrors(err)
			}
			events += n
			if bad > 0 {
				want = append(want, i)
			}
			if n == 0 && bad == 0 {
				t.Fatalf("value %d gave neither an event nor a rejection: %s", i, v)
			}
		}
		var got []int
		for _, rj := range r.Rejected {
			if len(got) == 0 || got[len(got)-1] != rj.Index {
				got = append(got, rj.Index)
			}
		}
		if events != given || !slices.Equal(got, want) && (len(got) > 0 || len(want) > 0) {
			t.Fatalf("%d values: %d events, rejected %v; reading each value alone: %d events, rejected %v", len(values), given, got, events, want)
		}
	})
}

// topLevelValues splits a body of well-formed JSON values into the values the intake
// numbers: each element of a top-level array, and each other top-level value. ok is
// false when the body is not well-formed JSON throughout.
func topLevelValues(body []byte) (values []json.RawMessage, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return values, true
		}
		if err != nil {
			return nil, false
		}
		if v[0] != '[' {
			values = append(values, v)
			continue
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(v, &elems); err != nil {
			return nil, false
		}
		values = append(values, elems...)
	}
}

func countErrors(err error) int {
	if err == nil {
		return 0
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}
