package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/cloud/moto"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// normalise returns a copy of w reduced to what both backends must agree on. It drops
// what legitimately differs between two correct implementations of the API: identifiers
// each backend generates (security groups are named by group name, snapshots by volume),
// WAF lock tokens, timestamps inside policy documents, addresses, list order, and the
// spelling of defaults (an absent metadata configuration is AWS's default one).
func normalise(w *world.World) *world.World {
	var c world.World
	raw, err := json.Marshal(w)
	if err != nil {
		panic(err) // a world is plain data; marshalling cannot fail
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		panic(err)
	}
	sort.Slice(c.Accounts, func(i, j int) bool { return c.Accounts[i].ID < c.Accounts[j].ID })
	for _, a := range c.Accounts {
		// Account names and tags come from AWS Organizations, which the seed does not use.
		a.Name, a.Tags = "", nil
		for name, r := range a.Regions {
			if name != moto.Region {
				delete(a.Regions, name)
				continue
			}
			normaliseRegion(r)
		}
		if a.IAM == nil {
			a.IAM = &world.IAM{}
		}
		normaliseIAM(a.IAM)
	}
	return &c
}

func normaliseRegion(r *world.Region) {
	groupName := map[string]string{}
	for _, g := range r.SecurityGroups {
		groupName[g.ID] = "sg:" + g.Name
	}
	byName := func(ids []string) []string {
		out := []string{}
		for _, id := range ids {
			if n, ok := groupName[id]; ok {
				id = n
			}
			out = append(out, id)
		}
		sort.Strings(out)
		return out
	}
	for _, g := range r.SecurityGroups {
		g.ID = groupName[g.ID]
		g.Ingress, g.Egress = normaliseRules(g.Ingress, groupName), normaliseRules(g.Egress, groupName)
		g.Tags = nonNil(g.Tags)
	}
	sort.Slice(r.SecurityGroups, func(i, j int) bool { return r.SecurityGroups[i].ID < r.SecurityGroups[j].ID })
	for _, in := range r.Instances {
		in.SecurityGroups = byName(in.SecurityGroups)
		for _, n := range in.NetworkInterfaces {
			n.SecurityGroups, n.PrivateIP = byName(n.SecurityGroups), ""
		}
		sort.Strings(in.Volumes)
		in.PrivateIP, in.PublicIP = "", ""
		in.Tags = nonNil(in.Tags)
		md := world.MetadataOptions{HTTPTokens: "optional", HTTPEndpoint: "enabled", HopLimit: 1}
		if in.Metadata != nil {
			md.HTTPTokens = def(in.Metadata.HTTPTokens, md.HTTPTokens)
			md.HTTPEndpoint = def(in.Metadata.HTTPEndpoint, md.HTTPEndpoint)
			md.HopLimit = max(in.Metadata.HopLimit, 1)
		}
		in.Metadata = &md
		if in.State == "" {
			in.State = "running"
		}
	}
	sort.Slice(r.Instances, func(i, j int) bool { return r.Instances[i].ID < r.Instances[j].ID })
	if r.Snapshots == nil {
		r.Snapshots = []*world.Snapshot{}
	}
	for _, s := range r.Snapshots {
		// Which instance a snapshot came from is recorded by its tags; the API reports no
		// such field, so only the simulator's own bookkeeping holds it.
		s.ID, s.Instance, s.State = "", "", def(s.State, "completed")
		s.Tags = nonNil(s.Tags)
	}
	sort.Slice(r.Snapshots, func(i, j int) bool { return snapshotKey(r.Snapshots[i]) < snapshotKey(r.Snapshots[j]) })
	for _, s := range r.WAFIPSets {
		s.LockToken = ""
		s.IPVersion = def(s.IPVersion, "IPV4")
		s.Addresses = append([]string{}, s.Addresses...)
		sort.Strings(s.Addresses)
	}
	sort.Slice(r.WAFIPSets, func(i, j int) bool { return r.WAFIPSets[i].Name < r.WAFIPSets[j].Name })
	sort.Slice(r.Trails, func(i, j int) bool { return r.Trails[i].Name < r.Trails[j].Name })
	for _, b := range r.Buckets {
		// A block with all four settings on is spelt either way; the boolean is canonical.
		if p := b.PublicAccessBlockConfig; p != nil && p.BlockPublicACLs && p.IgnorePublicACLs && p.BlockPublicPolicy && p.RestrictPublicBuckets {
			b.PublicAccessBlock, b.PublicAccessBlockConfig = true, nil
		}
		b.Objects = nil
		b.Tags = nonNil(b.Tags)
	}
	sort.Slice(r.Buckets, func(i, j int) bool { return r.Buckets[i].Name < r.Buckets[j].Name })
	// Only the resources of CONTRACTS §4 are compared: moto's other services are not seeded.
	*r = world.Region{VPCs: r.VPCs, Subnets: r.Subnets, SecurityGroups: r.SecurityGroups, Instances: r.Instances,
		Snapshots: r.Snapshots, Trails: r.Trails, WAFIPSets: r.WAFIPSets, Buckets: r.Buckets}
}

func snapshotKey(s *world.Snapshot) string {
	b, _ := json.Marshal(s)
	return s.Volume + "\x00" + string(b)
}

// normaliseRules puts rules in one spelling: a single port as a range, "all" as -1 with no
// ports, group sources by name, and sorted.
func normaliseRules(rules []*world.Rule, groupName map[string]string) []*world.Rule {
	out := []*world.Rule{}
	for _, r := range rules {
		c := *r
		c.ID = ""
		if c.Protocol == "all" {
			c.Protocol = "-1"
		}
		if c.Port != 0 {
			c.FromPort, c.ToPort, c.Port = c.Port, c.Port, 0
		}
		if c.Protocol == "-1" {
			c.FromPort, c.ToPort = 0, 0
		}
		if n, ok := groupName[c.SourceGroup]; ok {
			c.SourceGroup = n
		}
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(*out[i]) < fmt.Sprint(*out[j]) })
	return out
}

func normaliseIAM(m *world.IAM) {
	for _, u := range m.Users {
		sort.Slice(u.AccessKeys, func(i, j int) bool { return u.AccessKeys[i].ID < u.AccessKeys[j].ID })
		u.Tags = nonNil(u.Tags)
		u.Policies = normalisePolicies(u.Policies)
		if u.AccessKeys == nil {
			u.AccessKeys = []*world.AccessKey{}
		}
	}
	sort.Slice(m.Users, func(i, j int) bool { return m.Users[i].Name < m.Users[j].Name })
	for _, r := range m.Roles {
		r.Tags = nonNil(r.Tags)
		r.Policies = normalisePolicies(r.Policies)
	}
	sort.Slice(m.Roles, func(i, j int) bool { return m.Roles[i].Name < m.Roles[j].Name })
}

// timestamp matches the times policies carry (the cut-off of a session revocation), which
// are taken from each backend's own clock.
var timestamp = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)

// normalisePolicies compacts each document and blanks its timestamps.
func normalisePolicies(p map[string]string) map[string]string {
	if len(p) == 0 {
		return nil
	}
	out := map[string]string{}
	for name, doc := range p {
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err == nil {
			b, _ := json.Marshal(v)
			doc = string(b)
		}
		out[name] = timestamp.ReplaceAllString(doc, "TIME")
	}
	return out
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func def(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// dump renders a normalised world as indented JSON lines.
func dump(w *world.World) []string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(w); err != nil {
		panic(err)
	}
	return strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
}

// diff compares two normalised worlds and returns a line diff ("-" only in a, "+" only in
// b, with a few lines of context), or "" when they are equal.
func diff(aName string, a *world.World, bName string, b *world.World) string {
	x, y := dump(a), dump(b)
	// Longest common subsequence; the dumps are a few hundred lines.
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, line{' ', x[i]})
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, line{'+', y[j]})
			j++
		default:
			lines = append(lines, line{'-', x[i]})
			i++
		}
	}
	// Show each change with a few lines around it, and "..." where lines are left out.
	const context = 4
	show := make([]bool, len(lines))
	for k, l := range lines {
		if l.op != ' ' {
			for c := max(k-context, 0); c <= min(k+context, len(lines)-1); c++ {
				show[c] = true
			}
		}
	}
	var out strings.Builder
	gap := false
	changed := false
	for k, l := range lines {
		if !show[k] {
			gap = true
			continue
		}
		if gap && out.Len() > 0 {
			out.WriteString("  ...\n")
		}
		gap = false
		changed = changed || l.op != ' '
		fmt.Fprintf(&out, "%c %s\n", l.op, l.text)
	}
	if !changed {
		return ""
	}
	return fmt.Sprintf("--- %s\n+++ %s\n%s", aName, bName, out.String())
}
