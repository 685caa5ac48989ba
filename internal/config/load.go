package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-sec/firebreak/internal/suggest"
)

// Error is one problem with the configuration, at the place the bad value came from.
type Error struct {
	// File is the configuration file, or for a value given outside it the flag
	// ("--listen") or environment variable ("FIREBREAK_LISTEN").
	File string
	// Line and Col locate the value in File, from 1; both are 0 outside a file.
	Line, Col int
	Msg       string
}

// Error gives the problem as FILE:LINE:COL: MESSAGE, or SOURCE: MESSAGE for a flag or
// environment variable.
func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Errors are all the problems found, in the order they appear in the file. Load and
// Override return them as their error; errors.As gets them back.
type Errors []*Error

// Error gives one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads the configuration file at path over the defaults, resolving env:NAME
// references from the process environment. An empty path means no file: the defaults.
// Relative paths in the file are taken from the file's directory.
func Load(path string) (*Config, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w; give --config the path of firebreak.yaml", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse reads the configuration in data, named file in errors, over the defaults. env
// looks up the variables that env:NAME values name.
func Parse(file string, data []byte, env func(string) (string, bool)) (cfg *Config, err error) {
	d := &decoder{file: file, env: env, origins: map[string]Error{}}
	root, err := parseYAML(file, data)
	if err != nil {
		return nil, err
	}
	c := Default()
	c.origins = d.origins
	if root != nil {
		d.value(root, reflect.ValueOf(c).Elem(), "")
	}
	if len(d.errs) > 0 {
		return nil, sortErrors(d.errs)
	}
	c.relativeTo(filepath.Dir(file))
	c.derive()
	if errs := c.check(); len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// parseYAML returns the file's one document, or nil when it is empty.
func parseYAML(file string, data []byte) (root *yaml.Node, err error) {
	defer func() {
		// The YAML parser is not ours; a file it chokes on is an error in the file, never
		// a crash of the server reading it.
		if r := recover(); r != nil {
			root, err = nil, Errors{{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("cannot parse the YAML (%v); check the file's syntax", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Errors{yamlError(file, err)}
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		e := &Error{File: file, Line: next.Line, Col: next.Column, Msg: "the file holds more than one YAML document; keep only one (remove the ---)"}
		if err != nil {
			e = yamlError(file, err)
		}
		return nil, Errors{e}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root = doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil
	}
	return root, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 syntax error into FILE:LINE:COL form. yaml.v3 gives no
// column, so the column is 1.
func yamlError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Col: 1, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: file, Line: 1, Col: 1, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

func sortErrors(es Errors) Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
	return es
}

// relativeTo makes the paths the file gave relative to dir, the file's directory, so
// that the server finds the same files whatever directory it starts in.
func (c *Config) relativeTo(dir string) {
	for _, p := range []struct {
		path string
		v    *string
	}{{"playbooks", &c.Playbooks}, {"data_dir", &c.DataDir}, {"database", &c.Database}} {
		o, ok := c.origins[p.path]
		if !ok || o.Line == 0 || *p.v == "" || strings.Contains(*p.v, "://") || filepath.IsAbs(*p.v) {
			continue
		}
		*p.v = filepath.Join(dir, *p.v)
	}
}

var (
	accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	roleNameRE  = regexp.MustCompile(`^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)
	roleARNRE   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)
	playbookRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

// checker collects the problems with values, each at the place its value came from.
type checker struct {
	c    *Config
	errs Errors
}

func (k *checker) errorf(path, format string, args ...any) {
	e := k.at(path)
	e.Msg = fmt.Sprintf(format, args...)
	k.errs = append(k.errs, &e)
}

// at is where the value at path came from: its own origin, or its nearest parent's
// (a list element's region defaults from its URL, say).
func (k *checker) at(path string) Error {
	for p := path; p != ""; {
		if o, ok := k.c.origins[p]; ok {
			return o
		}
		if i := strings.LastIndexAny(p, ".["); i >= 0 {
			p = p[:i]
		} else {
			p = ""
		}
	}
	return Error{File: "defaults"}
}

// check returns every problem with the values.
func (c *Config) check() Errors {
	k := &checker{c: c}
	if host, port, err := net.SplitHostPort(c.Listen); err != nil {
		k.errorf("listen", "listen: %q is not HOST:PORT; write it like 127.0.0.1:8080 or :8080", c.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		k.errorf("listen", "listen: port %q of %s:%s is not a number from 0 to 65535", port, host, port)
	}
	if c.Playbooks == "" {
		k.errorf("playbooks", "playbooks: empty; give the directory of playbooks")
	}
	if c.DataDir == "" {
		k.errorf("data_dir", "data_dir: empty; give a directory for Firebreak's data")
	}
	k.database()
	k.apiKeys()
	k.accounts()
	k.queues()
	k.oidc()
	k.anchor()
	b := c.Limits.Breaker
	if b.Window <= 0 {
		k.errorf("limits.breaker.window", "limits.breaker.window: must be more than 0, like 1h")
	}
	for _, f := range []struct {
		path string
		n    int
	}{{"per_playbook", b.PerPlaybook}, {"overall", b.Overall}, {"accounts", b.Accounts}} {
		if f.n < 1 {
			k.errorf("limits.breaker."+f.path, "limits.breaker.%s: %d stops every containment; give 1 or more", f.path, f.n)
		}
	}
	if c.Modes.Force != "" && c.Modes.Force != ModeDryRun && c.Modes.Force != ModeApprove {
		k.errorf("modes.force", "modes.force: %q cannot be forced%s; give dry-run or approve, or leave it out to use each playbook's mode",
			c.Modes.Force, suggest.DidYouMean(c.Modes.Force, []string{ModeDryRun, ModeApprove}))
	}
	for _, pb := range sorted(keys(c.Modes.Playbooks)) {
		path := "modes.playbooks." + pb
		if !playbookRE.MatchString(pb) {
			k.errorf(path, "%s: %q is not a playbook name; names are lower-case letters, digits and -", path, pb)
		}
		if m := c.Modes.Playbooks[pb]; !oneOf(m, modes) {
			k.errorf(path, "%s: %q is not a mode%s; give one of %s", path, m, suggest.DidYouMean(m, modes), strings.Join(modes, ", "))
		}
	}
	if c.Approvals.Timeout <= 0 {
		k.errorf("approvals.timeout", "approvals.timeout: must be more than 0, like 1h")
	}
	k.choice("approvals.on_timeout", c.Approvals.OnTimeout, []string{OnTimeoutDeny, OnTimeoutApprove})
	k.choice("log.level", c.Log.Level, logLevels)
	k.choice("log.format", c.Log.Format, logFormats)
	return sortErrors(k.errs)
}

func (k *checker) choice(path, v string, allowed []string) {
	if !oneOf(v, allowed) {
		k.errorf(path, "%s: %q is not allowed%s; give one of %s", path, v, suggest.DidYouMean(v, allowed), strings.Join(allowed, ", "))
	}
}

func (k *checker) database() {
	db := k.c.Database
	scheme, _, hasScheme := strings.Cut(db, "://")
	switch {
	case db == "":
		k.errorf("database", "database: empty; give a SQLite file path or a postgres:// URL")
	case !hasScheme:
	case scheme == "sqlite":
		if strings.TrimPrefix(db, "sqlite://") == "" {
			k.errorf("database", "database: %q names no file; write sqlite://PATH or just the path", db)
		}
	case scheme == "postgres" || scheme == "postgresql":
		u, err := url.Parse(db)
		if err != nil || u.Host == "" {
			k.errorf("database", "database: not a valid postgres URL; write it like postgres://USER:PASSWORD@HOST:5432/DB")
		}
	default:
		k.errorf("database", "database: scheme %q is not supported; give a SQLite file path or a postgres:// URL", scheme)
	}
}

func (k *checker) apiKeys() {
	names, values := map[string]int{}, map[Secret]int{}
	for i, key := range k.c.APIKeys {
		path := fmt.Sprintf("api_keys[%d]", i)
		switch {
		case len(key.Key) == 0:
			k.errorf(path, "%s: the key is empty; give a random key of at least %d characters (openssl rand -hex 32 makes one)", path, MinAPIKeyLength)
		case len(key.Key) < MinAPIKeyLength:
			k.errorf(path, "%s: the key has %d characters, too few to resist guessing; give at least %d (openssl rand -hex 32 makes one)", path, len(key.Key), MinAPIKeyLength)
		case strings.IndexFunc(string(key.Key), func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
			k.errorf(path, "%s: the key has spaces, control or non-ASCII characters, which an HTTP header cannot carry; use letters, digits and punctuation", path)
		}
		if j, dup := names[key.Name]; dup {
			k.errorf(path, "%s: the name %q is also that of api_keys[%d]; give each key its own name", path, key.Name, j)
		}
		if j, dup := values[key.Key]; dup && key.Key != "" {
			k.errorf(path, "%s: the same key as api_keys[%d]; remove one", path, j)
		}
		names[key.Name], values[key.Key] = i, i
	}
}

func (k *checker) accounts() {
	a := k.c.Accounts
	if !roleNameRE.MatchString(a.RoleName) {
		k.errorf("accounts.role_name", "accounts.role_name: %q is not an IAM role name; give the name (or path/name) of the role to assume in every account", a.RoleName)
	}
	seen := map[string]int{}
	for i, acc := range a.Overrides {
		path := fmt.Sprintf("accounts.overrides[%d]", i)
		switch {
		case acc.ID == "":
			k.errorf(path, "%s: id is missing; give the 12-digit account id", path)
		case !accountIDRE.MatchString(acc.ID):
			k.errorf(path+".id", "%s.id: %q is not a 12-digit account id", path, acc.ID)
		}
		if j, dup := seen[acc.ID]; dup && acc.ID != "" {
			k.errorf(path+".id", "%s.id: account %s is also configured at accounts.overrides[%d]; merge the two", path, acc.ID, j)
		}
		seen[acc.ID] = i
		if r := acc.Role; r != "" {
			if m := roleARNRE.FindStringSubmatch(r); strings.HasPrefix(r, "arn:") && (m == nil || m[1] != acc.ID) {
				k.errorf(path+".role", "%s.role: %q is not the ARN of a role in account %s; give a role name or arn:aws:iam::%s:role/NAME", path, r, acc.ID, acc.ID)
			} else if !strings.HasPrefix(r, "arn:") && !roleNameRE.MatchString(r) {
				k.errorf(path+".role", "%s.role: %q is not an IAM role name or ARN", path, r)
			}
		}
		for j, r := range acc.Regions {
			if !regionRE.MatchString(r) {
				k.errorf(fmt.Sprintf("%s.regions[%d]", path, j), "%s.regions[%d]: %q is not an AWS region; write it like us-east-1", path, j, r)
			}
		}
	}
}

func (k *checker) queues() {
	seen := map[string]int{}
	for i, q := range k.c.SQS.Queues {
		path := fmt.Sprintf("sqs.queues[%d]", i)
		u, err := url.Parse(q.URL)
		switch {
		case q.URL == "":
			k.errorf(path, "%s: url is missing; give the queue URL, like https://sqs.us-east-1.amazonaws.com/111122223333/firebreak-events", path)
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") == "":
			k.errorf(path+".url", "%s.url: %q is not a queue URL; give it like https://sqs.us-east-1.amazonaws.com/111122223333/firebreak-events", path, q.URL)
		}
		if j, dup := seen[q.URL]; dup && q.URL != "" {
			k.errorf(path+".url", "%s.url: the same queue as sqs.queues[%d]; remove one", path, j)
		}
		seen[q.URL] = i
		if q.Region == "" && q.URL != "" && u != nil && u.Host != "" {
			k.errorf(path, "%s: region is missing and the URL's host does not name one; give region", path)
		} else if q.Region != "" && !regionRE.MatchString(q.Region) {
			k.errorf(path+".region", "%s.region: %q is not an AWS region; write it like us-east-1", path, q.Region)
		}
		if q.MaxMessages < 1 || q.MaxMessages > 10 {
			k.errorf(path+".max_messages", "%s.max_messages: %d is out of range; SQS returns 1 to 10 messages a receive", path, q.MaxMessages)
		}
		k.seconds(path+".wait_time", q.WaitTime, 20*time.Second, "SQS long polling waits at most 20s")
		k.seconds(path+".visibility_timeout", q.VisibilityTimeout, 12*time.Hour, "SQS allows at most 12h; 0 keeps the queue's own")
	}
}

func (k *checker) oidc() {
	o := k.c.OIDC
	if !k.c.oidcGiven() {
		return
	}
	switch u, err := url.Parse(o.Issuer); {
	case o.Issuer == "":
		k.errorf("oidc", "oidc: issuer is missing; give the identity provider's issuer URL, like https://login.example.com/oauth2/default, or remove the oidc section")
	case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || !secureURL(u):
		k.errorf("oidc.issuer", "oidc.issuer: %q is not an issuer URL; give https://HOST[/PATH] as the provider's tokens carry it in iss (http only on localhost)", o.Issuer)
	}
	if o.ClientID == "" {
		k.errorf("oidc", "oidc: client_id is missing; give the id of the client registered with the provider for Firebreak")
	}
	if strings.TrimSpace(o.Audience) != o.Audience {
		k.errorf("oidc.audience", "oidc.audience: %q has spaces around it; give the aud value exactly as the provider's tokens carry it", o.Audience)
	}
	if o.RedirectURL != "" {
		if u, err := url.Parse(o.RedirectURL); err != nil || u.Host == "" || !secureURL(u) || u.Fragment != "" {
			k.errorf("oidc.redirect_url", "oidc.redirect_url: %q is not an absolute URL; give https://HOST/console/login/oidc/callback as registered with the provider (http only on localhost)", o.RedirectURL)
		}
	}
	if strings.TrimSpace(o.GroupsClaim) == "" || strings.ContainsAny(o.GroupsClaim, " \t") {
		k.errorf("oidc.groups_claim", "oidc.groups_claim: %q is not a claim name; give the top-level claim that lists groups, like groups", o.GroupsClaim)
	}
	if len(o.Grants) == 0 {
		k.errorf("oidc", "oidc: grants are missing; without a grant nobody who signs in may do anything; give grants: [{group: NAME, role: responder}]")
	}
	seen := map[string]int{}
	for i, g := range o.Grants {
		path := fmt.Sprintf("oidc.grants[%d]", i)
		if strings.TrimSpace(g.Group) == "" {
			k.errorf(path, "%s: group is missing; give the group's name as the %s claim carries it", path, o.GroupsClaim)
		}
		switch {
		case g.Role == "":
			k.errorf(path, "%s: role is missing; give one of %s", path, strings.Join(oidcRoles, ", "))
		case !oneOf(g.Role, oidcRoles):
			k.errorf(path+".role", "%s.role: %q is not a role%s; give one of %s", path, g.Role, suggest.DidYouMean(g.Role, oidcRoles), strings.Join(oidcRoles, ", "))
		}
		for j, a := range g.Accounts {
			if !accountIDRE.MatchString(a) {
				k.errorf(fmt.Sprintf("%s.accounts[%d]", path, j), "%s.accounts[%d]: %q is not a 12-digit account id", path, j, a)
			}
		}
		for j, l := range g.Clearance {
			if why := labelProblem(l); why != "" {
				at := fmt.Sprintf("%s.clearance[%d]", path, j)
				k.errorf(at, "%s: %q %s", at, l, why)
			}
		}
		id := g.Group + "\x00" + g.Role
		if j, dup := seen[id]; dup && g.Group != "" {
			k.errorf(path, "%s: group %q is given role %s also at oidc.grants[%d]; merge the two", path, g.Group, g.Role, j)
		}
		seen[id] = i
	}
}

// maxLabelLength is the longest sensitivity label a clearance may name, as the
// authorisation model allows (auth.MaxLabelLength).
const maxLabelLength = 128

// labelProblem says what is wrong with a clearance label, or "": the checks of
// auth.ParseClearance, repeated here so that reading the configuration needs nothing of
// the server's packages, and a bad label is reported at its line like any other setting.
func labelProblem(l string) string {
	l = strings.TrimSpace(l)
	switch {
	case l == "":
		return "is empty; give the value of a playbook's sensitivity label, such as restricted"
	case len(l) > maxLabelLength:
		return fmt.Sprintf("is longer than %d characters", maxLabelLength)
	case strings.Contains(l, ","):
		return "holds a comma; give each label as its own list item, like clearance: [legal, restricted]"
	case strings.ContainsFunc(l, unicode.IsControl):
		return "holds a control character"
	}
	return ""
}

// secureURL reports whether u is https, or http to this machine, where a developer runs
// an identity provider without TLS.
func secureURL(u *url.URL) bool {
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		ip := net.ParseIP(h)
		return h == "localhost" || ip != nil && ip.IsLoopback()
	}
	return false
}

var anchorModes = []string{"GOVERNANCE", "COMPLIANCE"}

func (k *checker) anchor() {
	// The API's values are upper case; people write either.
	k.c.Audit.Anchor.Mode = strings.ToUpper(k.c.Audit.Anchor.Mode)
	a := k.c.Audit.Anchor
	if a.Location != "" {
		rest, ok := strings.CutPrefix(a.Location, "s3://")
		if bucket, _, _ := strings.Cut(rest, "/"); !ok || !bucketRE.MatchString(bucket) {
			k.errorf("audit.anchor.location", "audit.anchor.location: %q is not an S3 location; write s3://BUCKET or s3://BUCKET/PREFIX", a.Location)
		}
	}
	if a.Region != "" && !regionRE.MatchString(a.Region) {
		k.errorf("audit.anchor.region", "audit.anchor.region: %q is not an AWS region; write it like us-east-1", a.Region)
	}
	if a.Every < time.Minute {
		k.errorf("audit.anchor.every", "audit.anchor.every: %s is too often; anchor at most once a minute, like 10m", a.Every)
	}
	if a.Retention < 24*time.Hour || a.Retention%(24*time.Hour) != 0 {
		k.errorf("audit.anchor.retention", "audit.anchor.retention: %s is not a whole number of days of at least one; S3 Object Lock keeps whole days, like 8760h for a year", a.Retention)
	}
	k.choice("audit.anchor.mode", a.Mode, anchorModes)
}

// bucketRE matches an S3 bucket name.
var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// seconds checks an SQS duration, which the API takes in whole seconds.
func (k *checker) seconds(path string, d, most time.Duration, why string) {
	switch {
	case d > most:
		k.errorf(path, "%s: %s is too long; %s", path, d, why)
	case d%time.Second != 0:
		k.errorf(path, "%s: %s is not whole seconds, which SQS needs; round it to %s", path, d, d.Round(time.Second))
	}
}

// queueRegion is the region in an SQS queue URL's host (sqs.REGION.amazonaws.com or the
// older REGION.queue.amazonaws.com), or "".
func queueRegion(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	labels := strings.Split(u.Hostname(), ".")
	var r string
	switch {
	case len(labels) >= 3 && labels[0] == "sqs":
		r = labels[1]
	case len(labels) >= 3 && labels[1] == "queue":
		r = labels[0]
	}
	if !regionRE.MatchString(r) {
		return ""
	}
	return r
}

func oneOf(s string, list []string) bool { return slices.Contains(list, s) }

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
