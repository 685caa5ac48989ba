package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/wafv2"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// moreYAML has the IAM principals, trails, IP sets, groups and buckets the identity,
// logging, network and general actions act on.
const moreYAML = `
accounts:
  - id: "111122223333"
    name: prod
    tags: {Environment: prod}
    regions:
      us-east-1:
        vpcs: [{id: vpc-1}]
        subnets: [{id: subnet-1, vpc: vpc-1}]
        security_groups:
          - id: sg-open
            vpc: vpc-1
            tags: {Owner: team-web}
            ingress:
              - {protocol: tcp, port: 22, cidr: 0.0.0.0/0}
              - {protocol: tcp, port: 22, cidr_ipv6: "::/0"}
              - {protocol: tcp, from_port: 8000, to_port: 8100, cidr: 0.0.0.0/0, description: app}
              - {protocol: tcp, port: 443, cidr: 10.0.0.0/8}
              - {protocol: tcp, port: 5432, source_group: sg-closed}
          - {id: sg-closed, vpc: vpc-1, ingress: [{protocol: tcp, port: 22, cidr: 10.0.0.0/8}]}
        instances:
          - id: i-0abc
            subnet: subnet-1
            security_groups: [sg-closed]
            volumes: [vol-1]
            instance_profile: web-profile
            state: running
            tags: {Environment: prod, "firebreak:status": old}
        snapshots: []
        trails:
          - {name: main, logging: false, multi_region: true, s3_bucket: trail-logs}
          - {name: audit, logging: true}
        waf_ip_sets:
          - {name: firebreak-blocklist, scope: REGIONAL, addresses: [198.51.100.7/32]}
          - {name: firebreak-blocklist-ipv6, scope: REGIONAL, ip_version: IPV6, addresses: []}
          - {name: firebreak-blocklist, scope: CLOUDFRONT, addresses: []}
        buckets:
          - {name: data-bucket, public_access_block: false, tags: {Owner: team-data}}
          - {name: bare-bucket, public_access_block: true}
        sns_topics: [{name: incidents}]
    iam:
      users:
        - name: alice
          access_keys: [{id: AKIAALICE1, status: Active}, {id: AKIAALICE2, status: Inactive}, {id: AKIAALICE3, status: Active}]
          login_profile: true
          password_reset_required: true
          tags: {team: web}
        - name: bob
          access_keys: [{id: AKIABOB1, status: Active}]
          login_profile: false
          tags: {}
          policies: {FirebreakDenyAll: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'}
      roles:
        - {name: web-role, tags: {team: web}}
        - name: app-role
          policies: {FirebreakRevokeOlderSessions: '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2020-01-01T00:00:00Z"}}}]}'}
`

// moreProvider is the simulation as the more world's cases see it; the contended-lock
// test swaps its WAF client.
type moreProvider struct{ provider }

// moreWorld is moreYAML with the identity, logging, network and general actions' cases. Its
// clock is fixed because iam.revoke-role-sessions writes the time into its policy.
var moreWorld = execWorld{name: "more", yaml: moreYAML, cases: moreCases,
	cloud: func(o *sim.Org) cloud.Provider { return moreProvider{provider{o}} },
	now:   time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)}

func newMoreOrg(t *testing.T, opts sim.Options) (*sim.Org, *action.Env) {
	t.Helper()
	return moreWorld.org(t, opts)
}

func target(kind event.Kind, id string) action.Target {
	return action.Target{Kind: kind, ID: id, Account: prod, Region: region}
}

var moreCases = []execCase{
	{action: "iam.deactivate-user", target: target(event.KindIAMUser, "alice")},
	{action: "iam.deactivate-user", target: target(event.KindIAMUser, "bob")},
	{action: "iam.deactivate-user", target: target(event.KindIAMUser, "alice"), with: map[string]any{"delete_login_profile": false, "attach_deny_policy": false}},
	{action: "iam.revoke-role-sessions", target: target(event.KindIAMRole, "web-role")},
	// app-role carries another incident's revocation under the same name: replaced, then put back.
	{action: "iam.revoke-role-sessions", target: target(event.KindIAMRole, "app-role")},
	{action: "cloudtrail.restart-logging", target: target(event.KindTrail, "main")},
	{action: "cloudtrail.restart-logging", target: target(event.KindTrail, "arn:aws:cloudtrail:us-east-1:111122223333:trail/main")},
	{action: "waf.block-ip", target: target(event.KindIP, "203.0.113.9"), ignore: dropLockTokens},
	{action: "waf.block-ip", target: target(event.KindIP, "2001:db8::1"), ignore: dropLockTokens},
	{action: "waf.block-ip", target: target(event.KindIP, "203.0.113.9"), with: map[string]any{"scope": "CLOUDFRONT"}, ignore: dropLockTokens},
	{action: "ec2.confine-security-group", target: target(event.KindSecurityGroup, "sg-open"), ignore: sortRules},
	{action: "ec2.confine-security-group", target: target(event.KindSecurityGroup, "sg-open"), with: map[string]any{"allowed_cidrs": []any{"10.1.0.0/16", "2001:db8::/32"}}, ignore: sortRules},
	{action: "ec2.confine-security-group", target: target(event.KindSecurityGroup, "sg-open"), with: map[string]any{"allowed_cidrs": []string{"::/0", "10.0.0.0/8"}}, ignore: sortRules},
	// i-0abc already has firebreak:status (old): undo puts the old value back.
	{action: "tag", target: instance("i-0abc")},
	{action: "tag", target: target(event.KindSecurityGroup, "sg-closed"), with: map[string]any{"tags": map[string]any{"quarantine": "yes"}}},
	{action: "tag", target: target(event.KindS3Bucket, "data-bucket")},
	{action: "tag", target: target(event.KindIAMUser, "alice"), with: map[string]any{"tags": map[string]string{"team": "ir", "firebreak:status": "contained"}}},
	{action: "tag", target: target(event.KindIAMRole, "app-role")},
	{action: "tag", target: target(event.KindS3Bucket, "bare-bucket")},
	{action: "notify", target: instance("i-0abc"), with: map[string]any{"channel": "arn:aws:sns:us-east-1:111122223333:incidents", "message": "Contained."}, notAuthorized: true},
}

// dropLockTokens forgets IP sets' lock tokens: every write issues a new one, so a set
// written back to its old addresses has a new token by design.
func dropLockTokens(v any) {
	walk(v, func(m map[string]any) { delete(m, "lock_token") })
}

// sortRules forgets rule ids and sorts each group's rules: a rule revoked and authorised
// again is the same rule, but it gets a new id and comes last.
func sortRules(v any) {
	walk(v, func(m map[string]any) {
		for _, dir := range []string{"ingress", "egress"} {
			rules, ok := m[dir].([]any)
			if !ok {
				continue
			}
			for _, r := range rules {
				if rm, ok := r.(map[string]any); ok {
					delete(rm, "id")
				}
			}
			slices.SortFunc(rules, func(a, b any) int {
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				return strings.Compare(string(ja), string(jb))
			})
		}
	})
}

// lockContention is a WAF API on which another writer changes the set just before each of
// the first n UpdateIPSet calls, so that their lock tokens are stale.
type lockContention struct {
	cloud.WAF
	n     int
	wrote int // addresses the other writer added, numbering the next one
}

func (l *lockContention) UpdateIPSet(ctx context.Context, in *wafv2.UpdateIPSetInput, opts ...func(*wafv2.Options)) (*wafv2.UpdateIPSetOutput, error) {
	if l.n > 0 {
		l.n--
		got, err := l.WAF.GetIPSet(ctx, &wafv2.GetIPSetInput{Name: in.Name, Id: in.Id, Scope: in.Scope})
		if err != nil {
			return nil, err
		}
		l.wrote++
		other := fmt.Sprintf("192.0.2.%d/32", l.wrote)
		if _, err := l.WAF.UpdateIPSet(ctx, &wafv2.UpdateIPSetInput{Name: in.Name, Id: in.Id, Scope: in.Scope,
			Addresses: append(got.IPSet.Addresses, other), LockToken: got.LockToken}); err != nil {
			return nil, err
		}
	}
	return l.WAF.UpdateIPSet(ctx, in, opts...)
}

type contendedProvider struct {
	moreProvider
	waf *lockContention
}

func (p contendedProvider) WAF(ctx context.Context, account, region string) (cloud.WAF, error) {
	c, err := p.moreProvider.WAF(ctx, account, region)
	if err != nil {
		return nil, err
	}
	p.waf.WAF = c
	return p.waf, nil
}

// TestBlockIPLockContention checks that waf.block-ip reads the set again when another writer
// got in between, keeps that writer's addresses, and that undo removes only its own.
func TestBlockIPLockContention(t *testing.T) {
	ctx := context.Background()
	org, env := newMoreOrg(t, sim.Options{})
	contended := &lockContention{n: 2}
	env.Cloud = contendedProvider{moreProvider: env.Cloud.(moreProvider), waf: contended}
	spec, req := request(t, execCase{action: "waf.block-ip", target: target(event.KindIP, "203.0.113.9")})
	res, err := spec.Exec.Do(ctx, env, req)
	if err != nil || res.Status != action.Done {
		t.Fatalf("Do: %v, %+v", err, res)
	}
	addrs := func() []string {
		for _, s := range org.World().Accounts[0].Regions[region].WAFIPSets {
			if s.Name == "firebreak-blocklist" && s.Scope == "REGIONAL" {
				return s.Addresses
			}
		}
		t.Fatal("no IP set")
		return nil
	}
	want := []string{"198.51.100.7/32", "192.0.2.1/32", "192.0.2.2/32", "203.0.113.9/32"}
	if got := addrs(); !slices.Equal(got, want) {
		t.Fatalf("after Do: %v, want %v", got, want)
	}
	contended.n = 1
	if _, err := spec.Exec.Undo(ctx, env, req, res.Prior); err != nil {
		t.Fatalf("Undo: %v", err)
	}
	want = []string{"198.51.100.7/32", "192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32"}
	if got := addrs(); !slices.Equal(got, want) {
		t.Fatalf("after Undo: %v, want %v", got, want)
	}
}

// TestConfineSecurityGroupRules checks which rules confinement leaves: world-open ones go
// unless the world-open CIDR is itself allowed, trusted CIDRs get each port that was open,
// and rules from other sources are untouched.
func TestConfineSecurityGroupRules(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		with map[string]any
		want []string
	}{
		{nil, []string{"tcp 443-443 10.0.0.0/8", "tcp 5432-5432 sg-closed"}},
		{map[string]any{"allowed_cidrs": []string{"10.1.0.0/16", "2001:db8::/32"}}, []string{
			"tcp 22-22 10.1.0.0/16", "tcp 22-22 2001:db8::/32", "tcp 443-443 10.0.0.0/8", "tcp 5432-5432 sg-closed",
			"tcp 8000-8100 10.1.0.0/16", "tcp 8000-8100 2001:db8::/32"}},
		{map[string]any{"allowed_cidrs": []string{"::/0"}}, []string{"tcp 22-22 ::/0", "tcp 443-443 10.0.0.0/8", "tcp 5432-5432 sg-closed"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.with), func(t *testing.T) {
			org, env := newMoreOrg(t, sim.Options{})
			spec, req := request(t, execCase{action: "ec2.confine-security-group", target: target(event.KindSecurityGroup, "sg-open"), with: tt.with})
			if _, err := spec.Exec.Do(ctx, env, req); err != nil {
				t.Fatalf("Do: %v", err)
			}
			var got []string
			for _, g := range org.World().Accounts[0].Regions[region].SecurityGroups {
				if g.ID != "sg-open" {
					continue
				}
				for _, r := range g.Ingress {
					from, to := r.FromPort, r.ToPort
					if r.Port != 0 {
						from, to = r.Port, r.Port
					}
					got = append(got, fmt.Sprintf("%s %d-%d %s%s%s", r.Protocol, from, to, r.CIDR, r.CIDRv6, r.SourceGroup))
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("rules after Do:\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestNotify checks what notify sends through the notifier and that a repeated step does not
// send it again.
func TestNotify(t *testing.T) {
	ctx := context.Background()
	_, env := newMoreOrg(t, sim.Options{})
	spec, req := request(t, execCase{action: "notify", target: instance("i-0abc"), with: map[string]any{"to": []any{"owners", "secops"}, "message": "Instance isolated."}})
	req.Event = &event.Event{ID: "ev-1", Type: "UnauthorizedAccess:EC2/SSHBruteForce", Source: "guardduty", Severity: 8}
	res, err := spec.Exec.Do(ctx, env, req)
	if err != nil || res.Status != action.Done {
		t.Fatalf("Do: %v, %+v", err, res)
	}
	sent := env.Notify.(*action.RecordingNotifier).Sent()
	if len(sent) != 1 {
		t.Fatalf("%d notifications sent, want 1", len(sent))
	}
	n := sent[0]
	for _, want := range []string{"inc-1", "UnauthorizedAccess:EC2/SSHBruteForce", "i-0abc"} {
		if !strings.Contains(n.Subject, want) {
			t.Errorf("subject %q does not name %s", n.Subject, want)
		}
	}
	if !strings.HasPrefix(n.Message, "Instance isolated.") || !strings.Contains(n.Message, "Incident: inc-1") {
		t.Errorf("message %q", n.Message)
	}
	if !slices.Equal(n.To, []string{"owners", "secops"}) || n.Incident != "inc-1" || n.Target.ID != "i-0abc" {
		t.Errorf("notification %+v", n)
	}
	again, err := spec.Exec.Do(ctx, env, req)
	if err != nil || again.Status != action.AlreadyDone {
		t.Errorf("second Do: %v, %+v", err, again)
	}
	if got := len(env.Notify.(*action.RecordingNotifier).Sent()); got != 1 {
		t.Errorf("%d notifications after a repeated step, want 1", got)
	}
}

// TestRevokeRoleSessionsPolicy checks the policy's cut-off and that another incident's
// revocation is replaced rather than taken for this one's.
func TestRevokeRoleSessionsPolicy(t *testing.T) {
	ctx := context.Background()
	org, env := newMoreOrg(t, sim.Options{})
	for _, role := range []string{"web-role", "app-role"} {
		spec, req := request(t, execCase{action: "iam.revoke-role-sessions", target: target(event.KindIAMRole, role)})
		if res, err := spec.Exec.Do(ctx, env, req); err != nil || res.Status != action.Done {
			t.Fatalf("%s: Do: %v, %+v", role, err, res)
		}
	}
	for _, r := range org.World().Accounts[0].IAM.Roles {
		doc := r.Policies["FirebreakRevokeOlderSessions"]
		if !strings.Contains(doc, `"DateLessThan":{"aws:TokenIssueTime":"2026-11-27T05:00:00Z"}`) || !strings.Contains(doc, `"Effect":"Deny"`) {
			t.Errorf("%s: policy %s", r.Name, doc)
		}
	}
}
