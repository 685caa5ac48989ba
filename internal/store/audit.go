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
// the same transaction as the change it records, so that the two commit together.
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
	var last sql.NullInt64
	var prev sql.NullString
	err = tx.QueryRow(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&last, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return AuditRecord{}, fmt.Errorf("audit: read the chain's last record: %w", err)
	}
	rec.Seq, rec.PrevHash = last.Int64+1, prev.String
	rec.Hash = hashRecord(&rec)
	_, err = tx.Exec(ctx, `INSERT INTO audit (seq, at, kind, actor, source, request_id, subject, data, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.Seq, rec.At, rec.Kind, rec.Actor, rec.Source, rec.RequestID, rec.Subject, string(rec.Data), rec.PrevHash, rec.Hash)
	if err != nil {
		return AuditRecord{}, fmt.Errorf("audit %s %s: %w", rec.Kind, rec.Subject, err)
	}
	return rec, nil
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
