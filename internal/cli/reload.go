package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/firebreak-sec/firebreak/internal/config"
	"github.com/firebreak-sec/firebreak/internal/playbook"
)

// playbookPollInterval is how often serve looks for changed playbook files. Polling, rather
// than file-system notifications, also sees a Kubernetes ConfigMap's update, which swaps a
// symbolic link that notifications on the files themselves miss.
const playbookPollInterval = 2 * time.Second

// fingerprint sums the names, sizes and modification times of the YAML files under dir:
// any file added, removed, renamed or written changes it.
func fingerprint(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			return nil
		}
		// Stat follows a link, so that a swapped link target counts as a change.
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", path, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// watchPlaybooks signals on the returned channel when the files under dir differ from
// loaded, their fingerprint when the set in force was read, and have then stayed the same
// for one more poll: an editor or a deployment writing several files is waited for rather
// than read halfway. It stops when ctx ends.
func watchPlaybooks(ctx context.Context, dir string, every time.Duration, loaded string) <-chan struct{} {
	changed := make(chan struct{}, 1)
	applied := loaded
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		seen := applied
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			now, err := fingerprint(dir)
			if err != nil {
				// A directory being replaced can be unreadable for a moment; the next poll
				// sees the result.
				continue
			}
			if now != applied && now == seen {
				applied = now
				select {
				case changed <- struct{}{}:
				default: // a reload is already due and will read these files
				}
			}
			seen = now
		}
	}()
	return changed
}

// playbookNames lists the set's playbooks by name, in the set's (sorted) order.
func playbookNames(set *playbook.Set) []string {
	names := make([]string, len(set.Playbooks))
	for i, p := range set.Playbooks {
		names[i] = p.Name
	}
	return names
}

// configName names the configuration file serve was started with, for its audit record.
func configName(flags *pflag.FlagSet) string {
	if f, _ := flags.GetString(config.FlagConfig); f != "" {
		return f
	}
	if f := os.Getenv("FIREBREAK_CONFIG"); f != "" {
		return f
	}
	return "(defaults)"
}

// configRecord is what the audit chain keeps of the configuration at start: what decides
// and limits containment, never a secret.
func configRecord(cfg *config.Config, set *playbook.Set, dev bool) map[string]any {
	overrides := make([]string, len(cfg.Accounts.Overrides))
	for i, o := range cfg.Accounts.Overrides {
		overrides[i] = o.ID
	}
	return map[string]any{
		"dev":           dev,
		"playbooks_dir": cfg.Playbooks,
		"playbooks":     playbookNames(set),
		"modes":         map[string]any{"force": cfg.Modes.Force, "playbooks": cfg.Modes.Playbooks},
		"breaker": map[string]any{"window": cfg.Limits.Breaker.Window.String(), "per_playbook": cfg.Limits.Breaker.PerPlaybook,
			"overall": cfg.Limits.Breaker.Overall, "accounts": cfg.Limits.Breaker.Accounts},
		"incident_join_window": cfg.Limits.IncidentJoinWindow.String(),
		"approvals":            map[string]any{"timeout": cfg.Approvals.Timeout.String(), "on_timeout": cfg.Approvals.OnTimeout},
		"role_name":            cfg.Accounts.RoleName,
		"account_overrides":    overrides,
		"database":             storeName(cfg),
		"oidc":                 cfg.OIDC.Enabled(),
		"audit_anchor":         cfg.Audit.Anchor.Location,
	}
}
