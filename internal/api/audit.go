package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// AuditList is the body of GET /v1/audit.
type AuditList struct {
	Records []store.AuditRecord `json:"records"`
	// NextAfter, when set, is the after query parameter that fetches the next page.
	NextAfter int64 `json:"next_after,omitempty"`
}

// AuditVerification is the body of GET /v1/audit/verify: the chain's summary when it is
// intact, or the first record where it is broken.
type AuditVerification struct {
	Intact  bool       `json:"intact"`
	Records int64      `json:"records"`
	First   *time.Time `json:"first,omitempty"`
	Last    *time.Time `json:"last,omitempty"`
	// Head is the last record's hash: kept elsewhere, it lets a later check notice
	// records removed from the end, which the chain alone cannot show.
	Head string `json:"head,omitempty"`
	// FirstBad names the first broken record and what is wrong with it.
	FirstBad *AuditBreak `json:"first_bad,omitempty"`
}

// AuditBreak is the first record where the audit chain is broken.
type AuditBreak struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// Page sizes of GET /v1/audit.
const (
	defaultAuditPage = 100
	maxAuditPage     = 1000
)

// unscoped refuses a caller scoped to some accounts: the audit chain holds every
// account's records, and cannot be cut by account without breaking what makes it
// verifiable. ok is false when an answer has been written.
func (h *Handler) unscoped(w http.ResponseWriter, r *http.Request, c *call) bool {
	if len(c.principal.Accounts) > 0 {
		h.refuse(w, r, c, "", fmt.Sprintf("%s is scoped to some accounts, and the audit chain spans every account; ask for an unscoped administrator token", c.principal.Name))
		return false
	}
	return true
}

// listAudit serves GET /v1/audit?after=SEQ&limit=N&kind=K: the records after SEQ, in
// sequence order.
func (h *Handler) listAudit(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var bad []InvalidParam
	for k := range q {
		if !slices.Contains([]string{"after", "limit", "kind"}, k) {
			bad = append(bad, InvalidParam{k, "unknown query parameter; use after, limit or kind"})
		}
	}
	var after int64
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			bad = append(bad, InvalidParam{"after", "must be a record's sequence number, a whole number from 0"})
		}
		after = n
	}
	limit := defaultAuditPage
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxAuditPage {
			bad = append(bad, InvalidParam{"limit", fmt.Sprintf("must be a whole number from 1 to %d", maxAuditPage)})
		}
		limit = n
	}
	kind := q.Get("kind")
	if len(kind) > 64 || (kind != "" && !plain(kind)) {
		bad = append(bad, InvalidParam{"kind", "must be a record kind such as incident.opened: at most 64 letters, digits, '.', '-' and '_'"})
	}
	if len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return
	}
	if !h.unscoped(w, r, c) {
		return
	}
	recs, more, err := h.opts.Store.AuditPage(r.Context(), after, limit, kind)
	if err != nil {
		h.log.Error("list audit", "request_id", c.requestID, "error", err)
		h.problem(w, c, http.StatusServiceUnavailable, "the audit could not be read; try again shortly", nil)
		return
	}
	for i := range recs {
		if !json.Valid(recs[i].Data) {
			// An edited record can hold anything; it is shown as the text stored, which
			// GET /v1/audit/verify then reports, rather than failing the whole page.
			recs[i].Data, _ = json.Marshal(string(recs[i].Data))
		}
	}
	out := AuditList{Records: recs}
	if more && len(recs) > 0 {
		out.NextAfter = recs[len(recs)-1].Seq
	}
	writeJSON(w, http.StatusOK, out)
}

// verifyAudit serves GET /v1/audit/verify. A broken chain is a finding, not a failure of
// the call, so it is answered 200 with the first bad record.
func (h *Handler) verifyAudit(w http.ResponseWriter, r *http.Request, c *call) {
	if bad := noQuery(r); len(bad) > 0 {
		h.invalid(w, c, http.StatusBadRequest, bad)
		return
	}
	if !h.unscoped(w, r, c) {
		return
	}
	sum, err := h.opts.Store.VerifyAudit(r.Context())
	var ce *store.ChainError
	switch {
	case errors.As(err, &ce):
		writeJSON(w, http.StatusOK, AuditVerification{Intact: false, FirstBad: &AuditBreak{Seq: ce.Seq, Reason: ce.Reason}})
		return
	case err != nil:
		h.log.Error("verify audit", "request_id", c.requestID, "error", err)
		h.problem(w, c, http.StatusServiceUnavailable, "the audit could not be read; try again shortly", nil)
		return
	}
	out := AuditVerification{Intact: true, Records: sum.Records, Head: sum.Head}
	if sum.Records > 0 {
		first, last := sum.First.UTC(), sum.Last.UTC()
		out.First, out.Last = &first, &last
	}
	writeJSON(w, http.StatusOK, out)
}
