package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
)

const testKey = "test-key-0123456789abcdef"

// store is an Intake that keeps events in memory, recognising duplicates by id, and the
// rejections it is told of.
type store struct {
	mu       sync.Mutex
	ids      map[string]bool
	calls    int
	fail     error // returned by Accept, with nothing stored, while set
	rejected []engine.Rejection
	senders  []string
}

func (s *store) Reject(ctx context.Context, via, sender string, rs []engine.Rejection) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if via != Via {
		return fmt.Errorf("via %q", via)
	}
	s.rejected = append(s.rejected, rs...)
	s.senders = append(s.senders, sender)
	return nil
}

func newStore() *store { return &store{ids: map[string]bool{}} }

func (s *store) Accept(ctx context.Context, evs []*event.Event, via string) (accepted, duplicates int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		return 0, 0, s.fail
	}
	if via != Via {
		return 0, 0, fmt.Errorf("via %q", via)
	}
	for _, e := range evs {
		if s.ids[e.ID] {
			duplicates++
			continue
		}
		s.ids[e.ID] = true
		accepted++
	}
	return accepted, duplicates, nil
}

func (s *store) stored() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

func (s *store) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// ev is a generic EventBridge event with the given id.
func ev(id string) string {
	return `{"version":"0","id":"` + id + `","detail-type":"Deploy","source":"my.app","account":"111122223333",` +
		`"time":"2025-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{}}`
}

func testdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type fixture struct {
	srv   *Server
	store *store
	reg   *prometheus.Registry
	log   *bytes.Buffer
}

func newFixture(t testing.TB, edit func(*Options)) *fixture {
	t.Helper()
	f := &fixture{store: newStore(), reg: prometheus.NewRegistry(), log: &bytes.Buffer{}}
	opts := Options{
		Intake:   f.store,
		APIKeys:  []APIKey{{Name: "eventbridge", Key: testKey}, {Name: "forwarder", Key: "other-key-0123456789abcdef"}},
		Registry: f.reg,
		Logger:   slog.New(slog.NewJSONHandler(&lockedWriter{w: f.log}, nil)),
	}
	if edit != nil {
		edit(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	return f
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// post sends body to POST /v1/events with the test key.
func (f *fixture) post(t testing.TB, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(body))
	req.Header.Set("X-Api-Key", testKey)
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

func decodeEvents(t testing.TB, rec *httptest.ResponseRecorder) EventsResponse {
	t.Helper()
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	var r EventsResponse
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRoutes(t *testing.T) {
	notReady := func(o *Options) {
		o.Ready = func(context.Context) error { return errors.New("ping db.internal:5432: connection refused") }
	}
	big := func(o *Options) { o.MaxBodyBytes = 1000 }
	for _, tc := range []struct {
		name        string
		opts        func(*Options)
		method      string
		path        string
		key         string
		body        string
		chunked     bool
		status      int
		contentType string
		allow       string
		want        string // the body, or for a problem its detail
	}{
		{name: "health", method: "GET", path: "/healthz", status: 200, contentType: "application/json", want: `{"status":"ok"}` + "\n"},
		{name: "health head", method: "HEAD", path: "/healthz", status: 200, contentType: "application/json", want: ""},
		{name: "health post", method: "POST", path: "/healthz", status: 405, allow: "GET, HEAD", want: "POST is not allowed here; use GET, HEAD"},
		{name: "ready", method: "GET", path: "/readyz", status: 200, contentType: "application/json", want: `{"status":"ready"}` + "\n"},
		{name: "not ready", opts: notReady, method: "GET", path: "/readyz", status: 503, want: "not ready to take events; the server log (request_id rid-1) says why"},
		{name: "ready delete", method: "DELETE", path: "/readyz", status: 405, allow: "GET, HEAD", want: "DELETE is not allowed here; use GET, HEAD"},
		{name: "metrics put", method: "PUT", path: "/metrics", status: 405, allow: "GET, HEAD", want: "PUT is not allowed here; use GET, HEAD"},
		{name: "events get", method: "GET", path: "/v1/events", key: testKey, status: 405, allow: "POST", want: "GET is not allowed here; use POST"},
		{name: "unknown path", method: "GET", path: "/v1/nothing", status: 404, want: "no such resource; events go to POST /v1/events"},
		{name: "no key", method: "POST", path: "/v1/events", body: ev("a"), status: 401,
			want: "the X-Api-Key header is missing; send one of the keys configured in api_keys"},
		{name: "wrong key", method: "POST", path: "/v1/events", key: testKey + "x", body: ev("a"), status: 401,
			want: "the X-Api-Key header holds no key this server accepts; check the key configured for this sender"},
		{name: "prefix of a key", method: "POST", path: "/v1/events", key: testKey[:10], body: ev("a"), status: 401,
			want: "the X-Api-Key header holds no key this server accepts; check the key configured for this sender"},
		{name: "one event", method: "POST", path: "/v1/events", key: testKey, body: ev("a"), status: 202, contentType: "application/json",
			want: `{"accepted":1,"duplicates":0,"rejected":[]}` + "\n"},
		{name: "second key", method: "POST", path: "/v1/events", key: "other-key-0123456789abcdef", body: ev("a"), status: 202, contentType: "application/json",
			want: `{"accepted":1,"duplicates":0,"rejected":[]}` + "\n"},
		{name: "empty body", method: "POST", path: "/v1/events", key: testKey, body: " \n", status: 400,
			want: "the body holds no event; send an event, a JSON array of events or newline-delimited JSON"},
		{name: "empty array", method: "POST", path: "/v1/events", key: testKey, body: "[]", status: 400,
			want: "the body holds no event; send an event, a JSON array of events or newline-delimited JSON"},
		{name: "over the limit", opts: big, method: "POST", path: "/v1/events", key: testKey, body: "[" + strings.Repeat(ev("a")+",", 10) + ev("b") + "]", status: 413,
			want: "the body is over the 1000-byte limit, and none of it is accepted; send the events in smaller batches"},
		{name: "over the limit, chunked", opts: big, method: "POST", path: "/v1/events", key: testKey, chunked: true, body: "[" + strings.Repeat(ev("a")+",", 10) + ev("b") + "]", status: 413,
			want: "the body is over the 1000-byte limit, and none of it is accepted; send the events in smaller batches"},
		{name: "at the limit", opts: func(o *Options) { o.MaxBodyBytes = int64(len(ev("a"))) }, method: "POST", path: "/v1/events", key: testKey, body: ev("a"), status: 202,
			contentType: "application/json", want: `{"accepted":1,"duplicates":0,"rejected":[]}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts)
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length, as a chunked upload does
			}
			req := httptest.NewRequest(tc.method, tc.path, body)
			if tc.chunked {
				req.ContentLength = -1
			}
			if tc.key != "" {
				req.Header.Set("X-Api-Key", tc.key)
			}
			req.Header.Set("X-Request-Id", "rid-1")
			rec := httptest.NewRecorder()
			f.srv.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if got := rec.Header().Get("X-Request-Id"); got != "rid-1" {
				t.Errorf("X-Request-Id %q", got)
			}
			if tc.status >= 400 {
				checkProblem(t, rec, tc.status, tc.want, "rid-1")
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if tc.method != "HEAD" && rec.Body.String() != tc.want {
				t.Errorf("body %q, want %q", rec.Body, tc.want)
			}
		})
	}
}

// checkProblem checks rec is an RFC 9457 problem document with exactly the expected members.
func checkProblem(t *testing.T, rec *httptest.ResponseRecorder, status int, detail, requestID string) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	var p map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem is not JSON: %v: %s", err, rec.Body)
	}
	want := map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": float64(status), "detail": detail, "request_id": requestID}
	if fmt.Sprint(p) != fmt.Sprint(want) {
		t.Errorf("problem %v\nwant    %v", p, want)
	}
}

func TestEventsIndexes(t *testing.T) {
	const notEvent = "JSON object is not an event; expected an EventBridge event"
	securityHub := strings.TrimSpace(testdata(t, "securityhub-two-findings.json"))
	for _, tc := range []struct {
		name       string
		body       string
		accepted   int
		duplicates int
		rejected   map[int]string // index → the start of the error
	}{
		{
			name:     "array of 3 good and 2 bad",
			body:     "[" + ev("g1") + `, {"not": "an event"}, ` + ev("g2") + ", 42, " + ev("g3") + "]",
			accepted: 3,
			rejected: map[int]string{1: "body:1:", 3: "body:1:"},
		},
		{
			name:     "NDJSON of 3 good and 2 bad",
			body:     ev("g1") + "\n" + `{"not": "an event"}` + "\n" + ev("g2") + "\n" + `"text"` + "\n" + ev("g3") + "\n",
			accepted: 3,
			rejected: map[int]string{1: "body:2:1: " + notEvent, 3: "body:4:1: a JSON string is not an event"},
		},
		{
			name:     "syntax error in the middle of NDJSON",
			body:     ev("g1") + "\n" + `{"id": oops}` + "\n" + ev("g2") + "\n",
			accepted: 2,
			rejected: map[int]string{1: "body:2:8: invalid JSON: invalid character 'o' looking for beginning of value"},
		},
		{
			name:     "truncated line of NDJSON",
			body:     ev("g1") + "\n" + `{"id": "x", "detail": {"a": 1}` + "\n" + ev("g2") + "\n",
			accepted: 2,
			rejected: map[int]string{1: "body:2:1: JSON value is not complete"},
		},
		{
			name:     "one value, several events",
			body:     securityHub,
			accepted: 2,
		},
		{
			name:     "several events then a bad value",
			body:     "[" + securityHub + ", null, " + ev("g1") + "]",
			accepted: 3,
			rejected: map[int]string{1: "body:"},
		},
		{
			name:     "SNS and SQS wrappers",
			body:     strings.TrimSpace(testdata(t, "sns-wrapped.json")) + "\n" + strings.TrimSpace(testdata(t, "sqs-receive-message.json")),
			accepted: 2,
		},
		{
			name:     "nested array",
			body:     "[" + ev("g1") + ", [1, 2], " + ev("g2") + "]",
			accepted: 2,
			rejected: map[int]string{1: "body:1:"},
		},
		{
			name:     "array not closed",
			body:     "[" + ev("g1") + ", " + ev("g2"),
			accepted: 2,
			rejected: map[int]string{2: "body:1:1: JSON array is not closed"},
		},
		{
			name:       "the same event twice",
			body:       ev("g1") + ev("g1"),
			accepted:   1,
			duplicates: 1,
		},
		{
			name:     "all rejected",
			body:     "[1, true, {}]",
			rejected: map[int]string{0: "body:1:2: a JSON number", 1: "body:1:5: a JSON boolean", 2: "body:1:11: " + notEvent},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			r := decodeEvents(t, f.post(t, tc.body))
			if r.Accepted != tc.accepted || r.Duplicates != tc.duplicates {
				t.Errorf("accepted %d, duplicates %d; want %d, %d", r.Accepted, r.Duplicates, tc.accepted, tc.duplicates)
			}
			if len(r.Rejected) != len(tc.rejected) {
				t.Fatalf("rejected %+v, want indexes of %v", r.Rejected, tc.rejected)
			}
			for _, rj := range r.Rejected {
				want, ok := tc.rejected[rj.Index]
				if !ok || !strings.HasPrefix(rj.Error, want) {
					t.Errorf("rejected %d: %q, want it to start %q", rj.Index, rj.Error, want)
				}
			}
			// Every rejection answered is also recorded, once, naming the key it came with.
			if len(f.store.rejected) != len(r.Rejected) {
				t.Errorf("recorded rejections %+v, want the %d answered", f.store.rejected, len(r.Rejected))
			}
			for i, rj := range f.store.rejected {
				if i < len(r.Rejected) && (rj.Index != r.Rejected[i].Index || rj.Error != r.Rejected[i].Error) {
					t.Errorf("recorded rejection %+v, answered %+v", rj, r.Rejected[i])
				}
			}
			if len(tc.rejected) > 0 && (len(f.store.senders) != 1 || f.store.senders[0] != "api key eventbridge") {
				t.Errorf("rejections recorded from %v, want once from \"api key eventbridge\"", f.store.senders)
			}
			if calls := f.store.calls; (tc.accepted+tc.duplicates > 0) != (calls == 1) {
				t.Errorf("Accept called %d times", calls)
			}
		})
	}
}

func TestEventsResponseShape(t *testing.T) {
	f := newFixture(t, nil)
	f.post(t, ev("seen"))
	rec := f.post(t, "["+ev("seen")+`, {"x": 1}, `+ev("new")+"]")
	want := `{"accepted":1,"duplicates":1,"rejected":[{"index":1,"error":"body:1:` +
		fmt.Sprint(len(ev("seen"))+4) + `: JSON object is not an event; expected an EventBridge event (version, id, detail-type, source, account, time, region, resources, detail), ` +
		`a GuardDuty or Security Hub (ASFF) finding, or an SNS notification or SQS message wrapping one"}]}` + "\n"
	if rec.Code != 202 || rec.Body.String() != want {
		t.Errorf("got %d %s\nwant 202 %s", rec.Code, rec.Body, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestAcceptFails(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.RetryAfter = 1500 * 1e6 })
	f.store.setFail(errors.New("database is locked"))
	body := "[" + ev("a") + ", 7, " + ev("b") + "]"
	rec := f.post(t, body)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ra := rec.Header().Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After %q, want 2 (whole seconds, rounded up)", ra)
	}
	checkProblem(t, rec, 503, "the 2 events could not be stored, and none is accepted; send the same body again later", rec.Header().Get("X-Request-Id"))
	if n := f.store.stored(); n != 0 {
		t.Errorf("%d events stored", n)
	}
	for _, m := range []string{MetricEventsAccepted, MetricEventsDuplicate, MetricEventsRejected} {
		if v := counter(t, f.reg, m); v != 0 {
			t.Errorf("%s = %v after a failed Accept", m, v)
		}
	}
	if !strings.Contains(f.log.String(), "database is locked") {
		t.Errorf("the failure is not logged: %s", f.log)
	}

	// The sender retries once the store is back: everything is accepted, once.
	f.store.setFail(nil)
	r := decodeEvents(t, f.post(t, body))
	if r.Accepted != 2 || r.Duplicates != 0 || len(r.Rejected) != 1 || r.Rejected[0].Index != 1 {
		t.Errorf("retry: %+v", r)
	}
	if v := counter(t, f.reg, MetricEventsAccepted); v != 2 {
		t.Errorf("accepted = %v", v)
	}
}

func TestConcurrentPosts(t *testing.T) {
	f := newFixture(t, nil)
	const senders, posts = 8, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	var accepted, duplicates, rejected int
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range posts {
				// Every sender also posts event "shared-P", so that the same ids race.
				body := ev(fmt.Sprintf("s%d-p%d", s, p)) + "\n" + ev(fmt.Sprintf("shared-%d", p)) + "\nfalse\n"
				req := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(body))
				req.Header.Set("X-Api-Key", testKey)
				rec := httptest.NewRecorder()
				f.srv.ServeHTTP(rec, req)
				var r EventsResponse
				if err := json.Unmarshal(rec.Body.Bytes(), &r); rec.Code != 202 || err != nil {
					t.Errorf("status %d: %s", rec.Code, rec.Body)
					return
				}
				mu.Lock()
				accepted, duplicates, rejected = accepted+r.Accepted, duplicates+r.Duplicates, rejected+len(r.Rejected)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if want := senders*posts + posts; accepted != want || f.store.stored() != want {
		t.Errorf("accepted %d, stored %d, want %d", accepted, f.store.stored(), want)
	}
	if want := (senders - 1) * posts; duplicates != want {
		t.Errorf("duplicates %d, want %d", duplicates, want)
	}
	if rejected != senders*posts {
		t.Errorf("rejected %d", rejected)
	}
	for m, want := range map[string]int{MetricEventsAccepted: accepted, MetricEventsDuplicate: duplicates, MetricEventsRejected: rejected} {
		if v := counter(t, f.reg, m); v != float64(want) {
			t.Errorf("%s = %v, want %d", m, v, want)
		}
	}
}

// counter returns the value of the counter named name in reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	for _, mf := range gather(t, reg) {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func gather(t *testing.T, reg *prometheus.Registry) []*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, nil)
	f.post(t, "["+ev("a")+","+ev("a")+", 1]")
	f.post(t, "")
	f.srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	f.srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/random/path/1", nil))
	for m, want := range map[string]float64{MetricEventsAccepted: 1, MetricEventsDuplicate: 1, MetricEventsRejected: 1} {
		if v := counter(t, f.reg, m); v != want {
			t.Errorf("%s = %v, want %v", m, v, want)
		}
	}
	var series []string
	for _, mf := range gather(t, f.reg) {
		if mf.GetName() != MetricRequestDuration {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			series = append(series, fmt.Sprintf("%s %s %d", labels["route"], labels["code"], m.GetHistogram().GetSampleCount()))
		}
	}
	if got, want := strings.Join(series, "; "), "/healthz 200 1; /v1/events 202 1; /v1/events 400 1; other 404 1"; got != want {
		t.Errorf("request series %q, want %q", got, want)
	}

	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`firebreak_events_accepted_total{intake="http"} 1`,
		`firebreak_http_request_duration_seconds_count{code="202",route="/v1/events"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, rec.Body)
		}
	}
}

func TestRequestID(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		given    string
		honoured bool
	}{
		{"abc-123", true},
		{"Root=1-5759e988-bd862e3fe1be46a994272793", false}, // '=' is not echoed
		{"", false},
		{strings.Repeat("a", 129), false},
		{"with space", false},
		{"evil\nline", false},
	} {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Header["X-Request-Id"] = []string{tc.given}
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		got := rec.Header().Get("X-Request-Id")
		if tc.honoured && got != tc.given || !tc.honoured && (got == tc.given || len(got) != 32) {
			t.Errorf("given %q, answered %q", tc.given, got)
		}
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	f := newFixture(t, nil)
	f.post(t, "["+ev("secret-event-id")+`, {"password": "hunter2"}]`)
	req := httptest.NewRequest("POST", "/v1/events", strings.NewReader(ev("b")))
	req.Header.Set("X-Api-Key", "wrong-key-that-must-not-be-logged")
	f.srv.ServeHTTP(httptest.NewRecorder(), req)
	log := f.log.String()
	for _, secret := range []string{testKey, "wrong-key-that-must-not-be-logged", "hunter2", "secret-event-id"} {
		if strings.Contains(log, secret) {
			t.Errorf("log holds %q:\n%s", secret, log)
		}
	}
	for _, want := range []string{`"api_key":"eventbridge"`, `"accepted":1`, `"msg":"event rejected"`, `"index":1`, `"status":401`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
}

func TestNew(t *testing.T) {
	reg := prometheus.NewRegistry()
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no intake", Options{APIKeys: []APIKey{{Key: testKey}}}, "server: no Intake to store events in"},
		{"no key", Options{Intake: newStore()}, "server: no API key for POST /v1/events; set api_keys in firebreak.yaml or FIREBREAK_API_KEY"},
		{"empty key", Options{Intake: newStore(), APIKeys: []APIKey{{Name: "k", Key: ""}}}, "server: API key k is empty"},
		{"first on a registry", Options{Intake: newStore(), APIKeys: []APIKey{{Key: testKey}}, Registry: reg}, ""},
		{"second on the same registry", Options{Intake: newStore(), APIKeys: []APIKey{{Key: testKey}}, Registry: reg}, "server: registering metrics"},
		{"own registry", Options{Intake: newStore(), APIKeys: []APIKey{{Key: testKey}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
