package cli

import (
	"bufio"
	"bytes"
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
	if testing.Short() {
		t.Skip("builds and runs the binary, and starts moto")
	}
	ctx := context.Background()
	root := repoRoot(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "firebreak")
	build := exec.Command("go", "build", "-o", bin, "./cmd/firebreak")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

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
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "FIREBREAK_") || strings.HasPrefix(kv, "AWS_")
	})
	env = append(env, "AWS_ENDPOINT_URL="+url, "AWS_REGION="+moto.Region,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true")

	srv := exec.Command(bin, "serve", "--dev", "--config", cfgFile, "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	srv.Dir, srv.Env = root, env
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	defer func() {
		if srv.ProcessState == nil {
			srv.Process.Kill()
			<-done
		}
	}()
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "listening on ") {
				close(listening)
			}
		}
	}()
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start listening in 30s; log:\n%s", logs.String())
	}

	body, err := os.ReadFile(filepath.Join(root, devExampleEvent))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}
	waitContained(t, filepath.Join(dataDir, "firebreak.db"), "ec2-compromise-prod", &logs)

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
			t.Fatalf("queue not empty: %s visible, %s in flight; log:\n%s", visible, hidden, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v; log:\n%s", err, logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("serve did not stop within 40s of SIGTERM; log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "polling SQS") {
		t.Errorf("serve did not log that it polls the queue; log:\n%s", logs.String())
	}

	// The server anchored its chain at start and at shutdown: verify agrees with both.
	verify := func() (string, error) {
		cmd := exec.Command(bin, "audit", "verify", "--data-dir", dataDir, "--anchors", "s3://"+bucket+"/prod")
		cmd.Dir, cmd.Env = root, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := verify()
	if err != nil || !strings.Contains(out, "anchors in s3://"+bucket+"/prod agree") {
		t.Fatalf("audit verify --anchors: %v\n%s\nserve log:\n%s", err, out, logs.String())
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
	out, err = verify()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitRejected || !strings.Contains(out, "cut short") {
		t.Errorf("audit verify --anchors after cutting the chain short: %v\n%s\nwant exit %d saying it was cut short", err, out, ExitRejected)
	}
}
