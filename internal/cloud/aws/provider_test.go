package awscloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-sec/firebreak/internal/cloud"
)

// fakeAWS stands in for STS and EC2 on one endpoint, as moto and LocalStack do. It issues
// credentials whose access key names the account, and records who called what.
type fakeAWS struct {
	*httptest.Server
	// lifetime is how long issued credentials last.
	lifetime time.Duration
	// ec2Status and ec2Code, when set, make every EC2 call fail with them.
	ec2Status int
	ec2Code   string
	// block, when set, holds EC2 calls signed for blockAccount until it is closed.
	block        chan struct{}
	blockAccount string

	mu       sync.Mutex
	assumes  []assumeCall
	ec2Calls []string // the access key each EC2 call was signed with
	identity int
	inFlight map[string]int
	maxIn    map[string]int
}

type assumeCall struct{ roleARN, session, externalID string }

var credentialKey = regexp.MustCompile(`Credential=([^/]+)/`)

func newFakeAWS(t *testing.T) *fakeAWS {
	f := &fakeAWS{lifetime: time.Hour, inFlight: map[string]int{}, maxIn: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	key := ""
	if m := credentialKey.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		key = m[1]
	}
	switch r.Form.Get("Action") {
	case "AssumeRole":
		arn := r.Form.Get("RoleArn")
		f.mu.Lock()
		f.assumes = append(f.assumes, assumeCall{arn, r.Form.Get("RoleSessionName"), r.Form.Get("ExternalId")})
		f.mu.Unlock()
		account := strings.Split(arn, ":")[4]
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIA%s</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>%s</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>
<ResponseMetadata><RequestId>sts-req</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			account, time.Now().Add(f.lifetime).UTC().Format(time.RFC3339Nano), arn)
	case "GetCallerIdentity":
		f.mu.Lock()
		f.identity++
		f.mu.Unlock()
		fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>
<Arn>arn:aws:iam::111122223333:user/hub</Arn><UserId>AIDA</UserId><Account>111122223333</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>sts-req</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
	case "DescribeInstances":
		f.mu.Lock()
		f.ec2Calls = append(f.ec2Calls, key)
		f.inFlight[key]++
		f.maxIn[key] = max(f.maxIn[key], f.inFlight[key])
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			f.inFlight[key]--
			f.mu.Unlock()
		}()
		if f.block != nil && key == "ASIA"+f.blockAccount {
			<-f.block
		}
		if f.ec2Status != 0 {
			w.WriteHeader(f.ec2Status)
			fmt.Fprintf(w, `<Response><Errors><Error><Code>%s</Code><Message>slow down</Message></Error></Errors><RequestID>ec2-err</RequestID></Response>`, f.ec2Code)
			return
		}
		fmt.Fprint(w, `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>ec2-req</requestId><reservationSet/></DescribeInstancesResponse>`)
	default:
		http.Error(w, "unexpected action "+r.Form.Get("Action"), http.StatusBadRequest)
	}
}

func (f *fakeAWS) snapshot() (assumes []assumeCall, ec2Calls []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]assumeCall(nil), f.assumes...), append([]string(nil), f.ec2Calls...)
}

func hubConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDHUB", "hubsecret", ""),
	}
}

func newProvider(t *testing.T, f *fakeAWS, opts Options) *Provider {
	t.Helper()
	opts.Endpoint = f.URL
	p, err := NewFromConfig(hubConfig(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func describe(ctx context.Context, t *testing.T, p *Provider, account string) error {
	t.Helper()
	c, err := p.EC2(ctx, account, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	return err
}

func TestAssumeRoleCaching(t *testing.T) {
	type call struct{ account, session string }
	tests := []struct {
		name        string
		calls       []call
		wantAssumes []assumeCall
	}{
		{
			name:  "same account and session assume once",
			calls: []call{{"222233334444", ""}, {"222233334444", ""}, {"222233334444", ""}, {"222233334444", ""}},
			wantAssumes: []assumeCall{
				{"arn:aws:iam::222233334444:role/FirebreakResponder", "firebreak", ""},
			},
		},
		{
			name:  "each account assumes its own role",
			calls: []call{{"222233334444", ""}, {"333344445555", ""}, {"222233334444", ""}, {"333344445555", ""}},
			wantAssumes: []assumeCall{
				{"arn:aws:iam::222233334444:role/FirebreakResponder", "firebreak", ""},
				{"arn:aws:iam::333344445555:role/FirebreakResponder", "firebreak", ""},
			},
		},
		{
			name:  "each incident gets its own session",
			calls: []call{{"222233334444", "inc-1"}, {"222233334444", "inc-2"}, {"222233334444", "inc-1"}},
			wantAssumes: []assumeCall{
				{"arn:aws:iam::222233334444:role/FirebreakResponder", "inc-1", ""},
				{"arn:aws:iam::222233334444:role/FirebreakResponder", "inc-2", ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAWS(t)
			p := newProvider(t, f, Options{})
			for _, c := range tt.calls {
				ctx := context.Background()
				if c.session != "" {
					ctx = WithSessionName(ctx, c.session)
				}
				if err := describe(ctx, t, p, c.account); err != nil {
					t.Fatal(err)
				}
			}
			assumes, ec2Calls := f.snapshot()
			if fmt.Sprint(assumes) != fmt.Sprint(tt.wantAssumes) {
				t.Errorf("AssumeRole calls = %v, want %v", assumes, tt.wantAssumes)
			}
			for i, key := range ec2Calls {
				if want := "ASIA" + tt.calls[i].account; key != want {
					t.Errorf("EC2 call %d signed with %q, want %q", i, key, want)
				}
			}
		})
	}
}

func TestCredentialsRefreshBeforeExpiry(t *testing.T) {
	f := newFakeAWS(t)
	f.lifetime = 2 * time.Second
	p := newProvider(t, f, Options{ExpiryWindow: 1900 * time.Millisecond})
	ctx := context.Background()
	for range 2 {
		if err := describe(ctx, t, p, "222233334444"); err != nil {
			t.Fatal(err)
		}
	}
	if assumes, _ := f.snapshot(); len(assumes) != 1 {
		t.Fatalf("before expiry: %d AssumeRole calls, want 1", len(assumes))
	}
	time.Sleep(300 * time.Millisecond)
	if err := describe(ctx, t, p, "222233334444"); err != nil {
		t.Fatal(err)
	}
	if assumes, _ := f.snapshot(); len(assumes) != 2 {
		t.Fatalf("inside the expiry window: %d AssumeRole calls, want 2", len(assumes))
	}
}

func TestAssumeRoleOptions(t *testing.T) {
	f := newFakeAWS(t)
	p := newProvider(t, f, Options{RoleName: "responders/Custom", ExternalID: "ext-123", SessionName: "fb-hub"})
	if err := describe(context.Background(), t, p, "222233334444"); err != nil {
		t.Fatal(err)
	}
	assumes, _ := f.snapshot()
	want := []assumeCall{{"arn:aws:iam::222233334444:role/responders/Custom", "fb-hub", "ext-123"}}
	if fmt.Sprint(assumes) != fmt.Sprint(want) {
		t.Errorf("AssumeRole calls = %v, want %v", assumes, want)
	}
}

func TestSameAccount(t *testing.T) {
	tests := []struct {
		name         string
		hubAccount   string
		account      string
		wantKey      string
		wantAssumes  int
		wantIdentity int
	}{
		{"hub account given", "111122223333", "111122223333", "AKIDHUB", 0, 0},
		{"hub account learned", "", "111122223333", "AKIDHUB", 0, 1},
		{"member account still assumes", "111122223333", "222233334444", "ASIA222233334444", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAWS(t)
			p := newProvider(t, f, Options{SameAccount: true, HubAccount: tt.hubAccount})
			if err := describe(context.Background(), t, p, tt.account); err != nil {
				t.Fatal(err)
			}
			assumes, calls := f.snapshot()
			if len(assumes) != tt.wantAssumes || f.identity != tt.wantIdentity || calls[0] != tt.wantKey {
				t.Errorf("assumes %d identity %d key %q, want %d %d %q", len(assumes), f.identity, calls[0], tt.wantAssumes, tt.wantIdentity, tt.wantKey)
			}
		})
	}
}

func TestClientsReused(t *testing.T) {
	f := newFakeAWS(t)
	p := newProvider(t, f, Options{})
	ctx := context.Background()
	a, _ := p.EC2(ctx, "222233334444", "us-east-1")
	b, _ := p.EC2(ctx, "222233334444", "us-east-1")
	c, _ := p.EC2(ctx, "222233334444", "eu-west-1")
	if a != b {
		t.Error("same (account, region, service) built two clients")
	}
	if a == c {
		t.Error("different regions share a client")
	}
	i1, _ := p.IAM(ctx, "222233334444")
	i2, _ := p.IAM(ctx, "222233334444")
	if i1 != i2 {
		t.Error("IAM client not reused")
	}
}

func TestInFlightLimit(t *testing.T) {
	f := newFakeAWS(t)
	f.block = make(chan struct{})
	f.blockAccount = "222233334444"
	p := newProvider(t, f, Options{MaxInFlight: 2})
	ctx := context.Background()
	// Credentials first, so that the blocked calls below are EC2 calls only.
	if err := describe(ctx, t, p, "333344445555"); err != nil {
		t.Fatal(err)
	}
	c, _ := p.EC2(ctx, "222233334444", "us-east-1")
	if _, err := p.IAM(ctx, "222233334444"); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var done atomic.Int32
	for range 5 {
		wg.Go(func() {
			if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
				t.Error(err)
			}
			done.Add(1)
		})
	}
	// Wait until the limit is reached in the blocked account.
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		n := f.inFlight["ASIA222233334444"]
		f.mu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Another account is not held back by the saturated one.
	otherCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := describe(otherCtx, t, p, "333344445555"); err != nil {
		t.Fatalf("other account starved: %v", err)
	}
	// A caller that gives up while queued gets its context's error, not a hang.
	quick, cancelQuick := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelQuick()
	if _, err := c.DescribeInstances(quick, &ec2.DescribeInstancesInput{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("queued call past its deadline: %v, want context.DeadlineExceeded", err)
	}
	close(f.block)
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := f.maxIn["ASIA222233334444"]; got != 2 {
		t.Errorf("max in flight = %d, want 2", got)
	}
	if done.Load() != 5 {
		t.Errorf("%d calls completed, want 5", done.Load())
	}
}

func TestThrottlingRetriedThenReported(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		code         string
		wantAttempts int
		wantClass    cloud.Class
	}{
		{"throttled", 503, "RequestLimitExceeded", 3, cloud.Throttled},
		{"server fault", 500, "InternalError", 3, cloud.Retry},
		{"denied is not retried", 403, "UnauthorizedOperation", 1, cloud.Denied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAWS(t)
			f.ec2Status, f.ec2Code = tt.status, tt.code
			p := newProvider(t, f, Options{MaxAttempts: 3, MaxBackoff: 10 * time.Millisecond})
			err := describe(context.Background(), t, p, "222233334444")
			if err == nil {
				t.Fatal("want an error")
			}
			_, calls := f.snapshot()
			if len(calls) != tt.wantAttempts {
				t.Errorf("%d attempts, want %d", len(calls), tt.wantAttempts)
			}
			if got := cloud.Classify(err); got != tt.wantClass {
				t.Errorf("Classify() = %v, want %v", got, tt.wantClass)
			}
			if got := cloud.RequestID(err); got != "ec2-err" {
				t.Errorf("RequestID() = %q, want ec2-err", got)
			}
		})
	}
}

func TestDefaultChain(t *testing.T) {
	f := newFakeAWS(t)
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDHUB")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "hubsecret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL", f.URL)
	p, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := describe(context.Background(), t, p, "222233334444"); err != nil {
		t.Fatal(err)
	}
	if assumes, calls := f.snapshot(); len(assumes) != 1 || calls[0] != "ASIA222233334444" {
		t.Errorf("assumes %v calls %v: AWS_ENDPOINT_URL not honoured", assumes, calls)
	}
}

func TestSessionName(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unset", "", "firebreak"},
		{"valid", "inc-42", "inc-42"},
		{"unsafe characters", "INC 42/ec2:isolate", "INC-42-ec2-isolate"},
		{"too short", "x", "firebreak"},
		{"too long", strings.Repeat("a", 70), strings.Repeat("a", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.in != "" {
				ctx = WithSessionName(ctx, tt.in)
			}
			if got := SessionName(ctx, "firebreak"); got != tt.want {
				t.Errorf("SessionName() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAccountOverrides checks that an account's own role (a name or an ARN) and external id
// are the ones assumed there, that other accounts keep the defaults, and that an account
// limited to some regions is refused elsewhere before anything is sent, except for IAM,
// which is global.
func TestAccountOverrides(t *testing.T) {
	f := newFakeAWS(t)
	p := newProvider(t, f, Options{RoleName: "FirebreakResponder", ExternalID: "ext-default", SessionName: "fb", Accounts: map[string]Account{
		"222233334444": {Role: "team/Responder", ExternalID: "ext-team"},
		"333344445555": {Role: "arn:aws:iam::333344445555:role/Other", Regions: []string{"eu-west-1"}},
	}})
	ctx := context.Background()
	for _, account := range []string{"222233334444", "333344445555", "444455556666"} {
		region := "us-east-1"
		if account == "333344445555" {
			region = "eu-west-1"
		}
		c, err := p.EC2(ctx, account, region)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	assumes, _ := f.snapshot()
	want := []assumeCall{
		{"arn:aws:iam::222233334444:role/team/Responder", "fb", "ext-team"},
		{"arn:aws:iam::333344445555:role/Other", "fb", "ext-default"},
		{"arn:aws:iam::444455556666:role/FirebreakResponder", "fb", "ext-default"},
	}
	if fmt.Sprint(assumes) != fmt.Sprint(want) {
		t.Errorf("AssumeRole calls = %v, want %v", assumes, want)
	}

	_, err := p.EC2(ctx, "333344445555", "us-east-1")
	var re *RegionError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "eu-west-1") || !strings.Contains(err.Error(), "accounts.overrides") {
		t.Errorf("EC2 in a region the account is not acted on in: %v, want a RegionError naming the allowed regions", err)
	}
	if _, err := p.IAM(ctx, "333344445555"); err != nil {
		t.Errorf("IAM in a region-limited account: %v, want allowed (IAM is global)", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	f := newFakeAWS(t)
	p := newProvider(t, f, Options{})
	noRegion, err := NewFromConfig(aws.Config{Credentials: hubConfig().Credentials}, Options{Endpoint: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		p       *Provider
		account string
		region  string
		want    string
	}{
		{"short account", p, "1234", "us-east-1", "12-digit"},
		{"arn injection", p, "222233334444:role/x", "us-east-1", "12-digit"},
		{"bad region", p, "222233334444", "us east 1", "region"},
		{"no region anywhere", noRegion, "222233334444", "", "no region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.p.EC2(context.Background(), tt.account, tt.region)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("EC2() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	for _, bad := range []Options{{RoleName: "bad role"}, {HubAccount: "12"}, {ExternalID: "x"},
		{Accounts: map[string]Account{"12": {}}},
		{Accounts: map[string]Account{"222233334444": {Role: "arn:aws:iam::999988887777:role/X"}}},
		{Accounts: map[string]Account{"222233334444": {Role: "bad role"}}},
		{Accounts: map[string]Account{"222233334444": {Regions: []string{"us east 1"}}}},
	} {
		if _, err := NewFromConfig(hubConfig(), bad); err == nil {
			t.Errorf("NewFromConfig(%+v) accepted invalid options", bad)
		}
	}
}

// TestCallsCounted checks that each call is counted once, retries included, under its
// account, service, operation and final result.
func TestCallsCounted(t *testing.T) {
	f := newFakeAWS(t)
	reg := prometheus.NewRegistry()
	p := newProvider(t, f, Options{MaxAttempts: 3, MaxBackoff: 10 * time.Millisecond, Registry: reg})
	ctx := context.Background()
	if err := describe(ctx, t, p, "222233334444"); err != nil {
		t.Fatal(err)
	}
	f.ec2Status, f.ec2Code = 503, "RequestLimitExceeded"
	if err := describe(ctx, t, p, "222233334444"); err == nil {
		t.Fatal("want the throttling error")
	}
	want := map[string]float64{"OK": 1, "RequestLimitExceeded": 1}
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "firebreak_aws_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["account"] != "222233334444" || labels["service"] != "EC2" || labels["operation"] != "DescribeInstances" {
				t.Errorf("unexpected labels %v", labels)
			}
			got[labels["code"]] += m.GetCounter().GetValue()
		}
	}
	if len(got) != len(want) || got["OK"] != want["OK"] || got["RequestLimitExceeded"] != want["RequestLimitExceeded"] {
		t.Errorf("calls counted %v, want %v (three throttled attempts are one call)", got, want)
	}
}
