package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// run invokes the command line as a user would and returns its exit code and output.
func invoke(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./internal/cli -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

const (
	playbooks = "../../playbooks"
	worldFile = "../../examples/world.yaml"
	events    = "../../examples/events"
)

func TestCommands(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		stdin     string
		wantCode  int
		goldenOut string // compared with a golden file when set
		goldenErr string
		wantOut   string // else a substring of stdout
		wantErr   string // and of stderr
	}{
		{name: "version", args: []string{"version"}, wantOut: "firebreak "},
		{name: "unknown command is a usage error", args: []string{"replya"}, wantCode: ExitUsage, wantErr: "unknown command"},
		{name: "unknown flag is a usage error", args: []string{"replay", "--wrold", worldFile, events}, wantCode: ExitUsage, wantErr: "unknown flag: --wrold"},
		{name: "replay needs an input", args: []string{"replay", "--playbooks", playbooks}, wantCode: ExitUsage, wantErr: "requires at least 1 arg"},
		{name: "replay bad output format", args: []string{"replay", "--playbooks", playbooks, "--output", "yaml", events}, wantCode: ExitUsage, wantErr: `--output "yaml"`},
		{name: "replay missing playbook directory", args: []string{"replay", "--playbooks", "nowhere", events}, wantCode: ExitUsage, wantErr: "playbook directory nowhere: not found"},
		{name: "replay examples as json", args: []string{"replay", "--playbooks", playbooks, "--world", worldFile, "--output", "json", events}, goldenOut: "replay-examples.jsonl"},
		{name: "replay examples as text", args: []string{"replay", "--playbooks", playbooks, "--world", worldFile, events}, goldenOut: "replay-examples.txt"},
		{
			name: "replay rejects bad values and decides the rest",
			args: []string{"replay", "--playbooks", playbooks, "--output", "json", "-"},
			stdin: `{"version":"0","id":"e1","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"111122223333","time":"2025-11-03T09:47:31Z","region":"us-east-1","resources":[],"detail":{"schemaVersion":"2.0","accountId":"111122223333","region":"us-east-1","id":"f1","type":"Recon:EC2/PortProbeUnprotectedPort","severity":2,"createdAt":"2025-11-03T09:47:31Z","updatedAt":"2025-11-03T09:47:31Z","resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-1"}},"service":{"action":{"actionType":"PORT_PROBE","portProbeAction":{"portProbeDetails":[{"remoteIpDetails":{"ipAddressV4":"203.0.113.9"}}]}}}}}
{"hello": "world"}
{"truncated":
42
`,
			wantCode:  ExitRejected,
			goldenOut: "replay-stdin.jsonl",
			goldenErr: "replay-stdin.stderr",
		},
		{name: "validate the starter library", args: []string{"playbook", "validate", playbooks}, wantOut: "10 playbooks valid"},
		{name: "validate reports every problem", args: []string{"playbook", "validate", "testdata/broken"}, wantCode: ExitUsage, goldenErr: "validate-broken.stderr"},
		{name: "starter library tests pass", args: []string{"playbook", "test", playbooks}, wantOut: "0 failed"},
		{name: "a wrong expectation prints a diff", args: []string{"playbook", "test", "testdata/wrong-expectation"}, wantCode: ExitRejected, goldenOut: "test-wrong-expectation.txt"},
		{name: "runbooks to stdout", args: []string{"playbook", "doc", "--out", "-", playbooks}, wantOut: "# ec2-compromise-prod"},
		{name: "list", args: []string{"playbook", "list", playbooks}, wantOut: "ec2-compromise-prod"},
		{name: "pattern match", args: []string{"pattern", "test", "testdata/pattern/guardduty.json", "testdata/pattern/event.json"}, wantOut: "match\n"},
		{name: "pattern no match", args: []string{"pattern", "test", "testdata/pattern/cloudtrail.json", "testdata/pattern/event.json"}, wantCode: ExitRejected, wantOut: "no match\n"},
		{name: "pattern invalid", args: []string{"pattern", "test", "testdata/pattern/invalid.json", "testdata/pattern/event.json"}, wantCode: ExitUsage, wantErr: "invalid pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := invoke(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errs)
			}
			if tt.goldenOut != "" {
				golden(t, tt.goldenOut, out)
			} else if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantOut, out)
			}
			if tt.goldenErr != "" {
				golden(t, tt.goldenErr, errs)
			} else if !strings.Contains(errs, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errs)
			}
		})
	}
}
