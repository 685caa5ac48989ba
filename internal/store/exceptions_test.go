package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

// TestExceptions checks that exceptions read back as stored, on both databases; that the
// filters choose what they say (in force, not revoked, by account, an ARN's account
// included); and that revoking records who and why, once.
func TestExceptions(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	resource := &store.Exception{ID: "exc-1", Resource: "i-0abc", Playbooks: []string{"ec2-compromise-prod", "ec2-compromise-dev"},
		Reason: "vendor appliance", ApprovedBy: "alice", CreatedBy: "token:tok-a", Created: now, Expires: now.Add(72 * time.Hour)}
	account := &store.Exception{ID: "exc-2", Account: "444455556666", Playbooks: []string{"*"},
		Reason: "load test", ApprovedBy: "bob", CreatedBy: "bob", Created: now.Add(time.Minute), Expires: now.Add(24 * time.Hour)}
	arn := &store.Exception{ID: "exc-3", Resource: "arn:aws:ec2:us-east-1:111122223333:instance/i-0def", Playbooks: []string{"*"},
		Reason: "forensics hold", ApprovedBy: "carol", CreatedBy: "carol", Created: now.Add(2 * time.Minute), Expires: now.Add(time.Hour)}
	expired := &store.Exception{ID: "exc-4", Account: "111122223333", Playbooks: []string{"*"},
		Reason: "maintenance", ApprovedBy: "dan", CreatedBy: "dan", Created: now.Add(-48 * time.Hour), Expires: now.Add(-time.Hour)}

	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for _, x := range []*store.Exception{resource, account, arn, expired} {
			if err := s.Write(ctx, func(tx *store.Tx) error { return s.CreateException(ctx, tx, x) }); err != nil {
				t.Fatal(err)
			}
		}
		again := *resource
		if err := s.Write(ctx, func(tx *store.Tx) error { return s.CreateException(ctx, tx, &again) }); err == nil {
			t.Error("a second exception with the same id was stored")
		}

		get := func(id string) (*store.Exception, error) {
			var x *store.Exception
			err := s.Read(ctx, func(tx *store.Tx) error {
				var err error
				x, err = s.Exception(ctx, tx, id)
				return err
			})
			return x, err
		}
		got, err := get(resource.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, resource) {
			t.Errorf("read back\n%+v\nwant\n%+v", got, resource)
		}
		if _, err := get("exc-none"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown exception: %v, want ErrNotFound", err)
		}

		ok := false
		err = s.Write(ctx, func(tx *store.Tx) error {
			var err error
			ok, err = s.RevokeException(ctx, tx, account.ID, "token:tok-b", "test finished early", now.Add(time.Hour))
			return err
		})
		if err != nil || !ok {
			t.Fatalf("revoke: %v, %v; want it revoked", ok, err)
		}
		err = s.Write(ctx, func(tx *store.Tx) error {
			var err error
			ok, err = s.RevokeException(ctx, tx, account.ID, "token:tok-c", "again", now.Add(2*time.Hour))
			return err
		})
		if err != nil || ok {
			t.Errorf("revoke twice: %v, %v; want nothing revoked the second time", ok, err)
		}
		revoked, err := get(account.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !revoked.Revoked.Equal(now.Add(time.Hour)) || revoked.RevokedBy != "token:tok-b" || revoked.RevokeReason != "test finished early" {
			t.Errorf("revoked exception %+v: want revoked at %s by token:tok-b, and why", revoked, now.Add(time.Hour))
		}

		tests := []struct {
			name string
			f    store.ExceptionFilter
			want []string
		}{
			{"every one, newest first", store.ExceptionFilter{}, []string{"exc-3", "exc-2", "exc-1", "exc-4"}},
			{"in force", store.ExceptionFilter{Unrevoked: true, ExpiresAfter: now}, []string{"exc-3", "exc-1"}},
			{"not revoked, expired included", store.ExceptionFilter{Unrevoked: true}, []string{"exc-3", "exc-1", "exc-4"}},
			{"one account, an ARN's included", store.ExceptionFilter{Account: "111122223333"}, []string{"exc-3", "exc-4"}},
			{"an account, revoked included", store.ExceptionFilter{Account: "444455556666"}, []string{"exc-2"}},
			{"expiring after an hour", store.ExceptionFilter{ExpiresAfter: now.Add(time.Hour)}, []string{"exc-2", "exc-1"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var list []*store.Exception
				err := s.Read(ctx, func(tx *store.Tx) error {
					var err error
					list, err = s.ListExceptions(ctx, tx, tt.f)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, x := range list {
					ids = append(ids, x.ID)
				}
				if !reflect.DeepEqual(ids, tt.want) {
					t.Errorf("listed %v, want %v", ids, tt.want)
				}
			})
		}
	})
}

// TestExceptionState checks the states and the account an exception concerns.
func TestExceptionState(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		x         store.Exception
		state     string
		inAccount string
	}{
		{"in force", store.Exception{Account: "111122223333", Expires: now.Add(time.Second)}, store.ExceptionActive, "111122223333"},
		{"expires now", store.Exception{Resource: "i-1", Expires: now}, store.ExceptionExpired, ""},
		{"revoked before it expired", store.Exception{Resource: "arn:aws:iam::444455556666:user/alice", Expires: now.Add(time.Hour), Revoked: now},
			store.ExceptionRevoked, "444455556666"},
		{"an S3 bucket's ARN names no account", store.Exception{Resource: "arn:aws:s3:::data-prod", Expires: now.Add(time.Hour)}, store.ExceptionActive, ""},
		{"not an ARN", store.Exception{Resource: "arn-like:a:b:c:d:e", Expires: now.Add(time.Hour)}, store.ExceptionActive, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.x.State(now); got != tt.state {
				t.Errorf("State = %s, want %s", got, tt.state)
			}
			if got := tt.x.InAccount(); got != tt.inAccount {
				t.Errorf("InAccount = %q, want %q", got, tt.inAccount)
			}
		})
	}
}
