package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/playbook"
)

const (
	examplesDir  = "../../examples/events"
	playbooksDir = "../../playbooks"
	// perFile is how many generated playbooks share one YAML file, as teams keep related
	// playbooks together in multi-document files.
	perFile = 50
)

// library writes the starter playbooks and n-10 generated variants into a temporary
// directory and loads it with playbook.LoadDir, the way the CLI loads a library. The
// variants are what a large organisation accumulates: per-team and per-account copies of
// the starter playbooks with other finding types, controls, API calls and conditions, and
// playbooks for detectors the starter library does not cover. Most of them cannot match
// most events.
func library(tb testing.TB, n int, seed uint64) *playbook.Set {
	tb.Helper()
	dir, err := os.MkdirTemp("", "firebreak-bench-playbooks-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(dir)

	starters, err := filepath.Glob(filepath.Join(playbooksDir, "*.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	copied := 0
	for _, f := range starters {
		if strings.HasSuffix(f, "_test.yaml") {
			// Test suites name event files relative to the library; they are not deciding.
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			tb.Fatal(err)
		}
		copied++
	}
	if copied > n {
		tb.Fatalf("the starter library has %d playbooks, more than the %d asked for", copied, n)
	}

	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	var file strings.Builder
	flush := func(i int) {
		if file.Len() == 0 {
			return
		}
		name := filepath.Join(dir, fmt.Sprintf("generated-%04d.yaml", i/perFile))
		if err := os.WriteFile(name, []byte(file.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		file.Reset()
	}
	for i := range n - copied {
		if i%perFile == 0 {
			flush(i - 1)
		} else {
			file.WriteString("---\n")
		}
		file.WriteString(variant(rng, i))
	}
	flush(n - copied - 1)

	set, err := playbook.LoadDir(dir, catalog.Default())
	if err != nil {
		tb.Fatal(err)
	}
	if len(set.Playbooks) != n {
		tb.Fatalf("loaded %d playbooks, want %d", len(set.Playbooks), n)
	}
	return set
}

// variant returns one generated playbook as YAML.
func variant(rng *rand.Rand, i int) string {
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	some := func(s []string, most int) []string {
		k := 1 + rng.IntN(most)
		out := make([]string, 0, k)
		for range k {
			if v := pick(s); !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		return out
	}
	accounts := func() []string { return some(Accounts, 5) }

	var (
		family string
		on     = map[string]any{}
		detail = map[string]any{}
		target = "account"
		when   string
		steps  = []string{"- action: notify\n  with: {to: [security-team]}"}
	)
	switch r := rng.IntN(100); {
	case r < 25:
		family = "guardduty"
		on["source"] = []any{"aws.guardduty"}
		on["detail-type"] = []any{"GuardDuty Finding"}
		typ := pick(GuardDutyTypes)
		if rng.IntN(2) == 0 {
			// A whole purpose and resource, like the starter library's Backdoor:EC2/.
			detail["type"] = []any{map[string]any{"prefix": typ[:strings.IndexByte(typ, '/')+1]}}
		} else {
			var ts []any
			for _, t := range some(GuardDutyTypes, 3) {
				ts = append(ts, t)
			}
			detail["type"] = ts
		}
		detail["severity"] = []any{map[string]any{"numeric": []any{">=", []int{2, 4, 5, 7, 8}[rng.IntN(5)]}}}
		if rng.IntN(2) == 0 {
			detail["service"] = map[string]any{"archived": []any{false}}
		}
		switch {
		case strings.Contains(typ, ":EC2/") || strings.Contains(typ, ":Runtime/"):
			target = "instance"
			steps = append([]string{"- action: ec2.snapshot-volumes", "- action: ec2.isolate"}, steps...)
		case strings.Contains(typ, ":IAMUser/"):
			target = "iam-user"
		}
	case r < 45:
		family = "securityhub"
		on["source"] = []any{"aws.securityhub"}
		on["detail-type"] = []any{"Security Hub Findings - Imported"}
		c := SecurityHubControls[rng.IntN(len(SecurityHubControls))]
		f := map[string]any{
			"GeneratorId": []any{map[string]any{"suffix": "/" + c.Control}},
			"Compliance":  map[string]any{"Status": []any{"FAILED"}},
			"RecordState": []any{"ACTIVE"},
		}
		if rng.IntN(2) == 0 {
			f["Workflow"] = map[string]any{"Status": []any{"NEW"}}
		}
		if rng.IntN(3) == 0 {
			f["Severity"] = map[string]any{"Label": []any{"HIGH", "CRITICAL"}}
		}
		detail["findings"] = f
		target = map[string]string{"AwsEc2SecurityGroup": "security-group", "AwsS3Bucket": "s3-bucket",
			"AwsIamUser": "iam-user", "AwsEc2Instance": "instance", "AwsLambdaFunction": "lambda-function",
			"AwsEksCluster": "eks-cluster", "AwsRdsDbInstance": "rds-instance", "AwsCloudTrailTrail": "trail"}[c.ResourceType]
		if target == "" {
			target = "account"
		}
	case r < 70:
		family = "cloudtrail"
		svc := pick(cloudTrailServices)
		if rng.IntN(60) == 0 {
			// Like root-account-usage: any service's calls, so no source to key on.
			on["detail-type"] = []any{"AWS API Call via CloudTrail"}
		} else {
			on["source"] = []any{"aws." + strings.TrimSuffix(svc, ".amazonaws.com")}
			on["detail-type"] = []any{"AWS API Call via CloudTrail"}
		}
		var names []any
		for _, n := range some(CloudTrailCalls[svc], 4) {
			names = append(names, n)
		}
		detail["eventSource"] = []any{svc}
		detail["eventName"] = names
		if rng.IntN(2) == 0 {
			detail["errorCode"] = []any{map[string]any{"exists": false}}
		}
		if rng.IntN(4) == 0 {
			detail["userIdentity"] = map[string]any{"type": []any{pick([]string{"Root", "IAMUser", "AssumedRole"})}}
		}
		if rng.IntN(3) == 0 {
			target = "iam-user"
		}
	case r < 78:
		family = "health"
		h := HealthEventTypes[rng.IntN(len(HealthEventTypes))]
		on["source"] = []any{"aws.health"}
		if h.Service == "ABUSE" {
			on["detail-type"] = []any{"AWS Health Abuse Event"}
		} else {
			on["detail-type"] = []any{"AWS Health Event"}
		}
		detail["service"] = []any{h.Service}
		if rng.IntN(2) == 0 {
			detail["eventTypeCode"] = []any{h.Code}
		} else {
			detail["eventTypeCode"] = []any{map[string]any{"prefix": "AWS_" + h.Service + "_"}}
		}
		target = "instance"
	case r < 83:
		family = "alarm"
		on["source"] = []any{"aws.cloudwatch"}
		on["detail-type"] = []any{"CloudWatch Alarm State Change"}
		detail["alarmName"] = []any{map[string]any{"prefix": pick([]string{"high-cpu", "5xx-rate", "root-login", "unauthorized-api-calls", "billing-spike", "disk-full"})}}
		detail["state"] = map[string]any{"value": []any{"ALARM"}}
	case r < 95:
		family = "custom"
		cs := CustomSources[rng.IntN(len(CustomSources))]
		src, dt := cs.Source, pick(cs.DetailTypes)
		if rng.IntN(2) == 0 {
			// Team-owned detectors this corpus never hears from.
			src = fmt.Sprintf("com.example.team-%02d", rng.IntN(60))
		}
		on["source"] = []any{src}
		on["detail-type"] = []any{dt}
		detail["severity"] = []any{map[string]any{"numeric": []any{">=", rng.IntN(9)}}}
	default:
		family = "service"
		s := pick([]string{"aws.inspector2|Inspector2 Finding", "aws.macie|Macie Finding",
			"aws.config|Config Rules Compliance Change", "aws.access-analyzer|Access Analyzer Finding",
			"aws.ecr|ECR Image Scan", "aws.detective|Detective Finding"})
		src, dt, _ := strings.Cut(s, "|")
		on["source"] = []any{src}
		on["detail-type"] = []any{dt}
		detail["severity"] = []any{map[string]any{"anything-but": []any{"LOW", "INFORMATIONAL"}}}
	}
	on["detail"] = detail
	if rng.IntN(4) == 0 {
		// A team's own accounts.
		var as []any
		for _, a := range accounts() {
			as = append(as, a)
		}
		on["account"] = as
	}
	if rng.IntN(10) < 3 {
		when = pick([]string{
			`resource.tags["Environment"] == "prod"`,
			`resource.tags["Environment"] != "sandbox"`,
			`event.severity >= 7.0`,
			`event.region.startsWith("eu-")`,
			fmt.Sprintf(`event.account in [%q, %q]`, pick(Accounts), pick(Accounts)),
			`!(resource.tags["Owner"] in ["team-00", "team-01"])`,
		})
	}
	mode := pick([]string{"enforce", "enforce", "dry-run", "approve"})

	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: firebreak/v1\nkind: Playbook\nmetadata:\n  name: %s-%04d\n", family, i)
	fmt.Fprintf(&b, "  description: Generated %s playbook %d.\n  labels: {team: team-%02d}\n", family, i, rng.IntN(40))
	b.WriteString("spec:\n  on:\n")
	writeYAML(&b, on, "    ")
	if when != "" {
		fmt.Fprintf(&b, "  when: %s\n", quote(when))
	}
	fmt.Fprintf(&b, "  target: %s\n  exceptions:\n    tags: {\"firebreak:exception\": \"*\"}\n  mode: %s\n  steps:\n", target, mode)
	for _, s := range steps {
		b.WriteString("    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n")
	}
	return b.String()
}

// writeYAML writes a pattern as block YAML, the way people write them: objects as
// indented blocks, value lists in flow style with double-quoted strings.
func writeYAML(b *strings.Builder, m map[string]any, indent string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch v := m[k].(type) {
		case map[string]any:
			fmt.Fprintf(b, "%s%s:\n", indent, k)
			writeYAML(b, v, indent+"  ")
		default:
			// JSON is valid YAML flow syntax, quoting included.
			data, err := json.Marshal(v)
			if err != nil {
				panic(err)
			}
			fmt.Fprintf(b, "%s%s: %s\n", indent, k, data)
		}
	}
}

func quote(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}
