package cli

import (
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestServeRespondersEndToEnd runs the binary as responders use it: serve --dev, a token
// made with token create --clearance, the console's playbook pages (wired to the playbooks
// serve loaded), and an incident contained and then closed with firebreak close.
func TestServeRespondersEndToEnd(t *testing.T) {
	root, bin := buildFirebreak(t)
	tmp := t.TempDir()
	dataDir := filepath.Join(tmp, "data")
	env := cleanEnv("XDG_CONFIG_HOME="+tmp, "HOME="+tmp)
	firebreak := func(extra []string, args ...string) (string, string, error) {
		return runFirebreak(root, bin, append(slices.Clone(env), extra...), args...)
	}
	srv := startServe(t, root, bin, env, "--dev", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	addr, key := srv.addr, srv.key
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
	incident := waitContained(t, filepath.Join(dataDir, "firebreak.db"), "ec2-compromise-prod", srv.logs)
	api := []string{"FIREBREAK_ADDR=" + base, "FIREBREAK_TOKEN=" + tok}
	out, errs, err := firebreak(api, "close", incident, "--comment", "owner rebuilt the host")
	if err != nil || out != "Closed "+incident+"; the incident is closed\n" {
		t.Fatalf("close: %v, stdout %q, stderr %q", err, out, errs)
	}
	if code, page := get("/console/incidents/" + incident); code != http.StatusOK || !strings.Contains(page, ">closed<") {
		t.Errorf("the console shows the incident %d, not closed", code)
	}
}
