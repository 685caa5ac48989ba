package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenPathWithURICharacters opens SQLite files whose paths hold the characters a SQLite
// URI gives a meaning to: each must be created at exactly its path, not at a truncated or
// decoded one shared with another.
func TestOpenPathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, name := range []string{"a#1", "a#2", "b?x=1", "c%20d", "plain"} {
		path := filepath.Join(dir, name, "firebreak.db")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("migrate %s: %v", path, err)
		}
		s.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s was not created where it was asked for: %v", path, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Errorf("%d entries in the directory, want the 5 asked for", len(entries))
	}
}
