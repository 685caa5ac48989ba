package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// AuditRecord is one entry of the audit chain: who did what to which subject, and when.
// Records are appended, never changed; each one's Hash covers the one before it, so that
// editing, deleting, inserting or reordering a record breaks the chain where it was done.
type AuditRecord struct {
	Seq  int64     `json:"seq"`
	At   time.Time `json:"at"`
	Kind string    `json:"kind"` // event.accepted, event.duplicate, decision, step.done, ...
	// Actor is who caused the record: a user or token name, or "firebreak" for the engine.
	Actor string `json:"actor"`
	// Source is where the request came from (a client address, an intake such as sqs).
	Source    string `json:"source,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Subject is what the record is about: an incident id, or an event id.
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
	// PrevHash is the previous record's Hash; empty for the first record.
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// hashRecord computes a record's hash: SHA-256 over the previous hash and every field, each
// length-prefixed so that no two different records encode alike.
func hashRecord(r *AuditRecord) string {
	h := sha256.New()
	for _, f := range []string{
		r.PrevHash, strconv.FormatInt(r.Seq, 10), r.At.UTC().Format(time.RFC3339Nano),
		r.Kind, r.Actor, r.Source, r.RequestID, r.Subject, string(r.Data),
	} {
		fmt.Fprintf(h, "%d:%s\n", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// canonicalJSON re-encodes v with sorted keys, no insignificant space and numbers as
// written, so that a record hashes alike however a database hands its JSON back.
func canonicalJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generic); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Audit appends a record to the chain inside tx, filling in Seq, At (now, when zero),
// PrevHash and Hash, and returns it as stored; Data is stored in canonical form. Call it in
// the same transaction as the change it records, so that the two commit together. Call it
// in a writing transaction: the chain's head is read by the transaction's first Audit and
// carried in tx from then on. The record is written with the others of the transaction when
// it commits (or a grouped write's savepoint is released), or before the next statement
// that names the audit table, so that a failure to write it can surface there.
func (s *Store) Audit(ctx context.Context, tx *Tx, rec AuditRecord) (AuditRecord, error) {
	d, err := canonicalJSON(rec.Data)
	if err != nil {
		return AuditRecord{}, fmt.Errorf("audit %s %s: encode data: %w", rec.Kind, rec.Subject, err)
	}
	rec.Data = d
	if rec.At.IsZero() {
		rec.At = time.Now()
	}
	rec.At = stamp(rec.At)
	if !tx.head.known {
		// Read once per transaction: every later record of it follows the one this
		// transaction appended last, and the write lock keeps other writers out.
		var last sql.NullInt64
		var prev sql.NullString
		err = tx.QueryRow(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&last, &prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return AuditRecord{}, fmt.Errorf("audit: read the chain's last record: %w", err)
		}
		tx.head = chainHead{known: true, seq: last.Int64, hash: prev.String}
	}
	rec.Seq, rec.PrevHash = tx.head.seq+1, tx.head.hash
	rec.Hash = hashRecord(&rec)
	tx.head.seq, tx.head.hash = rec.Seq, rec.Hash
	tx.pending = append(tx.pending, rec)
	if len(tx.pending) >= maxPending {
		if err := tx.flushAudit(ctx); err != nil {
			return AuditRecord{}, err
		}
	}
	return rec, nil
}

// maxPending bounds the audit records a transaction holds back, and so the parameters of
// the statement that writes them (10 each; SQLite takes 32,766 at most).
const maxPending = 500

// flushAudit writes the audit records tx holds back, in one statement: one round trip for
// all the records of a request instead of one each.
func (tx *Tx) flushAudit(ctx context.Context) error {
	q, args, first := tx.takeAudit()
	if q == "" {
		return nil
	}
	if _, err := tx.exec(ctx, q, args...); err != nil {
		return auditWriteError(first, err)
	}
	return nil
}

// takeAudit returns the statement that writes the records held back, and the first of
// them, for errors; q is empty when there are none. They are no longer held back: a failed
// write fails the transaction (or savepoint), which discards them with it.
func (tx *Tx) takeAudit() (q string, args []any, first AuditRecord) {
	if len(tx.pending) == 0 {
		return "", nil, AuditRecord{}
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO audit (seq, at, kind, actor, source, request_id, subject, data, prev_hash, hash) VALUES `)
	args = make([]any, 0, 10*len(tx.pending))
	for i, r := range tx.pending {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, r.Seq, r.At, r.Kind, r.Actor, r.Source, r.RequestID, r.Subject, string(r.Data), r.PrevHash, r.Hash)
	}
	first = tx.pending[0]
	tx.pending = tx.pending[:0]
	return b.String(), args, first
}

func auditWriteError(first AuditRecord, err error) error {
	return fmt.Errorf("audit %s %s: %w", first.Kind, first.Subject, err)
}

// Summary describes an intact audit chain. Head is the last record's hash: writing it down
// elsewhere lets a later check notice records removed from the end, which the chain alone
// cannot show.
type Summary struct {
	Records int64
	First   time.Time
	Last    time.Time
	Head    string
}

func (s Summary) String() string {
	if s.Records == 0 {
		return "audit chain intact: no records"
	}
	return fmt.Sprintf("audit chain intact: %d records from %s to %s, head %s",
		s.Records, s.First.UTC().Format(time.RFC3339), s.Last.UTC().Format(time.RFC3339), s.Head)
}

// ChainError names the first record where the audit chain is broken and what is wrong.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit record %d: %s", e.Seq, e.Reason)
}

// eachAudit calls fn for every record in sequence order, outside any write transaction.
func (s *Store) eachAudit(ctx context.Context, fn func(*AuditRecord) error) error {
	return s.Read(ctx, func(tx *Tx) error {
		return tx.Query(ctx, `SELECT seq, at, kind, actor, source, request_id, subject, data, prev_hash, hash
			FROM audit ORDER BY seq`, func(row Row) error {
			var r AuditRecord
			var data string
			if err := row.Scan(&r.Seq, &r.At, &r.Kind, &r.Actor, &r.Source, &r.RequestID, &r.Subject, &data, &r.PrevHash, &r.Hash); err != nil {
				return fmt.Errorf("audit: read record: %w", err)
			}
			r.Data = json.RawMessage(data)
			return fn(&r)
		})
	})
}

// VerifyAudit walks the chain from the first record and returns a *ChainError naming the
// first record that is out of sequence (one deleted or inserted before it), does not link
// to the record before it (reordered or inserted), or does not match its own hash (edited).
func (s *Store) VerifyAudit(ctx context.Context) (Summary, error) {
	var sum Summary
	prevHash := ""
	err := s.eachAudit(ctx, func(r *AuditRecord) error {
		want := sum.Records + 1
		switch {
		case r.Seq > want:
			if want == 1 {
				return &ChainError{Seq: want, Reason: fmt.Sprintf("missing: the chain starts at record %d, so the records before it were deleted", r.Seq)}
			}
			return &ChainError{Seq: want, Reason: fmt.Sprintf("missing: record %d follows record %d, so a record was deleted", r.Seq, want-1)}
		case r.Seq < want:
			return &ChainError{Seq: r.Seq, Reason: "sequence number repeats or goes back, so a record was inserted"}
		case r.PrevHash != prevHash:
			return &ChainError{Seq: r.Seq, Reason: fmt.Sprintf("does not link to record %d (prev_hash %s, record %d's hash %s), so records were inserted, deleted or reordered here", r.Seq-1, short(r.PrevHash), r.Seq-1, short(prevHash))}
		}
		canon, err := canonicalJSON(r.Data)
		if err != nil {
			return &ChainError{Seq: r.Seq, Reason: "data is not valid JSON, so the record was edited: " + err.Error()}
		}
		r.Data = canon
		if got := hashRecord(r); got != r.Hash {
			return &ChainError{Seq: r.Seq, Reason: fmt.Sprintf("contents do not match its hash (stored %s, computed %s), so the record was edited, or forged and inserted", short(r.Hash), short(got))}
		}
		if sum.Records == 0 {
			sum.First = r.At
		}
		sum.Records, sum.Last, sum.Head, prevHash = r.Seq, r.At, r.Hash, r.Hash
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	return sum, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "(none)"
	}
	return h
}

// ExportAudit writes every record, in sequence order, as one JSON object per line.
func (s *Store) ExportAudit(ctx context.Context, w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return s.eachAudit(ctx, func(r *AuditRecord) error {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("audit export: write record %d: %w", r.Seq, err)
		}
		return nil
	})
}
