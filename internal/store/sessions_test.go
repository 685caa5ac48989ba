package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

// TestConsoleSessions checks the console's state on both databases: a row reads back as
// stored, is touched, updated, taken once and deleted, and unknown keys are ErrNotFound.
func TestConsoleSessions(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		cs := store.ConsoleSession{Key: "k1", Kind: store.ConsoleSessionKind, SignedIn: true, Data: []byte(`{"csrf":"x"}`),
			Created: t0, Seen: t0, Expires: t0.Add(8 * time.Hour)}
		if err := s.CreateConsoleSession(ctx, cs, t0.Add(-time.Hour), 10); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetConsoleSession(ctx, "k1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, cs) {
			t.Errorf("read back %+v, want %+v", *got, cs)
		}
		if err := s.TouchConsoleSession(ctx, "k1", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		err = s.UpdateConsoleSession(ctx, "k1", func(data []byte) ([]byte, error) {
			return append(data[:len(data)-1:len(data)-1], []byte(`,"flash":"done"}`)...), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetConsoleSession(ctx, "k1")
		if string(got.Data) != `{"csrf":"x","flash":"done"}` || !got.Seen.Equal(t0.Add(time.Minute)) {
			t.Errorf("after touch and update: data %s, seen %s", got.Data, got.Seen)
		}
		if _, err := s.TakeConsoleSession(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"get after take":  func() error { _, err := s.GetConsoleSession(ctx, "k1"); return err }(),
			"take after take": func() error { _, err := s.TakeConsoleSession(ctx, "k1"); return err }(),
			"update unknown":  s.UpdateConsoleSession(ctx, "k1", func(d []byte) ([]byte, error) { return d, nil }),
		} {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
		}
		if err := s.DeleteConsoleSession(ctx, "unknown"); err != nil {
			t.Errorf("delete unknown: %v", err)
		}
	})
}

// TestConsoleSessionsBounded checks what creating a session clears away: expired rows,
// signed-in sessions idle too long, and, at the limit, sessions that never signed in; a
// table full of live signed-in sessions refuses another with ErrConsoleFull.
func TestConsoleSessionsBounded(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		add := func(key string, signedIn bool, seen, expires time.Time) error {
			return s.CreateConsoleSession(ctx, store.ConsoleSession{Key: key, Kind: store.ConsoleSessionKind, SignedIn: signedIn,
				Data: []byte(`{}`), Created: t0, Seen: seen, Expires: expires}, t0.Add(-time.Hour), 3)
		}
		exists := func(key string) bool {
			_, err := s.GetConsoleSession(ctx, key)
			return err == nil
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		// Rows from before t0 that creating at t0 must clear.
		must(s.CreateConsoleSession(ctx, store.ConsoleSession{Key: "expired", Kind: store.ConsoleSessionKind, Data: []byte(`{}`),
			Created: t0.Add(-2 * time.Hour), Seen: t0.Add(-2 * time.Hour), Expires: t0.Add(-time.Minute)}, t0.Add(-3*time.Hour), 3))
		must(s.CreateConsoleSession(ctx, store.ConsoleSession{Key: "idle", Kind: store.ConsoleSessionKind, SignedIn: true, Data: []byte(`{}`),
			Created: t0.Add(-2 * time.Hour), Seen: t0.Add(-90 * time.Minute), Expires: t0.Add(6 * time.Hour)}, t0.Add(-3*time.Hour), 3))
		must(add("anon", false, t0, t0.Add(15*time.Minute)))
		if exists("expired") || exists("idle") || !exists("anon") {
			t.Fatalf("after one create: expired %v, idle %v, anon %v; want only anon", exists("expired"), exists("idle"), exists("anon"))
		}
		must(add("a", true, t0, t0.Add(8*time.Hour)))
		must(add("b", true, t0, t0.Add(8*time.Hour)))
		// Full: the session that never signed in makes way.
		must(add("c", true, t0, t0.Add(8*time.Hour)))
		if exists("anon") {
			t.Error("the session not signed in was kept at the limit")
		}
		if err := add("d", true, t0, t0.Add(8*time.Hour)); !errors.Is(err, store.ErrConsoleFull) {
			t.Errorf("fourth live session: %v, want ErrConsoleFull", err)
		}
		// OIDC sign-ins in progress count apart from sessions.
		for i := range 3 {
			must(s.CreateConsoleSession(ctx, store.ConsoleSession{Key: fmt.Sprintf("login-%d", i), Kind: store.ConsoleLoginKind,
				Data: []byte(`{}`), Created: t0, Seen: t0, Expires: t0.Add(10 * time.Minute)}, t0.Add(-time.Hour), 3))
		}
	})
}
