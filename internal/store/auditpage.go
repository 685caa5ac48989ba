package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// AuditPage returns up to limit audit records with a sequence number above after, in
// sequence order, of kind only when kind is set, and whether more follow. Paging by
// sequence number rather than by offset keeps a reader's place however many records are
// appended while it reads.
func (s *Store) AuditPage(ctx context.Context, after int64, limit int, kind string) ([]AuditRecord, bool, error) {
	if limit < 1 {
		return nil, false, fmt.Errorf("audit page: limit %d, want at least 1", limit)
	}
	q := `SELECT seq, at, kind, actor, source, request_id, subject, data, prev_hash, hash FROM audit WHERE seq > ?`
	args := []any{after}
	if kind != "" {
		q += ` AND kind = ?`
		args = append(args, kind)
	}
	q += fmt.Sprintf(` ORDER BY seq LIMIT %d`, limit+1)
	out := []AuditRecord{}
	err := s.Read(ctx, func(tx *Tx) error {
		return tx.Query(ctx, q, func(row Row) error {
			var r AuditRecord
			var data string
			if err := row.Scan(&r.Seq, &r.At, &r.Kind, &r.Actor, &r.Source, &r.RequestID, &r.Subject, &data, &r.PrevHash, &r.Hash); err != nil {
				return fmt.Errorf("audit: read record: %w", err)
			}
			r.At = r.At.UTC()
			r.Data = json.RawMessage(data)
			out = append(out, r)
			return nil
		}, args...)
	})
	if err != nil {
		return nil, false, fmt.Errorf("audit page: %w", err)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}
