package cli

import (
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/intake/lambda"
)

func TestLambdaCommand(t *testing.T) {
	for _, tc := range []struct {
		name    string
		runtime string
		args    []string
		want    string
	}{
		{"outside Lambda", "", nil, "runs inside AWS Lambda, and AWS_LAMBDA_RUNTIME_API is not set"},
		{"SQLite", "127.0.0.1:9001", []string{"--data-dir", "TMP"}, "needs the PostgreSQL database the servers share"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(lambda.RuntimeEnv, tc.runtime)
			args := []string{"lambda"}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "TMP", t.TempDir()))
			}
			code, _, stderr := invoke(t, "", args...)
			if code != ExitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, ExitUsage, tc.want)
			}
		})
	}
}
