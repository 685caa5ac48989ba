// Package anchor writes the audit chain's head to an S3 bucket with Object Lock, and checks
// the chain against what it wrote.
//
// The chain shows any record edited, deleted, inserted or reordered, but not a chain that
// was rewritten as a whole, hashes and all, by someone who controls the database, nor one
// cut short at its end. A head written every few minutes to an object that nobody, not even
// the bucket's owner in compliance mode, can change or delete before its retention ends
// fixes the history up to that point outside the database: `firebreak audit verify
// --anchors s3://BUCKET/PREFIX` then compares every written head with the chain.
package anchor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// S3 is the part of the S3 API anchoring uses; *s3.Client is one.
type S3 interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Chain is the audit chain anchoring reads; *store.Store is one.
type Chain interface {
	AuditHead(ctx context.Context) (store.ChainHead, bool, error)
	AuditHash(ctx context.Context, seq int64) (string, bool, error)
}

// Lock modes of S3 Object Lock: in governance mode a user with
// s3:BypassGovernanceRetention can still delete an anchor; in compliance mode nobody can
// until its retention ends.
const (
	Governance = "GOVERNANCE"
	Compliance = "COMPLIANCE"
)

// Anchor writes and reads chain heads under Prefix in Bucket.
type Anchor struct {
	S3     S3
	Bucket string
	// Prefix is the key prefix of the anchors, e.g. "firebreak/audit/". Keys below it are
	// the record's sequence number, zero-padded so that listing returns them in order.
	Prefix string
	// Mode is Governance or Compliance; Retention is how long each anchor is locked.
	Mode      string
	Retention time.Duration
	// Writer names who wrote an anchor (the replica), for people reading the bucket.
	Writer string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Record is one anchor object's content.
type Record struct {
	store.ChainHead
	Written time.Time `json:"written"`
	Writer  string    `json:"writer,omitempty"`
}

func (a *Anchor) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Anchor) key(seq int64) string { return fmt.Sprintf("%s%020d.json", a.Prefix, seq) }

// Write puts head in the bucket, locked until its retention ends.
func (a *Anchor) Write(ctx context.Context, head store.ChainHead) error {
	now := a.now().UTC()
	body, err := json.Marshal(Record{ChainHead: head, Written: now, Writer: a.Writer})
	if err != nil {
		return err
	}
	in := &s3.PutObjectInput{
		Bucket:      aws.String(a.Bucket),
		Key:         aws.String(a.key(head.Seq)),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("application/json"),
		// S3 requires an integrity checksum on every write that sets a retention.
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	if a.Retention > 0 {
		in.ObjectLockMode = types.ObjectLockMode(a.Mode)
		in.ObjectLockRetainUntilDate = aws.Time(now.Add(a.Retention))
	}
	if _, err := a.S3.PutObject(ctx, in); err != nil {
		return fmt.Errorf("anchor the audit chain at record %d in s3://%s/%s: %w; check that the bucket exists with Object Lock enabled and that Firebreak may s3:PutObject and s3:PutObjectRetention there",
			head.Seq, a.Bucket, a.key(head.Seq), err)
	}
	return nil
}

// Loop writes the chain's head every interval while it has grown since the last anchor,
// and once more when ctx ends. Failures are logged and retried at the next tick: the chain itself is
// intact meanwhile, only its outside copy is late.
func (a *Anchor) Loop(ctx context.Context, chain Chain, every time.Duration, log *slog.Logger) {
	var last int64
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		seq, err := a.Once(ctx, chain, last)
		if err != nil {
			log.Warn("audit anchor", "err", err)
		} else if seq != last {
			last = seq
			log.Debug("audit chain anchored", "seq", seq, "bucket", a.Bucket)
		}
		select {
		case <-ctx.Done():
			// A last anchor at shutdown fixes the final records too, rather than leaving
			// them until the next start's first tick.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalAnchorTimeout)
			defer cancel()
			if _, err := a.Once(fctx, chain, last); err != nil {
				log.Warn("audit anchor at shutdown", "err", err)
			}
			return
		case <-tick.C:
		}
	}
}

// finalAnchorTimeout bounds the anchor written at shutdown, which must not hold it up.
const finalAnchorTimeout = 10 * time.Second

// Once anchors the chain's head unless it is still record last, and returns the record
// anchored (last when nothing was written).
func (a *Anchor) Once(ctx context.Context, chain Chain, last int64) (int64, error) {
	head, ok, err := chain.AuditHead(ctx)
	if err != nil {
		return last, err
	}
	if !ok || head.Seq == last {
		return last, nil
	}
	if err := a.Write(ctx, head); err != nil {
		return last, err
	}
	return head.Seq, nil
}

// Mismatch names an anchor the chain no longer agrees with.
type Mismatch struct {
	Key    string
	Seq    int64
	Reason string
}

func (m *Mismatch) Error() string {
	return fmt.Sprintf("anchor %s: record %d %s", m.Key, m.Seq, m.Reason)
}

// Report is what Verify found.
type Report struct {
	Anchors int   // anchors read
	Latest  int64 // the highest record anchored, 0 with none
}

// Verify reads every anchor under the prefix and checks that the chain holds each anchored
// record with the anchored hash. It returns a *Mismatch for the first that does not: a
// record missing (the chain was cut short after it was anchored) or different (the chain
// was rewritten). Run it after the chain's own check, which shows where the chain is
// broken within itself.
func (a *Anchor) Verify(ctx context.Context, chain Chain) (Report, error) {
	var rep Report
	in := &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(a.Prefix)}
	for {
		out, err := a.S3.ListObjectsV2(ctx, in)
		if err != nil {
			return rep, fmt.Errorf("list the anchors in s3://%s/%s: %w", a.Bucket, a.Prefix, err)
		}
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			if !strings.HasSuffix(key, ".json") {
				continue
			}
			rec, err := a.read(ctx, key)
			if err != nil {
				return rep, err
			}
			hash, ok, err := chain.AuditHash(ctx, rec.Seq)
			if err != nil {
				return rep, err
			}
			switch {
			case !ok:
				return rep, &Mismatch{Key: key, Seq: rec.Seq, Reason: fmt.Sprintf("is missing, though it was anchored on %s: the chain was cut short", rec.Written.Format(time.RFC3339))}
			case hash != rec.Hash:
				return rep, &Mismatch{Key: key, Seq: rec.Seq, Reason: fmt.Sprintf("has hash %s, but %s was anchored on %s: the chain was rewritten", short(hash), short(rec.Hash), rec.Written.Format(time.RFC3339))}
			}
			rep.Anchors++
			rep.Latest = max(rep.Latest, rec.Seq)
		}
		if !aws.ToBool(out.IsTruncated) {
			return rep, nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

func (a *Anchor) read(ctx context.Context, key string) (Record, error) {
	out, err := a.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(key)})
	if err != nil {
		return Record{}, fmt.Errorf("read anchor s3://%s/%s: %w", a.Bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, 1<<16))
	if err != nil {
		return Record{}, fmt.Errorf("read anchor s3://%s/%s: %w", a.Bucket, key, err)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return Record{}, fmt.Errorf("anchor s3://%s/%s is not an audit anchor (%v); was something else written under the prefix?", a.Bucket, key, err)
	}
	if rec.Seq <= 0 || rec.Hash == "" {
		return Record{}, fmt.Errorf("anchor s3://%s/%s is not an audit anchor (no seq or hash); was something else written under the prefix?", a.Bucket, key)
	}
	return rec, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// ParseURL reads s3://BUCKET/PREFIX. The prefix defaults to "firebreak/audit/" and always
// ends in "/".
func ParseURL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok || rest == "" || strings.HasPrefix(rest, "/") {
		return "", "", fmt.Errorf("%q is not an S3 location; write s3://BUCKET or s3://BUCKET/PREFIX", u)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return bucket, prefix, nil
}

// DefaultPrefix is where anchors go in the bucket when no prefix is given.
const DefaultPrefix = "firebreak/audit/"
