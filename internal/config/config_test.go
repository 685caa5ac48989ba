package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/errors")

// env is a fixed environment for env:NAME references.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

var testEnv = env(map[string]string{
	"TEST_EVENTBRIDGE_KEY": "eventbridge-key-0123456789",
	"TEST_EXTERNAL_ID":     "ext-id-42",
	"TEST_OIDC_SECRET":     "oidc-client-secret",
})

func TestDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		load func() (*Config, error)
	}{
		{"no file", func() (*Config, error) { return Load("") }},
		{"empty file", func() (*Config, error) { return Parse("firebreak.yaml", nil, testEnv) }},
		{"comments only", func() (*Config, error) { return Parse("firebreak.yaml", []byte("# nothing yet\n"), testEnv) }},
		{"empty mappings", func() (*Config, error) {
			return Parse("firebreak.yaml", []byte("limits:\nlog: {}\nsqs:\n  queues: []\n"), testEnv)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.load()
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			if c.Listen != "127.0.0.1:8080" || c.Playbooks != "playbooks" || c.DataDir != "data" ||
				c.Database != filepath.Join("data", "firebreak.db") || c.Accounts.RoleName != "FirebreakResponder" ||
				c.Limits != want.Limits || c.Limits.Breaker != (Breaker{time.Hour, 10, 50, 5}) ||
				c.Limits.IncidentJoinWindow != 15*time.Minute ||
				c.Approvals != (Approvals{time.Hour, "deny"}) || c.Log != (Log{"info", "text"}) ||
				len(c.APIKeys) != 0 || len(c.SQS.Queues) != 0 || c.Modes.Force != "" {
				t.Errorf("defaults = %+v", c)
			}
			if d, src := c.DatabaseDriver(); d != DriverSQLite || src != filepath.Join("data", "firebreak.db") {
				t.Errorf("DatabaseDriver = %s %s", d, src)
			}
		})
	}
}

func TestParseComplete(t *testing.T) {
	data, err := os.ReadFile("testdata/firebreak.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("conf/firebreak.yaml", data, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Listen:    "0.0.0.0:9090",
		Playbooks: filepath.Join("conf", "playbooks"), // relative to the file
		DataDir:   "/var/lib/firebreak",
		Database:  "postgres://firebreak:secret@db.internal:5432/firebreak",
		APIKeys: []APIKey{
			{Name: "key-1", Key: "eventbridge-key-0123456789"},
			{Name: "forwarder", Key: "0123456789abcdef0123456789abcdef"},
		},
		Accounts: Accounts{
			RoleName:   "responders/FirebreakResponder",
			ExternalID: "ext-id-42",
			Overrides: []Account{
				{ID: "111122223333", Name: "prod", Role: "arn:aws:iam::111122223333:role/ProdResponder", Regions: []string{"us-east-1", "eu-west-1"}},
				{ID: "444455556666", Name: "dev"},
			},
		},
		SQS: SQS{Queues: []Queue{
			{URL: "https://sqs.eu-west-1.amazonaws.com/111122223333/firebreak-events", Region: "eu-west-1", MaxMessages: 10, WaitTime: 20 * time.Second},
			{URL: "http://localhost:4566/000000000000/local-events", Region: "us-east-1", MaxMessages: 5, WaitTime: 5 * time.Second, VisibilityTimeout: 2 * time.Minute},
		}},
		Limits: Limits{
			Breaker:            Breaker{Window: 30 * time.Minute, PerPlaybook: 3, Overall: 20, Accounts: 2},
			IncidentJoinWindow: time.Hour,
		},
		Modes:     Modes{Force: "approve", Playbooks: map[string]string{"ec2-command-and-control": "dry-run"}},
		Approvals: Approvals{Timeout: 45 * time.Minute, OnTimeout: "approve"},
		Log:       Log{Level: "debug", Format: "json"},
		Audit: Audit{Anchor: Anchor{Location: "s3://firebreak-audit-anchors/prod/", Region: "eu-west-1", Every: 5 * time.Minute,
			Retention: 90 * 24 * time.Hour, Mode: "COMPLIANCE"}},
		OIDC: OIDC{
			Issuer:       "https://login.example.com/oauth2/default",
			ClientID:     "firebreak-console",
			Audience:     "api://firebreak",
			ClientSecret: "oidc-client-secret",
			RedirectURL:  "https://firebreak.example.com/console/login/oidc/callback",
			GroupsClaim:  "roles",
			Grants: []OIDCGrant{
				{Group: "sec-responders", Role: "responder", Accounts: []string{"111122223333"}},
				{Group: "sec-approvers", Role: "approver"},
				{Group: "insider-threat", Role: "viewer", Clearance: []string{"restricted"}},
			},
		},
	}
	c.origins = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if d, src := c.DatabaseDriver(); d != DriverPostgres || src != want.Database {
		t.Errorf("DatabaseDriver = %s %s", d, src)
	}
}

// TestErrorsGolden checks the messages for every file under testdata/errors against its
// .golden file. Run with -update to rewrite them after changing a message on purpose.
func TestErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(filepath.Base(f), data, testEnv)
			if err == nil {
				t.Fatal("no error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%swant:\n%s", got, want)
			}
			for _, e := range errs {
				if !strings.HasPrefix(e.Error(), filepath.Base(f)+":") || e.Line < 1 || e.Col < 1 {
					t.Errorf("error not positioned in the file: %v", e)
				}
			}
		})
	}
}

func TestParseOneError(t *testing.T) {
	// Small cases of single messages, beside the golden files.
	for _, tc := range []struct {
		yaml, want string
	}{
		{"listen: 8080", `f.yaml:1:9: listen: "8080" is not HOST:PORT; write it like 127.0.0.1:8080 or :8080`},
		{"listen: :99999", `f.yaml:1:9: listen: port "99999" of :99999 is not a number from 0 to 65535`},
		{"database: sqlite://", `f.yaml:1:11: database: "sqlite://" names no file; write sqlite://PATH or just the path`},
		{"database: postgres://", `f.yaml:1:11: database: not a valid postgres URL; write it like postgres://USER:PASSWORD@HOST:5432/DB`},
		{"limits: {breaker: {overall: 0}}", `f.yaml:1:29: limits.breaker.overall: 0 stops every containment; give 1 or more`},
		{"approvals: {timeout: 0s}", `f.yaml:1:22: approvals.timeout: must be more than 0, like 1h`},
		{"sqs: {queues: [{url: 'https://q.example/1/q'}]}", `f.yaml:1:16: sqs.queues[0]: region is missing and the URL's host does not name one; give region`},
		{"log: {level: Info}", `f.yaml:1:14: log.level: "Info" is not allowed (did you mean "info"?); give one of debug, info, warn, error`},
		{"accounts: {overrides: [{id: 11112222333}]}", `f.yaml:1:29: accounts.overrides[0].id: "11112222333" is not a 12-digit account id`},
		{"accounts: {overrides: [{id: 011122223333}]}", ""}, // read as written, leading 0 and all
		{"oidc: {issuer: 'https://idp.example', client_id: c, audience: ' c', grants: [{group: g, role: viewer}]}",
			`f.yaml:1:63: oidc.audience: " c" has spaces around it; give the aud value exactly as the provider's tokens carry it`},
		{"oidc: {issuer: 'https://idp.example', client_id: c, grants: [{group: g, role: viewer, clearance: [' ']}]}",
			`f.yaml:1:99: oidc.grants[0].clearance[0]: " " is empty; give the value of a playbook's sensitivity label, such as restricted`},
		{"audit: {anchor: {location: 'b/x'}}", `f.yaml:1:28: audit.anchor.location: "b/x" is not an S3 location; write s3://BUCKET or s3://BUCKET/PREFIX`},
		{"audit: {anchor: {location: 's3://audit-anchors/fb', mode: complience}}", `f.yaml:1:59: audit.anchor.mode: "COMPLIENCE" is not allowed (did you mean "COMPLIANCE"?); give one of GOVERNANCE, COMPLIANCE`},
		{"audit: {anchor: {every: 10s}}", `f.yaml:1:25: audit.anchor.every: 10s is too often; anchor at most once a minute, like 10m`},
		{"audit: {anchor: {retention: 36h}}", `f.yaml:1:29: audit.anchor.retention: 36h0m0s is not a whole number of days of at least one; S3 Object Lock keeps whole days, like 8760h for a year`},
		{"audit: {anchor: {location: 's3://audit-anchors', region: eu-west-1, every: 5m, retention: 720h, mode: compliance}}", ""},
		{"x: &a [*a]", "f.yaml:1:1: the file: unknown field \"x\"; expected one of accounts, api_keys, approvals, audit, data_dir, database, limits, listen, log, modes, oidc, playbooks, sqs"},
	} {
		t.Run(tc.yaml, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.yaml), testEnv)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "firebreak.yaml")
	if err := os.WriteFile(path, []byte("data_dir: state\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "state", "firebreak.db"); c.Database != want {
		t.Errorf("Database = %q, want %q (data_dir relative to the file)", c.Database, want)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "give --config the path") {
		t.Errorf("missing file: %v", err)
	}
}

func TestOverride(t *testing.T) {
	file := "listen: :7000\ndata_dir: filedata\nlog: {level: warn}\nmodes: {force: dry-run}\napi_keys: [file-key-0123456789abcdef]\n"
	for _, tc := range []struct {
		name     string
		env      map[string]string
		flags    []string
		check    func(*Config) string
		wantErrs string
	}{
		{
			name:  "file alone",
			check: func(c *Config) string { return c.Listen + " " + c.Database + " " + c.Log.Level },
		},
		{
			name:  "env over file",
			env:   map[string]string{"FIREBREAK_LISTEN": ":7001", "FIREBREAK_DATA_DIR": "envdata", "FIREBREAK_LOG_LEVEL": "debug"},
			check: func(c *Config) string { return c.Listen + " " + c.Database + " " + c.Log.Level },
		},
		{
			name:  "flags over env",
			env:   map[string]string{"FIREBREAK_LISTEN": ":7001", "FIREBREAK_DATABASE": "postgres://db/x"},
			flags: []string{"--listen=:7002", "--database=flag.db"},
			check: func(c *Config) string { return c.Listen + " " + c.Database },
		},
		{
			name:  "empty variable is unset",
			env:   map[string]string{"FIREBREAK_LISTEN": ""},
			check: func(c *Config) string { return c.Listen },
		},
		{
			name: "api key from the environment replaces the file's",
			env:  map[string]string{"FIREBREAK_API_KEY": "env-key-0123456789abcdef"},
			check: func(c *Config) string {
				return fmt.Sprintf("%d %s %s", len(c.APIKeys), c.APIKeys[0].Name, string(c.APIKeys[0].Key))
			},
		},
		{
			name:  "dry-run false undoes the file's",
			flags: []string{"--dry-run=false"},
			check: func(c *Config) string { return "force=" + c.Modes.Force },
		},
		{
			name:  "dry-run from the environment",
			env:   map[string]string{"FIREBREAK_DRY_RUN": "true"},
			check: func(c *Config) string { return "force=" + c.Modes.Force },
		},
		{
			name:     "bad values name their source",
			env:      map[string]string{"FIREBREAK_LOG_FORMAT": "yaml", "FIREBREAK_API_KEY": "short", "FIREBREAK_DRY_RUN": "maybe"},
			flags:    []string{"--listen=nowhere"},
			wantErrs: "FIREBREAK_DRY_RUN: \"maybe\" is not true or false",
		},
		{
			name:     "checked after every setting",
			env:      map[string]string{"FIREBREAK_LOG_FORMAT": "yaml", "FIREBREAK_API_KEY": "short"},
			flags:    []string{"--listen=nowhere"},
			wantErrs: "--listen: listen: \"nowhere\" is not HOST:PORT; write it like 127.0.0.1:8080 or :8080\nFIREBREAK_API_KEY: api_keys[0]: the key has 5 characters, too few to resist guessing; give at least 16 (openssl rand -hex 32 makes one)\nFIREBREAK_LOG_FORMAT: log.format: \"yaml\" is not allowed; give one of text, json",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "firebreak.yaml")
			if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
				t.Fatal(err)
			}
			vars := map[string]string{EnvConfig: path}
			for k, v := range tc.env {
				vars[k] = v
			}
			fs := testFlags()
			if err := fs.Parse(tc.flags); err != nil {
				t.Fatal(err)
			}
			c, err := Resolve(fs, env(vars))
			if tc.wantErrs != "" {
				if err == nil || err.Error() != tc.wantErrs {
					t.Fatalf("got  %v\nwant %s", err, tc.wantErrs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := tc.check(c)
			want := map[string]string{
				"file alone":              ":7000 " + filepath.Join(dir, "filedata", "firebreak.db") + " warn",
				"env over file":           ":7001 " + filepath.Join("envdata", "firebreak.db") + " debug",
				"flags over env":          ":7002 flag.db",
				"empty variable is unset": ":7000",
				"api key from the environment replaces the file's": "1 FIREBREAK_API_KEY env-key-0123456789abcdef",
				"dry-run false undoes the file's":                  "force=",
				"dry-run from the environment":                     "force=dry-run",
			}[tc.name]
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func testFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.String("config", "", "")
	fs.String("listen", DefaultListen, "")
	fs.String("database", "", "")
	fs.String("data-dir", DefaultDataDir, "")
	fs.Bool("dry-run", false, "")
	return fs
}

func TestResolveFlagDefaultsDoNotHideFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.yaml")
	if err := os.WriteFile(path, []byte("listen: :7000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := testFlags()
	if err := fs.Parse([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	c, err := Resolve(fs, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":7000" {
		t.Errorf("Listen = %q: an unset flag's default replaced the file's value", c.Listen)
	}
}

func TestOverrideUnknownKey(t *testing.T) {
	err := Default().Override(Setting{Key: "nope", Value: "x", From: "--nope"})
	if err == nil || !strings.HasPrefix(err.Error(), `--nope: "nope" is not a setting`) {
		t.Errorf("got %v", err)
	}
}

func TestModes(t *testing.T) {
	m := Modes{Playbooks: map[string]string{"relaxed": "enforce", "careful": "approve"}}
	for _, tc := range []struct {
		force, playbook, own, want string
	}{
		{"", "other", "enforce", "enforce"},
		{"", "relaxed", "approve", "enforce"},
		{"", "careful", "enforce", "approve"},
		{"approve", "other", "enforce", "approve"},
		{"approve", "other", "dry-run", "dry-run"}, // forcing never makes a playbook less cautious
		{"dry-run", "careful", "enforce", "dry-run"},
		{"dry-run", "relaxed", "approve", "dry-run"},
	} {
		m.Force = tc.force
		if got := m.Mode(tc.playbook, tc.own); got != tc.want {
			t.Errorf("force %q, %s (own %s): got %s, want %s", tc.force, tc.playbook, tc.own, got, tc.want)
		}
	}
}

func TestAccount(t *testing.T) {
	a := Accounts{RoleName: "FirebreakResponder", ExternalID: "ext", Overrides: []Account{
		{ID: "111122223333", Name: "prod", Role: "ProdRole", Regions: []string{"us-east-1"}},
		{ID: "444455556666", ExternalID: "other"},
	}}
	for _, tc := range []struct {
		id   string
		want Account
	}{
		{"111122223333", Account{ID: "111122223333", Name: "prod", Role: "ProdRole", ExternalID: "ext", Regions: []string{"us-east-1"}}},
		{"444455556666", Account{ID: "444455556666", Role: "FirebreakResponder", ExternalID: "other"}},
		{"999999999999", Account{ID: "999999999999", Role: "FirebreakResponder", ExternalID: "ext"}},
	} {
		if got := a.Account(tc.id); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Account(%s) = %+v, want %+v", tc.id, got, tc.want)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	k := APIKey{Name: "n", Key: "super-secret-key-value"}
	var log strings.Builder
	slog.New(slog.NewJSONHandler(&log, nil)).Info("x", "key", k.Key, "all", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k.Key), log.String()} {
		if strings.Contains(s, "super-secret") {
			t.Errorf("secret printed: %s", s)
		}
	}
	if string(k.Key) != "super-secret-key-value" {
		t.Error("string() must give the value")
	}
}

func TestLogger(t *testing.T) {
	var b strings.Builder
	Log{Level: "warn", Format: "json"}.Logger(&b).Info("hidden")
	Log{Level: "warn", Format: "json"}.Logger(&b).Warn("shown")
	if got := b.String(); strings.Contains(got, "hidden") || !strings.HasPrefix(got, `{"time"`) || !strings.Contains(got, "shown") {
		t.Errorf("log = %q", got)
	}
}

func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/errors/*.yaml")
	seeds = append(seeds, "testdata/firebreak.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a, *a, *a]\nb: &b [*a, *a, *a]\nlisten: *b"))
	f.Add([]byte("\t- {"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data, testEnv)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			for _, e := range errs {
				if e.File != "f.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" {
					t.Fatalf("error without a position: %#v", e)
				}
			}
			return
		}
		// What loads is valid, and stays valid when overridden with nothing.
		if errs := c.check(); len(errs) > 0 {
			t.Fatalf("loaded but invalid: %v", errs)
		}
		if err := c.Override(); err != nil {
			t.Fatalf("Override(): %v", err)
		}
	})
}

// TestOIDCDefaults checks what an oidc section leaves out: groups come from "groups", and
// API bearer tokens must name the client id in aud, as ID tokens do.
func TestOIDCDefaults(t *testing.T) {
	c, err := Parse("f.yaml", []byte("oidc: {issuer: 'https://idp.example', client_id: fb, grants: [{group: g, role: viewer}]}"), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDC.GroupsClaim != DefaultGroupsClaim || c.OIDC.Audience != "fb" {
		t.Errorf("groups_claim %q, audience %q; want %q and the client id", c.OIDC.GroupsClaim, c.OIDC.Audience, DefaultGroupsClaim)
	}
}
