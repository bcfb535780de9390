package hclspec

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/zplan/zplan/hclspec/timespec"
)

// checkCompiles fails unless everything in a configuration that decoded
// without errors also compiles the way desired.Resolve compiles it
// (timespec.CompileSchedule, Retention.Rules) and every enum holds one of
// its values: what the CLI's compileCheck used to check on every load.
func checkCompiles(t *testing.T, cfg *Config) {
	t.Helper()
	for _, p := range cfg.Snapshots {
		if _, err := timespec.CompileSchedule(p.Schedule.Every, p.Schedule.Cron); err != nil {
			t.Errorf("snapshots %q decoded, but its schedule does not compile: %v", p.Name, err)
		}
		if _, errs := p.Retention.Rules(); errs != nil {
			t.Errorf("snapshots %q decoded, but its retention does not compile: %v", p.Name, errs)
		}
	}
	for _, r := range cfg.Replications {
		if _, errs := r.TargetRetention.Rules(); errs != nil {
			t.Errorf("replication %q decoded, but its target retention does not compile: %v", r.Name, errs)
		}
		if !slices.Contains(initialValues, r.Initial) || !slices.Contains(rawValues, r.Raw) || !slices.Contains(onDivergenceValues, r.OnDivergence) {
			t.Errorf("replication %q decoded with initial %q, raw %q, on_divergence %q", r.Name, r.Initial, r.Raw, r.OnDivergence)
		}
	}
}

// TestDecodeAgreesWithCompile: near the edges of what schedules and
// retention accept, the decoder refuses exactly what does not compile.
func TestDecodeAgreesWithCompile(t *testing.T) {
	schedules := []string{
		`every = "1m"`, `every = "59s"`, `every = "60s"`, `every = "0s"`, `every = "1d"`, `every = "2w"`, `every = ""`,
		`cron = "@daily"`, `cron = "0 0 30 2 *"`, `cron = "*/15 * * * *"`, `cron = ""`, `cron = "0 0 * *"`,
	}
	retentions := []string{
		"", `grid = "24x1h"`, `grid = ""`, `grid = " "`, `grid = "1x1h |"`, `keep_last = 0`, `keep_last = -1`, `keep_last = 2`,
		`keep_matching = []`, `keep_matching = ["^a", "("]`, `keep_matching = ["^manual_"]`, "grid = \"24x1h\"\nkeep_last = -1",
	}
	for _, sched := range schedules {
		for _, ret := range retentions {
			body := fmt.Sprintf("host \"a\" {}\nsnapshots \"s\" {\n  host = host.a\n  datasets = [\"tank\"]\n  %s\n  retention {\n    %s\n  }\n}\n", sched, strings.ReplaceAll(ret, "\n", "\n    "))
			cfg, diags := load(t, map[string]string{"main.zplan.hcl": body})
			var every, cron string
			k, v, _ := strings.Cut(sched, " = ")
			if k == "every" {
				every = strings.Trim(v, `"`)
			} else {
				cron = strings.Trim(v, `"`)
			}
			schedOK := false
			if k == "cron" {
				_, err := timespec.CronSchedule(cron)
				schedOK = err == nil
			} else if d, err := timespec.ParseDuration(every); err == nil {
				_, err = timespec.EverySchedule(d)
				schedOK = err == nil
			}
			retOK := len(cfg.Snapshots) == 1 && cfg.Snapshots[0].Retention != nil
			if retOK {
				_, errs := cfg.Snapshots[0].Retention.rules(strings.Contains(ret, "grid"))
				retOK = errs == nil
			}
			if want := schedOK && retOK; diags.HasErrors() == want {
				t.Errorf("%s / %s: decoded with errors=%v, compiles=%v:\n%v", sched, ret, diags.HasErrors(), want, diags)
			}
			if !diags.HasErrors() {
				checkCompiles(t, cfg)
			}
		}
	}
}
