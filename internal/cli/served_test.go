package cli

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log written by a child process while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// buildFirebreak compiles the command into the test's temporary directory and returns the
// repository root, where the binary is run from (the dev defaults name examples/ and
// playbooks/ relative to it), and the binary.
func buildFirebreak(t *testing.T) (root, bin string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	root = repoRoot(t)
	bin = filepath.Join(t.TempDir(), "firebreak")
	build := exec.Command("go", "build", "-o", bin, "./cmd/firebreak")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return root, bin
}

// cleanEnv is the test's environment without FIREBREAK_ variables, plus extra.
func cleanEnv(extra ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "FIREBREAK_") })
	return append(env, extra...)
}

// served is a `firebreak serve` a test runs, with what it printed at start.
type served struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan error
	// addr is the address it listens on; key and curl are the API key and the example
	// command it prints with --dev.
	addr, key, curl string
}

// startServe runs `bin serve args...` from root with env and waits until it has printed
// its address (and with --dev its key and curl line). It is killed when the test ends
// unless stop ended it first.
func startServe(t *testing.T, root, bin string, env []string, args ...string) *served {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Dir, cmd.Env = root, env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &served{t: t, cmd: cmd, logs: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	dev := slices.Contains(args, "--dev")
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	for s.addr == "" || dev && (s.key == "" || s.curl == "") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve ended before printing what it prints at start; log:\n%s", s.logs)
			}
			switch {
			case strings.HasPrefix(l, "listening on http://"):
				s.addr = strings.TrimPrefix(l, "listening on http://")
			case strings.HasPrefix(l, "api key: "):
				s.key = strings.TrimPrefix(l, "api key: ")
			case strings.HasPrefix(l, "curl "):
				s.curl = l
			}
		case <-deadline:
			t.Fatalf("serve printed no address%s within 30s; log:\n%s", map[bool]string{true: ", key and curl line"}[dev], s.logs)
		}
	}
	go func() {
		for range lines {
		}
	}()
	return s
}

// stop signals the server and fails the test unless it exits cleanly within 40 seconds.
func (s *served) stop(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("serve after %v: %v; log:\n%s", sig, err, s.logs)
		}
	case <-time.After(40 * time.Second):
		s.t.Fatalf("serve did not stop within 40s of %v; log:\n%s", sig, s.logs)
	}
}

// runFirebreak runs another firebreak command from root with env, and returns its output.
func runFirebreak(root, bin string, env []string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = root, env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}
