// Package storetest opens migrated, empty stores for tests: a SQLite file in a temporary
// directory, and a PostgreSQL schema of its own that is dropped afterwards, so that test
// runs sharing one server do not collide.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// PostgresURL is where CI runs PostgreSQL. The environment variable FIREBREAK_TEST_POSTGRES
// names another URL, or is "off" to skip the PostgreSQL runs.
const PostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Each runs fn as a subtest against a fresh store on each database: "sqlite" always, and
// "postgres" unless FIREBREAK_TEST_POSTGRES=off. An unreachable PostgreSQL fails the
// subtest, naming the URL: a skipped database would hide a broken one in CI.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Open returns a migrated, empty store on dialect, closed when the test ends.
func Open(t *testing.T, dialect store.Dialect) *store.Store {
	t.Helper()
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "firebreak.db")
	if dialect == store.Postgres {
		dsn = postgresSchema(t)
	}
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// postgresSchema creates a schema of its own and returns a URL whose connections use it.
func postgresSchema(t *testing.T) string {
	t.Helper()
	url := os.Getenv("FIREBREAK_TEST_POSTGRES")
	if url == "off" {
		t.Skip("FIREBREAK_TEST_POSTGRES=off")
	}
	if url == "" {
		url = PostgresURL
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("PostgreSQL at %s is unreachable (%v): start it, point FIREBREAK_TEST_POSTGRES at another URL, or set FIREBREAK_TEST_POSTGRES=off", url, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "firebreak_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close(ctx)
		t.Fatalf("create schema %s: %v", schema, err)
	}
	// Registered before the store's own cleanup, so it runs after the store is closed.
	t.Cleanup(func() {
		ctx := context.Background()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close(ctx)
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}
