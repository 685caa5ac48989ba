package pattern

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// edgeCases pin down behaviour the user guide implies but does not show.
var edgeCases = []matchCase{
	// EventBridge compares exact numbers by their text (the guide: "300, 300.0,
	// and 3.0e2 are not considered equal"), so [5] does not match 5.0; numeric
	// equality is what {"numeric": ["=", 5]} is for.
	{"numbers/exact-5-vs-5.0", `{"n":[5]}`, `{"n":5.0}`, false},
	{"numbers/numeric-equals-5-vs-5.0", `{"n":[{"numeric":["=",5]}]}`, `{"n":5.0}`, true},
	{"numbers/numeric-equals-3-vs-3e0", `{"n":[{"numeric":["=",3]}]}`, `{"n":3e0}`, true},
	{"numbers/string-does-not-match-number", `{"n":["5"]}`, `{"n":5}`, false},
	{"numbers/number-does-not-match-string", `{"n":[5]}`, `{"n":"5"}`, false},
	{"numbers/large-account-id-exact", `{"account":[111122223333]}`, `{"account":111122223333}`, true},
	{"numbers/negative-range", `{"n":[{"numeric":[">=",-5e9,"<",0]}]}`, `{"n":-12.5}`, true},
	{"booleans/true", `{"b":[true]}`, `{"b":true}`, true},
	{"booleans/true-vs-string", `{"b":[true]}`, `{"b":"true"}`, false},
	{"booleans/false", `{"b":[false]}`, `{"b":false}`, true},
	{"arrays/nested-objects", `{"detail":{"findings":{"Resources":{"Type":["AwsEc2Instance"]}}}}`,
		`{"detail":{"findings":[{"Resources":[{"Type":"AwsS3Bucket"}]},{"Resources":[{"Type":"AwsIamRole"},{"Type":"AwsEc2Instance"}]}]}}`, true},
	{"arrays/nested-objects/none", `{"detail":{"findings":{"Resources":{"Type":["AwsEc2Instance"]}}}}`,
		`{"detail":{"findings":[{"Resources":[{"Type":"AwsS3Bucket"}]}]}}`, false},
	{"arrays/flattened-fields-independent", `{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}`,
		`{"employees":[{"firstName":"Anna","lastName":"Smith"},{"firstName":"Peter","lastName":"Jones"}]}`, true},
	{"arrays/array-of-arrays", `{"v":["x"]}`, `{"v":[["a"],["b",["x"]]]}`, true},
	{"arrays/anything-but-any-element", `{"v":[{"anything-but":"a"}]}`, `{"v":["a","b"]}`, true},
	{"arrays/anything-but-all-excluded", `{"v":[{"anything-but":"a"}]}`, `{"v":["a","a"]}`, false},
	{"arrays/anything-but-empty-array", `{"v":[{"anything-but":"a"}]}`, `{"v":[]}`, false},
	{"anything-but/string-vs-number-value", `{"v":[{"anything-but":"5"}]}`, `{"v":5}`, true},
	{"anything-but/number-numeric-equality", `{"v":[{"anything-but":[100]}]}`, `{"v":100.0}`, false},
	{"anything-but/null-value", `{"v":[{"anything-but":"x"}]}`, `{"v":null}`, true},
	{"anything-but/prefix-list", `{"v":[{"anything-but":{"prefix":["init","error"]}}]}`, `{"v":"error-7"}`, false},
	{"anything-but/suffix-list", `{"v":[{"anything-but":{"suffix":["1234","6789"]}}]}`, `{"v":"i-6789"}`, false},
	{"anything-but/wildcard-list", `{"v":[{"anything-but":{"wildcard":["*/bin/*.jar","*/bin/*.class"]}}]}`, `{"v":"/opt/bin/a.class"}`, false},
	{"exists/null-value-exists", `{"v":[{"exists":true}]}`, `{"v":null}`, true},
	{"exists/empty-array-does-not-exist", `{"v":[{"exists":false}]}`, `{"v":[]}`, true},
	{"exists/array-of-objects-not-leaf", `{"v":[{"exists":true}]}`, `{"v":[{"a":1}]}`, false},
	{"exists/false-or-value", `{"v":[{"exists":false},"x"]}`, `{"v":"x"}`, true},
	{"exists/false-under-missing-parent", `{"a":{"b":[{"exists":false}]}}`, `{}`, true},
	{"exists/false-under-string-parent", `{"a":{"b":[{"exists":false}]}}`, `{"a":"s"}`, true},
	{"exact/object-value-is-not-leaf", `{"detail":["x"]}`, `{"detail":{"x":1}}`, false},
	{"prefix/unicode-ignore-case", `{"v":[{"prefix":{"equals-ignore-case":"ÉCOLE"}}]}`, `{"v":"école-1"}`, true},
	{"suffix/unicode-ignore-case", `{"v":[{"suffix":{"equals-ignore-case":"straße"}}]}`, `{"v":"HAUPTSTRAßE"}`, true},
	{"cidr/ipv4-mapped-event", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"::ffff:10.1.2.3"}`, true},
	{"cidr/not-an-ip", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"ten"}`, false},
	{"cidr/ipv4-vs-ipv6-prefix", `{"ip":[{"cidr":"2001:db8::/32"}]}`, `{"ip":"10.0.0.1"}`, false},
	{"wildcard/star-only", `{"v":[{"wildcard":"*"}]}`, `{"v":""}`, true},
	{"wildcard/overlapping-pieces", `{"v":[{"wildcard":"a*ab*b"}]}`, `{"v":"aab"}`, false},
	{"wildcard/repeated-piece", `{"v":[{"wildcard":"*ab*ab*"}]}`, `{"v":"xabyab"}`, true},
	{"wildcard/numbers-not-matched", `{"v":[{"wildcard":"1*"}]}`, `{"v":12}`, false},
	{"or/nested", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","spaceId":1000}`, true},
	{"or/nested/inner-fails", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","spaceId":1001}`, false},
	{"or/parallel", `{"$or":[{"a":["1"]},{"b":["2"]}],"detail":{"$or":[{"c":["3"]},{"d":["4"]}]}}`, `{"b":"2","detail":{"c":"3"}}`, true},
	{"or/parallel/second-fails", `{"$or":[{"a":["1"]},{"b":["2"]}],"detail":{"$or":[{"c":["3"]},{"d":["4"]}]}}`, `{"b":"2","detail":{"e":"3"}}`, false},
	{"or/object-is-a-field-name", `{"$or":{"a":["1"]}}`, `{"$or":{"a":"1"}}`, true},
}

func TestPatternEdgeCases(t *testing.T) {
	for _, tc := range edgeCases {
		t.Run(tc.name, func(t *testing.T) { runMatchCase(t, tc) })
	}
}

func TestPatternInvalid(t *testing.T) {
	cases := []struct {
		name    string
		pattern string
		path    []string
		msg     string // substring of Error()
	}{
		{"not-json", `{"a":`, nil, "not valid JSON"},
		{"trailing-data", `{"a":["x"]} {}`, nil, "not valid JSON"},
		{"not-object", `["a"]`, nil, "must be a JSON object"},
		{"empty-pattern", `{}`, nil, "empty objects"},
		{"empty-nested-object", `{"detail":{}}`, []string{"detail"}, "detail: empty objects are not allowed"},
		{"leaf-not-array", `{"source":"aws.ec2"}`, []string{"source"}, `source: must be an array of values or an object of fields, got "aws.ec2"`},
		{"leaf-number", `{"detail":{"n":5}}`, []string{"detail", "n"}, "detail.n: must be an array"},
		{"empty-array", `{"source":[]}`, []string{"source"}, "empty arrays are not allowed"},
		{"nested-array", `{"source":[["a"]]}`, []string{"source", "0"}, "source[0]: nested arrays"},
		{"unknown-operator", `{"a":[{"contains":"x"}]}`, []string{"a", "0", "contains"}, "a[0]: contains: unknown operator"},
		{"two-keys", `{"a":[{"prefix":"x","suffix":"y"}]}`, []string{"a", "0"}, "exactly one key, got 2: prefix, suffix"},
		{"empty-operator", `{"a":[{}]}`, []string{"a", "0"}, "empty operator object"},
		{"numeric-string-value", `{"detail":{"severity":[{"numeric":[">=","7"]}]}}`, []string{"detail", "severity", "0", "numeric"}, `detail.severity[0]: numeric: expected a number after ">=", got "7"`},
		{"numeric-not-array", `{"a":[{"numeric":5}]}`, []string{"a", "0", "numeric"}, "expected an array"},
		{"numeric-empty", `{"a":[{"numeric":[]}]}`, []string{"a", "0", "numeric"}, "expected an operator and a number"},
		{"numeric-unknown-op", `{"a":[{"numeric":["!=",5]}]}`, []string{"a", "0", "numeric"}, `unknown operator "!="`},
		{"numeric-missing-number", `{"a":[{"numeric":[">"]}]}`, []string{"a", "0", "numeric"}, `expected a number after ">"`},
		{"numeric-upper-first", `{"a":[{"numeric":["<",5,">",1]}]}`, []string{"a", "0", "numeric"}, "write the lower bound"},
		{"numeric-two-lower", `{"a":[{"numeric":[">",1,">=",2]}]}`, []string{"a", "0", "numeric"}, "cannot follow"},
		{"numeric-equals-extra", `{"a":[{"numeric":["=",1,"<",2]}]}`, []string{"a", "0", "numeric"}, `"=" takes exactly one number`},
		{"numeric-empty-range", `{"a":[{"numeric":[">",5,"<",5]}]}`, []string{"a", "0", "numeric"}, "lower bound must be less than"},
		{"numeric-too-many", `{"a":[{"numeric":[">",1,"<",5,"<",6]}]}`, []string{"a", "0", "numeric"}, "too many terms"},
		{"numeric-too-large", `{"a":[{"numeric":["<",5.1e9]}]}`, []string{"a", "0", "numeric"}, "out of range"},
		{"numeric-too-precise", `{"a":[{"numeric":["<",0.0000001]}]}`, []string{"a", "0", "numeric"}, "more than 6 digits after the decimal point"},
		{"anything-but-mixed", `{"a":[{"anything-but":["x",1]}]}`, []string{"a", "0", "anything-but", "1"}, "mixes strings and numbers"},
		{"anything-but-bool", `{"a":[{"anything-but":true}]}`, []string{"a", "0", "anything-but"}, "expected a string, a number"},
		{"anything-but-null-in-list", `{"a":[{"anything-but":["x",null]}]}`, []string{"a", "0", "anything-but", "1"}, "expected a string or a number, got null"},
		{"anything-but-empty-list", `{"a":[{"anything-but":[]}]}`, []string{"a", "0", "anything-but"}, "empty arrays"},
		{"anything-but-unknown-op", `{"a":[{"anything-but":{"numeric":[">",1]}}]}`, []string{"a", "0", "anything-but", "numeric"}, "unsupported operator"},
		{"anything-but-prefix-number", `{"a":[{"anything-but":{"prefix":5}}]}`, []string{"a", "0", "anything-but", "prefix"}, "expected a string or a list of strings"},
		{"anything-but-wildcard-bad", `{"a":[{"anything-but":{"wildcard":["ok*","a**b"]}}]}`, []string{"a", "0", "anything-but", "wildcard", "1"}, "consecutive wildcard"},
		{"prefix-number", `{"a":[{"prefix":5}]}`, []string{"a", "0", "prefix"}, "expected a string"},
		{"prefix-unknown-inner", `{"a":[{"prefix":{"wildcard":"x"}}]}`, []string{"a", "0", "prefix"}, "only equals-ignore-case"},
		{"suffix-fold-number", `{"a":[{"suffix":{"equals-ignore-case":1}}]}`, []string{"a", "0", "suffix", "equals-ignore-case"}, "expected a string"},
		{"equals-ignore-case-number", `{"a":[{"equals-ignore-case":1}]}`, []string{"a", "0", "equals-ignore-case"}, "expected a string"},
		{"wildcard-consecutive", `{"a":[{"wildcard":"a**b"}]}`, []string{"a", "0", "wildcard"}, "consecutive wildcard characters"},
		{"wildcard-bad-escape", `{"a":[{"wildcard":"a\\b"}]}`, []string{"a", "0", "wildcard"}, "invalid escape"},
		{"wildcard-trailing-backslash", `{"a":[{"wildcard":"a\\"}]}`, []string{"a", "0", "wildcard"}, "invalid escape"},
		{"exists-string", `{"a":[{"exists":"true"}]}`, []string{"a", "0", "exists"}, `expected true or false, got "true"`},
		{"cidr-invalid", `{"a":[{"cidr":"10.0.0.0"}]}`, []string{"a", "0", "cidr"}, "invalid CIDR block"},
		{"cidr-bad-length", `{"a":[{"cidr":"10.0.0.0/33"}]}`, []string{"a", "0", "cidr"}, "invalid CIDR block"},
		{"or-one-branch", `{"$or":[{"a":["1"]}]}`, []string{"$or"}, "at least 2 objects"},
		{"or-not-object", `{"$or":[{"a":["1"]},"b"]}`, []string{"$or", "1"}, "$or[1]: must be an object"},
		{"or-branch-error", `{"detail":{"$or":[{"a":["1"]},{"b":[{"exists":1}]}]}}`, []string{"detail", "$or", "1", "b", "0", "exists"}, "detail.$or[1].b[0]: exists: expected true or false"},
		{"or-too-many-combinations", orBomb(), nil, "more than 1000 rule combinations"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile([]byte(tc.pattern))
			if err == nil {
				t.Fatalf("Compile(%s) = %v, want error", tc.pattern, p)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %T is not *Error", err)
			}
			if tc.path != nil && !reflect.DeepEqual(perr.Path, tc.path) {
				t.Errorf("Path = %q, want %q", perr.Path, tc.path)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Error() = %q, want it to contain %q", err.Error(), tc.msg)
			}
		})
	}
}

// orBomb has 11 × 11 × 11 = 1331 combinations.
func orBomb() string {
	var b strings.Builder
	b.WriteString("{")
	for g := 0; g < 3; g++ {
		if g > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"f` + string(rune('a'+g)) + `":{"$or":[`)
		for i := 0; i < 11; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"x` + string(rune('a'+i)) + `":["v"]}`)
		}
		b.WriteString("]}")
	}
	b.WriteString("}")
	return b.String()
}

func TestPatternValidAtLimits(t *testing.T) {
	for _, src := range []string{
		`{"a":[{"numeric":[">=",-5e9,"<=",5.0e9]}]}`,
		`{"a":[{"numeric":["=",0.000001]}]}`,
		`{"a":[{"numeric":["=",1.5e-5]}]}`,
		`{"a":[{"wildcard":"a*b*c\\**\\\\"}]}`,
		`{"a":[{"prefix":""}]}`,
		`{"$or":[{"a":["1"]},{"b":["2"]}],"c":{"$or":[{"d":["1"]},{"e":["2"]}]}}`,
	} {
		if _, err := Compile([]byte(src)); err != nil {
			t.Errorf("Compile(%s): %v", src, err)
		}
	}
}

func TestPatternExactValues(t *testing.T) {
	cases := []struct {
		name    string
		pattern string
		field   string
		want    []string
		ok      bool
	}{
		{"single", `{"source":["aws.guardduty"]}`, "source", []string{"aws.guardduty"}, true},
		{"several-sorted", `{"source":["aws.securityhub","aws.guardduty","aws.guardduty"]}`, "source", []string{"aws.guardduty", "aws.securityhub"}, true},
		{"detail-type", `{"source":["aws.guardduty"],"detail-type":["GuardDuty Finding"]}`, "detail-type", []string{"GuardDuty Finding"}, true},
		{"unconstrained", `{"detail-type":["GuardDuty Finding"]}`, "source", nil, false},
		{"prefix", `{"source":[{"prefix":"aws."}]}`, "source", nil, false},
		{"mixed-exact-and-prefix", `{"source":["aws.ec2",{"prefix":"custom."}]}`, "source", nil, false},
		{"number", `{"source":[5]}`, "source", nil, false},
		{"exists-false", `{"source":["aws.ec2",{"exists":false}]}`, "source", nil, false},
		{"nested-field-is-not-top-level", `{"detail":{"source":["x"]}}`, "source", nil, false},
		{"or-every-branch", `{"$or":[{"source":["aws.ec2"]},{"source":["aws.s3"],"region":["us-east-1"]}]}`, "source", []string{"aws.ec2", "aws.s3"}, true},
		{"or-one-branch-free", `{"$or":[{"source":["aws.ec2"]},{"region":["us-east-1"]}]}`, "source", nil, false},
		{"top-level-and-or", `{"source":["aws.ec2"],"$or":[{"a":["1"]},{"b":["2"]}]}`, "source", []string{"aws.ec2"}, true},
		{"or-nested-below-top", `{"detail":{"$or":[{"source":["x"]},{"source":["y"]}]}}`, "source", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile([]byte(tc.pattern))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.ExactValues(tc.field)
			if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ExactValues(%q) = %q, %v; want %q, %v", tc.field, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestPatternMatchJSON(t *testing.T) {
	cases := []struct {
		name           string
		pattern, event string
		want           bool
		wantErr        string
	}{
		{"match", `{"source":["aws.ec2"]}`, `{"source":"aws.ec2"}`, true, ""},
		{"no-match", `{"source":["aws.ec2"]}`, `{"source":"aws.s3"}`, false, ""},
		{"bad-pattern", `{"source":"aws.ec2"}`, `{}`, false, "source: must be an array"},
		{"bad-event", `{"source":["aws.ec2"]}`, `{"source":`, false, "event is not valid JSON"},
		{"event-not-object", `{"source":["aws.ec2"]}`, `[1]`, false, "event must be a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MatchJSON([]byte(tc.pattern), []byte(tc.event))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("MatchJSON = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestPatternNilSafe(t *testing.T) {
	var p *Pattern
	if p.Match(map[string]any{"a": "b"}) {
		t.Error("nil pattern matched")
	}
	if _, ok := p.ExactValues("source"); ok {
		t.Error("nil pattern has exact values")
	}
	q, err := Compile([]byte(`{"a":[{"exists":false}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !q.Match(nil) {
		t.Error("exists:false should match a nil event")
	}
}

const benchEvent = `{
 "version": "0", "id": "c8c4daa7-a20c-2f03-0070-b7393dd542ad", "detail-type": "GuardDuty Finding",
 "source": "aws.guardduty", "account": "111122223333", "time": "2024-01-01T12:00:00Z", "region": "us-east-1",
 "resources": [],
 "detail": {
  "schemaVersion": "2.0", "accountId": "111122223333", "region": "us-east-1", "partition": "aws",
  "id": "16afba5c5c43e07c9e3e5e2e544e95df", "arn": "arn:aws:guardduty:us-east-1:111122223333:detector/123/finding/16af",
  "type": "Backdoor:EC2/C&CActivity.B", "severity": 8, "title": "EC2 instance is querying a command and control server.",
  "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0abc", "instanceType": "m5.large",
    "tags": [{"key": "Environment", "value": "prod"}, {"key": "Owner", "value": "team-web"}],
    "networkInterfaces": [{"privateIpAddress": "10.0.0.12", "publicIp": "198.51.100.7",
      "securityGroups": [{"groupId": "sg-web", "groupName": "web"}]}]}},
  "service": {"serviceName": "guardduty", "action": {"actionType": "NETWORK_CONNECTION",
    "networkConnectionAction": {"remoteIpDetails": {"ipAddressV4": "203.0.113.9"}, "remotePortDetails": {"port": 443}}},
   "count": 4, "archived": false}
 }}`

const benchPattern = `{
 "source": ["aws.guardduty"],
 "detail-type": ["GuardDuty Finding"],
 "detail": {
  "type": [{"prefix": "Backdoor:EC2/"}],
  "severity": [{"numeric": [">=", 7]}]
 }}`

func BenchmarkMatchGuardDuty(b *testing.B) {
	p, err := Compile([]byte(benchPattern))
	if err != nil {
		b.Fatal(err)
	}
	ev := decodeEvent(b, benchEvent)
	if !p.Match(ev) {
		b.Fatal("benchmark pattern does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Match(ev)
	}
}

func BenchmarkMatchGuardDutyArrays(b *testing.B) {
	p, err := Compile([]byte(`{
	 "source": ["aws.guardduty"],
	 "detail": {
	  "resource": {"instanceDetails": {"tags": {"key": ["Environment"], "value": [{"anything-but": ["sandbox", "dev"]}]},
	   "networkInterfaces": {"securityGroups": {"groupId": [{"wildcard": "sg-*"}]}}}},
	  "service": {"action": {"networkConnectionAction": {"remoteIpDetails": {"ipAddressV4": [{"cidr": "203.0.113.0/24"}]}}}}
	 }}`))
	if err != nil {
		b.Fatal(err)
	}
	ev := decodeEvent(b, benchEvent)
	if !p.Match(ev) {
		b.Fatal("benchmark pattern does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Match(ev)
	}
}
