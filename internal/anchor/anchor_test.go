package anchor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/firebreak-sec/firebreak/internal/cloud/moto"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

// appendRecords adds n records to the store's audit chain.
func appendRecords(t *testing.T, s *store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		if err := s.Write(ctx, func(tx *store.Tx) error {
			_, err := s.Audit(ctx, tx, store.AuditRecord{Kind: "test", Actor: "test", Subject: "record", Data: []byte(`{"i":` + string(rune('0'+i%10)) + `}`)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAnchorsAgainstMoto writes anchors into a bucket with Object Lock on moto, checks the
// chain against them, and then cuts the chain short and rewrites it: each is reported,
// naming the anchor and the record.
func TestAnchorsAgainstMoto(t *testing.T) {
	ctx := context.Background()
	url, _ := moto.Start(t)
	cfg, err := moto.Config(ctx, url, moto.HubAccount)
	if err != nil {
		t.Fatal(err)
	}
	c := moto.S3Client(cfg)
	const bucket = "firebreak-audit-anchors"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	s := storetest.Open(t, store.SQLite)
	a := &Anchor{S3: c, Bucket: bucket, Prefix: DefaultPrefix, Mode: Compliance, Retention: 24 * time.Hour, Writer: "test"}

	// An empty chain writes nothing and verifies against nothing.
	last := once(t, a, s, 0)
	if rep, err := a.Verify(ctx, s); err != nil || rep.Anchors != 0 || last != 0 {
		t.Fatalf("empty chain: %+v, %v; want no anchors", rep, err)
	}
	appendRecords(t, s, 3)
	last = once(t, a, s, last)
	appendRecords(t, s, 2)
	last = once(t, a, s, last)
	if again := once(t, a, s, last); again != last || last != 5 {
		t.Errorf("anchored records %d then %d, want 5 and nothing new", last, again)
	}
	rep, err := a.Verify(ctx, s)
	if err != nil || rep.Anchors != 2 || rep.Latest != 5 {
		t.Fatalf("Verify = %+v, %v; want 2 anchors, the latest at record 5", rep, err)
	}

	// The anchor is locked: compliance mode refuses its deletion.
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(a.key(5))})
	if err != nil {
		t.Fatal(err)
	}
	if head.ObjectLockMode != "COMPLIANCE" || head.ObjectLockRetainUntilDate == nil {
		t.Errorf("anchor lock = %q until %v, want COMPLIANCE with a date", head.ObjectLockMode, head.ObjectLockRetainUntilDate)
	}

	// Rewritten: record 3's hash differs from its anchor.
	exec(t, s, "UPDATE audit SET hash = 'f00d' WHERE seq = 3")
	wantMismatch(t, a, s, 3, "rewritten")
	// Cut short: records 4 and 5 deleted after they were anchored.
	exec(t, s, "DELETE FROM audit WHERE seq >= 4")
	wantMismatch(t, a, s, 3, "rewritten")
	exec(t, s, "DELETE FROM audit WHERE seq = 3")
	wantMismatch(t, a, s, 3, "cut short")
}

func once(t *testing.T, a *Anchor, s *store.Store, last int64) int64 {
	t.Helper()
	seq, err := a.Once(context.Background(), s, last)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func exec(t *testing.T, s *store.Store, q string) {
	t.Helper()
	if err := s.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(context.Background(), q)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func wantMismatch(t *testing.T, a *Anchor, s *store.Store, seq int64, reason string) {
	t.Helper()
	_, err := a.Verify(context.Background(), s)
	var m *Mismatch
	if !errors.As(err, &m) || m.Seq != seq || !strings.Contains(err.Error(), reason) {
		t.Errorf("Verify: %v; want a mismatch at record %d saying %q", err, seq, reason)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct{ in, bucket, prefix, err string }{
		{"s3://b", "b", DefaultPrefix, ""},
		{"s3://b/", "b", DefaultPrefix, ""},
		{"s3://b/x/y", "b", "x/y/", ""},
		{"s3://b/x/", "b", "x/", ""},
		{"b/x", "", "", "not an S3 location"},
		{"s3://", "", "", "not an S3 location"},
	}
	for _, tt := range tests {
		b, p, err := ParseURL(tt.in)
		if b != tt.bucket || p != tt.prefix || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q, %q", tt.in, b, p, err, tt.bucket, tt.prefix, tt.err)
		}
	}
}
