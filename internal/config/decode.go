package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-sec/firebreak/internal/suggest"
)

// maxNodes bounds the nodes read, counting each use of an alias anew, so that a file of
// nested aliases (a "billion laughs") is an error rather than a hang.
const maxNodes = 100_000

// decoder reads yaml.v3 nodes into the Config structs by reflection, field names from the
// yaml tags. It is strict where yaml.Unmarshal is lenient: unknown fields, values of the
// wrong kind and duplicate keys are errors at their position, and every error is
// collected rather than only the first.
type decoder struct {
	file    string
	env     func(string) (string, bool)
	errs    Errors
	origins map[string]Error
	nodes   int
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	e := &Error{File: d.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		// A value given by a flag or variable has no position: Line stays 0.
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// resolve follows aliases, so that anchors behave like the text they stand for.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
	apiKeyType   = reflect.TypeFor[APIKey]()
)

// value reads n into v, the value at path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	n = d.resolve(n)
	if n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value keeps the default
	}
	if d.nodes++; d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.errorf(n, "the file expands to more than %d values (through aliases?); simplify it", maxNodes)
		}
		return
	}
	d.origins[path] = Error{File: d.file, Line: n.Line, Col: n.Column}
	switch v.Type() {
	case durationType:
		d.duration(n, v, path)
		return
	case secretType:
		d.secret(n, v, path)
		return
	case apiKeyType:
		if n.Kind == yaml.ScalarNode {
			// The short form: the key alone.
			d.secret(n, v.FieldByName("Key"), path+".key")
			return
		}
	}
	switch v.Kind() {
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		if !d.want(n, path, yaml.ScalarNode, "a whole number") {
			return
		}
		i, err := strconv.Atoi(n.Value)
		if n.ShortTag() != "!!int" || err != nil {
			d.errorf(n, "%s: want a whole number, not %s", path, describe(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		if !d.want(n, path, yaml.ScalarNode, "true or false") {
			return
		}
		b, err := strconv.ParseBool(n.Value)
		if n.ShortTag() != "!!bool" || err != nil {
			d.errorf(n, "%s: want true or false, not %s", path, describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Slice:
		if !d.want(n, path, yaml.SequenceNode, "a list") {
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			elem := s.Index(i)
			if q, ok := elem.Addr().Interface().(*Queue); ok {
				q.defaults()
			}
			d.value(item, elem, fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if !d.want(n, path, yaml.MappingNode, "a mapping") {
			return
		}
		m := reflect.MakeMap(v.Type())
		d.pairs(n, path, func(key *yaml.Node, val *yaml.Node) {
			elem := reflect.New(v.Type().Elem()).Elem()
			d.value(val, elem, path+"."+key.Value)
			m.SetMapIndex(reflect.ValueOf(key.Value), elem)
		})
		v.Set(m)
	case reflect.Struct:
		d.object(n, v, path)
	default:
		panic(fmt.Sprintf("config: no decoding for %s at %s", v.Type(), path))
	}
}

// want reports whether n is of kind k, reporting an error that names what is wanted when not.
func (d *decoder) want(n *yaml.Node, path string, k yaml.Kind, what string) bool {
	if n.Kind == k {
		return true
	}
	d.errorf(n, "%s: want %s, not %s", name(path), what, describe(n))
	return false
}

// scalar returns a scalar's text. Numbers and booleans are taken as their text, so that
// an unquoted account id or name is read as written.
func (d *decoder) scalar(n *yaml.Node, path, what string) (string, bool) {
	if !d.want(n, path, yaml.ScalarNode, what) {
		return "", false
	}
	return n.Value, true
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if !d.want(n, path, yaml.ScalarNode, "a duration such as 90s, 15m or 1h") {
		return
	}
	dur, err := parseDuration(n.Value)
	if err != nil {
		d.errorf(n, "%s: %v", path, err)
		return
	}
	v.SetInt(int64(dur))
}

// parseDuration is time.ParseDuration with messages that say what to write, and no
// negative durations.
func parseDuration(s string) (time.Duration, error) {
	if _, err := strconv.ParseFloat(s, 64); err == nil && s != "0" {
		return 0, fmt.Errorf("%q has no unit; write it like %ss (seconds), %sm or %sh", s, s, s, s)
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write it like 90s, 15m or 1h30m", s)
	}
	if dur < 0 {
		return 0, fmt.Errorf("%q is negative; a duration must be 0 or more", s)
	}
	return dur, nil
}

// secret reads a Secret, resolving env:NAME.
func (d *decoder) secret(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path, "a string")
	if !ok {
		return
	}
	val, err := resolveSecret(s, d.env)
	if err != nil {
		d.errorf(n, "%s: %v", path, err)
		return
	}
	v.SetString(val)
}

// resolveSecret returns s, or the environment variable it names as env:NAME.
func resolveSecret(s string, env func(string) (string, bool)) (string, error) {
	ref, ok := strings.CutPrefix(s, "env:")
	if !ok {
		return s, nil
	}
	if !validEnvName(ref) {
		return "", fmt.Errorf("%q is not an environment variable reference; write env:NAME with NAME made of A-Z, 0-9 and _", s)
	}
	val, ok := env(ref)
	if !ok || val == "" {
		return "", fmt.Errorf("environment variable %s is not set; export it before starting Firebreak", ref)
	}
	return val, nil
}

func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// object reads a mapping into struct v, rejecting unknown fields with a suggestion.
func (d *decoder) object(n *yaml.Node, v reflect.Value, path string) {
	if !d.want(n, path, yaml.MappingNode, "a mapping") {
		return
	}
	fields := fieldNames(v.Type())
	d.pairs(n, path, func(key, val *yaml.Node) {
		i, ok := fields[key.Value]
		if !ok {
			names := make([]string, 0, len(fields))
			for k := range fields {
				names = append(names, k)
			}
			d.errorf(key, "%s: unknown field %q%s; expected one of %s", name(path), key.Value, suggest.DidYouMean(key.Value, names), strings.Join(sorted(names), ", "))
			return
		}
		d.value(val, v.Field(i), join(path, key.Value))
	})
}

// pairs calls f for each key and value of mapping n, after checking the key is a string
// given once.
func (d *decoder) pairs(n *yaml.Node, path string, f func(key, val *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: a key must be a string, not %s", name(path), describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.errorf(k, "%s: merge keys (<<) are not supported; write the fields out", name(path))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, "%s: %q is given twice (first on line %d); remove one", name(path), k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		f(k, n.Content[i+1])
	}
}

// fieldNames maps the yaml names of struct t's fields to their indexes.
func fieldNames(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "" {
			m[tag] = i
		}
	}
	return m
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// name is path for messages: the top level is "the file".
func name(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

// describe says what n is, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!int", "!!float":
			return fmt.Sprintf("the number %s", n.Value)
		case "!!bool":
			return fmt.Sprintf("the boolean %s", n.Value)
		case "!!null":
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// sorted returns a sorted copy of s, so that lists in messages read the same every time.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
