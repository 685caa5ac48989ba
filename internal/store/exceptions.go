package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Exception is an approved deviation created at run time: a resource, or a whole account,
// that the playbooks it names must leave alone until it expires or is revoked.
type Exception struct {
	// ID names the exception (exc-...) in decisions, the audit and revoke.
	ID string `json:"id"`
	// Resource is the resource's id or ARN; empty when Account is set.
	Resource string `json:"resource,omitempty"`
	// Account is the account excepted as a whole; empty when Resource is set.
	Account string `json:"account,omitempty"`
	// Playbooks are the names of the playbooks it applies to; "*" is every playbook.
	Playbooks  []string  `json:"playbooks"`
	Reason     string    `json:"reason"`
	ApprovedBy string    `json:"approved_by"`
	CreatedBy  string    `json:"created_by"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	// Revoked is when the exception was revoked; zero while it has not been.
	Revoked      time.Time `json:"revoked,omitzero"`
	RevokedBy    string    `json:"revoked_by,omitempty"`
	RevokeReason string    `json:"revoke_reason,omitempty"`
}

// The states of an exception, as Exception.State tells them.
const (
	ExceptionActive  = "active"
	ExceptionExpired = "expired"
	ExceptionRevoked = "revoked"
)

// State says whether the exception is in force at now, has expired, or was revoked.
func (x *Exception) State(now time.Time) string {
	switch {
	case !x.Revoked.IsZero():
		return ExceptionRevoked
	case !now.Before(x.Expires):
		return ExceptionExpired
	}
	return ExceptionActive
}

// InAccount is the account the exception concerns: Account, or else the account an ARN
// Resource names. It is empty for a resource given by its id alone, which may be in any
// account. Who may see and change an exception is judged by it.
func (x *Exception) InAccount() string {
	if x.Account != "" {
		return x.Account
	}
	return ARNAccount(x.Resource)
}

// ARNAccount returns the account field of an ARN (arn:partition:service:region:account:...),
// or "" when s is not an ARN or names no account (an S3 bucket's ARN does not).
func ARNAccount(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}

// ExceptionFilter chooses the exceptions ListExceptions returns; the zero filter chooses
// every one ever created.
type ExceptionFilter struct {
	// Unrevoked leaves out revoked exceptions.
	Unrevoked bool
	// ExpiresAfter, when set, leaves out the exceptions that expired at or before it; with
	// Unrevoked and the current time, what is left is what is in force.
	ExpiresAfter time.Time
	// Account, when set, keeps the exceptions InAccount says concern that account.
	Account string
}

// exceptionColumns are read by scanException, in its order.
const exceptionColumns = `id, resource, account, playbooks, reason, approved_by, created_by, created_at, expires_at,
	revoked_at, revoked_by, revoke_reason`

// CreateException stores x. Call it in the transaction that audits the creation, so that
// no exception takes effect without its record.
func (s *Store) CreateException(ctx context.Context, tx *Tx, x *Exception) error {
	playbooks, err := json.Marshal(nonNil(x.Playbooks))
	if err != nil {
		return fmt.Errorf("exception %s: encode playbooks: %w", x.ID, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO exceptions (id, resource, account, playbooks, reason, approved_by, created_by,
			created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		x.ID, x.Resource, x.Account, string(playbooks), x.Reason, x.ApprovedBy, x.CreatedBy, stamp(x.Created), stamp(x.Expires))
	if err != nil {
		return fmt.Errorf("store exception %s: %w", x.ID, err)
	}
	return nil
}

// Exception returns one exception, revoked or expired or not; the error wraps ErrNotFound
// when there is none.
func (s *Store) Exception(ctx context.Context, tx *Tx, id string) (*Exception, error) {
	x, err := scanException(tx.QueryRow(ctx, `SELECT `+exceptionColumns+` FROM exceptions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("exception %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("exception %s: %w", id, err)
	}
	return x, nil
}

// ListExceptions returns the exceptions f chooses, newest first.
//
// The account is matched here rather than in SQL: a resource's account is inside its ARN,
// which no index helps with, and exceptions are few (each expires within weeks).
func (s *Store) ListExceptions(ctx context.Context, tx *Tx, f ExceptionFilter) ([]*Exception, error) {
	var (
		where []string
		args  []any
	)
	if f.Unrevoked {
		where = append(where, "revoked_at IS NULL")
	}
	if !f.ExpiresAfter.IsZero() {
		where = append(where, "expires_at > ?")
		args = append(args, stamp(f.ExpiresAfter))
	}
	q := `SELECT ` + exceptionColumns + ` FROM exceptions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC"
	out := []*Exception{}
	err := tx.Query(ctx, q, func(r Row) error {
		x, err := scanException(r)
		if err != nil {
			return err
		}
		if f.Account == "" || x.InAccount() == f.Account {
			out = append(out, x)
		}
		return nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("list exceptions: %w", err)
	}
	return out, nil
}

// RevokeException records that id was revoked at at, by whom and why. It revokes only an
// exception not revoked already, and says whether it did; the caller checks beforehand, in
// the same transaction, that there is one to revoke.
func (s *Store) RevokeException(ctx context.Context, tx *Tx, id, by, reason string, at time.Time) (bool, error) {
	n, err := tx.Exec(ctx, `UPDATE exceptions SET revoked_at = ?, revoked_by = ?, revoke_reason = ?
		WHERE id = ? AND revoked_at IS NULL`, stamp(at), by, reason, id)
	if err != nil {
		return false, fmt.Errorf("revoke exception %s: %w", id, err)
	}
	return n == 1, nil
}

func scanException(r Row) (*Exception, error) {
	var (
		x         Exception
		playbooks string
		revoked   sql.NullTime
	)
	err := r.Scan(&x.ID, &x.Resource, &x.Account, &playbooks, &x.Reason, &x.ApprovedBy, &x.CreatedBy,
		&x.Created, &x.Expires, &revoked, &x.RevokedBy, &x.RevokeReason)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(playbooks), &x.Playbooks); err != nil {
		return nil, fmt.Errorf("exception %s: stored playbooks are unreadable: %w", x.ID, err)
	}
	x.Created, x.Expires, x.Revoked = x.Created.UTC(), x.Expires.UTC(), utc(revoked)
	return &x, nil
}
