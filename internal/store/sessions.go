package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ConsoleSession is browser state the console keeps between requests: a session, or an
// OIDC sign-in in progress. It lives in the database, so that every replica serving the
// console sees it.
type ConsoleSession struct {
	// Key is the hex SHA-256 of the cookie's value.
	Key string
	// Kind is ConsoleSessionKind or ConsoleLoginKind.
	Kind     string
	SignedIn bool
	// Data is the console's own JSON.
	Data    []byte
	Created time.Time
	Seen    time.Time
	Expires time.Time
}

// The kinds of console state.
const (
	ConsoleSessionKind = "session"
	ConsoleLoginKind   = "login"
)

// ErrConsoleFull says a console session could not be created: as many as the limit are
// live, and none could be dropped.
var ErrConsoleFull = errors.New("console: too many sessions")

// CreateConsoleSession stores cs. Expired rows go first, and signed-in sessions unseen
// since idleBefore with them. When limit rows of cs's kind are still live, sessions that
// have not signed in are dropped (they cost their owners a reload of the login form), and
// if that is not enough the call fails with ErrConsoleFull: visitors who never sign in
// cannot make the table grow without bound.
func (s *Store) CreateConsoleSession(ctx context.Context, cs ConsoleSession, idleBefore time.Time, limit int) error {
	return s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at <= ? OR (signed_in AND seen_at <= ?)`,
			cs.Created.UTC(), idleBefore.UTC()); err != nil {
			return fmt.Errorf("console sessions: prune: %w", err)
		}
		n, err := countConsole(ctx, tx, cs.Kind)
		if err != nil {
			return err
		}
		if n >= limit {
			if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE kind = ? AND NOT signed_in`, cs.Kind); err != nil {
				return fmt.Errorf("console sessions: drop those not signed in: %w", err)
			}
			if n, err = countConsole(ctx, tx, cs.Kind); err != nil {
				return err
			}
			if n >= limit {
				return ErrConsoleFull
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO console_sessions (key, kind, signed_in, data, created_at, seen_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, cs.Key, cs.Kind, cs.SignedIn, string(cs.Data), cs.Created.UTC(), cs.Seen.UTC(), cs.Expires.UTC())
		if err != nil {
			return fmt.Errorf("console sessions: create: %w", err)
		}
		return nil
	})
}

func countConsole(ctx context.Context, tx *Tx, kind string) (int, error) {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM console_sessions WHERE kind = ?`, kind).Scan(&n); err != nil {
		return 0, fmt.Errorf("console sessions: count: %w", err)
	}
	return n, nil
}

// GetConsoleSession returns the row key names, or ErrNotFound. Expiry is the caller's to
// judge.
func (s *Store) GetConsoleSession(ctx context.Context, key string) (*ConsoleSession, error) {
	var cs *ConsoleSession
	err := s.Read(ctx, func(tx *Tx) error {
		var err error
		cs, err = getConsole(ctx, tx, key)
		return err
	})
	return cs, err
}

func getConsole(ctx context.Context, tx *Tx, key string) (*ConsoleSession, error) {
	cs := ConsoleSession{Key: key}
	var data string
	err := tx.QueryRow(ctx, `SELECT kind, signed_in, data, created_at, seen_at, expires_at FROM console_sessions WHERE key = ?`, key).
		Scan(&cs.Kind, &cs.SignedIn, &data, &cs.Created, &cs.Seen, &cs.Expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("console session: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("console session: %w", err)
	}
	cs.Data = []byte(data)
	cs.Created, cs.Seen, cs.Expires = cs.Created.UTC(), cs.Seen.UTC(), cs.Expires.UTC()
	return &cs, nil
}

// TouchConsoleSession records the session as seen at seen.
func (s *Store) TouchConsoleSession(ctx context.Context, key string, seen time.Time) error {
	return s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE console_sessions SET seen_at = ? WHERE key = ?`, seen.UTC(), key); err != nil {
			return fmt.Errorf("console session: mark seen: %w", err)
		}
		return nil
	})
}

// UpdateConsoleSession replaces the session's data with what fn makes of it, in one
// transaction, so that two requests changing it at once do not lose either change. A
// missing session is ErrNotFound.
func (s *Store) UpdateConsoleSession(ctx context.Context, key string, fn func(data []byte) ([]byte, error)) error {
	return s.Write(ctx, func(tx *Tx) error {
		cs, err := getConsole(ctx, tx, key)
		if err != nil {
			return err
		}
		data, err := fn(cs.Data)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE console_sessions SET data = ? WHERE key = ?`, string(data), key); err != nil {
			return fmt.Errorf("console session: update: %w", err)
		}
		return nil
	})
}

// TakeConsoleSession deletes the row key names and returns it, so that it is used once
// even when two replicas are asked at the same moment; ErrNotFound when there is none.
func (s *Store) TakeConsoleSession(ctx context.Context, key string) (*ConsoleSession, error) {
	var cs *ConsoleSession
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		if cs, err = getConsole(ctx, tx, key); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE key = ?`, key); err != nil {
			return fmt.Errorf("console session: take: %w", err)
		}
		return nil
	})
	return cs, err
}

// DeleteConsoleSession deletes the row key names, if there is one.
func (s *Store) DeleteConsoleSession(ctx context.Context, key string) error {
	return s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE key = ?`, key); err != nil {
			return fmt.Errorf("console session: delete: %w", err)
		}
		return nil
	})
}
