// Package server is Firebreak's HTTP API: the event intake (POST /v1/events), health and
// readiness probes, and Prometheus metrics.
//
// An event is acknowledged (202) only once the Intake has stored it. When storing fails
// the answer is 503 with Retry-After, so that the sender (an EventBridge API destination,
// an SQS forwarder) sends it again: the server never answers 2xx for an event it may
// have lost.
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// Intake stores events. Accept stores evs durably, all or none, recognising events
// already stored, and returns how many were new and how many were duplicates. via names
// the way the events came in ("http"). Once Accept returns without error the events
// must survive a crash; on error none may count as stored.
type Intake interface {
	Accept(ctx context.Context, evs []*event.Event, via string) (accepted, duplicates int, err error)
}

// Rejecter is an Intake that also records the values of a body that were not events, so
// that its record accounts for every value delivered; *engine.Engine is one. Without it,
// rejections are answered and logged only.
type Rejecter interface {
	Reject(ctx context.Context, via, sender string, rejections []engine.Rejection) error
}

// APIKey is a key accepted in the X-Api-Key header of POST /v1/events.
type APIKey struct {
	// Name identifies the key in logs; the key itself is never logged.
	Name string
	Key  string
}

// Defaults for Options.
const (
	DefaultMaxBodyBytes = 10 << 20
	DefaultRetryAfter   = 5 * time.Second
	DefaultReadyTimeout = 2 * time.Second
)

// Via is the via given to Intake.Accept for events posted to /v1/events.
const Via = "http"

// Options configure New. Intake and at least one APIKey are required.
type Options struct {
	// Intake stores the events posted to /v1/events.
	Intake Intake
	// APIKeys are the keys POST /v1/events accepts.
	APIKeys []APIKey
	// Ready reports whether the server can take work (the database answers, say), for
	// GET /readyz. Nil means always ready.
	Ready func(context.Context) error
	// ReadyTimeout bounds one call of Ready. Default DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Registry receives the server's metrics and is what GET /metrics serves. Nil: a
	// registry of the server's own. Register the Go and process collectors on it to have
	// them served too.
	Registry *prometheus.Registry
	// Logger receives one line per request. Nil: no logging.
	Logger *slog.Logger
	// MaxBodyBytes is the largest body POST /v1/events reads; beyond it the answer is 413.
	// Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RetryAfter is sent with a 503, when events could not be stored. Default
	// DefaultRetryAfter.
	RetryAfter time.Duration
}

// Server is the HTTP API. It is an http.Handler, safe for concurrent use.
type Server struct {
	opts    Options
	keys    []keyHash
	metrics *metrics
	log     *slog.Logger
	mux     *http.ServeMux
}

// keyHash is an API key kept as its SHA-256 digest, so that comparing a presented key
// takes the same time whatever its length and however much of it matches.
type keyHash struct {
	name string
	sum  [sha256.Size]byte
}

// New builds the server. It fails when the options are incomplete, or the metrics are
// already registered in opts.Registry.
func New(opts Options) (*Server, error) {
	if opts.Intake == nil {
		return nil, errors.New("server: no Intake to store events in")
	}
	if len(opts.APIKeys) == 0 {
		return nil, errors.New("server: no API key for POST /v1/events; set api_keys in firebreak.yaml or FIREBREAK_API_KEY")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = DefaultRetryAfter
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	for i, k := range opts.APIKeys {
		if k.Key == "" {
			return nil, errors.New("server: API key " + k.Name + " is empty")
		}
		name := k.Name
		if name == "" {
			name = "key-" + itoa(i+1)
		}
		s.keys = append(s.keys, keyHash{name: name, sum: sha256.Sum256([]byte(k.Key))})
	}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m

	s.handle("POST /v1/events", "/v1/events", http.HandlerFunc(s.postEvents))
	s.handle("/v1/events", "/v1/events", methodNotAllowed(http.MethodPost))
	s.handle("GET /healthz", "/healthz", http.HandlerFunc(healthz))
	s.handle("/healthz", "/healthz", methodNotAllowed(http.MethodGet, http.MethodHead))
	s.handle("GET /readyz", "/readyz", http.HandlerFunc(s.readyz))
	s.handle("/readyz", "/readyz", methodNotAllowed(http.MethodGet, http.MethodHead))
	s.handle("GET /metrics", "/metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelError),
	}))
	s.handle("/metrics", "/metrics", methodNotAllowed(http.MethodGet, http.MethodHead))
	s.handle("/", "other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "no such resource; events go to POST /v1/events")
	}))
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handle registers h under pattern, instrumented and logged as route. The route is the
// path without the method, so that the metrics' route label has few values whatever
// paths clients try.
func (s *Server) handle(pattern, route string, h http.Handler) {
	s.mux.Handle(pattern, s.instrument(route, h))
}

type ctxKey struct{}

// requestInfo is what a handler adds to the request's log line.
type requestInfo struct {
	id    string
	attrs []slog.Attr
}

func info(r *http.Request) *requestInfo {
	ri, _ := r.Context().Value(ctxKey{}).(*requestInfo)
	if ri == nil {
		return &requestInfo{}
	}
	return ri
}

// instrument gives the request an id, times it, counts it and logs it.
func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{id: requestID(r.Header.Get("X-Request-Id"))}
		w.Header().Set("X-Request-Id", ri.id)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri)))
		elapsed := time.Since(start)
		s.metrics.duration.WithLabelValues(route, itoa(sw.status)).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelWarn
		}
		attrs := append([]slog.Attr{
			slog.String("request_id", ri.id),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", sw.status),
			slog.Duration("duration", elapsed),
			slog.String("remote", r.RemoteAddr),
		}, ri.attrs...)
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// requestID returns the client's request id when it is safe to log and echo, or a new one.
func requestID(given string) string {
	if len(given) > 0 && len(given) <= 128 {
		ok := true
		for _, c := range []byte(given) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
				ok = false
				break
			}
		}
		if ok {
			return given
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// statusWriter records the status a handler writes.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// authenticate returns the name of the key in the X-Api-Key header, or false.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	given := r.Header.Get("X-Api-Key")
	if given == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(given))
	name, found := "", false
	// Every key is compared, without stopping at a match, so that the time taken says
	// nothing about which key matched.
	for _, k := range s.keys {
		if subtle.ConstantTimeCompare(sum[:], k.sum[:]) == 1 {
			name, found = k.name, true
		}
	}
	return name, found
}

func healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.ReadyTimeout)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			// The reason may name hosts or files: it goes to the log, not to the caller.
			ri := info(r)
			ri.attrs = append(ri.attrs, slog.String("not_ready", err.Error()))
			writeProblem(w, r, http.StatusServiceUnavailable, "not ready to take events; the server log (request_id "+ri.id+") says why")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func methodNotAllowed(allowed ...string) http.Handler {
	allow := ""
	for i, m := range allowed {
		if i > 0 {
			allow += ", "
		}
		allow += m
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeProblem(w, r, http.StatusMethodNotAllowed, r.Method+" is not allowed here; use "+allow)
	})
}

// discard drains what is left of a body, bounded, so that the connection can be reused.
func discard(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10)) }
