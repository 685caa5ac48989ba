package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// EventsResponse is the body of the 202 answer to POST /v1/events.
type EventsResponse struct {
	// Accepted counts the events stored for the first time.
	Accepted int `json:"accepted"`
	// Duplicates counts the events that were already stored.
	Duplicates int `json:"duplicates"`
	// Rejected lists the values that are not events, never null.
	Rejected []Rejection `json:"rejected"`
}

// Rejection is a value of the body that was not read as an event.
type Rejection struct {
	// Index is the value's place in the body, from 0: the element of a top-level array,
	// or the value of a stream of values (NDJSON). Values that are read count too, so the
	// sender can find the value in what it sent.
	Index int `json:"index"`
	// Error says what is wrong with the value, where in the body (body:LINE:COL), and
	// what to send instead.
	Error string `json:"error"`
}

// postEvents serves POST /v1/events: every value of the body becomes events, stored
// before the answer, or a rejection in the answer.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	ri := info(r)
	key, ok := s.authenticate(r)
	if !ok {
		detail := "the X-Api-Key header is missing; send one of the keys configured in api_keys"
		if r.Header.Get("X-Api-Key") != "" {
			detail = "the X-Api-Key header holds no key this server accepts; check the key configured for this sender"
		}
		writeProblem(w, r, http.StatusUnauthorized, detail)
		return
	}
	ri.attrs = append(ri.attrs, slog.String("api_key", key))
	max := s.opts.MaxBodyBytes
	if r.ContentLength > max {
		s.tooLarge(w, r)
		return
	}
	body := http.MaxBytesReader(w, r.Body, max)
	defer discard(body)

	var (
		evs      []*event.Event
		rejected = []Rejection{}
	)
	err := event.Scan(r.Context(), "body", body, func(e *event.Event) error {
		evs = append(evs, e)
		return nil
	}, func(e *event.InputError) {
		rejected = append(rejected, Rejection{Index: e.Index, Error: e.Error()})
	})
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.tooLarge(w, r)
		return
	case err != nil:
		ri.attrs = append(ri.attrs, slog.String("error", err.Error()))
		writeProblem(w, r, http.StatusBadRequest, "the body could not be read to its end; send it again")
		return
	case len(evs) == 0 && len(rejected) == 0:
		writeProblem(w, r, http.StatusBadRequest,
			"the body holds no event; send an event, a JSON array of events or newline-delimited JSON")
		return
	}

	resp := EventsResponse{Rejected: rejected}
	if len(evs) > 0 {
		resp.Accepted, resp.Duplicates, err = s.opts.Intake.Accept(r.Context(), evs, Via)
		if err != nil {
			// Nothing is counted: the sender sends the whole body again, and the events it
			// repeats are recognised as duplicates if some were stored after all.
			ri.attrs = append(ri.attrs, slog.Int("events", len(evs)), slog.String("error", err.Error()))
			w.Header().Set("Retry-After", strconv.Itoa(int((s.opts.RetryAfter+999_999_999)/1e9)))
			writeProblem(w, r, http.StatusServiceUnavailable,
				fmt.Sprintf("the %d events could not be stored, and none is accepted; send the same body again later", len(evs)))
			return
		}
	}
	s.metrics.accepted.Add(float64(resp.Accepted))
	s.metrics.duplicate.Add(float64(resp.Duplicates))
	s.metrics.rejected.Add(float64(len(rejected)))
	ri.attrs = append(ri.attrs,
		slog.Int("events", len(evs)),
		slog.Int("accepted", resp.Accepted),
		slog.Int("duplicates", resp.Duplicates),
		slog.Int("rejected", len(rejected)))
	for _, rj := range rejected {
		// A rejected value is answered to the sender, and also recorded here: an event
		// never disappears without a trace. The message names the position, never the content.
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "event rejected",
			slog.String("request_id", ri.id), slog.Int("index", rj.Index), slog.String("error", rj.Error))
	}
	if rec, ok := s.opts.Intake.(Rejecter); ok && len(rejected) > 0 {
		rs := make([]engine.Rejection, len(rejected))
		for i, rj := range rejected {
			rs[i] = engine.Rejection{Index: rj.Index, Error: rj.Error}
		}
		// The sender has its answer either way; a rejection that could not be recorded
		// is still in the log above.
		ctx := engine.WithCaller(r.Context(), engine.Caller{Name: "api key " + key, Source: r.RemoteAddr, RequestID: ri.id})
		if err := rec.Reject(ctx, Via, "api key "+key, rs); err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelError, "rejected events not recorded in the audit chain",
				slog.String("request_id", ri.id), slog.String("error", err.Error()))
		}
	}
	writeJSON(w, http.StatusAccepted, resp)
}

func (s *Server) tooLarge(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(
		"the body is over the %d-byte limit, and none of it is accepted; send the events in smaller batches", s.opts.MaxBodyBytes))
}
