package catalog

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
)

// lateEC2 answers the first CreateSnapshots with a 500 at once and carries it out later,
// as AWS may when the caller's connection broke or its process died mid-call.
type lateEC2 struct {
	cloud.EC2
	delay time.Duration
	once  *sync.Once
	wg    *sync.WaitGroup
}

func (l lateEC2) CreateSnapshots(ctx context.Context, in *ec2.CreateSnapshotsInput, opts ...func(*ec2.Options)) (*ec2.CreateSnapshotsOutput, error) {
	late := false
	l.once.Do(func() { late = true })
	if !late {
		return l.EC2.CreateSnapshots(ctx, in, opts...)
	}
	l.wg.Go(func() {
		time.Sleep(l.delay)
		_, _ = l.EC2.CreateSnapshots(context.WithoutCancel(ctx), in, opts...)
	})
	return nil, &smithy.GenericAPIError{Code: "InternalError", Message: "An internal error has occurred"}
}

type lateProvider struct {
	provider
	late lateEC2
}

func (p lateProvider) EC2(ctx context.Context, account, region string) (cloud.EC2, error) {
	c, err := p.provider.EC2(ctx, account, region)
	if err != nil {
		return nil, err
	}
	l := p.late
	l.EC2 = c
	return l, nil
}

// TestSnapshotResumedWaitsForLateCall checks that a snapshot step attempted again after a
// call whose outcome was unknown takes no second set: the retry, resumed, waits Settle for
// the first call's snapshots to show and reports them as its own. Without the wait (the
// control) the retry looks too early and snapshots every volume twice, which is what the
// wait is for.
func TestSnapshotResumedWaitsForLateCall(t *testing.T) {
	spec, _ := Default().Lookup("ec2.snapshot-volumes")
	for _, tt := range []struct {
		name   string
		settle time.Duration
		want   int
	}{
		{"settles", 300 * time.Millisecond, 1},
		{"no settle", -1, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			org, env := newOrg(t, sim.Options{})
			var wg sync.WaitGroup
			env.Cloud = lateProvider{provider{org}, lateEC2{delay: 50 * time.Millisecond, once: &sync.Once{}, wg: &wg}}
			env.Settle = tt.settle
			req := &action.Request{Target: instance("i-0abc"), Params: spec.ParamsWithDefaults(nil), Incident: "inc-late"}
			if _, err := spec.Exec.Do(context.Background(), env, req); err == nil {
				t.Fatal("first attempt succeeded; want its 500")
			}
			req.Resumed = true
			res, err := spec.Exec.Do(context.Background(), env, req)
			wg.Wait()
			if err != nil {
				t.Fatalf("resumed attempt: %v", err)
			}
			perVolume := map[string]int{}
			for _, s := range org.World().Accounts[0].Regions[region].Snapshots {
				if s.Tags["firebreak:incident"] == "inc-late" {
					perVolume[s.Volume]++
				}
			}
			if len(perVolume) == 0 {
				t.Fatal("no snapshots taken")
			}
			for vol, n := range perVolume {
				if n != tt.want {
					t.Errorf("volume %s has %d snapshots, want %d", vol, n, tt.want)
				}
			}
			if tt.want == 1 && (res.Status != action.AlreadyDone || len(res.Evidence) != len(perVolume)) {
				t.Errorf("resumed attempt: status %s with %d evidence items; want %s with %d", res.Status, len(res.Evidence), action.AlreadyDone, len(perVolume))
			}
		})
	}
}
