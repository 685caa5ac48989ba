package api

import (
	"slices"

	"github.com/firebreak-sec/firebreak/internal/auth"
)

// clearance returns the sensitivity labels the caller is cleared for. Without a
// Clearance option nobody is cleared for any: a labelled incident is shown to no one
// rather than to everyone, since a label exists to narrow who sees it.
func (h *Handler) clearance(p auth.Principal) []string {
	if h.opts.Clearance == nil {
		return nil
	}
	return h.opts.Clearance(p)
}

// cleared reports whether the caller may see an incident labelled sensitivity; every
// caller may see an unlabelled one.
func (h *Handler) cleared(p auth.Principal, sensitivity string) bool {
	return sensitivity == "" || slices.Contains(h.clearance(p), sensitivity)
}
