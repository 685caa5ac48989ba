package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// TestServeReloadsPlaybooks runs serve --dev on a copy of the playbooks and changes them
// under it: a broken file is refused with the previous set kept, removing it reloads the
// set, and so does SIGHUP. Each load is in the audit chain, which stays intact.
func TestServeReloadsPlaybooks(t *testing.T) {
	root, bin := buildFirebreak(t)
	tmp := t.TempDir()
	// The playbooks without their tests, which name example files by relative paths.
	pbs := filepath.Join(tmp, "playbooks")
	if err := os.Mkdir(pbs, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "playbooks", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.yaml") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pbs, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dataDir := filepath.Join(tmp, "data")
	srv := startServe(t, root, bin, cleanEnv(), "--dev", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--playbooks", pbs)
	logs := srv.logs
	waitLog := func(what string, n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(logs.String(), what) < n {
			if time.Now().After(deadline) {
				t.Fatalf("no %d× %q in the log within 20s:\n%s", n, what, logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	broken := filepath.Join(pbs, "zz-broken.yaml")
	if err := os.WriteFile(broken, []byte("apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: broken}\nspec: {steps: 3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitLog("playbooks not reloaded", 1)
	if !strings.Contains(logs.String(), "zz-broken.yaml:") {
		t.Errorf("the refusal does not name the broken file:\n%s", logs.String())
	}
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	waitLog(`msg="playbooks reloaded"`, 1)
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(`msg="playbooks reloaded"`, 2)

	srv.stop(syscall.SIGTERM)

	st, err := store.Open(context.Background(), filepath.Join(dataDir, "firebreak.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.VerifyAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := st.ExportAudit(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for line := range bytes.Lines(buf.Bytes()) {
		var r store.AuditRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, r.Kind)
		if r.Kind == "playbooks.rejected" && !strings.Contains(string(r.Data), "zz-broken.yaml") {
			t.Errorf("playbooks.rejected record does not name the file: %s", r.Data)
		}
	}
	want := []string{"config.loaded", "playbooks.rejected", "playbooks.reloaded", "playbooks.reloaded"}
	if !slices.Equal(kinds, want) {
		t.Errorf("audit records %v, want %v", kinds, want)
	}
}

// TestWatchPlaybooks checks that the watcher signals once for a change that has settled,
// and not at all while nothing changes.
func TestWatchPlaybooks(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	fp, err := fingerprint(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := watchPlaybooks(ctx, dir, 20*time.Millisecond, fp)
	select {
	case <-ch:
		t.Fatal("signalled with nothing changed")
	case <-time.After(200 * time.Millisecond):
	}
	// Not a playbook: ignored.
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.yml"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no signal after a playbook file was added")
	}
	select {
	case <-ch:
		t.Fatal("signalled twice for one change")
	case <-time.After(200 * time.Millisecond):
	}
}
