package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// apiKey is what the servers under test accept in X-Api-Key.
const apiKey = "reliability-test-key-0123456789"

// serverConfig lifts the breaker's limits out of the way: these tests open hundreds of
// incidents in an hour on purpose, and every one must be contained without a person.
const serverConfig = `limits:
  breaker:
    per_playbook: 1000000
    overall: 1000000
    accounts: 1000
`

// buildFirebreak compiles the firebreak command into a temporary directory.
func buildFirebreak(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "firebreak")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/firebreak-sec/firebreak/cmd/firebreak")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build firebreak: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address nothing listens on. A server keeps it across
// restarts, as a load balancer's target would.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is one `firebreak serve` process that can be killed and started again with the
// same flags, data and address.
type server struct {
	t    *testing.T
	name string
	bin  string
	args []string
	env  []string
	addr string
	log  *os.File // every run's output, appended

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

// newServer prepares a server; start runs it. Its output goes to a log file that is
// printed when the test fails.
func newServer(t *testing.T, name, bin string, env []string, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte(serverConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, name: name, bin: bin, env: env, addr: freeAddr(t), log: log}
	s.args = append([]string{"serve", "--listen", s.addr, "--config", cfg}, args...)
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			if len(out) > 20000 {
				out = out[len(out)-20000:]
			}
			t.Logf("%s log (last 20 kB):\n%s", name, out)
		}
		log.Close()
	})
	return s
}

// url is the server's base URL.
func (s *server) url() string { return "http://" + s.addr }

// start runs the server and waits until /readyz answers 200. A start that fails because the
// previous process's port is not yet free is tried again.
func (s *server) start() {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cmd := exec.Command(s.bin, s.args...)
		cmd.Env = append(os.Environ(), s.env...)
		cmd.Stdout, cmd.Stderr = s.log, s.log
		fmt.Fprintf(s.log, "--- start %d\n", s.starts+1)
		if err := cmd.Start(); err != nil {
			s.t.Fatalf("start %s: %v", s.name, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		s.mu.Lock()
		s.cmd, s.exited = cmd, exited
		s.starts++
		s.mu.Unlock()
		if s.waitReady(exited, deadline) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s did not become ready within 2 minutes; see its log", s.name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitReady polls /readyz until it answers 200 (true), or the process exits or the deadline
// passes (false).
func (s *server) waitReady(exited chan struct{}, deadline time.Time) bool {
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		resp, err := client.Get(s.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// kill ends the process with SIGKILL, as a crash or an OOM kill would, and waits for it.
func (s *server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	fmt.Fprintf(s.log, "--- killed\n")
}

// stop ends the process with SIGTERM, letting running steps finish, and waits for it.
func (s *server) stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(time.Minute):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
}

// intakeAnswer is POST /v1/events' 202 body.
type intakeAnswer struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   []struct {
		Index int    `json:"index"`
		Error string `json:"error"`
	} `json:"rejected"`
}

// errRejected marks an answer that no retry can change.
var errRejected = errors.New("rejected")

// post delivers events in one request. Any answer but 202 is an error to retry after; an
// event the server rejects is errRejected, which a retry cannot fix.
func post(ctx context.Context, client *http.Client, base string, events []json.RawMessage) (intakeAnswer, error) {
	var ans intakeAnswer
	body, err := json.Marshal(events)
	if err != nil {
		return ans, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return ans, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", apiKey)
	resp, err := client.Do(req)
	if err != nil {
		return ans, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return ans, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return ans, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return ans, fmt.Errorf("answer %q: %w", data, err)
	}
	if len(ans.Rejected) > 0 {
		return ans, fmt.Errorf("%w: %+v", errRejected, ans.Rejected)
	}
	return ans, nil
}

// auditVerify runs `firebreak audit verify` with args and fails the test unless it exits 0.
func auditVerify(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"audit", "verify"}, args...)...).CombinedOutput()
	if err != nil {
		t.Errorf("firebreak audit verify %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
