package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// A Setting is one value given outside the file, by a flag or an environment variable.
type Setting struct {
	// Key is the setting's name in Settings ("listen", "log.level", "dry_run").
	Key string
	// Value is the value as text, as a flag or variable carries it.
	Value string
	// From names where it came from, for errors: "--listen" or "FIREBREAK_LISTEN".
	From string
}

// An Overridable is a setting that a flag or environment variable can give.
type Overridable struct {
	Key  string // the path in firebreak.yaml, or dry_run
	Env  string // the environment variable
	Flag string // the command-line flag without "--", or "" when there is none
}

// Settings lists what flags and the environment can override. The API key and external
// id have no flag: a command line can be read by anyone on the host.
var Settings = []Overridable{
	{"listen", "FIREBREAK_LISTEN", "listen"},
	{"playbooks", "FIREBREAK_PLAYBOOKS", "playbooks"},
	{"data_dir", "FIREBREAK_DATA_DIR", "data-dir"},
	{"database", "FIREBREAK_DATABASE", "database"},
	{"api_keys", "FIREBREAK_API_KEY", ""},
	{"accounts.role_name", "FIREBREAK_ROLE_NAME", "role-name"},
	{"accounts.external_id", "FIREBREAK_EXTERNAL_ID", ""},
	{"dry_run", "FIREBREAK_DRY_RUN", "dry-run"},
	{"log.level", "FIREBREAK_LOG_LEVEL", "log-level"},
	{"log.format", "FIREBREAK_LOG_FORMAT", "log-format"},
}

// Where the configuration file is named, outside the file.
const (
	EnvConfig  = "FIREBREAK_CONFIG"
	FlagConfig = "config"
)

// FromEnv returns the settings the environment gives, through lookup (os.LookupEnv).
// A variable set to the empty string is not a setting.
func FromEnv(lookup func(string) (string, bool)) []Setting {
	var out []Setting
	for _, o := range Settings {
		if v, ok := lookup(o.Env); ok && v != "" {
			out = append(out, Setting{Key: o.Key, Value: v, From: o.Env})
		}
	}
	return out
}

// FromFlags returns the settings given by the flags in fs that were set on the command
// line; a flag left at its default is no setting, so that it does not hide the file.
func FromFlags(fs *pflag.FlagSet) []Setting {
	var out []Setting
	for _, o := range Settings {
		if o.Flag == "" {
			continue
		}
		if f := fs.Lookup(o.Flag); f != nil && f.Changed {
			out = append(out, Setting{Key: o.Key, Value: f.Value.String(), From: "--" + o.Flag})
		}
	}
	return out
}

// Resolve is the whole configuration of a command: the file named by --config or
// FIREBREAK_CONFIG (none: the defaults), then the environment through lookup, then the
// flags in fs that were set. fs may be nil.
func Resolve(fs *pflag.FlagSet, lookup func(string) (string, bool)) (*Config, error) {
	path, _ := lookup(EnvConfig)
	if fs != nil {
		if f := fs.Lookup(FlagConfig); f != nil && f.Changed {
			path = f.Value.String()
		}
	}
	var c *Config
	var err error
	if path == "" {
		c = Default()
	} else if c, err = Load(path); err != nil {
		return nil, err
	}
	settings := FromEnv(lookup)
	if fs != nil {
		settings = append(settings, FromFlags(fs)...)
	}
	if err := c.Override(settings...); err != nil {
		return nil, err
	}
	return c, nil
}

// Override applies settings in order, a later one replacing an earlier one, and checks
// the result. Give the environment's settings before the flags' so that flags win.
// FIREBREAK_API_KEY replaces the file's keys with itself; dry_run true forces every
// playbook to dry-run, and false undoes a dry-run forced by the file. On error c is
// left partly changed and must not be used.
func (c *Config) Override(settings ...Setting) error {
	if c.origins == nil {
		c.origins = map[string]Error{}
	}
	var errs Errors
	for _, s := range settings {
		if err := c.set(s); err != nil {
			errs = append(errs, err...)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	c.derive()
	if errs := c.check(); len(errs) > 0 {
		return errs
	}
	return nil
}

func (c *Config) set(s Setting) Errors {
	origin := Error{File: s.From}
	fail := func(format string, args ...any) Errors {
		return Errors{{File: s.From, Msg: fmt.Sprintf(format, args...)}}
	}
	switch s.Key {
	case "api_keys":
		for p := range c.origins {
			if strings.HasPrefix(p, "api_keys") {
				delete(c.origins, p)
			}
		}
		c.APIKeys = []APIKey{{Name: s.From, Key: Secret(s.Value)}}
		c.origins["api_keys"], c.origins["api_keys[0]"] = origin, origin
		return nil
	case "accounts.external_id":
		c.Accounts.ExternalID = Secret(s.Value)
		c.origins[s.Key] = origin
		return nil
	case "dry_run":
		on, err := strconv.ParseBool(s.Value)
		if err != nil {
			return fail("%q is not true or false", s.Value)
		}
		switch {
		case on:
			c.Modes.Force = ModeDryRun
		case c.Modes.Force == ModeDryRun:
			c.Modes.Force = ""
		}
		c.origins["modes.force"] = origin
		return nil
	}
	v, ok := fieldAt(reflect.ValueOf(c).Elem(), s.Key)
	if !ok {
		return fail("%q is not a setting; known: %s", s.Key, settingKeys())
	}
	// The value goes through the file's decoder, as an untagged YAML scalar, so that a
	// flag and the file accept the same text.
	d := &decoder{file: s.From, env: func(string) (string, bool) { return "", false }, origins: c.origins}
	d.value(&yaml.Node{Kind: yaml.ScalarNode, Value: s.Value}, v, s.Key)
	if len(d.errs) > 0 {
		return d.errs
	}
	c.origins[s.Key] = origin
	return nil
}

// fieldAt finds the struct field at a dotted yaml path.
func fieldAt(v reflect.Value, path string) (reflect.Value, bool) {
	for _, part := range strings.Split(path, ".") {
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		i, ok := fieldNames(v.Type())[part]
		if !ok {
			return reflect.Value{}, false
		}
		v = v.Field(i)
	}
	return v, true
}

func settingKeys() string {
	names := make([]string, len(Settings))
	for i, o := range Settings {
		names[i] = o.Key
	}
	return strings.Join(names, ", ")
}
