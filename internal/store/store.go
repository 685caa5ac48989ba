// Package store keeps Firebreak's durable state: the events it accepted, the incidents they
// opened, each step's outcome, and the audit chain that records all of it. One SQLite file
// serves a single server; PostgreSQL serves several replicas. The same queries run on both:
// they are written with `?` placeholders and rebound for PostgreSQL.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (pure Go, no cgo)
)

// Dialect names the database behind a Store.
type Dialect string

// The databases a Store can use.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrNotFound is returned when a looked-up record does not exist.
var ErrNotFound = errors.New("not found")

// writeLock is the PostgreSQL advisory lock every writing transaction holds. Writes are
// serialised because the audit chain is: each record's hash covers the one before it, so two
// transactions appending at once would fork the chain. Firebreak writes a few records per
// event, far below what one writer at a time can sustain. SQLite has one writer anyway.
const writeLock = 0x66697265 // "fire"

// Store is Firebreak's database. It is safe for concurrent use.
type Store struct {
	dialect Dialect
	db      *sql.DB       // SQLite
	pool    *pgxpool.Pool // PostgreSQL
}

// Open connects to the database named by dsn: a `postgres://` or `postgresql://` URL, or
// else the path of a SQLite file (created when missing). It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w; check the URL", redact(dsn), err)
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("database %s: %w; check that PostgreSQL is running and the URL's user, password and database are right", redact(dsn), err)
		}
		return &Store{dialect: Postgres, pool: pool}, nil
	}
	if dsn == "" {
		return nil, errors.New("database: no SQLite path or postgres:// URL given")
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
	q := url.Values{}
	// WAL lets readers proceed while the one writer writes; the busy timeout makes a second
	// process wait for the lock instead of failing at once; SQLite leaves foreign keys off
	// unless asked. The time format is one SQLite's own date functions read, in UTC, so that
	// timestamps compare correctly as text.
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_time_format", "sqlite")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	// SQLite allows one writer; one connection shared by Firebreak and River turns what would
	// be SQLITE_BUSY errors into waiting, as River's SQLite driver recommends.
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w; check that the directory exists and is writable", path, err)
	}
	return &Store{dialect: SQLite, db: db}, nil
}

// redact hides a URL's password in messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// Dialect says which database the store uses.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB returns the SQLite handle, for River's SQLite driver; nil on PostgreSQL.
func (s *Store) DB() *sql.DB { return s.db }

// Pool returns the PostgreSQL pool, for River's pgx driver; nil on SQLite.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close releases the database. Stop anything using it (River) first.
func (s *Store) Close() error {
	if s.pool != nil {
		s.pool.Close()
		return nil
	}
	return s.db.Close()
}

// Tx is a transaction on either database. River's InsertTx takes the driver's own
// transaction (SQL or Pgx), so that jobs commit or roll back with the records beside them.
type Tx struct {
	dialect Dialect
	sql     *sql.Tx
	pgx     pgx.Tx
}

// SQL returns the underlying database/sql transaction (SQLite); nil on PostgreSQL.
func (tx *Tx) SQL() *sql.Tx { return tx.sql }

// Pgx returns the underlying pgx transaction (PostgreSQL); nil on SQLite.
func (tx *Tx) Pgx() pgx.Tx { return tx.pgx }

// Write runs fn in a transaction that may write, committing when fn returns nil and rolling
// back otherwise. Writing transactions are serialised (see writeLock).
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error {
	return s.inTx(ctx, true, fn)
}

// Read runs fn in a transaction that only reads, for a consistent view across queries.
func (s *Store) Read(ctx context.Context, fn func(*Tx) error) error {
	return s.inTx(ctx, false, fn)
}

func (s *Store) inTx(ctx context.Context, write bool, fn func(*Tx) error) (err error) {
	if s.dialect == Postgres {
		var ptx pgx.Tx
		ptx, err = s.pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("database: begin: %w", err)
		}
		defer func() {
			if err != nil {
				_ = ptx.Rollback(context.WithoutCancel(ctx))
			}
		}()
		tx := &Tx{dialect: Postgres, pgx: ptx}
		if write {
			if _, err = ptx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", writeLock); err != nil {
				return fmt.Errorf("database: take the write lock: %w", err)
			}
		}
		if err = fn(tx); err != nil {
			return err
		}
		if err = ptx.Commit(ctx); err != nil {
			return fmt.Errorf("database: commit: %w", err)
		}
		return nil
	}
	var stx *sql.Tx
	stx, err = s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: false})
	if err != nil {
		return fmt.Errorf("database: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = stx.Rollback()
		}
	}()
	if err = fn(&Tx{dialect: SQLite, sql: stx}); err != nil {
		return err
	}
	if err = stx.Commit(); err != nil {
		return fmt.Errorf("database: commit: %w", err)
	}
	return nil
}

// rebind turns `?` placeholders into PostgreSQL's `$1, $2, ...`. Firebreak's queries hold no
// `?` in literals, so a plain scan is enough.
func rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Exec runs a statement and returns the number of rows it affected.
func (tx *Tx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	q = rebind(tx.dialect, q)
	if tx.pgx != nil {
		tag, err := tx.pgx.Exec(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		return tag.RowsAffected(), nil
	}
	res, err := tx.sql.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Row is one result row to scan.
type Row interface {
	Scan(dest ...any) error
}

type pgxRow struct{ row pgx.Row }

// Scan reports pgx's no-rows error as database/sql's, so callers check one sentinel.
func (r pgxRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return err
}

// QueryRow runs a query expected to return at most one row; Scan returns sql.ErrNoRows
// when there is none.
func (tx *Tx) QueryRow(ctx context.Context, q string, args ...any) Row {
	q = rebind(tx.dialect, q)
	if tx.pgx != nil {
		return pgxRow{tx.pgx.QueryRow(ctx, q, args...)}
	}
	return tx.sql.QueryRowContext(ctx, q, args...)
}

// Query runs a query and calls each for every row in order, stopping at the first error.
func (tx *Tx) Query(ctx context.Context, q string, each func(Row) error, args ...any) error {
	q = rebind(tx.dialect, q)
	if tx.pgx != nil {
		rows, err := tx.pgx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := each(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	rows, err := tx.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// stamp is how every timestamp is stored: UTC, to the microsecond PostgreSQL keeps, so
// that a time read back equals the time written (the audit hash depends on it).
func stamp(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// nullTime stores a zero time as NULL.
func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: stamp(t), Valid: true}
}
