// Package moto runs the moto AWS emulator for tests, the way users run it
// (python3 -m moto.server), and seeds it with a small multi-account organisation.
//
// Tests that need moto fail, never skip, when it is missing: a suite that silently skipped
// its end-to-end half would report green while testing nothing.
package moto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// python is the interpreter moto is started with; tests replace it to check the message a
// developer without moto sees.
var python = "python3"

// InstallHint tells a developer how to get what Start needs.
const InstallHint = "install it with: pip install 'moto[server]' (moto 5.2 or later)"

// startTimeout bounds moto's start-up. It takes a few seconds on an idle machine and much
// longer on a loaded CI runner importing every service model.
const startTimeout = 90 * time.Second

// Start runs a moto server on a free loopback port and returns its URL and a function that
// stops it. The server is also stopped when the test ends. Start fails the test, naming
// what is missing and how to install it, when python3 or moto is not available.
func Start(t testing.TB) (url string, stop func()) {
	t.Helper()
	if err := Available(); err != nil {
		t.Fatalf("moto: %v", err)
		return "", func() {}
	}
	var lastErr error
	// The port is free when picked but may be taken before moto binds it; a few attempts
	// make that race harmless.
	for range 3 {
		srv, err := start()
		if err == nil {
			t.Cleanup(func() {
				srv.stop()
				if t.Failed() {
					t.Logf("moto log (last lines):\n%s", srv.logTail())
				}
			})
			return srv.url, srv.stop
		}
		lastErr = err
	}
	t.Fatalf("moto: %v", lastErr)
	return "", func() {}
}

// Available reports why moto cannot be started here, or nil when it can.
func Available() error {
	if _, err := exec.LookPath(python); err != nil {
		return fmt.Errorf("%s is not on PATH; install python 3, then %s", python, InstallHint)
	}
	out, err := exec.Command(python, "-c", "import moto.server, moto; print(moto.__version__)").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import moto.server (%s); %s", python, lastLine(out), InstallHint)
	}
	return nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// server is one running moto process.
type server struct {
	url  string
	cmd  *exec.Cmd
	log  *syncBuffer
	once sync.Once
	done chan struct{}
}

func start() (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log := &syncBuffer{}
	cmd := exec.Command(python, "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	// moto preloads about 1,200 public images per region, each with a snapshot that every
	// DescribeSnapshots then scans in Python, whatever its filters: with a few dozen calls
	// in flight that alone saturates moto's one core. Nothing here uses those images
	// (RunInstances takes any image id while moto's AMI validation is off, its default).
	cmd.Env = append(os.Environ(), "MOTO_EC2_LOAD_DEFAULT_AMIS=false")
	cmd.Stdout, cmd.Stderr = log, log
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s -m moto.server: %w", python, err)
	}
	s := &server{url: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w; moto said:\n%s", err, s.logTail())
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("moto exited during start-up")
		default:
		}
		resp, err := client.Get(s.url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("moto did not answer on %s within %v", s.url, startTimeout)
}

// stop ends the whole process group, so that no worker moto may have spawned outlives the
// test, and waits for it.
func (s *server) stop() {
	s.once.Do(func() {
		signalGroup(s.cmd, false)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			signalGroup(s.cmd, true)
			<-s.done
		}
	})
}

func (s *server) logTail() string {
	b := s.log.Bytes()
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// syncBuffer collects moto's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// Reset empties every account and region of the moto server at url, for a test that
// wants a clean organisation without paying for a restart.
func Reset(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(url, "/")+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: %s", resp.Status)
	}
	return nil
}
