package reliability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// finding describes one GuardDuty-like finding about one instance.
type finding struct {
	EventID   string
	FindingID string
	Account   string
	Instance  string
	VPC       string
	Subnet    string
}

// eventJSON renders f as the EventBridge event GuardDuty would send: enough of it for the
// playbook below to match and for the target to be an instance.
func eventJSON(f finding) json.RawMessage {
	ev := map[string]any{
		"version":     "0",
		"id":          f.EventID,
		"detail-type": "GuardDuty Finding",
		"source":      "aws.guardduty",
		"account":     f.Account,
		"time":        "2026-01-05T09:47:31Z",
		"region":      "us-east-1",
		"resources":   []any{},
		"detail": map[string]any{
			"schemaVersion": "2.0",
			"accountId":     f.Account,
			"region":        "us-east-1",
			"partition":     "aws",
			"id":            f.FindingID,
			"arn":           fmt.Sprintf("arn:aws:guardduty:us-east-1:%s:detector/d1/finding/%s", f.Account, f.FindingID),
			"type":          "Backdoor:EC2/C&CActivity.B",
			"resource": map[string]any{
				"resourceType": "Instance",
				"instanceDetails": map[string]any{
					"instanceId":    f.Instance,
					"instanceState": "running",
					"networkInterfaces": []any{map[string]any{
						"subnetId": f.Subnet,
						"vpcId":    f.VPC,
					}},
					"tags": []any{
						map[string]any{"key": "Environment", "value": "prod"},
						map[string]any{"key": "Owner", "value": "team-reliability"},
					},
				},
			},
			"service": map[string]any{
				"serviceName":  "guardduty",
				"resourceRole": "ACTOR",
				"archived":     false,
				"count":        1,
			},
			"severity":  8,
			"createdAt": "2026-01-05T09:18:22.410Z",
			"updatedAt": "2026-01-05T09:47:03.118Z",
			"title":     "EC2 instance " + f.Instance + " is communicating with a command and control server.",
		},
	}
	data, err := json.Marshal(ev)
	if err != nil {
		panic(err) // only maps of strings and numbers: cannot fail
	}
	return data
}

// playbookName is the one playbook these tests load.
const playbookName = "reliability-isolate"

// isolatePlaybook snapshots, isolates and tags an instance that GuardDuty says is
// compromised: the steps whose duplicates would show in the cloud (a second snapshot of a
// volume, a second isolation group in a VPC).
const isolatePlaybook = `apiVersion: firebreak/v1
kind: Playbook
metadata:
  name: ` + playbookName + `
  description: Snapshot and isolate an instance GuardDuty reports as compromised.
spec:
  on:
    source: [aws.guardduty]
    detail-type: [GuardDuty Finding]
  target: instance
  mode: enforce
  steps:
    - action: ec2.snapshot-volumes
    - action: ec2.isolate
    - action: tag
      with:
        tags: {"firebreak:status": "quarantined"}
`

// playbookDir writes the playbook into a directory of its own and returns it.
func playbookDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, playbookName+".yaml"), []byte(isolatePlaybook), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
