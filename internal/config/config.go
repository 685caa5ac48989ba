// Package config reads firebreak.yaml, the server's one configuration file, and merges
// into it the settings given by flags and the environment.
//
// Precedence, highest first: command-line flags, FIREBREAK_* environment variables, the
// file, built-in defaults. Load reads the file over the defaults; Override applies the
// environment and then the flags (see Resolve, which does all three).
//
// Every value is checked when it is read, so that nothing invalid reaches the running
// server: an error names the file, line and column (or the flag or variable) and says
// what to write instead.
package config

import (
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the whole of firebreak.yaml after defaults, the environment and flags.
type Config struct {
	// Listen is the HOST:PORT the HTTP server listens on. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// Playbooks is the directory of playbooks. Default "playbooks".
	Playbooks string `yaml:"playbooks"`
	// DataDir holds the SQLite database and other local state. Default "data".
	DataDir string `yaml:"data_dir"`
	// Database is a SQLite file path (sqlite://PATH is also accepted) or a postgres:// URL.
	// Default DataDir/firebreak.db. See DatabaseDriver.
	Database string `yaml:"database"`
	// APIKeys are the keys accepted in the X-Api-Key header of POST /v1/events.
	APIKeys []APIKey `yaml:"api_keys"`
	// Accounts says how to reach the member accounts.
	Accounts Accounts `yaml:"accounts"`
	// SQS lists the queues events are read from, besides HTTP.
	SQS SQS `yaml:"sqs"`
	// Limits bound what automation may do before a person looks.
	Limits Limits `yaml:"limits"`
	// Modes override the playbooks' own modes.
	Modes Modes `yaml:"modes"`
	// Approvals says how long a step waits for approval and what happens then.
	Approvals Approvals `yaml:"approvals"`
	// Log configures the structured log.
	Log Log `yaml:"log"`
	// OIDC lets people sign in through an OpenID Connect identity provider: responders to
	// the web console, and API callers with the provider's ID tokens as bearer tokens.
	OIDC OIDC `yaml:"oidc"`
	// Audit configures where the audit chain is anchored outside the database.
	Audit Audit `yaml:"audit"`

	// origins records where each value that is not a default came from, by path
	// ("listen", "sqs.queues[0].url"), so that a check can point at it.
	origins map[string]Error
}

// APIKey is one key for POST /v1/events.
type APIKey struct {
	// Name identifies the key in logs, which never show the key itself. Default "key-N",
	// N counting from 1 in the order the keys are listed.
	Name string `yaml:"name"`
	// Key is the key. In the file it may be written env:NAME to read it from the
	// environment variable NAME, which keeps it out of the file.
	Key Secret `yaml:"key"`
}

// MinAPIKeyLength is the shortest API key accepted: a shorter one could be guessed.
const MinAPIKeyLength = 16

// Accounts says which role Firebreak assumes in each member account.
type Accounts struct {
	// RoleName is the role assumed in every account without an override of its own.
	// Default FirebreakResponder.
	RoleName string `yaml:"role_name"`
	// ExternalID is passed when assuming the role, if set. May be env:NAME.
	ExternalID Secret `yaml:"external_id"`
	// Overrides name accounts and change their role or restrict their regions.
	Overrides []Account `yaml:"overrides"`
}

// Account is the configuration of one member account.
type Account struct {
	// ID is the 12-digit account id. Required.
	ID string `yaml:"id"`
	// Name is a name for people (prod, payments-dev).
	Name string `yaml:"name"`
	// Role is a role name or path (responders/FirebreakResponder), or a role ARN in this
	// account. Default Accounts.RoleName.
	Role string `yaml:"role"`
	// ExternalID replaces Accounts.ExternalID for this account. May be env:NAME.
	ExternalID Secret `yaml:"external_id"`
	// Regions, when given, are the only regions Firebreak acts in for this account.
	Regions []string `yaml:"regions"`
}

// SQS lists the queues to read events from.
type SQS struct {
	Queues []Queue `yaml:"queues"`
}

// Queue is one SQS queue to receive events from.
type Queue struct {
	// URL is the queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME). Required.
	URL string `yaml:"url"`
	// Region is the queue's region. Default: the region in the URL's host name.
	Region string `yaml:"region"`
	// MaxMessages is how many messages one receive asks for, 1 to 10. Default 10.
	MaxMessages int `yaml:"max_messages"`
	// WaitTime is the long-poll wait, whole seconds from 0s to 20s. Default 20s.
	WaitTime time.Duration `yaml:"wait_time"`
	// VisibilityTimeout hides a received message from other readers for this long, whole
	// seconds up to 12h. Default 0: the queue's own setting.
	VisibilityTimeout time.Duration `yaml:"visibility_timeout"`
}

// Limits bound automation. When a breaker trips, containment stops and waits for a
// person: a flood of findings, or a bad playbook, cannot take down the estate.
type Limits struct {
	Breaker Breaker `yaml:"breaker"`
	// IncidentJoinWindow is how long after an incident opens a new event about the same
	// target joins it instead of opening another. Default 15m.
	IncidentJoinWindow time.Duration `yaml:"incident_join_window"`
}

// Breaker is the circuit breaker on containment actions.
type Breaker struct {
	// Window is the sliding window the counts below are kept over. Default 1h.
	Window time.Duration `yaml:"window"`
	// PerPlaybook is how many containments one playbook may make per window. Default 10.
	PerPlaybook int `yaml:"per_playbook"`
	// Overall is how many containments all playbooks together may make per window.
	// Default 50.
	Overall int `yaml:"overall"`
	// Accounts is how many distinct accounts may be acted on per window. Default 5.
	Accounts int `yaml:"accounts"`
}

// Playbook modes, as in a playbook's spec.mode.
const (
	ModeEnforce = "enforce"
	ModeDryRun  = "dry-run"
	ModeApprove = "approve"
)

var modes = []string{ModeEnforce, ModeDryRun, ModeApprove}

// Modes override the modes the playbooks give themselves.
type Modes struct {
	// Force, when set (dry-run or approve), applies to every playbook whose own mode is
	// less cautious: dry-run is more cautious than approve, approve than enforce.
	Force string `yaml:"force"`
	// Playbooks sets the mode of named playbooks, replacing their own (Force still applies).
	Playbooks map[string]string `yaml:"playbooks"`
}

// Mode returns the mode a playbook runs in, given the mode it declares.
func (m Modes) Mode(playbook, own string) string {
	mode := own
	if o, ok := m.Playbooks[playbook]; ok {
		mode = o
	}
	if m.Force != "" && caution(m.Force) > caution(mode) {
		mode = m.Force
	}
	return mode
}

// caution orders the modes from enforce (0) to dry-run (2).
func caution(mode string) int {
	switch mode {
	case ModeDryRun:
		return 2
	case ModeApprove:
		return 1
	}
	return 0
}

// What happens to a step whose approval times out.
const (
	OnTimeoutDeny    = "deny"
	OnTimeoutApprove = "approve"
)

// Approvals configures waiting for approval.
type Approvals struct {
	// Timeout is how long a step waits for a decision. Default 1h.
	Timeout time.Duration `yaml:"timeout"`
	// OnTimeout is deny (default) or approve.
	OnTimeout string `yaml:"on_timeout"`
}

// Log configures the structured log.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is text (default) or json.
	Format string `yaml:"format"`
}

// OIDC configures sign-in through an OpenID Connect identity provider. It is off when
// the section is absent; once any of it is given, Issuer, ClientID and Grants are
// required, so that a half-written section fails at start rather than at first sign-in.
type OIDC struct {
	// Issuer is the provider's issuer URL, exactly as its tokens carry it in iss (a
	// trailing slash matters). Its discovery document is read at start.
	Issuer string `yaml:"issuer"`
	// ClientID is the client registered with the provider for Firebreak; ID tokens must
	// name it as their audience.
	ClientID string `yaml:"client_id"`
	// Audience is what bearer tokens presented to the API must name in aud. Default:
	// ClientID, right for ID tokens; set it when callers present the provider's access
	// tokens for an API (an Auth0 API identifier, Okta's api://default, an Entra ID
	// application URI).
	Audience string `yaml:"audience"`
	// ClientSecret authenticates the console to the provider's token endpoint. Empty for
	// a public client, which PKCE alone protects. May be env:NAME.
	ClientSecret Secret `yaml:"client_secret"`
	// RedirectURL is the console's callback as registered with the provider, ending in
	// /console/login/oidc/callback. Default: built from each request's host, which is
	// right only when the console is reached directly; behind a proxy, set it.
	RedirectURL string `yaml:"redirect_url"`
	// GroupsClaim is the top-level claim that lists a person's groups. Default "groups".
	GroupsClaim string `yaml:"groups_claim"`
	// Grants give the members of groups a role, in some accounts. A person in no granted
	// group signs in but may do nothing.
	Grants []OIDCGrant `yaml:"grants"`
}

// OIDCGrant gives the members of one of the provider's groups a role.
type OIDCGrant struct {
	// Group is the group's name as the groups claim carries it. Required.
	Group string `yaml:"group"`
	// Role is viewer, responder, approver or admin. Required.
	Role string `yaml:"role"`
	// Accounts scope the grant to these 12-digit account ids; empty means every account.
	Accounts []string `yaml:"accounts"`
	// Clearance are the sensitivity labels (a playbook's metadata.labels.sensitivity) of
	// the incidents the group's members may see beside the unlabelled ones; compared
	// trimmed and lower-cased. Administrators see every label without one.
	Clearance []string `yaml:"clearance"`
}

// Audit configures the audit chain beyond the database.
type Audit struct {
	Anchor Anchor `yaml:"anchor"`
}

// Anchor writes the chain's head to an S3 bucket with Object Lock every so often, so that
// even someone who controls the database cannot rewrite the history before it unnoticed
// (firebreak audit verify --anchors). Off unless Location is set.
type Anchor struct {
	// Location is s3://BUCKET or s3://BUCKET/PREFIX; the bucket must have Object Lock
	// enabled. It is written with the server's own AWS credentials.
	Location string `yaml:"location"`
	// Region is the bucket's region. Default: the AWS configuration's.
	Region string `yaml:"region"`
	// Every is how often the head is written while the chain grows. Default 10m.
	Every time.Duration `yaml:"every"`
	// Retention is how long each anchor is locked. Default 8760h (a year).
	Retention time.Duration `yaml:"retention"`
	// Mode is GOVERNANCE (default: a user with s3:BypassGovernanceRetention may still
	// delete) or COMPLIANCE (nobody may, not even the account's root, until retention ends).
	Mode string `yaml:"mode"`
}

// Enabled reports whether OIDC sign-in is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// DefaultGroupsClaim is the claim groups are read from when oidc.groups_claim is not set.
const DefaultGroupsClaim = "groups"

// oidcRoles are the roles a grant may give, those of the authorisation model; they are
// listed here rather than imported so that reading the configuration needs nothing of the
// server's packages.
var oidcRoles = []string{"viewer", "responder", "approver", "admin"}

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
)

// Logger returns a logger writing to w at the configured level and format.
func (l Log) Logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level)) // checked when loaded; info otherwise
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Defaults.
const (
	DefaultListen    = "127.0.0.1:8080"
	DefaultPlaybooks = "playbooks"
	DefaultDataDir   = "data"
	DefaultRoleName  = "FirebreakResponder"
	// DatabaseFile is the SQLite file under DataDir used when no database is given.
	DatabaseFile = "firebreak.db"
)

// Default returns the configuration used when there is no file.
func Default() *Config {
	c := &Config{
		Listen:    DefaultListen,
		Playbooks: DefaultPlaybooks,
		DataDir:   DefaultDataDir,
		Accounts:  Accounts{RoleName: DefaultRoleName},
		Limits: Limits{
			Breaker:            Breaker{Window: time.Hour, PerPlaybook: 10, Overall: 50, Accounts: 5},
			IncidentJoinWindow: 15 * time.Minute,
		},
		Approvals: Approvals{Timeout: time.Hour, OnTimeout: OnTimeoutDeny},
		Audit:     Audit{Anchor: Anchor{Every: 10 * time.Minute, Retention: 365 * 24 * time.Hour, Mode: "GOVERNANCE"}},
		Log:       Log{Level: "info", Format: "text"},
		origins:   map[string]Error{},
	}
	c.derive()
	return c
}

// defaults fills a queue listed in the file before its fields are read.
func (q *Queue) defaults() {
	q.MaxMessages = 10
	q.WaitTime = 20 * time.Second
}

// derive fills the defaults that depend on other values.
func (c *Config) derive() {
	if _, set := c.origins["database"]; !set {
		c.Database = filepath.Join(c.DataDir, DatabaseFile)
	}
	for i := range c.APIKeys {
		if c.APIKeys[i].Name == "" {
			c.APIKeys[i].Name = "key-" + strconv.Itoa(i+1)
		}
	}
	for i := range c.SQS.Queues {
		q := &c.SQS.Queues[i]
		if q.Region == "" {
			q.Region = queueRegion(q.URL)
		}
	}
	if c.oidcGiven() && c.OIDC.GroupsClaim == "" {
		c.OIDC.GroupsClaim = DefaultGroupsClaim
	}
	if c.oidcGiven() && c.OIDC.Audience == "" {
		c.OIDC.Audience = c.OIDC.ClientID
	}
}

// oidcGiven reports whether the file said anything about OIDC, even only empty keys, so
// that an oidc section without an issuer is an error rather than OIDC silently off.
func (c *Config) oidcGiven() bool {
	for p := range c.origins {
		if p == "oidc" || strings.HasPrefix(p, "oidc.") {
			return true
		}
	}
	return false
}

// Database drivers, as returned by DatabaseDriver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// DatabaseDriver says which database Database names: DriverSQLite with the file's path,
// or DriverPostgres with the URL.
func (c *Config) DatabaseDriver() (driver, source string) {
	switch {
	case strings.HasPrefix(c.Database, "postgres://"), strings.HasPrefix(c.Database, "postgresql://"):
		return DriverPostgres, c.Database
	case strings.HasPrefix(c.Database, "sqlite://"):
		return DriverSQLite, strings.TrimPrefix(c.Database, "sqlite://")
	}
	return DriverSQLite, c.Database
}

// Account returns the configuration of account id: its override when there is one, with
// the role and external id defaults filled in.
func (a Accounts) Account(id string) Account {
	acc := Account{ID: id}
	if i := slices.IndexFunc(a.Overrides, func(o Account) bool { return o.ID == id }); i >= 0 {
		acc = a.Overrides[i]
	}
	if acc.Role == "" {
		acc.Role = a.RoleName
	}
	if acc.ExternalID == "" {
		acc.ExternalID = a.ExternalID
	}
	return acc
}

// Secret is a configured value that must not appear in logs or output: printing it with
// fmt or slog, or marshalling it, gives "[redacted]". Convert it with string() to use it.
type Secret string

const redacted = "[redacted]"

// String hides the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue hides the secret from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText hides the secret from encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
