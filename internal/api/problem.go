package api

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Problem is an RFC 9457 problem document, the body of every error answer.
type Problem struct {
	// Type is about:blank: the status says what kind of problem it is.
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	// Detail says what went wrong with this request and what to do about it.
	Detail string `json:"detail,omitempty"`
	// RequestID is the request's X-Request-Id, as recorded in the audit.
	RequestID string `json:"request_id,omitempty"`
	// InvalidParams names each field of the request that is wrong, and why.
	InvalidParams []InvalidParam `json:"invalid_params,omitempty"`
}

// InvalidParam is one wrong field: Name is its path in the body (target.kind) or the
// query parameter or path segment.
type InvalidParam struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// ProblemContentType is the media type of a Problem.
const ProblemContentType = "application/problem+json"

func (h *Handler) problem(w http.ResponseWriter, c *call, status int, detail string, params []InvalidParam) {
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail,
		RequestID: c.requestID, InvalidParams: params}
	body, _ := json.Marshal(p) // a Problem always marshals
	w.Header().Set("Content-Type", ProblemContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// invalid answers a problem naming the fields at fault; the detail is the first reason, for
// clients that show only the detail.
func (h *Handler) invalid(w http.ResponseWriter, c *call, status int, params []InvalidParam) {
	detail := "the request is not valid"
	if len(params) > 0 {
		detail = params[0].Name + ": " + params[0].Reason
	}
	h.problem(w, c, status, detail, params)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
