package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// What a rejected value was expected to be, for messages that say what to send instead.
const expected = "expected an EventBridge event (version, id, detail-type, source, account, time, region, resources, detail), " +
	"a GuardDuty or Security Hub (ASFF) finding, or an SNS notification or SQS message wrapping one"

// envelopeFields are the EventBridge fields an event needs to be matched and acted on.
var envelopeFields = []string{"id", "detail-type", "source", "account", "time", "region"}

// normaliser turns one decoded value into events. emit's error stops it; fail rejects
// one part of the value and lets the rest through.
type normaliser struct {
	emit func(*Event) error
	fail func(error)
	stop error
}

// value decodes the valid JSON in data, which the caller may reuse, and normalises it.
func (n *normaliser) value(data []byte) {
	raw := bytes.Clone(data) // kept as Event.Raw
	n.dispatch(decodeValid(raw), raw, 0, "")
}

func (n *normaliser) reject(where string, err error) {
	if where != "" {
		err = fmt.Errorf("%s: %w", where, err)
	}
	n.fail(err)
}

func (n *normaliser) send(e *Event) {
	if n.stop == nil {
		n.stop = n.emit(e)
	}
}

// dispatch normalises v according to what it is. raw is v's original JSON; wrap counts the SNS/SQS
// envelopes already taken off; where locates v inside the value being read.
func (n *normaliser) dispatch(v any, raw []byte, wrap int, where string) {
	if n.stop != nil {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		n.reject(where, fmt.Errorf("a JSON %s is not an event; %s", jsonKind(v), expected))
		return
	}
	switch {
	case has(m, "detail-type") || has(m, "detail") && has(m, "source"):
		n.envelope(m, raw, where)
	case str(m, "Type") == "Notification" && has(m, "Message"):
		n.wrapped(m["Message"], wrap, join(where, "Message"))
	case has(m, "Records"):
		n.records(m, raw, wrap, where)
	case has(m, "Messages"):
		// SQS ReceiveMessage output. A list that is no list, or holds nothing, is rejected
		// rather than read as zero events: the value would otherwise vanish without a word.
		list, ok := m["Messages"].([]any)
		if !ok || len(list) == 0 {
			n.reject(where, fmt.Errorf("field Messages holds no SQS messages; %s", expected))
			return
		}
		for i, msg := range list {
			o, _ := msg.(map[string]any)
			n.wrapped(o["Body"], wrap, fmt.Sprintf("%s[%d].Body", join(where, "Messages"), i))
		}
	case has(m, "Body") && (has(m, "MessageId") || has(m, "ReceiptHandle")):
		n.wrapped(m["Body"], wrap, join(where, "Body"))
	case has(m, "body") && has(m, "messageId"):
		n.wrapped(m["body"], wrap, join(where, "body"))
	case isGuardDutyFinding(m):
		n.guardDutyFinding(m, raw, where)
	case isASFFFinding(m):
		n.asffFinding(m, raw, where)
	case has(m, "Findings"):
		n.findings(m, raw, where)
	default:
		n.reject(where, fmt.Errorf("JSON object is not an event; %s", expected))
	}
}

func has(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

func join(where, field string) string {
	if where == "" {
		return field
	}
	return where + "." + field
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "array inside an array or message"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "value"
}

func isGuardDutyFinding(m map[string]any) bool {
	return has(m, "schemaVersion") && has(m, "accountId") && has(m, "type") && has(m, "resource")
}

func isASFFFinding(m map[string]any) bool {
	return has(m, "SchemaVersion") && has(m, "ProductArn") && has(m, "AwsAccountId") && has(m, "Types")
}

// wrapped reads the JSON text that an SNS or SQS message carries and normalises what it
// holds, which may itself be wrapped.
func (n *normaliser) wrapped(v any, wrap int, where string) {
	text, ok := v.(string)
	if !ok {
		n.reject(where, errors.New("message body is not a string of JSON; an SNS Message or SQS body must hold the event as JSON text"))
		return
	}
	if wrap+1 > MaxWrapDepth {
		n.reject(where, fmt.Errorf("event is wrapped in more than %d SNS/SQS messages; unwrap it before sending", MaxWrapDepth))
		return
	}
	// The embedded text gets the same checks as an input of its own.
	s := newTextSplitter(text)
	count := 0
	for n.stop == nil {
		it, err := s.next()
		if err != nil {
			break // io.EOF: a strings.Reader has no other error
		}
		count++
		if it.err != nil {
			n.reject(where, fmt.Errorf("at %d:%d of the message text: %w", it.line, it.col, it.err))
			continue
		}
		raw := bytes.Clone(it.data)
		n.dispatch(decodeValid(raw), raw, wrap+1, where)
	}
	if count == 0 {
		n.reject(where, errors.New("message body is empty; it must hold the event as JSON text"))
	}
}

// records handles the Records list of a Lambda SQS or SNS event, or of a CloudTrail log file.
func (n *normaliser) records(m map[string]any, raw []byte, wrap int, where string) {
	list, ok := m["Records"].([]any)
	if !ok || len(list) == 0 {
		n.reject(where, fmt.Errorf("field Records holds no records; %s", expected))
		return
	}
	var spans [][]byte
	for i, r := range list {
		at := fmt.Sprintf("%s[%d]", join(where, "Records"), i)
		rec, _ := r.(map[string]any)
		switch {
		case rec == nil:
			n.reject(at, fmt.Errorf("record is not a JSON object; %s", expected))
		case has(rec, "body"):
			n.wrapped(rec["body"], wrap, at+".body")
		case has(rec, "Sns"):
			n.wrapped(obj(rec, "Sns")["Message"], wrap, at+".Sns.Message")
		case has(rec, "eventVersion") && has(rec, "eventSource") && has(rec, "eventName"):
			if spans == nil {
				spans = elementSpans(raw, "Records")
			}
			n.cloudTrailRecord(rec, spanAt(spans, i, rec), at)
		default:
			n.reject(at, fmt.Errorf("record is neither an SQS message, an SNS notification nor a CloudTrail record; %s", expected))
		}
	}
}

// spanAt is the original bytes of element i, or v re-encoded when they cannot be found.
// The spans share the containing value's Raw, which no one writes to.
func spanAt(spans [][]byte, i int, v any) []byte {
	if i < len(spans) {
		return spans[i][:len(spans[i]):len(spans[i])]
	}
	b, _ := json.Marshal(v)
	return b
}

// findings handles a {"Findings": [...]} list as written by Security Hub's GetFindings
// and BatchImportFindings.
func (n *normaliser) findings(m map[string]any, raw []byte, where string) {
	list, ok := m["Findings"].([]any)
	if !ok || len(list) == 0 {
		n.reject(where, fmt.Errorf("field Findings holds no findings; %s", expected))
		return
	}
	spans := elementSpans(raw, "Findings")
	for i, f := range list {
		at := fmt.Sprintf("%s[%d]", join(where, "Findings"), i)
		o, _ := f.(map[string]any)
		switch {
		case o != nil && isASFFFinding(o):
			n.asffFinding(o, spanAt(spans, i, o), at)
		case o != nil && isGuardDutyFinding(o):
			n.guardDutyFinding(o, spanAt(spans, i, o), at)
		default:
			n.reject(at, fmt.Errorf("not a Security Hub (ASFF) or GuardDuty finding; %s", expected))
		}
	}
}

// envelope checks an EventBridge event and normalises it according to its source.
func (n *normaliser) envelope(m map[string]any, raw []byte, where string) {
	var missing []string
	for _, f := range envelopeFields {
		if s, ok := m[f].(string); !ok || s == "" {
			missing = append(missing, `"`+f+`"`)
		}
	}
	detail, ok := m["detail"].(map[string]any)
	if !ok {
		missing = append(missing, `"detail" (an object)`)
	}
	if len(missing) > 0 {
		n.reject(where, fmt.Errorf("EventBridge event lacks %s; an event needs id, detail-type, source, account, time, region and detail", strings.Join(missing, ", ")))
		return
	}
	t, ok := parseTime(str(m, "time"))
	if !ok {
		n.reject(where, fmt.Errorf("EventBridge event time %q is not an RFC 3339 time such as 2024-01-02T15:04:05Z", str(m, "time")))
		return
	}
	if r, ok := m["resources"]; ok {
		if _, isList := r.([]any); !isList {
			n.reject(where, errors.New(`EventBridge event "resources" is not a list of ARNs`))
			return
		}
	}
	e := &Event{
		ID:       str(m, "id"),
		Account:  str(m, "account"),
		Region:   str(m, "region"),
		Time:     t,
		Raw:      raw,
		Envelope: m,
	}
	source, detailType := str(m, "source"), str(m, "detail-type")
	var err error
	switch {
	case source == "aws.guardduty" && detailType == "GuardDuty Finding":
		err = guardDuty(e, detail)
	case source == "aws.securityhub" && has(detail, "findings"):
		n.securityHub(e, m, detail, raw, where)
		return
	case strings.HasSuffix(detailType, " via CloudTrail"):
		err = cloudTrail(e, detail)
	case source == "aws.health":
		err = health(e, detail, detailType)
	case source == "aws.cloudwatch" && detailType == "CloudWatch Alarm State Change":
		err = cloudWatchAlarm(e, detail)
	default:
		custom(e, source, detailType)
	}
	if err != nil {
		n.reject(where, err)
		return
	}
	n.finish(e)
}

// finish fills what every event must have and hands it on.
func (n *normaliser) finish(e *Event) {
	if e.Resources == nil {
		e.Resources = []Resource{}
	}
	for i := range e.Resources {
		if e.Resources[i].Tags == nil {
			e.Resources[i].Tags = map[string]string{}
		}
	}
	n.send(e)
}

// securityHub makes one event of each finding in a Security Hub event. Each has an
// envelope of its own holding just its finding, so that a pattern on one finding's
// fields matches that finding's event only.
func (n *normaliser) securityHub(base *Event, m, detail map[string]any, raw []byte, where string) {
	list, ok := detail["findings"].([]any)
	if !ok || len(list) == 0 {
		n.reject(where, errors.New("the Security Hub event has no findings; detail.findings must list ASFF findings"))
		return
	}
	spans := elementSpans(raw, "detail", "findings")
	for i, f := range list {
		at := fmt.Sprintf("%s[%d]", join(where, "detail.findings"), i)
		fm, ok := f.(map[string]any)
		if !ok {
			n.reject(at, errors.New("finding is not a JSON object; detail.findings must list ASFF findings"))
			continue
		}
		e := *base
		e.Raw = spanAt(spans, i, fm)
		if len(list) > 1 {
			env := make(map[string]any, len(m))
			for k, v := range m {
				env[k] = v
			}
			d := make(map[string]any, len(detail))
			for k, v := range detail {
				d[k] = v
			}
			d["findings"] = []any{fm}
			env["detail"] = d
			e.Envelope = env
		}
		if err := securityHubFinding(&e, fm); err != nil {
			n.reject(at, err)
			continue
		}
		n.finish(&e)
		if n.stop != nil {
			return
		}
	}
}

// guardDutyFinding wraps a bare GuardDuty finding in the event EventBridge delivers.
func (n *normaliser) guardDutyFinding(f map[string]any, raw []byte, where string) {
	id := str(f, "id")
	if id == "" {
		n.reject(where, errors.New(`GuardDuty finding has no "id"`))
		return
	}
	t, ok := parseTime(str(f, "updatedAt"))
	if !ok {
		n.reject(where, fmt.Errorf("GuardDuty finding updatedAt %q is not an RFC 3339 time", str(f, "updatedAt")))
		return
	}
	env := map[string]any{
		"version": "0", "id": id, "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
		"account": str(f, "accountId"), "time": t.Format(time.RFC3339), "region": str(f, "region"),
		"resources": []any{}, "detail": f,
	}
	e := &Event{ID: id, Account: str(f, "accountId"), Region: str(f, "region"), Time: t, Raw: raw, Envelope: env}
	if err := guardDuty(e, f); err != nil {
		n.reject(where, err)
		return
	}
	n.finish(e)
}

// asffFinding wraps a bare ASFF finding in the event EventBridge delivers.
func (n *normaliser) asffFinding(f map[string]any, raw []byte, where string) {
	id := str(f, "Id")
	if id == "" {
		n.reject(where, errors.New(`the Security Hub finding has no "Id"`))
		return
	}
	t, ok := parseTime(str(f, "UpdatedAt"))
	if !ok {
		n.reject(where, fmt.Errorf("the Security Hub finding's UpdatedAt %q is not an RFC 3339 time", str(f, "UpdatedAt")))
		return
	}
	env := map[string]any{
		"version": "0", "id": id, "detail-type": "Security Hub Findings - Imported", "source": "aws.securityhub",
		"account": str(f, "AwsAccountId"), "time": t.Format(time.RFC3339), "region": str(f, "Region"),
		"resources": []any{}, "detail": map[string]any{"findings": []any{f}},
	}
	e := &Event{ID: id, Account: str(f, "AwsAccountId"), Region: str(f, "Region"), Time: t, Raw: raw, Envelope: env}
	if err := securityHubFinding(e, f); err != nil {
		n.reject(where, err)
		return
	}
	n.finish(e)
}

// cloudTrailRecord wraps one record of a CloudTrail log file in the event EventBridge
// delivers for it.
func (n *normaliser) cloudTrailRecord(rec map[string]any, raw []byte, where string) {
	t, ok := parseTime(str(rec, "eventTime"))
	if !ok {
		n.reject(where, fmt.Errorf("CloudTrail record eventTime %q is not an RFC 3339 time", str(rec, "eventTime")))
		return
	}
	service, _, _ := strings.Cut(str(rec, "eventSource"), ".")
	detailType := "AWS API Call via CloudTrail"
	if str(rec, "eventType") == "AwsConsoleSignIn" {
		detailType = "AWS Console Sign In via CloudTrail"
	}
	account := str(rec, "recipientAccountId")
	if account == "" {
		account = str(obj(rec, "userIdentity"), "accountId")
	}
	env := map[string]any{
		"version": "0", "id": str(rec, "eventID"), "detail-type": detailType, "source": "aws." + service,
		"account": account, "time": t.Format(time.RFC3339), "region": str(rec, "awsRegion"),
		"resources": []any{}, "detail": rec,
	}
	e := &Event{ID: str(rec, "eventID"), Account: account, Region: str(rec, "awsRegion"), Time: t, Raw: raw, Envelope: env}
	if e.ID == "" {
		n.reject(where, errors.New(`CloudTrail record has no "eventID"`))
		return
	}
	if err := cloudTrail(e, rec); err != nil {
		n.reject(where, err)
		return
	}
	n.finish(e)
}

// custom keeps any other EventBridge event: patterns still match its envelope.
func custom(e *Event, source, detailType string) {
	e.Source = SourceCustom
	e.Type = detailType
	e.Title = detailType
	b := newBuilder(e)
	b.detail("event_source", source)
	envelopeResources(b, e.Envelope)
}

// envelopeResources adds the resources an EventBridge event lists by ARN.
func envelopeResources(b *builder, env map[string]any) {
	for _, v := range arr(env, "resources") {
		if s, ok := v.(string); ok {
			if r, ok := resourceFromARN(s); ok {
				b.add(r)
			}
		}
	}
}
