package pattern

import (
	"encoding/json"
	"strings"
	"testing"
)

// Events used by several examples of the EventBridge user guide.
const (
	docEC2Event = `{
  "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
  "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
  "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
  "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"}}`

	docAutoScalingEvent = `{
  "version": "0", "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
  "detail-type": "EC2 Instance Launch Successful", "source": "aws.autoscaling",
  "account": "123456789012", "time": "2015-11-11T21:31:47Z", "region": "us-east-1",
  "resources": [], "detail": {"eventVersion": "", "responseElements": null}}`

	docMacieEvent = `{
  "version": "0", "id": "0948ba87-d3b8-c6d4-f2da-732a1example", "detail-type": "Macie Finding",
  "source": "aws.macie", "account": "123456789012", "time": "2021-04-29T23:12:15Z", "region": "us-east-1",
  "resources": [],
  "detail": {"schemaVersion": "1.0", "id": "64b917aa-3843-014c-91d8-937ffexample",
    "type": "Policy:IAMUser/S3BucketEncryptionDisabled",
    "severity": {"score": 1, "description": "Low"}, "count": 2}}`

	docExistsEvent = `{
  "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
  "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
  "detail": {"instance-id": "i-abcd1111", "state": "pending"}}`

	docNoStateEvent = `{
  "detail-type": ["EC2 Instance State-change Notification"],
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
  "detail": {"c-count": {"c1": 100}}}`

	docComplexEvent = `{
  "time": "2017-10-02T18:43:48Z",
  "detail": {"state": "running", "c-count": 5, "d-count": 3, "x-limit": 301.8, "source-ip": "10.0.0.33"}}`
)

type matchCase struct {
	name    string
	pattern string
	event   string
	want    bool
}

// docCases come from the examples in the Amazon EventBridge user guide: the
// pages on event patterns ("event-patterns/..."), null values and empty
// strings, arrays, content filtering and the comparison-operator table.
var docCases = []matchCase{
	// Creating event patterns.
	{"event-patterns/create/ec2-terminated", `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["terminated"]}}`, docEC2Event, true},
	{"event-patterns/create/ec2-terminated/other-state", `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["terminated"]}}`, strings.Replace(docEC2Event, `"terminated"`, `"running"`, 1), false},
	{"event-patterns/create/all-fields-required", `{"source":["aws.ec2"],"detail":{"state":["terminated"],"missing":["x"]}}`, docEC2Event, false},
	{"event-patterns/create/same-nesting", `{"state":["terminated"]}`, docEC2Event, false},
	{"event-patterns/create/case-sensitive", `{"source":["AWS.EC2"]}`, docEC2Event, false},
	{"event-patterns/match-values/ec2-or-fargate/ec2", `{"source":["aws.ec2","aws.fargate"]}`, docEC2Event, true},
	{"event-patterns/match-values/ec2-or-fargate/fargate", `{"source":["aws.ec2","aws.fargate"]}`, `{"source":"aws.fargate"}`, true},
	{"event-patterns/match-values/ec2-or-fargate/other", `{"source":["aws.ec2","aws.fargate"]}`, `{"source":"aws.s3"}`, false},
	{"event-patterns/field-matching/response-elements-null", `{"source":["aws.autoscaling"],"detail-type":["EC2 Instance Launch Successful"],"detail":{"responseElements":[null]}}`, docAutoScalingEvent, true},
	{"event-patterns/value-matching/macie-score-and-count", `{"source":["aws.macie"],"detail-type":["Macie Finding"],"detail":{"severity":{"score":[1]},"count":[2]}}`, docMacieEvent, true},
	{"event-patterns/value-matching/macie-other-score", `{"source":["aws.macie"],"detail-type":["Macie Finding"],"detail":{"severity":{"score":[7]},"count":[2]}}`, docMacieEvent, false},
	{"event-patterns/numbers/300-is-not-300.0", `{"detail":{"price":[300]}}`, `{"detail":{"price":300.0}}`, false},
	{"event-patterns/numbers/300-is-not-3.0e2", `{"detail":{"price":[300]}}`, `{"detail":{"price":3.0e2}}`, false},
	{"event-patterns/numbers/300-is-300", `{"detail":{"price":[300]}}`, `{"detail":{"price":300}}`, true},

	// Matching null values and empty strings.
	{"null-values/empty-string", `{"detail":{"eventVersion":[""]}}`, docAutoScalingEvent, true},
	{"null-values/null", `{"detail":{"responseElements":[null]}}`, docAutoScalingEvent, true},
	{"null-values/empty-string-does-not-match-null", `{"detail":{"responseElements":[""]}}`, docAutoScalingEvent, false},
	{"null-values/null-does-not-match-empty-string", `{"detail":{"eventVersion":[null]}}`, docAutoScalingEvent, false},

	// Arrays in event patterns.
	{"arrays/intersection", `{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f","arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f","arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}`,
		`{"resources":["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate","arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`, true},
	{"arrays/no-intersection", `{"resources":["arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}`,
		`{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`, false},
	{"arrays/empty-event-array", `{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`, docAutoScalingEvent, false},

	// Content filtering: prefix.
	{"content-filtering/prefix-matching/time", `{"time":[{"prefix":"2017-10-02"}]}`, `{"time":"2017-10-02T18:43:48Z"}`, true},
	{"content-filtering/prefix-matching/time/other-day", `{"time":[{"prefix":"2017-10-02"}]}`, `{"time":"2017-10-03T18:43:48Z"}`, false},
	{"content-filtering/prefix-matching/strings-only", `{"count":[{"prefix":"1"}]}`, `{"count":12}`, false},
	{"content-filtering/prefix-matching/equals-ignore-case/EventB", `{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"service":"EventBridge"}`, true},
	{"content-filtering/prefix-matching/equals-ignore-case/EVENTB", `{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"service":"EVENTBRIDGE"}`, true},
	{"content-filtering/prefix-matching/equals-ignore-case/eventb", `{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"service":"eventbus"}`, true},
	{"content-filtering/prefix-matching/equals-ignore-case/other", `{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"service":"Lambda"}`, false},

	// Suffix.
	{"content-filtering/suffix-matching/png", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.png"}`, true},
	{"content-filtering/suffix-matching/jpg", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.jpg"}`, false},
	{"content-filtering/suffix-matching/case-sensitive", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.PNG"}`, false},
	{"content-filtering/suffix-matching/equals-ignore-case/PNG", `{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}`, `{"FileName":"image.PNG"}`, true},
	{"content-filtering/suffix-matching/equals-ignore-case/Png", `{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}`, `{"FileName":"image.Png"}`, true},
	{"content-filtering/suffix-matching/equals-ignore-case/gif", `{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}`, `{"FileName":"image.gif"}`, false},

	// Anything-but.
	{"content-filtering/anything-but/string/other", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, `{"detail":{"state":"running"}}`, true},
	{"content-filtering/anything-but/string/same", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, `{"detail":{"state":"initializing"}}`, false},
	{"content-filtering/anything-but/string/missing-field", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, `{"detail":{}}`, false},
	{"content-filtering/anything-but/number/other", `{"detail":{"x-limit":[{"anything-but":123}]}}`, `{"detail":{"x-limit":124}}`, true},
	{"content-filtering/anything-but/number/same", `{"detail":{"x-limit":[{"anything-but":123}]}}`, `{"detail":{"x-limit":123}}`, false},
	{"content-filtering/anything-but/string-list/other", `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, `{"detail":{"state":"running"}}`, true},
	{"content-filtering/anything-but/string-list/listed", `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, `{"detail":{"state":"overloaded"}}`, false},
	{"content-filtering/anything-but/number-list/other", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, `{"detail":{"x-limit":301.8}}`, true},
	{"content-filtering/anything-but/number-list/listed", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, `{"detail":{"x-limit":200}}`, false},
	{"content-filtering/anything-but/prefix/other", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, `{"detail":{"state":"running"}}`, true},
	{"content-filtering/anything-but/prefix/prefixed", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, `{"detail":{"state":"initializing"}}`, false},
	{"content-filtering/anything-but/suffix/other", `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, `{"FileName":"notes.txt"}`, true},
	{"content-filtering/anything-but/suffix/suffixed", `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, `{"FileName":"image.png"}`, false},
	{"content-filtering/anything-but/equals-ignore-case/other", `{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}`, `{"state":"running"}`, true},
	{"content-filtering/anything-but/equals-ignore-case/upper", `{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}`, `{"state":"INITIALIZING"}`, false},
	{"content-filtering/anything-but/equals-ignore-case-list/listed", `{"state":[{"anything-but":{"equals-ignore-case":["Stopped","OverLoaded"]}}]}`, `{"state":"overloaded"}`, false},
	{"content-filtering/anything-but/wildcard/outside-lib", `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/bin/ls"}`, true},
	{"content-filtering/anything-but/wildcard/inside-lib", `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/lib/libc.so"}`, false},

	// Numeric.
	{"content-filtering/numeric-matching/all-true", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",3.018e2]}]}}`, docComplexEvent, true},
	{"content-filtering/numeric-matching/c-count-above-range", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",3.018e2]}]}}`, strings.Replace(docComplexEvent, `"c-count": 5`, `"c-count": 6`, 1), false},
	{"content-filtering/numeric-matching/lower-bound-open", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}`, `{"detail":{"c-count":0}}`, false},
	{"content-filtering/numeric-matching/equals-301.8", `{"detail":{"x-limit":[{"numeric":["=",3.018e2]}]}}`, `{"detail":{"x-limit":301.80}}`, true},
	{"content-filtering/numeric-matching/numbers-only", `{"detail":{"d-count":[{"numeric":["<",10]}]}}`, `{"detail":{"d-count":"3"}}`, false},

	// IP address.
	{"content-filtering/ip-address-matching/ipv4-inside", `{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/24"}]}}`, `{"detail":{"sourceIPAddress":"10.0.0.255"}}`, true},
	{"content-filtering/ip-address-matching/ipv4-outside", `{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/24"}]}}`, `{"detail":{"sourceIPAddress":"10.0.1.0"}}`, false},
	{"content-filtering/ip-address-matching/ipv6-inside", `{"detail":{"sourceIPAddress":[{"cidr":"bcde:6789:1234:abcd::/64"}]}}`, `{"detail":{"sourceIPAddress":"bcde:6789:1234:abcd:0:0:0:1"}}`, true},
	{"content-filtering/ip-address-matching/ipv6-outside", `{"detail":{"sourceIPAddress":[{"cidr":"bcde:6789:1234:abcd::/64"}]}}`, `{"detail":{"sourceIPAddress":"bcde:6789:1234:abce::1"}}`, false},

	// Exists.
	{"content-filtering/exists-matching/state-present", `{"detail":{"state":[{"exists":true}]}}`, docExistsEvent, true},
	{"content-filtering/exists-matching/state-absent", `{"detail":{"state":[{"exists":true}]}}`, docNoStateEvent, false},
	{"content-filtering/exists-matching/false-absent", `{"detail":{"state":[{"exists":false}]}}`, docNoStateEvent, true},
	{"content-filtering/exists-matching/false-present", `{"detail":{"state":[{"exists":false}]}}`, docExistsEvent, false},
	{"content-filtering/exists-matching/leaf-only/true-on-object", `{"detail":{"c-count":[{"exists":true}]}}`, docNoStateEvent, false},
	{"content-filtering/exists-matching/leaf-only/false-on-object", `{"detail":{"c-count":[{"exists":false}]}}`, docNoStateEvent, true},

	// Equals-ignore-case.
	{"content-filtering/equals-ignore-case-matching/detail-type", `{"detail-type":[{"equals-ignore-case":"ec2 instance state-change notification"}]}`, docNoStateEvent, true},
	{"content-filtering/equals-ignore-case-matching/other", `{"detail-type":[{"equals-ignore-case":"ec2 instance launch successful"}]}`, docNoStateEvent, false},

	// Wildcard.
	{"content-filtering/wildcard-matching/event-bus-arn", `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`, `{"EventBusArn":"arn:aws:events:us-east-1:123456789012:event-bus/default"}`, true},
	{"content-filtering/wildcard-matching/other-region", `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`, `{"EventBusArn":"arn:aws:events:us-west-2:123456789012:event-bus/default"}`, false},
	{"content-filtering/wildcard-matching/file-in-dir", `{"FilePath":[{"wildcard":"dir/*.png"}]}`, `{"FilePath":"dir/image.png"}`, true},
	{"content-filtering/wildcard-matching/file-in-subdir", `{"FilePath":[{"wildcard":"dir/*.png"}]}`, `{"FilePath":"dir/sub/image.png"}`, true},
	{"content-filtering/wildcard-matching/other-dir", `{"FilePath":[{"wildcard":"dir/*.png"}]}`, `{"FilePath":"other/image.png"}`, false},
	{"content-filtering/wildcard-matching/zero-characters", `{"FileName":[{"wildcard":"*.png"}]}`, `{"FileName":".png"}`, true},
	{"content-filtering/wildcard-matching/title-in-middle", `{"title":[{"wildcard":"*Title*"}]}`, `{"title":"My Title Here"}`, true},
	{"content-filtering/wildcard-matching/escaped-star", `{"v":[{"wildcard":"a\\*b"}]}`, `{"v":"a*b"}`, true},
	{"content-filtering/wildcard-matching/escaped-star-is-literal", `{"v":[{"wildcard":"a\\*b"}]}`, `{"v":"axxb"}`, false},
	{"content-filtering/wildcard-matching/escaped-backslash", `{"v":[{"wildcard":"a\\\\*"}]}`, `{"v":"a\\bc"}`, true},

	// Complex examples.
	{"content-filtering/complex-example/all", `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"anything-but":[100,200,300]}]}}`, docComplexEvent, true},
	{"content-filtering/complex-example/initializing", `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"anything-but":[100,200,300]}]}}`, strings.Replace(docComplexEvent, `"running"`, `"initializing"`, 1), false},
	{"content-filtering/complex-example/duplicate-key-last-wins", `{"detail":{"location":[{"prefix":"us-"}],"location":[{"anything-but":"us-east"}]}}`, `{"detail":{"location":"eu-west"}}`, true},
	{"content-filtering/complex-example/duplicate-key-last-wins/excluded", `{"detail":{"location":[{"prefix":"us-"}],"location":[{"anything-but":"us-east"}]}}`, `{"detail":{"location":"us-east"}}`, false},

	// $or.
	{"content-filtering/or-matching/c-count", `{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}`, `{"detail":{"c-count":3}}`, true},
	{"content-filtering/or-matching/x-limit", `{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}`, `{"detail":{"c-count":9,"d-count":12,"x-limit":301.8}}`, true},
	{"content-filtering/or-matching/none", `{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}`, `{"detail":{"c-count":9,"d-count":12,"x-limit":300}}`, false},

	// Comparison operators table.
	{"comparison-operators/and", `{"Location":["New York"],"Day":["Monday"]}`, `{"Location":"New York","Day":"Monday"}`, true},
	{"comparison-operators/and/one-missing", `{"Location":["New York"],"Day":["Monday"]}`, `{"Location":"New York","Day":"Tuesday"}`, false},
	{"comparison-operators/or", `{"PaymentType":["Credit","Debit"]}`, `{"PaymentType":"Debit"}`, true},
	{"comparison-operators/or-multiple-fields", `{"$or":[{"Location":["New York"]},{"Day":["Monday"]}]}`, `{"Location":"Boston","Day":"Monday"}`, true},
	{"comparison-operators/or-multiple-fields/neither", `{"$or":[{"Location":["New York"]},{"Day":["Monday"]}]}`, `{"Location":"Boston","Day":"Sunday"}`, false},
	{"comparison-operators/not", `{"Weather":[{"anything-but":["Raining"]}]}`, `{"Weather":"Sunny"}`, true},
	{"comparison-operators/not/raining", `{"Weather":[{"anything-but":["Raining"]}]}`, `{"Weather":"Raining"}`, false},
	{"comparison-operators/null", `{"UserID":[null]}`, `{"UserID":null}`, true},
	{"comparison-operators/empty", `{"LastName":[""]}`, `{"LastName":""}`, true},
	{"comparison-operators/equals", `{"Name":["Alice"]}`, `{"Name":"Alice"}`, true},
	{"comparison-operators/equals-ignore-case", `{"Name":[{"equals-ignore-case":"alice"}]}`, `{"Name":"Alice"}`, true},
	{"comparison-operators/numeric-equals", `{"Price":[{"numeric":["=",100]}]}`, `{"Price":100.0}`, true},
	{"comparison-operators/numeric-range", `{"Price":[{"numeric":[">",10,"<=",20]}]}`, `{"Price":20}`, true},
	{"comparison-operators/numeric-range/above", `{"Price":[{"numeric":[">",10,"<=",20]}]}`, `{"Price":20.5}`, false},
	{"comparison-operators/exists", `{"ProductName":[{"exists":true}]}`, `{"ProductName":"Widget"}`, true},
	{"comparison-operators/does-not-exist", `{"ProductName":[{"exists":false}]}`, `{"Price":1}`, true},
	{"comparison-operators/begins-with", `{"Region":[{"prefix":"us-"}]}`, `{"Region":"us-east-1"}`, true},
	{"comparison-operators/anything-but-begins-with", `{"Region":[{"anything-but":{"prefix":"us-"}}]}`, `{"Region":"us-east-1"}`, false},
	{"comparison-operators/begins-with-ignore-case", `{"service":[{"prefix":{"equals-ignore-case":"eventb"}}]}`, `{"service":"EventBridge"}`, true},
	{"comparison-operators/ends-with-ignore-case", `{"service":[{"suffix":{"equals-ignore-case":"tbridge"}}]}`, `{"service":"EVENTBRIDGE"}`, true},
	{"comparison-operators/wildcard", `{"FileName":[{"wildcard":"dir/*.png"}]}`, `{"FileName":"dir/a.png"}`, true},
}

func TestPatternDocExamples(t *testing.T) {
	for _, tc := range docCases {
		t.Run(tc.name, func(t *testing.T) { runMatchCase(t, tc) })
	}
}

func runMatchCase(t *testing.T, tc matchCase) {
	t.Helper()
	p, err := Compile([]byte(tc.pattern))
	if err != nil {
		t.Fatalf("Compile(%s): %v", tc.pattern, err)
	}
	if got := p.Match(decodeEvent(t, tc.event)); got != tc.want {
		t.Fatalf("Match = %v, want %v\npattern: %s\nevent: %s", got, tc.want, tc.pattern, tc.event)
	}
}

func decodeEvent(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("decoding event %s: %v", s, err)
	}
	return ev
}
