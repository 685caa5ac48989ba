package cli

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"

	awscloud "github.com/firebreak-sec/firebreak/internal/cloud/aws"
	"github.com/firebreak-sec/firebreak/internal/config"
)

func TestServeDebug(t *testing.T) {
	addr, stop, err := serveDebug("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Errorf("GET /debug/pprof/: %d, want 200 listing the profiles", resp.StatusCode)
	}

	// A taken address is a usage error naming the flag.
	_, _, err = serveDebug(addr, slog.New(slog.DiscardHandler))
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitUsage || !strings.Contains(err.Error(), "--debug-listen") {
		t.Errorf("serveDebug on a taken address: %v, want a usage error naming --debug-listen", err)
	}
}

func TestAccountOverrides(t *testing.T) {
	got := accountOverrides(config.Accounts{RoleName: "FirebreakResponder", Overrides: []config.Account{
		{ID: "111122223333", Role: "team/Responder", ExternalID: "ext", Regions: []string{"eu-west-1"}},
		{ID: "222233334444", Name: "prod"},
	}})
	want := map[string]awscloud.Account{
		"111122223333": {Role: "team/Responder", ExternalID: "ext", Regions: []string{"eu-west-1"}},
		"222233334444": {},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("accountOverrides = %+v, want %+v", got, want)
	}
	if accountOverrides(config.Accounts{}) != nil {
		t.Error("no overrides should give a nil map")
	}
}
