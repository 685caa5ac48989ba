package engine

import (
	"context"
	"fmt"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// Rejection is one value of a delivery that is not an event: where it was and why.
type Rejection struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// Reject records, in the audit chain, the values of one delivery that were not events,
// one record each, so that the chain accounts for everything a sender delivered and not
// only for what was accepted. sender names the key or queue it came by; the values
// themselves are not recorded, only their position and the reason, since a malformed
// value may hold anything.
func (e *Engine) Reject(ctx context.Context, via, sender string, rejections []Rejection) error {
	if len(rejections) == 0 {
		return nil
	}
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		for _, r := range rejections {
			if err := e.audit(ctx, tx, sender, "event.rejected", via, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record %d rejected value(s) from %s: %w", len(rejections), via, err)
	}
	return nil
}

// RecordConfig appends a record of what the server runs with (kind config.loaded at
// start, playbooks.reloaded or playbooks.rejected at a reload) to the audit chain: the
// rules in force are part of the account of what it did, and of why.
func (e *Engine) RecordConfig(ctx context.Context, kind, subject string, data any) error {
	return e.store.Write(ctx, func(tx *store.Tx) error {
		return e.audit(ctx, tx, actor, kind, subject, data)
	})
}
