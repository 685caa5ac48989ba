package store_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

func TestRecordDeadLetter(t *testing.T) {
	received := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	// Bytes that are not UTF-8 and hold a NUL: the body is kept as received whatever it is.
	binary := []byte("{\"detail\": \x00\xff\xfe}")
	letters := []store.DeadLetter{
		{Via: "sqs", Source: "https://sqs.us-east-1.amazonaws.com/111122223333/findings", MessageID: "m-1",
			Reasons: []string{"message:1:1: not an event"}, Body: []byte(`{"hello": "world"}`), ReceivedAt: received},
		{Via: "sqs", Source: "https://sqs.us-east-1.amazonaws.com/111122223333/findings", MessageID: "m-2",
			Reasons: []string{"message:2:1: a", "message:3:1: b"}, Events: 1, Body: binary, ReceivedAt: received.Add(time.Second)},
		// No message id: the body's hash identifies it.
		{Via: "lambda", Source: "arn:aws:lambda:us-east-1:111122223333:function:firebreak",
			Reasons: []string{"message:1:1: empty"}, Body: nil, ReceivedAt: received.Add(2 * time.Second)},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for i, d := range letters {
			d.RecordedAt = received.Add(time.Duration(i) * time.Minute)
			if err := s.RecordDeadLetter(ctx, d); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			// Delivered again: recorded once, audited once.
			if err := s.RecordDeadLetter(ctx, d); err != nil {
				t.Fatalf("record %d again: %v", i, err)
			}
		}
		var got []store.DeadLetter
		err := s.Read(ctx, func(tx *store.Tx) error {
			var err error
			got, err = s.DeadLetters(ctx, tx, 0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(letters) {
			t.Fatalf("%d dead letters stored, want %d", len(got), len(letters))
		}
		for i, want := range letters {
			g := got[i]
			if g.Via != want.Via || g.Source != want.Source || g.Events != want.Events ||
				!slices.Equal(g.Reasons, want.Reasons) || !bytes.Equal(g.Body, want.Body) {
				t.Errorf("dead letter %d = %+v (body %q), want %+v (body %q)", i, g, g.Body, want, want.Body)
			}
			if !g.ReceivedAt.Equal(want.ReceivedAt.Truncate(time.Microsecond)) {
				t.Errorf("dead letter %d received at %v, want %v", i, g.ReceivedAt, want.ReceivedAt)
			}
			if want.MessageID != "" && g.MessageID != want.MessageID {
				t.Errorf("dead letter %d has id %q, want %q", i, g.MessageID, want.MessageID)
			}
		}
		if id := got[2].MessageID; len(id) != len("sha256:")+64 {
			t.Errorf("dead letter without a message id is known as %q, want sha256:HEX", id)
		}
		sum, err := s.VerifyAudit(ctx)
		if err != nil {
			t.Fatalf("audit chain: %v", err)
		}
		if sum.Records != int64(len(letters)) {
			t.Errorf("audit has %d records, want one per dead letter (%d)", sum.Records, len(letters))
		}
		var kinds []string
		err = s.Read(ctx, func(tx *store.Tx) error {
			return tx.Query(ctx, `SELECT kind FROM audit ORDER BY seq`, func(row store.Row) error {
				var k string
				kinds = append(kinds, k)
				return row.Scan(&kinds[len(kinds)-1])
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kinds {
			if k != "event.dead-letter" {
				t.Errorf("audit record of kind %q, want event.dead-letter", k)
			}
		}
	})
}
