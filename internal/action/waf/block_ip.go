package waf

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	"github.com/aws/aws-sdk-go-v2/service/wafv2/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// BlockIPSpec declares waf.block-ip. UpdateIPSet replaces the whole address list, so the
// set is read with GetIPSet and written back with the lock token it returned; a
// WAFOptimisticLockException means another writer got in between, and the step reads and
// tries again. Firebreak does not create the IP set: a set no web ACL rule references blocks
// nothing, so a missing set is an error that says so.
//
// An IP set holds addresses of one version only, hence a second set for IPv6.
func BlockIPSpec() *action.Spec {
	return &action.Spec{
		Name: "waf.block-ip",
		Summary: "Add the address (as a /32 or /128) to a WAFv2 IP set that a blocking rule in your web ACLs " +
			"references.",
		Targets: []event.Kind{event.KindIP},
		Params: []action.Param{
			{
				Name:    "ip_set",
				Type:    action.String,
				Doc:     "Name of the IPv4 IP set.",
				Default: "firebreak-blocklist",
			},
			{
				Name:    "ip_set_ipv6",
				Type:    action.String,
				Doc:     "Name of the IPv6 IP set, used when the address is IPv6.",
				Default: "firebreak-blocklist-ipv6",
			},
			{
				Name:    "scope",
				Type:    action.String,
				Doc:     "REGIONAL for web ACLs on regional resources, CLOUDFRONT for distributions (managed in us-east-1).",
				Default: "REGIONAL",
				Allowed: []string{"REGIONAL", "CLOUDFRONT"},
			},
		},
		Reversible: true,
		Exec:       blockIP{},
		Permissions: []string{
			// Finds the set's id from its name.
			"wafv2:ListIPSets",
			"wafv2:GetIPSet",
			"wafv2:UpdateIPSet",
		},
		Manual: `# Account {{.Account}}: block {{.ID}} in IP set {{.Param "ip_set"}} (IPv6: {{.Param "ip_set_ipv6"}}), scope {{.Param "scope"}}.
# Use --region us-east-1 when the scope is CLOUDFRONT. An IPv6 address goes into the IPv6 set as /128.
aws wafv2 list-ip-sets --region {{.Region}} --scope {{.Param "scope"}} --query "IPSets[?Name=='{{.Param "ip_set"}}'].Id"
aws wafv2 get-ip-set --region {{.Region}} --scope {{.Param "scope"}} --name '{{.Param "ip_set"}}' --id IP_SET_ID
# Write back every address already there plus this one, with the LockToken get-ip-set returned.
aws wafv2 update-ip-set --region {{.Region}} --scope {{.Param "scope"}} --name '{{.Param "ip_set"}}' --id IP_SET_ID \
  --addresses EXISTING_ADDRESSES... {{.ID}}/32 --lock-token LOCK_TOKEN`,
		ManualUndo: `# Account {{.Account}}: unblock {{.ID}}: write the set back without it, with a fresh lock token.
aws wafv2 get-ip-set --region {{.Region}} --scope {{.Param "scope"}} --name '{{.Param "ip_set"}}' --id IP_SET_ID
aws wafv2 update-ip-set --region {{.Region}} --scope {{.Param "scope"}} --name '{{.Param "ip_set"}}' --id IP_SET_ID \
  --addresses REMAINING_ADDRESSES... --lock-token LOCK_TOKEN`,
	}
}

type blockIP struct{}

// lockRetries bounds how often the step re-reads the set after another writer changed it
// between read and write; contention beyond that is left to the step's own retry.
const lockRetries = 5

// blockIPPrior names the set Firebreak added the address to. It is recorded only when the
// address was added, so that undo never removes an address someone else put there.
type blockIPPrior struct {
	Set     string `json:"set"`
	ID      string `json:"id"`
	Scope   string `json:"scope"`
	Region  string `json:"region"`
	Address string `json:"address"`
}

// ipSetFor returns the address as a CIDR of one host and the name of the set its version
// belongs in.
func ipSetFor(req *action.Request) (cidr, set string, err error) {
	id := req.Target.ID
	addr, err := netip.ParseAddr(id)
	if err != nil {
		p, perr := netip.ParsePrefix(id)
		if perr != nil || !p.IsSingleIP() {
			return "", "", fmt.Errorf("%q is not an IP address", id)
		}
		addr = p.Addr()
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return netip.PrefixFrom(addr, 32).String(), req.String("ip_set"), nil
	}
	return netip.PrefixFrom(addr.WithZone(""), 128).String(), req.String("ip_set_ipv6"), nil
}

// wafRegion is where the set lives: CloudFront's web ACLs are managed in us-east-1.
func wafRegion(scope types.Scope, region string) string {
	if scope == types.ScopeCloudfront {
		return "us-east-1"
	}
	return region
}

// hasAddress returns the index of the entry equal to cidr, comparing as prefixes so that
// spellings of the same IPv6 address match; -1 when absent.
func hasAddress(addrs []string, cidr string) int {
	want, err := netip.ParsePrefix(cidr)
	if err != nil {
		return slices.Index(addrs, cidr)
	}
	for i, a := range addrs {
		if p, err := netip.ParsePrefix(a); err == nil && p.Masked() == want.Masked() {
			return i
		}
	}
	return -1
}

// findIPSet returns the id of the set called name in scope.
func findIPSet(ctx context.Context, c cloud.WAF, trace *action.Trace, account, name string, scope types.Scope) (string, error) {
	in := &wafv2.ListIPSetsInput{Scope: scope}
	for {
		out, err := c.ListIPSets(ctx, in)
		if err != nil {
			return "", action.AWSError(err, account, "wafv2:ListIPSets", "find the IP set "+name)
		}
		trace.Record(out.ResultMetadata)
		for _, s := range out.IPSets {
			if aws.ToString(s.Name) == name {
				return aws.ToString(s.Id), nil
			}
		}
		if aws.ToString(out.NextMarker) == "" || len(out.IPSets) == 0 {
			return "", fmt.Errorf("there is no %s IP set called %s: create it and reference it from a blocking rule in your web ACLs", scope, name)
		}
		in.NextMarker = out.NextMarker
	}
}

// editIPSet reads the set and writes back what edit makes of its addresses, reading again
// when another writer changed the set in between. edit returning false means there is
// nothing to write; editIPSet then reports false.
func editIPSet(ctx context.Context, c cloud.WAF, trace *action.Trace, account, name, id string, scope types.Scope, edit func([]string) ([]string, bool)) (bool, error) {
	for attempt := 1; ; attempt++ {
		got, err := c.GetIPSet(ctx, &wafv2.GetIPSetInput{Name: aws.String(name), Id: aws.String(id), Scope: scope})
		if err != nil {
			return false, action.AWSError(err, account, "wafv2:GetIPSet", "read the IP set "+name)
		}
		trace.Record(got.ResultMetadata)
		if got.IPSet == nil {
			return false, fmt.Errorf("read the IP set %s: the answer has no IP set", name)
		}
		addrs, write := edit(got.IPSet.Addresses)
		if !write {
			return false, nil
		}
		// UpdateIPSet replaces every setting, so the description is sent back unchanged.
		out, err := c.UpdateIPSet(ctx, &wafv2.UpdateIPSetInput{Name: aws.String(name), Id: aws.String(id), Scope: scope,
			Addresses: addrs, LockToken: got.LockToken, Description: got.IPSet.Description})
		if err == nil {
			trace.Record(out.ResultMetadata)
			return true, nil
		}
		if cloud.Code(err) != "WAFOptimisticLockException" || attempt >= lockRetries {
			return false, action.AWSError(err, account, "wafv2:UpdateIPSet", "write the IP set "+name)
		}
	}
}

func (blockIP) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("block %s in WAF for %s: %w", t.ID, t.Account, err)
	}
	cidr, name, err := ipSetFor(req)
	if err != nil {
		return fail(err)
	}
	scope := types.Scope(req.String("scope"))
	if scope == "" {
		scope = types.ScopeRegional
	}
	reg := wafRegion(scope, t.Region)
	c, err := env.Cloud.WAF(ctx, t.Account, reg)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	id, err := findIPSet(ctx, c, trace, t.Account, name, scope)
	if err != nil {
		return fail(err)
	}
	added, err := editIPSet(ctx, c, trace, t.Account, name, id, scope, func(addrs []string) ([]string, bool) {
		if hasAddress(addrs, cidr) >= 0 {
			return nil, false
		}
		return append(slices.Clone(addrs), cidr), true
	})
	if err != nil {
		return fail(err)
	}
	if !added {
		return &action.Result{Status: action.AlreadyDone, Message: cidr + " is already in the IP set " + name, RequestIDs: trace.IDs()}, nil
	}
	raw, err := action.EncodePrior(blockIPPrior{Set: name, ID: id, Scope: string(scope), Region: reg, Address: cidr})
	if err != nil {
		return fail(err)
	}
	return &action.Result{Status: action.Done, Message: cidr + " added to the IP set " + name, Prior: raw, RequestIDs: trace.IDs()}, nil
}

func (blockIP) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("unblock %s in WAF for %s: %w", t.ID, t.Account, err)
	}
	var prior blockIPPrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return fail(err)
	}
	c, err := env.Cloud.WAF(ctx, t.Account, prior.Region)
	if err != nil {
		return fail(err)
	}
	trace := &action.Trace{}
	removed, err := editIPSet(ctx, c, trace, t.Account, prior.Set, prior.ID, types.Scope(prior.Scope), func(addrs []string) ([]string, bool) {
		i := hasAddress(addrs, prior.Address)
		if i < 0 {
			return nil, false
		}
		return slices.Delete(slices.Clone(addrs), i, i+1), true
	})
	if err != nil {
		return fail(err)
	}
	if !removed {
		return &action.Result{Status: action.Done, Message: prior.Address + " was no longer in the IP set " + prior.Set, RequestIDs: trace.IDs()}, nil
	}
	return &action.Result{Status: action.Done, Message: prior.Address + " removed from the IP set " + prior.Set, RequestIDs: trace.IDs()}, nil
}
