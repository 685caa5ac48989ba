package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// repoRoot is the module's root, where serve --dev finds its default world and playbooks.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// withoutEnv unsets variables for the test and restores them after.
func withoutEnv(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		t.Setenv(n, "")
		os.Unsetenv(n)
	}
}

// TestServeDevEndToEnd runs the binary as a user would: serve --dev, post the example event
// with the printed curl line's key, wait until the incident is contained, stop the server,
// and check the simulated organisation's saved state and the audit chain, before and after
// one record is edited.
func TestServeDevEndToEnd(t *testing.T) {
	root, bin := buildFirebreak(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	env := cleanEnv()
	srv := startServe(t, root, bin, env, "--dev", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	addr, key := srv.addr, srv.key
	want := "curl -sS -H 'X-Api-Key: " + key + "' --data-binary @examples/events/guardduty-backdoor-c2-prod.json http://" + addr + "/v1/events"
	if srv.curl != want {
		t.Errorf("curl line\n got %s\nwant %s", srv.curl, want)
	}

	body, err := os.ReadFile(filepath.Join(root, "examples/events/guardduty-backdoor-c2-prod.json"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/events", bytes.NewReader(body))
	req.Header.Set("X-Api-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Accepted, Duplicates int }
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted || got.Accepted != 1 {
		t.Fatalf("POST /v1/events: %d %+v %v", resp.StatusCode, got, err)
	}

	dbPath := filepath.Join(dataDir, "firebreak.db")
	incident := waitContained(t, dbPath, "ec2-compromise-prod", srv.logs)

	srv.stop(syscall.SIGINT)

	// The saved organisation shows the instance isolated and tagged with the incident.
	state, err := os.ReadFile(filepath.Join(dataDir, "world-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	inst := findByID(t, state, "i-0a1b2c3d4e5f60001")
	groups, _ := inst["security_groups"].([]any)
	tags, _ := inst["tags"].(map[string]any)
	if len(groups) != 1 || tags["firebreak:incident"] != incident || tags["firebreak:status"] != "quarantined" {
		t.Errorf("instance in the saved state is not isolated by %s: groups %v, tags %v", incident, groups, tags)
	}
	if g := findByID(t, state, groups[0].(string)); g["name"] != "firebreak-isolation" {
		t.Errorf("instance's only group is %v, not the isolation group", g)
	}

	verify := func() (int, string, string) {
		out, errs, err := runFirebreak(root, bin, env, "audit", "verify", "--data-dir", dataDir)
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return ee.ExitCode(), out, errs
		case err != nil:
			t.Fatal(err)
		}
		return 0, out, errs
	}
	code, out, errs := verify()
	if code != 0 || !strings.HasPrefix(out, "audit chain intact: ") {
		t.Fatalf("audit verify on the intact chain: exit %d\n%s%s", code, out, errs)
	}

	st, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.DB().Exec(`UPDATE audit SET actor = 'someone-else' WHERE seq = 3`)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs = verify()
	if code != 1 || !strings.Contains(errs, "audit record 3:") || out != "" {
		t.Errorf("audit verify after record 3 was edited: exit %d, want 1 naming record 3\nstdout: %s\nstderr: %s", code, out, errs)
	}
}

// waitContained polls the store until playbook's incident is contained, and returns its id.
func waitContained(t *testing.T, dbPath, playbook string, logs fmt.Stringer) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(60 * time.Second)
	var last []*store.Incident
	for time.Now().Before(deadline) {
		err := st.Read(ctx, func(tx *store.Tx) error {
			var err error
			last, err = st.ListIncidents(ctx, tx, store.Filter{Playbook: playbook})
			return err
		})
		if err == nil && len(last) == 1 && last[0].State == store.StateContained {
			return last[0].ID
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, inc := range last {
		t.Logf("incident %s: %s", inc.ID, inc.State)
	}
	t.Fatalf("no %s incident contained within 60s; log:\n%s", playbook, logs.String())
	return ""
}

// findByID returns the object with "id" id anywhere in a world state document.
func findByID(t *testing.T, doc []byte, id string) map[string]any {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(any) map[string]any
	walk = func(v any) map[string]any {
		switch v := v.(type) {
		case map[string]any:
			if v["id"] == id {
				return v
			}
			for _, c := range v {
				if m := walk(c); m != nil {
					return m
				}
			}
		case []any:
			for _, c := range v {
				if m := walk(c); m != nil {
					return m
				}
			}
		}
		return nil
	}
	m := walk(v)
	if m == nil {
		t.Fatalf("%s not in the world state", id)
	}
	return m
}

func TestServeWithoutAPIKey(t *testing.T) {
	withoutEnv(t, "FIREBREAK_API_KEY", "FIREBREAK_CONFIG")
	code, stdout, stderr := invoke(t, "", "serve", "--playbooks", "../../playbooks", "--data-dir", t.TempDir())
	if code != ExitUsage || stdout != "" || !strings.Contains(stderr, "FIREBREAK_API_KEY") {
		t.Errorf("serve without a key: exit %d, want 2 saying how to set one\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

func TestServeBadPlaybooks(t *testing.T) {
	withoutEnv(t, "FIREBREAK_API_KEY", "FIREBREAK_CONFIG")
	code, stdout, stderr := invoke(t, "", "serve", "--dev", "--playbooks", "testdata/broken", "--data-dir", t.TempDir())
	if code != ExitUsage || stdout != "" {
		t.Errorf("serve with broken playbooks: exit %d, want 2; stdout: %s", code, stdout)
	}
	if !regexp.MustCompile(`(?m)^testdata/broken/unknown-action\.yaml:9:15: unknown action`).MatchString(stderr) {
		t.Errorf("stderr does not give the problem's file:line:col:\n%s", stderr)
	}
}

func TestServeWorldNeedsDev(t *testing.T) {
	code, _, stderr := invoke(t, "", "serve", "--world", "../../examples/world.yaml")
	if code != ExitUsage || !strings.Contains(stderr, "--dev") {
		t.Errorf("serve --world without --dev: exit %d, want 2 naming --dev\n%s", code, stderr)
	}
}

func TestAuditVerifyMissingStore(t *testing.T) {
	withoutEnv(t, "FIREBREAK_CONFIG", "FIREBREAK_DATABASE", "FIREBREAK_DATA_DIR")
	dir := filepath.Join(t.TempDir(), "none")
	code, _, stderr := invoke(t, "", "audit", "verify", "--data-dir", dir)
	if code != ExitUsage || !strings.Contains(stderr, dir) {
		t.Errorf("audit verify on a missing store: exit %d, want 2 naming it\n%s", code, stderr)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("audit verify created %s", dir)
	}
}

func TestMigrateSaysWhatItDid(t *testing.T) {
	withoutEnv(t, "FIREBREAK_CONFIG", "FIREBREAK_DATABASE", "FIREBREAK_DATA_DIR")
	dir := t.TempDir()
	code, out, stderr := invoke(t, "", "migrate", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "applied ") || !strings.Contains(out, "0001_init") {
		t.Fatalf("first migrate: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = invoke(t, "", "migrate", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("second migrate: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = invoke(t, "", "audit", "verify", "--data-dir", dir)
	if code != 0 || out != "audit chain intact: no records\n" {
		t.Errorf("audit verify on a new store: exit %d\n%s%s", code, out, stderr)
	}
}
