package event

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Accessors over decoded JSON. A missing or mistyped field reads as the zero value: the
// detectors omit fields freely, and a finding is still worth acting on without them.

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func obj(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}

func arr(m map[string]any, key string) []any {
	a, _ := m[key].([]any)
	return a
}

// dig follows keys through nested objects.
func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		if m == nil {
			return nil
		}
		m = obj(m, k)
	}
	return m
}

// objects is the objects among a's elements.
func objects(a []any) []map[string]any {
	out := make([]map[string]any, 0, len(a))
	for _, v := range a {
		if o, ok := v.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}

func port(v any) (int, bool) {
	f, ok := number(v)
	if !ok || f < 1 || f > 65535 || f != float64(int(f)) {
		return 0, false
	}
	return int(f), true
}

func clampSeverity(f float64) float64 {
	switch {
	case f != f || f < 0:
		return 0
	case f > 10:
		return 10
	}
	return f
}

// timeLayouts are the time formats the detectors write: RFC 3339 (EventBridge, GuardDuty,
// ASFF, CloudTrail), RFC 1123 (inside AWS Health details) and CloudWatch's numeric offset.
var timeLayouts = []string{
	time.RFC3339Nano,
	time.RFC1123,
	time.RFC1123Z,
	"2006-01-02T15:04:05.000-0700",
	"2006-01-02T15:04:05-0700",
}

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func timePtr(s string) *time.Time {
	if t, ok := parseTime(s); ok {
		return &t
	}
	return nil
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// tagList reads GuardDuty's [{"key":..,"value":..}] tags (EventBridge spells them in
// lower case, the CLI in upper case).
func tagList(v any) map[string]string {
	tags := map[string]string{}
	for _, t := range objects(toSlice(v)) {
		k := str(t, "key")
		if k == "" {
			k = str(t, "Key")
		}
		if k == "" {
			continue
		}
		val, ok := t["value"].(string)
		if !ok {
			val = str(t, "Value")
		}
		tags[k] = val
	}
	return tags
}

// tagMap reads ASFF's {"key": "value"} tags.
func tagMap(m map[string]any) map[string]string {
	tags := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			tags[k] = s
		}
	}
	return tags
}

func toSlice(v any) []any {
	a, _ := v.([]any)
	return a
}

// arnParts is an Amazon Resource Name split into its parts.
type arnParts struct {
	partition, service, region, account, resource string
}

func parseARN(s string) (arnParts, bool) {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[2] == "" {
		return arnParts{}, false
	}
	return arnParts{partition: p[1], service: p[2], region: p[3], account: p[4], resource: p[5]}, true
}

// arnKinds says which ARNs name a resource Firebreak acts on and where the resource's id
// sits in the ARN's resource part: after prefix, up to the first of cut (or, for path
// names such as IAM's, the last path segment).
var arnKinds = []struct {
	service, prefix string
	kind            Kind
	lastSegment     bool
	cut             string
}{
	{"ec2", "instance/", KindInstance, false, "/"},
	{"ec2", "security-group/", KindSecurityGroup, false, "/"},
	{"iam", "user/", KindIAMUser, true, ""},
	{"iam", "role/", KindIAMRole, true, ""},
	{"sts", "assumed-role/", KindIAMRole, false, "/"},
	{"s3", "", KindS3Bucket, false, "/"},
	{"lambda", "function:", KindLambdaFunction, false, ":"},
	{"eks", "cluster/", KindEKSCluster, false, "/"},
	{"rds", "db:", KindRDSInstance, false, ":"},
	{"cloudtrail", "trail/", KindTrail, false, "/"},
}

// resourceFromARN is the resource an ARN names, when it is of a kind Firebreak knows.
func resourceFromARN(arn string) (Resource, bool) {
	a, ok := parseARN(arn)
	if !ok {
		return Resource{}, false
	}
	for _, k := range arnKinds {
		if a.service != k.service || !strings.HasPrefix(a.resource, k.prefix) {
			continue
		}
		id := a.resource[len(k.prefix):]
		if k.lastSegment {
			id = id[strings.LastIndexByte(id, '/')+1:]
		} else if i := strings.Index(id, k.cut); i >= 0 {
			id = id[:i]
		}
		if id == "" {
			return Resource{}, false
		}
		if k.kind == KindS3Bucket {
			// An object's ARN names its bucket; the bucket is what can be acted on.
			arn = "arn:" + a.partition + ":s3:::" + id
		}
		return Resource{Kind: k.kind, ID: id, ARN: arn, Account: a.account, Region: a.region, Tags: map[string]string{}}, true
	}
	return Resource{}, false
}

// idFromARN is the id of a resource of kind k given its ARN or its id.
func idFromARN(k Kind, s string) string {
	if r, ok := resourceFromARN(s); ok && r.Kind == k {
		return r.ID
	}
	return s
}

// builder accumulates an event's resources and network facts without duplicates. Events
// name a handful of each, so a linear search beats allocating sets.
type builder struct {
	ev *Event
}

func newBuilder(ev *Event) *builder {
	return &builder{ev: ev}
}

// add records r unless a resource of the same kind and id is already there, in which
// case the missing facts are merged into the first. The pointer is valid until the next add.
func (b *builder) add(r Resource) *Resource {
	if r.ID == "" {
		return nil
	}
	if r.Tags == nil {
		r.Tags = map[string]string{}
	}
	if r.Account == "" && r.Kind != KindIP && r.Kind != KindS3Bucket {
		r.Account = b.ev.Account
	}
	if r.Region == "" && r.Kind != KindIP && r.Kind != KindS3Bucket && r.Kind != KindIAMUser &&
		r.Kind != KindIAMRole && r.Kind != KindAccessKey && r.Kind != KindAccount {
		r.Region = b.ev.Region
	}
	for i := range b.ev.Resources {
		have := &b.ev.Resources[i]
		if have.Kind != r.Kind || have.ID != r.ID {
			continue
		}
		if have.ARN == "" {
			have.ARN = r.ARN
		}
		for k, v := range r.Tags {
			if _, ok := have.Tags[k]; !ok {
				have.Tags[k] = v
			}
		}
		for k, v := range r.Details {
			if have.Details == nil {
				have.Details = map[string]any{}
			}
			if _, ok := have.Details[k]; !ok {
				have.Details[k] = v
			}
		}
		return have
	}
	b.ev.Resources = append(b.ev.Resources, r)
	return &b.ev.Resources[len(b.ev.Resources)-1]
}

func (b *builder) net() *Network {
	if b.ev.Network == nil {
		b.ev.Network = &Network{}
	}
	return b.ev.Network
}

// remoteIP records a remote address; each also becomes an ip resource, so that a
// playbook can target it (waf.block-ip).
func (b *builder) remoteIP(ip string) {
	if !isIP(ip) {
		return
	}
	n := b.net()
	for _, have := range n.RemoteIPs {
		if have == ip {
			return
		}
	}
	n.RemoteIPs = append(n.RemoteIPs, ip)
	b.add(Resource{Kind: KindIP, ID: ip})
}

func (b *builder) localIP(ip string) {
	if !isIP(ip) {
		return
	}
	n := b.net()
	for _, have := range n.LocalIPs {
		if have == ip {
			return
		}
	}
	n.LocalIPs = append(n.LocalIPs, ip)
}

func (b *builder) port(v any) {
	p, ok := port(v)
	if !ok {
		return
	}
	n := b.net()
	for _, have := range n.Ports {
		if have == p {
			return
		}
	}
	n.Ports = append(n.Ports, p)
}

func (b *builder) domain(d string) {
	if d == "" {
		return
	}
	n := b.net()
	for _, have := range n.Domains {
		if have == d {
			return
		}
	}
	n.Domains = append(n.Domains, d)
}

func (b *builder) userAgent(ua string) {
	if ua == "" {
		return
	}
	n := b.net()
	for _, have := range n.UserAgents {
		if have == ua {
			return
		}
	}
	n.UserAgents = append(n.UserAgents, ua)
}

func (b *builder) detail(key string, v any) {
	switch x := v.(type) {
	case nil:
		return
	case string:
		if x == "" {
			return
		}
	case []string:
		if len(x) == 0 {
			return
		}
	}
	if b.ev.Details == nil {
		b.ev.Details = map[string]any{}
	}
	b.ev.Details[key] = v
}

// setDetail sets a resource detail, skipping empty values so that golden output and
// conditions only see what the detector reported.
func setDetail(r *Resource, key string, v any) {
	if r == nil {
		return
	}
	switch x := v.(type) {
	case nil:
		return
	case string:
		if x == "" {
			return
		}
	case []string:
		if len(x) == 0 {
			return
		}
	}
	if r.Details == nil {
		r.Details = map[string]any{}
	}
	r.Details[key] = v
}

func appendUnique(list []string, s string) []string {
	if s == "" {
		return list
	}
	for _, have := range list {
		if have == s {
			return list
		}
	}
	return append(list, s)
}
