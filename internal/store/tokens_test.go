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

// TestTokens checks that a token reads back as stored, on both databases, with and without
// an expiry and an account scope, and that an unknown hash or a repeated id is refused.
func TestTokens(t *testing.T) {
	created := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	tests := []struct {
		name string
		tok  store.Token
	}{
		{"scoped, expiring", store.Token{ID: "tok-a", Hash: "aa", Role: "responder", Accounts: []string{"111122223333", "444455556666"},
			Clearance: []string{}, CreatedBy: "cli:alice", Created: created, Expires: created.Add(24 * time.Hour)}},
		{"every account, never expires", store.Token{ID: "tok-b", Hash: "bb", Role: "admin", Accounts: []string{},
			Clearance: []string{}, CreatedBy: "cli:bob", Created: created}},
		{"cleared for two labels", store.Token{ID: "tok-c", Hash: "cc", Role: "viewer", Accounts: []string{},
			Clearance: []string{"legal", "restricted"}, CreatedBy: "cli:carol", Created: created}},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := s.Write(ctx, func(tx *store.Tx) error { return s.CreateToken(ctx, tx, tt.tok) }); err != nil {
					t.Fatal(err)
				}
				var got *store.Token
				if err := s.Read(ctx, func(tx *store.Tx) error {
					var err error
					got, err = s.TokenByHash(ctx, tx, tt.tok.Hash)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(*got, tt.tok) {
					t.Errorf("read back\n%+v\nwant\n%+v", *got, tt.tok)
				}
				again := tt.tok
				again.Hash += "x"
				if err := s.Write(ctx, func(tx *store.Tx) error { return s.CreateToken(ctx, tx, again) }); err == nil {
					t.Error("a second token with the same id was stored")
				}
			})
		}
		err := s.Read(ctx, func(tx *store.Tx) error {
			_, err := s.TokenByHash(ctx, tx, "dd")
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown hash: %v, want ErrNotFound", err)
		}
	})
}

// TestTokenBeforeClearance checks that a token stored before tokens had a clearance (a
// row written without the column) reads back cleared for nothing, not for everything.
func TestTokenBeforeClearance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		err := s.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO api_tokens (id, hash, role, accounts, created_by, created_at)
				VALUES (?, ?, ?, ?, ?, ?)`, "tok-old", "old", "viewer", "[]", "cli:alice", time.Now().UTC())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var got *store.Token
		if err := s.Read(ctx, func(tx *store.Tx) error {
			var err error
			got, err = s.TokenByHash(ctx, tx, "old")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got.Clearance == nil || len(got.Clearance) != 0 {
			t.Errorf("clearance %#v, want an empty list", got.Clearance)
		}
	})
}
