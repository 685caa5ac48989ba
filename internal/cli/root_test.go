package cli

import (
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/intake/lambda"
)

// TestBareCommandInLambda checks that the bare command runs the lambda command inside
// Lambda, shown by the lambda command's own refusal of a SQLite store, and prints the
// usage anywhere else.
func TestBareCommandInLambda(t *testing.T) {
	withoutEnv(t, "FIREBREAK_CONFIG", "FIREBREAK_DATABASE")
	t.Setenv("FIREBREAK_DATA_DIR", t.TempDir())

	t.Setenv(lambda.RuntimeEnv, "127.0.0.1:9001")
	code, _, stderr := invoke(t, "")
	if code != ExitUsage || !strings.Contains(stderr, "firebreak lambda needs the PostgreSQL database") {
		t.Errorf("bare command inside Lambda: exit %d, stderr %q; want the lambda command's answer", code, stderr)
	}

	t.Setenv(lambda.RuntimeEnv, "")
	code, stdout, _ := invoke(t, "")
	if code != ExitOK || !strings.Contains(stdout, "Available Commands:") {
		t.Errorf("bare command outside Lambda: exit %d, stdout %q; want the usage", code, stdout)
	}
}
