package cli

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/firebreak-sec/firebreak/internal/cloud/moto"
)

// TestServeSQSEndToEnd runs serve --dev with a queue configured on a moto server: the
// example event sent to the queue opens an incident that is contained, the message is
// deleted once stored, and the server stops cleanly with its poller. The same server
// anchors its audit chain in a bucket with Object Lock on moto: audit verify --anchors
// agrees with the chain afterwards, and names the anchor once the chain is cut short.
func TestServeSQSEndToEnd(t *testing.T) {
	root, bin := buildFirebreak(t)
	ctx := context.Background()
	tmp := t.TempDir()
	url, _ := moto.Start(t)
	awsCfg, err := moto.Config(ctx, url, moto.HubAccount)
	if err != nil {
		t.Fatal(err)
	}
	client := awssqs.NewFromConfig(awsCfg)
	created, err := client.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("firebreak-events")})
	if err != nil {
		t.Fatal(err)
	}
	queue := aws.ToString(created.QueueUrl)

	const bucket = "firebreak-audit"
	if _, err := moto.S3Client(awsCfg).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}

	dataDir := filepath.Join(tmp, "data")
	cfgFile := filepath.Join(tmp, "firebreak.yaml")
	cfgYAML := "sqs:\n  queues:\n    - url: " + queue + "\n      region: " + moto.Region + "\n      wait_time: 1s\n" +
		"audit:\n  anchor:\n    location: s3://" + bucket + "/prod\n    retention: 24h\n"
	if err := os.WriteFile(cfgFile, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := awsCfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The AWS settings of whoever runs the test must not reach the server.
	env := slices.DeleteFunc(cleanEnv(), func(kv string) bool { return strings.HasPrefix(kv, "AWS_") })
	env = append(env, "AWS_ENDPOINT_URL="+url, "AWS_REGION="+moto.Region,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true")
	srv := startServe(t, root, bin, env, "--dev", "--config", cfgFile, "--listen", "127.0.0.1:0", "--data-dir", dataDir)

	body, err := os.ReadFile(filepath.Join(root, devExampleEvent))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}
	waitContained(t, filepath.Join(dataDir, "firebreak.db"), "ec2-compromise-prod", srv.logs)

	// The message was deleted once stored: the queue holds nothing, visible or in flight.
	deadline := time.Now().Add(10 * time.Second)
	for {
		attrs, err := client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(queue),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatal(err)
		}
		visible := attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)]
		hidden := attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)]
		if visible == "0" && hidden == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not empty: %s visible, %s in flight; log:\n%s", visible, hidden, srv.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	srv.stop(syscall.SIGTERM)
	if !strings.Contains(srv.logs.String(), "polling SQS") {
		t.Errorf("serve did not log that it polls the queue; log:\n%s", srv.logs.String())
	}

	// The server anchored its chain at start and at shutdown: verify agrees with both.
	verify := func() (string, error) {
		out, errs, err := runFirebreak(root, bin, env, "audit", "verify", "--data-dir", dataDir, "--anchors", "s3://"+bucket+"/prod")
		return out + errs, err
	}
	out, err := verify()
	if err != nil || !strings.Contains(out, "anchors in s3://"+bucket+"/prod agree") {
		t.Fatalf("audit verify --anchors: %v\n%s\nserve log:\n%s", err, out, srv.logs.String())
	}
	// Cutting the chain short leaves it intact in itself, but not with its anchors.
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "firebreak.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)"); err != nil {
		t.Fatal(err)
	}
	// The chain alone cannot tell.
	if out, errs, err := runFirebreak(root, bin, env, "audit", "verify", "--data-dir", dataDir, "--anchors", "none"); err != nil || !strings.HasPrefix(out, "audit chain intact: ") {
		t.Errorf("audit verify --anchors none after cutting the chain short: %v, %q %q; want it intact, as far as the chain shows", err, out, errs)
	}
	out, err = verify()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitRejected || !strings.Contains(out, "cut short") {
		t.Errorf("audit verify --anchors after cutting the chain short: %v\n%s\nwant exit %d saying it was cut short", err, out, ExitRejected)
	}
}
