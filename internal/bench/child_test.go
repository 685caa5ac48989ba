package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runInChild runs the test called test in a fresh copy of the test binary, handing it spec
// as JSON in the environment variable env, and decodes the outcome it prints on the line
// starting with prefix. Measurements run there so that peak RSS is the workload's own.
func runInChild[Out any](b *testing.B, test, env, prefix string, spec any) Out {
	var out Out
	js, err := json.Marshal(spec)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+string(js))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s process: %v\n%s%s", test, err, stdout, stderr.Bytes())
	}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			if err := json.Unmarshal([]byte(rest), &out); err != nil {
				b.Fatal(err)
			}
			return out
		}
	}
	b.Fatalf("%s process printed no outcome:\n%s", test, stdout)
	return out
}
