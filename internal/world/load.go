package world

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads a world file. It is strict: an unknown field, a value of the wrong type, a
// duplicate id or a reference to something that does not exist is an error naming the
// file, line and column, so that a typo never silently becomes an empty organisation.
func Load(path string) (*World, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse is Load on data already read; name is used in error positions.
func Parse(name string, data []byte) (*World, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &checker{file: name, pos: map[string]*yaml.Node{}}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	c.walk(root, reflect.TypeOf(World{}), "")
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	var w World
	if err := root.Decode(&w); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.validate(&w)
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return &w, nil
}

// maxErrors bounds the report on a badly broken file; the first few are what matter.
const maxErrors = 20

// checker walks the YAML tree against the Go types before decoding, because yaml.v3's own
// errors carry neither the column nor, for KnownFields, a stable wording.
type checker struct {
	file string
	errs []error
	// pos maps a value's path (accounts[0].regions.us-east-1.instances[2]) to its node, so
	// that checks made after decoding can still point at the file.
	pos map[string]*yaml.Node
}

func (c *checker) errorf(n *yaml.Node, format string, args ...any) {
	if len(c.errs) == maxErrors {
		c.errs = append(c.errs, fmt.Errorf("%s: too many errors", c.file))
	}
	if len(c.errs) > maxErrors {
		return
	}
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	c.errs = append(c.errs, fmt.Errorf("%s:%d:%d: %s", c.file, line, col, fmt.Sprintf(format, args...)))
}

// at reports at the node recorded for path, or at the file's start when there is none.
func (c *checker) at(path string, format string, args ...any) {
	c.errorf(c.pos[path], format, args...)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func (c *checker) walk(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	c.pos[path] = n
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(n) && t.Kind() != reflect.Interface {
		return
	}
	switch t.Kind() {
	case reflect.Interface:
		return
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.errorf(n, "%s: want a mapping, got %s", field(path), describe(n))
			return
		}
		fields := map[string]reflect.StructField{}
		var known []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = f
			known = append(known, name)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				c.errorf(k, "unknown field %q in %s (known: %s)", k.Value, field(path), strings.Join(known, ", "))
				continue
			}
			c.walk(v, f.Type, join(path, k.Value))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.errorf(n, "%s: want a mapping, got %s", field(path), describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				c.errorf(k, "%s: keys must be strings", field(path))
				continue
			}
			c.walk(v, t.Elem(), join(path, k.Value))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.errorf(n, "%s: want a list, got %s", field(path), describe(n))
			return
		}
		for i, e := range n.Content {
			c.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.errorf(n, "%s: want a string, got %s", field(path), describe(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			c.errorf(n, "%s: want true or false, got %s", field(path), describe(n))
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			c.errorf(n, "%s: want an integer, got %s", field(path), describe(n))
			return
		}
		v := reflect.New(t)
		if err := n.Decode(v.Interface()); err != nil {
			c.errorf(n, "%s: %s does not fit", field(path), n.Value)
		}
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			c.errorf(n, "%s: want a number, got %s", field(path), describe(n))
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func field(path string) string {
	if path == "" {
		return "the world file"
	}
	return path
}

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// Values the API would reject; a world that holds them could not have come from AWS.
var (
	instanceStates = set("pending", "running", "stopping", "stopped", "shutting-down", "terminated")
	keyStatuses    = set("Active", "Inactive")
	ipSetScopes    = set("REGIONAL", "CLOUDFRONT")
	protocols      = set("tcp", "udp", "icmp", "icmpv6", "-1", "all")
	aclActions     = set("allow", "deny")
	ruleGroupTypes = set("STATELESS", "STATEFUL")
)

func set(vs ...string) map[string]bool {
	m := map[string]bool{}
	for _, v := range vs {
		m[v] = true
	}
	return m
}

func (c *checker) validate(w *World) {
	accounts := map[string]bool{}
	buckets := map[string]bool{}
	for ai, a := range w.Accounts {
		ap := fmt.Sprintf("accounts[%d]", ai)
		if a == nil {
			c.at(ap, "%s: empty account", ap)
			continue
		}
		if !accountID.MatchString(a.ID) {
			c.at(ap+".id", "%s.id: %q is not a 12-digit account id (quote it in YAML)", ap, a.ID)
		}
		if accounts[a.ID] {
			c.at(ap+".id", "%s.id: account %s listed twice", ap, a.ID)
		}
		accounts[a.ID] = true
		for _, rn := range a.RegionNames() {
			r := a.Regions[rn]
			if r == nil {
				continue
			}
			c.validateRegion(r, join(ap+".regions", rn), buckets)
		}
		if a.IAM != nil {
			users := map[string]bool{}
			for ui, u := range a.IAM.Users {
				up := fmt.Sprintf("%s.iam.users[%d]", ap, ui)
				if u == nil || u.Name == "" {
					c.at(up, "%s: a user needs a name", up)
					continue
				}
				c.unique(users, u.Name, up+".name", "user")
				for ki, k := range u.AccessKeys {
					kp := fmt.Sprintf("%s.access_keys[%d]", up, ki)
					if k == nil || k.ID == "" {
						c.at(kp, "%s: an access key needs an id", kp)
					} else if !keyStatuses[k.Status] {
						c.at(kp+".status", "%s.status: %q is not Active or Inactive", kp, k.Status)
					}
				}
			}
			roles := map[string]bool{}
			for ri, r := range a.IAM.Roles {
				rp := fmt.Sprintf("%s.iam.roles[%d]", ap, ri)
				if r == nil || r.Name == "" {
					c.at(rp, "%s: a role needs a name", rp)
					continue
				}
				c.unique(roles, r.Name, rp+".name", "role")
			}
		}
	}
}

func (c *checker) unique(seen map[string]bool, id, path, what string) {
	if id == "" {
		c.at(path, "%s: a %s needs an id", path, what)
		return
	}
	if seen[id] {
		c.at(path, "%s: %s %s listed twice", path, what, id)
	}
	seen[id] = true
}

func (c *checker) validateRegion(r *Region, rp string, buckets map[string]bool) {
	vpcs, subnets, groups, instances, ids := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, v := range r.VPCs {
		if v != nil {
			c.unique(vpcs, v.ID, fmt.Sprintf("%s.vpcs[%d].id", rp, i), "VPC")
		}
	}
	for i, s := range r.Subnets {
		if s == nil {
			continue
		}
		p := fmt.Sprintf("%s.subnets[%d]", rp, i)
		c.unique(subnets, s.ID, p+".id", "subnet")
		if s.VPC != "" && !vpcs[s.VPC] {
			c.at(p+".vpc", "%s.vpc: no VPC %q in this region", p, s.VPC)
		}
	}
	for i, g := range r.SecurityGroups {
		if g != nil {
			c.unique(groups, g.ID, fmt.Sprintf("%s.security_groups[%d].id", rp, i), "security group")
		}
	}
	for i, g := range r.SecurityGroups {
		if g == nil {
			continue
		}
		p := fmt.Sprintf("%s.security_groups[%d]", rp, i)
		if g.VPC != "" && !vpcs[g.VPC] {
			c.at(p+".vpc", "%s.vpc: no VPC %q in this region", p, g.VPC)
		}
		for j, rule := range g.Ingress {
			c.validateRule(rule, fmt.Sprintf("%s.ingress[%d]", p, j), groups)
		}
		for j, rule := range g.Egress {
			c.validateRule(rule, fmt.Sprintf("%s.egress[%d]", p, j), groups)
		}
	}
	for i, in := range r.Instances {
		if in == nil {
			continue
		}
		p := fmt.Sprintf("%s.instances[%d]", rp, i)
		c.unique(instances, in.ID, p+".id", "instance")
		if in.Subnet != "" && !subnets[in.Subnet] {
			c.at(p+".subnet", "%s.subnet: no subnet %q in this region", p, in.Subnet)
		}
		if in.State != "" && !instanceStates[in.State] {
			c.at(p+".state", "%s.state: %q is not an instance state (running, stopped, terminated, ...)", p, in.State)
		}
		for j, g := range in.SecurityGroups {
			if !groups[g] {
				c.at(fmt.Sprintf("%s.security_groups[%d]", p, j), "%s.security_groups: no security group %q in this region", p, g)
			}
		}
		for j, e := range in.NetworkInterfaces {
			if e == nil {
				continue
			}
			ep := fmt.Sprintf("%s.network_interfaces[%d]", p, j)
			c.unique(ids, e.ID, ep+".id", "network interface")
			for k, g := range e.SecurityGroups {
				if !groups[g] {
					c.at(fmt.Sprintf("%s.security_groups[%d]", ep, k), "%s.security_groups: no security group %q in this region", ep, g)
				}
			}
		}
		if in.PrimaryENI != "" {
			c.unique(ids, in.PrimaryENI, p+".primary_network_interface", "network interface")
		}
	}
	for i, s := range r.Snapshots {
		if s != nil {
			c.unique(ids, s.ID, fmt.Sprintf("%s.snapshots[%d].id", rp, i), "snapshot")
		}
	}
	for i, s := range r.WAFIPSets {
		if s == nil {
			continue
		}
		p := fmt.Sprintf("%s.waf_ip_sets[%d]", rp, i)
		if !ipSetScopes[s.Scope] {
			c.at(p+".scope", "%s.scope: %q is not REGIONAL or CLOUDFRONT", p, s.Scope)
		}
		for j, a := range s.Addresses {
			if _, err := netip.ParsePrefix(a); err != nil {
				c.at(fmt.Sprintf("%s.addresses[%d]", p, j), "%s.addresses: %q is not a CIDR block", p, a)
			}
		}
	}
	for i, b := range r.Buckets {
		if b != nil {
			c.unique(buckets, b.Name, fmt.Sprintf("%s.buckets[%d].name", rp, i), "bucket")
		}
	}
	for i, acl := range r.NetworkACLs {
		if acl == nil {
			continue
		}
		p := fmt.Sprintf("%s.network_acls[%d]", rp, i)
		c.unique(ids, acl.ID, p+".id", "network ACL")
		for j, e := range acl.Entries {
			if e != nil && !aclActions[e.Action] {
				c.at(fmt.Sprintf("%s.entries[%d].action", p, j), "%s.entries[%d].action: %q is not allow or deny", p, j, e.Action)
			}
		}
	}
	for i, g := range r.FirewallRuleGroups {
		if g != nil && !ruleGroupTypes[g.Type] {
			p := fmt.Sprintf("%s.network_firewall_rule_groups[%d].type", rp, i)
			c.at(p, "%s: %q is not STATELESS or STATEFUL", p, g.Type)
		}
	}
}

func (c *checker) validateRule(rule *Rule, p string, groups map[string]bool) {
	if rule == nil {
		return
	}
	if !protocols[strings.ToLower(rule.Protocol)] {
		c.at(p+".protocol", "%s.protocol: %q is not tcp, udp, icmp, icmpv6 or -1", p, rule.Protocol)
	}
	n := 0
	for _, s := range []string{rule.CIDR, rule.CIDRv6, rule.SourceGroup, rule.PrefixList} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		c.at(p, "%s: a rule needs exactly one of cidr, cidr_ipv6, source_group, prefix_list", p)
	}
	if rule.CIDR != "" {
		if _, err := netip.ParsePrefix(rule.CIDR); err != nil {
			c.at(p+".cidr", "%s.cidr: %q is not a CIDR block", p, rule.CIDR)
		}
	}
	if rule.SourceGroup != "" && !groups[rule.SourceGroup] {
		c.at(p+".source_group", "%s.source_group: no security group %q in this region", p, rule.SourceGroup)
	}
}
