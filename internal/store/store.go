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
	group   group         // WriteGrouped's queue and writer
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
	db, err := sql.Open("sqlite", "file:"+uriPath(path)+"?"+q.Encode())
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

// uriPath escapes the characters a SQLite URI filename gives a meaning to: SQLite reads
// "#" as the start of a fragment and decodes "%HH", and the driver splits the name at the
// first "?". Unescaped, a data directory such as "incidents#2" would open another file.
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
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
	s.group.close()
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
	// head is the audit chain's last record as this transaction sees it, read by the first
	// Audit and then kept here: the write lock keeps anyone else from appending meanwhile.
	head chainHead
	// pending are audit records appended but not yet written (see flushAudit).
	pending []AuditRecord
	// stmts are the SQLite statements prepared in this transaction, by query: a grouped
	// transaction runs the same few statements for every request in it, and parsing them
	// again each time is a good part of SQLite's work. PostgreSQL's pgx keeps its own cache.
	stmts map[string]*sql.Stmt
}

// prepared returns q prepared in tx (SQLite), preparing it the first time. database/sql
// closes the statements when the transaction ends.
func (tx *Tx) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := tx.stmts[q]; ok {
		return st, nil
	}
	st, err := tx.sql.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if tx.stmts == nil {
		tx.stmts = map[string]*sql.Stmt{}
	}
	tx.stmts[q] = st
	return st, nil
}

// chainHead is the audit chain's last record: its sequence number and hash.
type chainHead struct {
	known bool
	seq   int64
	hash  string
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
	tx, err := s.begin(ctx, ctx, write)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.rollback(ctx)
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return tx.commit(ctx)
}

// begin starts a transaction and, for writing, takes the write lock. txCtx is the context
// the transaction lives by (database/sql rolls it back when it ends); ctx bounds only the
// statements begin runs.
func (s *Store) begin(txCtx, ctx context.Context, write bool) (*Tx, error) {
	if s.dialect == Postgres {
		ptx, err := s.pool.Begin(ctx)
		if err != nil {
			return nil, fmt.Errorf("database: begin: %w", err)
		}
		if write {
			if _, err = ptx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", writeLock); err != nil {
				_ = ptx.Rollback(context.WithoutCancel(ctx))
				return nil, fmt.Errorf("database: take the write lock: %w", err)
			}
		}
		return &Tx{dialect: Postgres, pgx: ptx}, nil
	}
	stx, err := s.db.BeginTx(txCtx, &sql.TxOptions{ReadOnly: false})
	if err != nil {
		return nil, fmt.Errorf("database: begin: %w", err)
	}
	return &Tx{dialect: SQLite, sql: stx}, nil
}

func (tx *Tx) commit(ctx context.Context) error {
	if err := tx.flushAudit(ctx); err != nil {
		return err
	}
	var err error
	if tx.pgx != nil {
		err = tx.pgx.Commit(ctx)
	} else {
		err = tx.sql.Commit()
	}
	if err != nil {
		return fmt.Errorf("database: commit: %w", err)
	}
	return nil
}

func (tx *Tx) rollback(ctx context.Context) {
	if tx.pgx != nil {
		_ = tx.pgx.Rollback(context.WithoutCancel(ctx))
		return
	}
	_ = tx.sql.Rollback()
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

// touchesAudit says whether q may read or write the audit table, and so needs the records
// held back written first.
func (tx *Tx) touchesAudit(q string) bool {
	return len(tx.pending) > 0 && strings.Contains(strings.ToLower(q), "audit")
}

// Exec runs a statement and returns the number of rows it affected.
func (tx *Tx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	if tx.touchesAudit(q) {
		if err := tx.flushAudit(ctx); err != nil {
			return 0, err
		}
	}
	return tx.exec(ctx, q, args...)
}

func (tx *Tx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	q = rebind(tx.dialect, q)
	if tx.pgx != nil {
		tag, err := tx.pgx.Exec(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		return tag.RowsAffected(), nil
	}
	var res sql.Result
	var err error
	if len(args) == 0 {
		// Unprepared: a statement without parameters may be several (a migration's).
		res, err = tx.sql.ExecContext(ctx, q)
	} else {
		var st *sql.Stmt
		if st, err = tx.prepared(ctx, q); err == nil {
			res, err = st.ExecContext(ctx, args...)
		}
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// stmt is a statement whose result is not needed, and what it does, for its error.
type stmt struct {
	q    string
	args []any
	what string
}

// execAll runs stmts in order, stopping at the first that fails. On PostgreSQL they go in
// one round trip: under the write lock, each round trip is time every writer waits.
func (tx *Tx) execAll(ctx context.Context, stmts []stmt) error {
	if tx.pgx == nil || len(stmts) == 1 {
		for _, st := range stmts {
			if _, err := tx.Exec(ctx, st.q, st.args...); err != nil {
				return fmt.Errorf("%s: %w", st.what, err)
			}
		}
		return nil
	}
	for _, st := range stmts {
		if tx.touchesAudit(st.q) {
			if err := tx.flushAudit(ctx); err != nil {
				return err
			}
			break
		}
	}
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(rebind(Postgres, st.q), st.args...)
	}
	br := tx.pgx.SendBatch(ctx, b)
	defer br.Close()
	for _, st := range stmts {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return br.Close()
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

// errRow is a row that could not be read.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// QueryRow runs a query expected to return at most one row; Scan returns sql.ErrNoRows
// when there is none.
func (tx *Tx) QueryRow(ctx context.Context, q string, args ...any) Row {
	if tx.touchesAudit(q) {
		if err := tx.flushAudit(ctx); err != nil {
			return errRow{err}
		}
	}
	q = rebind(tx.dialect, q)
	if tx.pgx != nil {
		return pgxRow{tx.pgx.QueryRow(ctx, q, args...)}
	}
	st, err := tx.prepared(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// Query runs a query and calls each for every row in order, stopping at the first error.
func (tx *Tx) Query(ctx context.Context, q string, each func(Row) error, args ...any) error {
	if tx.touchesAudit(q) {
		if err := tx.flushAudit(ctx); err != nil {
			return err
		}
	}
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
	st, err := tx.prepared(ctx, q)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, args...)
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
