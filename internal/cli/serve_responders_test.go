package cli

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestServeRespondersEndToEnd runs the binary as responders use it: serve --dev, a token
// made with token create --clearance, the console's playbook pages (wired to the playbooks
// serve loaded), and an incident contained and then closed with firebreak close.
func TestServeRespondersEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	root := repoRoot(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "firebreak")
	build := exec.Command("go", "build", "-o", bin, "./cmd/firebreak")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dataDir := filepath.Join(tmp, "data")
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "FIREBREAK_") })
	env = append(env, "XDG_CONFIG_HOME="+tmp, "HOME="+tmp)
	firebreak := func(extra []string, args ...string) (string, string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = root, append(slices.Clone(env), extra...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}

	srv := exec.Command(bin, "serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	srv.Dir, srv.Env = root, env
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Kill()
		_ = srv.Wait()
	})
	var addr, key string
	sc := bufio.NewScanner(stdout)
	deadline := time.Now().Add(30 * time.Second)
	for (addr == "" || key == "") && time.Now().Before(deadline) && sc.Scan() {
		l := sc.Text()
		if a, ok := strings.CutPrefix(l, "listening on http://"); ok {
			addr = a
		}
		if k, ok := strings.CutPrefix(l, "api key: "); ok {
			key = k
		}
	}
	if addr == "" || key == "" {
		t.Fatalf("serve printed no address and key; log:\n%s", logs.String())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	base := "http://" + addr

	tok, errs, err := firebreak(nil, "token", "create", "--role", "responder", "--clearance", "Restricted", "--data-dir", dataDir)
	if err != nil || !strings.Contains(errs, "cleared for restricted") {
		t.Fatalf("token create: %v, stderr %q", err, errs)
	}
	tok = strings.TrimSpace(tok)

	// The console's playbook pages show the playbooks serve loaded.
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		t.Helper()
		res, err := hc.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return res.StatusCode, b.String()
	}
	_, login := get("/console/login")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(login)
	if csrf == nil {
		t.Fatalf("no CSRF field on the login page:\n%s", login)
	}
	res, err := hc.PostForm(base+"/console/login", url.Values{"csrf": {csrf[1]}, "token": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for path, want := range map[string]string{
		"/console/playbooks":                     "ec2-compromise-prod",
		"/console/playbooks/ec2-compromise-prod": "## Undo",
	} {
		if code, body := get(path); code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, want 200 with %q", path, code, want)
		}
	}

	// An incident contained, then closed from the command line.
	body, err := os.ReadFile(filepath.Join(root, "examples/events/guardduty-backdoor-c2-prod.json"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/events", bytes.NewReader(body))
	req.Header.Set("X-Api-Key", key)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/events: %d", res.StatusCode)
	}
	incident := waitContained(t, filepath.Join(dataDir, "firebreak.db"), "ec2-compromise-prod", &logs)
	api := []string{"FIREBREAK_ADDR=" + base, "FIREBREAK_TOKEN=" + tok}
	out, errs, err := firebreak(api, "close", incident, "--comment", "owner rebuilt the host")
	if err != nil || out != "Closed "+incident+"; the incident is closed\n" {
		t.Fatalf("close: %v, stdout %q, stderr %q", err, out, errs)
	}
	if code, page := get("/console/incidents/" + incident); code != http.StatusOK || !strings.Contains(page, ">closed<") {
		t.Errorf("the console shows the incident %d, not closed", code)
	}
}
