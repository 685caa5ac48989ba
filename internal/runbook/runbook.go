// Package runbook renders a playbook as a markdown runbook: what triggers it, when it
// applies, and for each step what it does and the AWS CLI commands a responder would run
// by hand, with how to undo it. The runbook is the manual fallback when automation is off,
// and the document a reviewer reads before turning it on.
package runbook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
)

// Write renders p as markdown. Actions missing from cat are rendered by name only.
func Write(p *playbook.Playbook, cat *action.Catalogue) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", p.Name)
	if p.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", p.Description)
	}

	b.WriteString("## Trigger\n\n")
	if words, ok := Trigger(p.OnJSON); ok {
		fmt.Fprintf(&b, "%s.\n\n", words)
	}
	fmt.Fprintf(&b, "Event pattern:\n\n```json\n%s\n```\n\n", indentJSON(p.OnJSON))

	fmt.Fprintf(&b, "Target: each **%s** in the event.\n\n", p.Target)
	if p.When != nil {
		fmt.Fprintf(&b, "Only when: `%s`\n\n", p.When.Source)
	}

	b.WriteString("## Exceptions\n\n")
	b.WriteString(exceptions(&p.Exceptions))

	b.WriteString("## Mode\n\n")
	switch p.Mode {
	case playbook.ModeDryRun:
		b.WriteString("dry-run: Firebreak reports what it would do and changes nothing.\n\n")
	case playbook.ModeApprove:
		b.WriteString("approve: every step waits for a responder's approval.\n\n")
	default:
		b.WriteString("enforce: steps run as soon as the event arrives, except those that require approval.\n\n")
	}

	b.WriteString("## Steps\n\n")
	sample := sampleTarget(p.Target)
	for i, s := range p.Steps {
		spec, _ := cat.Lookup(s.Action)
		fmt.Fprintf(&b, "### %d. %s\n\n", i+1, stepTitle(s))
		if spec != nil && spec.Summary != "" {
			fmt.Fprintf(&b, "%s\n\n", spec.Summary)
		}
		if s.If != nil {
			fmt.Fprintf(&b, "Only if: `%s`\n\n", s.If.Source)
		}
		if s.Approval || p.Mode == playbook.ModeApprove {
			b.WriteString("**Needs approval** before it runs.\n\n")
		}
		if s.ContinueOnError {
			b.WriteString("The playbook continues if this step fails.\n\n")
		}
		if spec != nil && spec.Destructive {
			b.WriteString("**Destructive**: this cannot be undone.\n\n")
		}
		if len(s.With) > 0 {
			b.WriteString("Parameters:\n\n")
			for _, k := range sortedKeys(s.With) {
				fmt.Fprintf(&b, "- `%s`: `%s`\n", k, formatValue(s.With[k]))
			}
			b.WriteString("\n")
		}
		if spec != nil && spec.Manual != "" {
			fmt.Fprintf(&b, "By hand:\n\n```sh\n%s\n```\n\n", render(spec.Manual, sample, s.With))
		}
	}

	b.WriteString("## Undo\n\nIn reverse order:\n\n")
	undone := 0
	for i := len(p.Steps) - 1; i >= 0; i-- {
		s := p.Steps[i]
		spec, _ := cat.Lookup(s.Action)
		switch {
		case spec == nil:
			continue
		case spec.ManualUndo != "":
			undone++
			fmt.Fprintf(&b, "%d. Undo step %d (%s):\n\n   ```sh\n%s\n   ```\n\n", undone, i+1, stepTitle(s),
				indentLines(render(spec.ManualUndo, sample, s.With), "   "))
		case spec.Destructive:
			undone++
			fmt.Fprintf(&b, "%d. Step %d (%s) cannot be undone.\n\n", undone, i+1, stepTitle(s))
		}
	}
	if undone == 0 {
		b.WriteString("Nothing to undo.\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func stepTitle(s *playbook.Step) string {
	if s.Name != "" && s.Name != s.Action {
		return fmt.Sprintf("%s (`%s`)", s.Name, s.Action)
	}
	return "`" + s.Action + "`"
}

func exceptions(e *playbook.Exceptions) string {
	var lines []string
	for _, k := range sortedKeys(e.Tags) {
		lines = append(lines, fmt.Sprintf("- resources tagged `%s` with a value matching `%s`", k, e.Tags[k]))
	}
	for _, a := range e.Accounts {
		lines = append(lines, fmt.Sprintf("- account `%s`", a))
	}
	for _, r := range e.Resources {
		lines = append(lines, fmt.Sprintf("- resource `%s`", r))
	}
	if e.HonourExceptionTag {
		lines = append(lines, fmt.Sprintf("- resources tagged `%s` (until `%s`, when that is set)", playbook.ExceptionTag, playbook.ExceptionUntilTag))
	}
	lines = append(lines, "- entries in the exceptions file naming this playbook")
	return "Left alone:\n\n" + strings.Join(lines, "\n") + "\n\n"
}

// templateData is what Manual and ManualUndo templates see.
type templateData struct {
	ID, ARN, Account, Region string
	with                     map[string]any
}

// Param returns a parameter's value as command-line text, or a placeholder.
func (d templateData) Param(name string) string {
	if v, ok := d.with[name]; ok {
		return formatValue(v)
	}
	return "<" + strings.ReplaceAll(name, "_", "-") + ">"
}

func render(tmpl string, target templateData, with map[string]any) string {
	t, err := template.New("manual").Option("missingkey=zero").Parse(tmpl)
	if err != nil {
		return tmpl
	}
	target.with = with
	var buf bytes.Buffer
	if err := t.Execute(&buf, target); err != nil {
		return tmpl
	}
	return strings.TrimRight(buf.String(), "\n")
}

var placeholders = map[event.Kind]string{
	event.KindInstance:       "<instance-id>",
	event.KindIAMUser:        "<user-name>",
	event.KindIAMRole:        "<role-name>",
	event.KindAccessKey:      "<access-key-id>",
	event.KindS3Bucket:       "<bucket-name>",
	event.KindSecurityGroup:  "<security-group-id>",
	event.KindIP:             "<ip-address>",
	event.KindTrail:          "<trail-name>",
	event.KindEKSCluster:     "<cluster-name>",
	event.KindLambdaFunction: "<function-name>",
	event.KindRDSInstance:    "<db-instance-id>",
	event.KindAccount:        "<account-id>",
}

func sampleTarget(k event.Kind) templateData {
	id, ok := placeholders[k]
	if !ok {
		id = "<" + string(k) + "-id>"
	}
	return templateData{ID: id, ARN: "<" + string(k) + "-arn>", Account: "<account-id>", Region: "<region>"}
}

func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		return strings.Join(x, ",")
	case map[string]string:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			parts = append(parts, k+"="+x[k])
		}
		return strings.Join(parts, ",")
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

func indentJSON(js []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, js, "", "  "); err != nil {
		return string(js)
	}
	return buf.String()
}

func indentLines(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var sourceNames = map[string]string{
	"aws.guardduty":   "GuardDuty findings",
	"aws.securityhub": "Security Hub findings",
	"aws.health":      "AWS Health events",
	"aws.cloudwatch":  "CloudWatch alarm state changes",
	"aws.config":      "AWS Config events",
}

// Trigger describes an event pattern in words, e.g. "GuardDuty findings whose type starts
// with Backdoor:EC2/ and severity ≥ 7". ok is false when some part has no wording; the
// caller shows the pattern itself then.
func Trigger(patternJSON []byte) (string, bool) {
	var pat map[string]any
	dec := json.NewDecoder(bytes.NewReader(patternJSON))
	dec.UseNumber()
	if err := dec.Decode(&pat); err != nil {
		return "", false
	}
	subject := "Events"
	if srcs, ok := exactStrings(pat["source"]); ok {
		names := make([]string, len(srcs))
		for i, s := range srcs {
			if n, ok := sourceNames[s]; ok {
				names[i] = n
			} else {
				names[i] = "events from " + s
			}
		}
		subject = strings.Join(names, " or ")
		delete(pat, "source")
	}
	if dts, ok := exactStrings(pat["detail-type"]); ok {
		if len(dts) == 1 && dts[0] == "AWS API Call via CloudTrail" {
			subject = "CloudTrail API calls"
		} else if !(len(dts) == 1 && strings.HasSuffix(subject, "findings") && strings.HasSuffix(dts[0], "Finding")) {
			subject += fmt.Sprintf(" (detail-type %s)", strings.Join(dts, " or "))
		}
		delete(pat, "detail-type")
	}
	var clauses []string
	ok := describe(pat, nil, &clauses)
	if len(clauses) == 0 {
		return subject, ok
	}
	return subject + " whose " + strings.Join(clauses, " and "), ok
}

func exactStrings(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, false
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// describe walks the pattern, appending one clause per leaf field. The field is named by
// its last path element unless that is ambiguous with "detail" dropped.
func describe(m map[string]any, path []string, clauses *[]string) bool {
	ok := true
	for _, k := range sortedKeys(m) {
		p := append(slices.Clone(path), k)
		switch v := m[k].(type) {
		case map[string]any:
			if k == "$or" {
				return false
			}
			ok = describe(v, p, clauses) && ok
		case []any:
			c, good := leaf(fieldName(p), v)
			if !good {
				ok = false
				continue
			}
			*clauses = append(*clauses, c)
		default:
			ok = false
		}
	}
	return ok
}

func fieldName(path []string) string {
	if len(path) > 1 && path[0] == "detail" {
		path = path[1:]
	}
	return strings.Join(path, ".")
}

func leaf(field string, values []any) (string, bool) {
	var alts []string
	for _, v := range values {
		switch x := v.(type) {
		case string:
			alts = append(alts, "is "+x)
		case json.Number:
			alts = append(alts, "is "+x.String())
		case bool:
			alts = append(alts, fmt.Sprintf("is %t", x))
		case nil:
			alts = append(alts, "is null")
		case map[string]any:
			c, ok := operator(x)
			if !ok {
				return "", false
			}
			alts = append(alts, c)
		default:
			return "", false
		}
	}
	return field + " " + strings.Join(alts, " or "), true
}

var numericOps = map[string]string{"=": "=", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}

func operator(m map[string]any) (string, bool) {
	if len(m) != 1 {
		return "", false
	}
	for op, arg := range m {
		switch op {
		case "prefix", "suffix", "wildcard", "equals-ignore-case", "cidr":
			s, ok := arg.(string)
			if !ok {
				return "", false
			}
			return map[string]string{"prefix": "starts with ", "suffix": "ends with ", "wildcard": "matches ",
				"equals-ignore-case": "equals (ignoring case) ", "cidr": "is in "}[op] + s, true
		case "exists":
			if b, ok := arg.(bool); ok {
				if b {
					return "is present", true
				}
				return "is absent", true
			}
		case "anything-but":
			switch a := arg.(type) {
			case string:
				return "is not " + a, true
			case []any:
				if s, ok := exactStrings(a); ok {
					return "is none of " + strings.Join(s, ", "), true
				}
			}
		case "numeric":
			a, ok := arg.([]any)
			if !ok || len(a)%2 != 0 {
				return "", false
			}
			var parts []string
			for i := 0; i < len(a); i += 2 {
				o, _ := a[i].(string)
				sym, ok := numericOps[o]
				n, isNum := a[i+1].(json.Number)
				if !ok || !isNum {
					return "", false
				}
				parts = append(parts, sym+" "+n.String())
			}
			return strings.Join(parts, " and "), true
		}
	}
	return "", false
}
