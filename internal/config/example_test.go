package config

import (
	"os"
	"testing"
)

// TestExampleConfiguration keeps examples/firebreak.yaml, the documented reference of every
// setting, loadable: a renamed or removed setting fails here before a user copies it.
func TestExampleConfiguration(t *testing.T) {
	const file = "../../examples/firebreak.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"FIREBREAK_EVENTBRIDGE_KEY": "0123456789abcdef0123456789abcdef",
		"FIREBREAK_EXTERNAL_ID":     "example-external-id",
		"FIREBREAK_OIDC_SECRET":     "example-secret",
	}
	c, err := Parse(file, data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("examples/firebreak.yaml does not load:\n%v", err)
	}
	if len(c.Accounts.Overrides) != 1 || len(c.SQS.Queues) != 1 || len(c.OIDC.Grants) != 2 || len(c.APIKeys) != 1 {
		t.Errorf("examples/firebreak.yaml read as %+v; want one override, queue and key, two grants", c)
	}
}
