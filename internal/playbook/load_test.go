package playbook

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/suggest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestLoadDirValid(t *testing.T) {
	set, err := LoadDir("testdata/valid", testCatalogue(t))
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if got := len(set.Playbooks); got != 2 {
		t.Fatalf("got %d playbooks, want 2", got)
	}
	// Sorted by name.
	bs, ec2 := set.Playbooks[0], set.Playbooks[1]
	if bs.Name != "block-scanner" || ec2.Name != "ec2-command-and-control" {
		t.Fatalf("playbooks in wrong order: %s, %s", bs.Name, ec2.Name)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"ec2 target", ec2.Target, event.KindInstance},
		{"ec2 mode default", ec2.Mode, ModeEnforce},
		{"ec2 labels", ec2.Labels, map[string]string{"domain": "infrastructure"}},
		{"ec2 honours exception tag", ec2.Exceptions.HonourExceptionTag, true},
		{"ec2 tag globs", ec2.Exceptions.Tags, map[string]string{"Team": "sec*"}},
		{"ec2 steps", len(ec2.Steps), 4},
		{"isolate default", ec2.Steps[1].With, map[string]any{"security_group": "firebreak-quarantine"}},
		{"terminate approval", ec2.Steps[2].Approval, true},
		{"terminate if", ec2.Steps[2].If.Source, `resource.tags["Environment"] == "dev"`},
		{"notify scalar to list", ec2.Steps[3].With, map[string]any{"to": []string{"owners"}}},
		{"scanner mode", bs.Mode, ModeDryRun},
		{"scanner opts out", bs.Exceptions.HonourExceptionTag, false},
		{"scanner accounts", bs.Exceptions.Accounts, []string{"999988887777"}},
		{"waf params", bs.Steps[0].With, map[string]any{"ip_set": "firebreak-blocklist", "scope": "REGIONAL", "ttl": "24h"}},
		{"ssm params", bs.Steps[1].With, map[string]any{"document": "AWS-Note", "max_attempts": 1, "wait": false,
			"parameters": map[string]any{"Count": 3, "Names": []any{"a", "b"}}}},
		{"ssm step name", bs.Steps[1].Name, "record"},
		{"ssm continue", bs.Steps[1].ContinueOnError, true},
		{"exceptions", len(set.Exceptions), 2},
		{"exception line", set.Exceptions[0].Pos.Line, 5},
		{"exception approver", set.Exceptions[0].ApprovedBy, "alice"},
		{"tests", len(set.Tests), 1},
		{"test steps", set.Tests[0].Cases[0].Expect[0].Steps, []ExpectedStep{{Action: "ec2.snapshot-volumes"}, {Action: "ec2.isolate", Outcome: "planned"}}},
		{"inline event", string(set.Tests[0].Cases[0].Event), `{"id":"1","source":"aws.guardduty"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
	if !strings.Contains(string(ec2.OnJSON), `">=",7`) {
		t.Errorf("pattern JSON lost the literal number: %s", ec2.OnJSON)
	}
}

// TestLoadErrors loads each invalid file on its own and compares every message with a
// golden file; run with -update after an intended change.
func TestLoadErrors(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	cat := testCatalogue(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Load(f, data, cat)
			var les LoadErrors
			if !errors.As(err, &les) {
				t.Fatalf("got %v, want LoadErrors", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func TestLoadDirCollectsAcrossFiles(t *testing.T) {
	_, err := LoadDir("testdata/invalid", testCatalogue(t))
	var les LoadErrors
	if !errors.As(err, &les) {
		t.Fatalf("got %v, want LoadErrors", err)
	}
	files := map[string]bool{}
	for _, e := range les {
		files[filepath.Base(e.File)] = true
	}
	for _, f := range []string{"typos.yaml", "types.yaml", "pattern.yaml", "duplicate.yaml", "syntax.yaml"} {
		if !files[f] {
			t.Errorf("no error reported for %s", f)
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"isolate", "isolate", 0},
		{"isolaet", "isolate", 1},
		{"isolat", "isolate", 1},
		{"stesp", "steps", 1},
		{"", "abc", 3},
		{"abc", "xyz", 3},
	}
	for _, tt := range tests {
		if got := suggest.Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
