package event

import (
	"errors"
	"strings"
)

// healthSeverity rates AWS Health events by eventTypeCategory. Abuse reports are rated
// apart (healthAbuseSeverity): they mean a resource is probably compromised.
var healthSeverity = map[string]float64{
	"issue":               5,
	"investigation":       5,
	"scheduledChange":     3,
	"accountNotification": 2,
}

const healthAbuseSeverity = 7

// health normalises an AWS Health event (detail-type "AWS Health Event" or "AWS Health
// Abuse Event").
func health(e *Event, d map[string]any, detailType string) error {
	code := str(d, "eventTypeCode")
	if code == "" {
		return errors.New(`AWS Health event has no "eventTypeCode"; the detail must be an AWS Health event`)
	}
	e.Source = SourceHealth
	e.Type = code
	e.FindingID = str(d, "eventArn")
	if a := str(d, "affectedAccount"); a != "" {
		e.Account = a
	}
	if r := str(d, "eventRegion"); r != "" && r != "global" {
		e.Region = r
	}
	// Health writes its own times as RFC 1123 ("Sat, 05 Jun 2021 12:00:00 GMT").
	e.UpdatedAt = timePtr(str(d, "lastUpdatedTime"))
	if e.UpdatedAt == nil {
		e.UpdatedAt = timePtr(str(d, "startTime"))
	}
	category := str(d, "eventTypeCategory")
	e.Severity = healthSeverity[category]
	if detailType == "AWS Health Abuse Event" || strings.HasPrefix(code, "AWS_ABUSE_") {
		e.Severity = healthAbuseSeverity
	}
	e.Title = "AWS Health " + category + ": " + code
	for _, desc := range objects(arr(d, "eventDescription")) {
		if e.Description == "" || str(desc, "language") == "en_US" {
			e.Description = str(desc, "latestDescription")
		}
	}
	b := newBuilder(e)
	b.detail("service", str(d, "service"))
	b.detail("category", category)
	b.detail("status_code", str(d, "statusCode"))
	b.detail("scope", str(d, "eventScopeCode"))
	b.detail("event_region", str(d, "eventRegion"))
	if t, ok := parseTime(str(d, "startTime")); ok {
		b.detail("start_time", t)
	}
	if t, ok := parseTime(str(d, "endTime")); ok {
		b.detail("end_time", t)
	}
	for _, ent := range objects(arr(d, "affectedEntities")) {
		r, ok := entityResource(str(ent, "entityValue"))
		if !ok {
			continue
		}
		for k, v := range tagMap(obj(ent, "tags")) {
			r.Tags[k] = v
		}
		setDetail(b.add(r), "status", str(ent, "status"))
	}
	envelopeResources(b, e.Envelope)
	return nil
}

// entityPrefixes map the id prefixes of the bare ids Health lists as affected entities.
var entityPrefixes = []struct {
	prefix string
	kind   Kind
}{
	{"i-", KindInstance},
	{"sg-", KindSecurityGroup},
	{"AKIA", KindAccessKey},
}

func entityResource(v string) (Resource, bool) {
	if r, ok := resourceFromARN(v); ok {
		return r, true
	}
	if isIP(v) {
		return Resource{Kind: KindIP, ID: v, Tags: map[string]string{}}, true
	}
	for _, p := range entityPrefixes {
		if strings.HasPrefix(v, p.prefix) {
			return Resource{Kind: p.kind, ID: v, Tags: map[string]string{}}, true
		}
	}
	return Resource{}, false
}
