package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ChainHead is the last record of the audit chain: writing it somewhere the database's
// administrators cannot rewrite lets a later check notice a chain rebuilt or cut short.
type ChainHead struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
}

// AuditHead returns the chain's last record; ok is false while the chain is empty.
func (s *Store) AuditHead(ctx context.Context) (head ChainHead, ok bool, err error) {
	err = s.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, "SELECT seq, hash, at FROM audit ORDER BY seq DESC LIMIT 1").Scan(&head.Seq, &head.Hash, &head.At)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return ChainHead{}, false, nil
	}
	if err != nil {
		return ChainHead{}, false, fmt.Errorf("audit: read the chain's head: %w", err)
	}
	return head, true, nil
}

// AuditHash returns the hash of record seq; ok is false when there is no such record.
func (s *Store) AuditHash(ctx context.Context, seq int64) (hash string, ok bool, err error) {
	err = s.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, "SELECT hash FROM audit WHERE seq = ?", seq).Scan(&hash)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("audit: read record %d: %w", seq, err)
	}
	return hash, true, nil
}
