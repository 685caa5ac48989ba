package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Token is an API token as stored: never the token itself, only its SHA-256, so that
// reading the database gives no one a token that works.
type Token struct {
	// ID names the token in audit records and approvals (tok-...); it is not secret.
	ID string `json:"id"`
	// Hash is the hex SHA-256 of the token as presented.
	Hash string `json:"-"`
	Role string `json:"role"`
	// Accounts are the account ids the token may act in; empty means every account.
	Accounts []string `json:"accounts"`
	// Clearance are the sensitivity labels of the incidents the token may see beside the
	// unlabelled ones, normalised as the incidents' own labels are; empty clears it for
	// none.
	Clearance []string  `json:"clearance"`
	CreatedBy string    `json:"created_by"`
	Created   time.Time `json:"created"`
	// Expires is when the token stops working; zero when it never does.
	Expires time.Time `json:"expires,omitzero"`
}

// CreateToken stores t. Call it in the transaction that audits the creation, so that no
// token exists without its record.
func (s *Store) CreateToken(ctx context.Context, tx *Tx, t Token) error {
	accounts, err := json.Marshal(nonNil(t.Accounts))
	if err != nil {
		return fmt.Errorf("token %s: encode accounts: %w", t.ID, err)
	}
	clearance, err := json.Marshal(nonNil(t.Clearance))
	if err != nil {
		return fmt.Errorf("token %s: encode clearance: %w", t.ID, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO api_tokens (id, hash, role, accounts, clearance, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, t.Role, string(accounts), string(clearance), t.CreatedBy, stamp(t.Created), nullTime(t.Expires))
	if err != nil {
		return fmt.Errorf("store token %s: %w", t.ID, err)
	}
	return nil
}

// TokenByHash returns the token whose SHA-256 is hash (hex), expired or not; the error wraps
// ErrNotFound when there is none. Looking tokens up by their hash keeps the comparison off
// the secret itself: the hash of a guess says nothing about how close it came.
func (s *Store) TokenByHash(ctx context.Context, tx *Tx, hash string) (*Token, error) {
	var (
		t                   Token
		accounts, clearance string
		expires             sql.NullTime
	)
	err := tx.QueryRow(ctx, `SELECT id, hash, role, accounts, clearance, created_by, created_at, expires_at
		FROM api_tokens WHERE hash = ?`, hash).Scan(&t.ID, &t.Hash, &t.Role, &accounts, &clearance, &t.CreatedBy, &t.Created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	if err := json.Unmarshal([]byte(accounts), &t.Accounts); err != nil {
		return nil, fmt.Errorf("token %s: stored accounts are unreadable: %w", t.ID, err)
	}
	if err := json.Unmarshal([]byte(clearance), &t.Clearance); err != nil {
		return nil, fmt.Errorf("token %s: stored clearance is unreadable: %w", t.ID, err)
	}
	t.Created, t.Expires = t.Created.UTC(), utc(expires)
	return &t, nil
}
