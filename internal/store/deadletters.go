package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// DeadLetter is a message an intake could not read as events, in whole or in part. It is
// kept with its body byte for byte, so that a message is never lost: an operator reads the
// reasons, fixes the sender, and delivers the body again.
type DeadLetter struct {
	// Via names the intake (sqs, lambda, ...).
	Via string `json:"via"`
	// Source is where the message came from: a queue URL, an event source ARN.
	Source string `json:"source"`
	// MessageID is the message's id at its source. With Via and Source it identifies the
	// dead letter, so that a message delivered again is recorded once. When empty, the
	// body's SHA-256 stands in for it.
	MessageID string `json:"message_id"`
	// Reasons say why, one per rejected value, each naming its position in the body.
	Reasons []string `json:"reasons"`
	// Events counts the events read from the same message and stored: when it is not zero,
	// only part of the message is dead.
	Events int `json:"events"`
	// Body is the message as received.
	Body []byte `json:"-"`
	// ReceivedAt is when the intake received the message; RecordedAt when it was stored here.
	ReceivedAt time.Time `json:"received_at"`
	RecordedAt time.Time `json:"recorded_at"`
}

// key fills in the message id a dead letter is known by.
func (d *DeadLetter) key() {
	if d.MessageID == "" {
		sum := sha256.Sum256(d.Body)
		d.MessageID = "sha256:" + hex.EncodeToString(sum[:])
	}
}

// InsertDeadLetter stores d unless a dead letter with the same via, source and message id is
// already stored; inserted is false for such a repeat. RecordedAt is set to now when zero.
func (s *Store) InsertDeadLetter(ctx context.Context, tx *Tx, d DeadLetter) (inserted bool, err error) {
	d.key()
	if d.RecordedAt.IsZero() {
		d.RecordedAt = time.Now()
	}
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = d.RecordedAt
	}
	reasons, err := json.Marshal(nonNil(d.Reasons))
	if err != nil {
		return false, fmt.Errorf("dead letter %s: encode reasons: %w", d.MessageID, err)
	}
	body := d.Body
	if body == nil {
		// NOT NULL: an empty message is still a message.
		body = []byte{}
	}
	n, err := tx.Exec(ctx, `INSERT INTO dead_letters (via, source, message_id, reasons, events, body, received_at, recorded_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		d.Via, d.Source, d.MessageID, string(reasons), d.Events, body, stamp(d.ReceivedAt), stamp(d.RecordedAt))
	if err != nil {
		return false, fmt.Errorf("store dead letter %s: %w", d.MessageID, err)
	}
	return n == 1, nil
}

// RecordDeadLetter stores d and an audit record of it (kind event.dead-letter, actor the
// intake) in one transaction, so that the audit shows every message that was not taken in.
// A dead letter already stored is neither stored nor audited again: a message is delivered
// again when deleting it from its queue failed.
func (s *Store) RecordDeadLetter(ctx context.Context, d DeadLetter) error {
	d.key()
	now := time.Now()
	if d.RecordedAt.IsZero() {
		d.RecordedAt = now
	}
	return s.Write(ctx, func(tx *Tx) error {
		inserted, err := s.InsertDeadLetter(ctx, tx, d)
		if err != nil || !inserted {
			return err
		}
		data, err := json.Marshal(map[string]any{"via": d.Via, "source": d.Source, "message_id": d.MessageID,
			"reasons": nonNil(d.Reasons), "events": d.Events, "bytes": len(d.Body)})
		if err != nil {
			return err
		}
		_, err = s.Audit(ctx, tx, AuditRecord{At: d.RecordedAt, Kind: "event.dead-letter", Actor: d.Via,
			Source: d.Source, Subject: d.MessageID, Data: data})
		return err
	})
}

// DeadLetters returns stored dead letters, oldest first, at most limit of them (all when
// limit is 0).
func (s *Store) DeadLetters(ctx context.Context, tx *Tx, limit int) ([]DeadLetter, error) {
	q := `SELECT via, source, message_id, reasons, events, body, received_at, recorded_at
		FROM dead_letters ORDER BY recorded_at, via, source, message_id`
	var args []any
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	out := []DeadLetter{}
	err := tx.Query(ctx, q, func(row Row) error {
		var d DeadLetter
		var reasons string
		if err := row.Scan(&d.Via, &d.Source, &d.MessageID, &reasons, &d.Events, &d.Body, &d.ReceivedAt, &d.RecordedAt); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(reasons), &d.Reasons); err != nil {
			return fmt.Errorf("dead letter %s: stored reasons are unreadable: %w", d.MessageID, err)
		}
		d.ReceivedAt, d.RecordedAt = d.ReceivedAt.UTC(), d.RecordedAt.UTC()
		out = append(out, d)
		return nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	return out, nil
}
