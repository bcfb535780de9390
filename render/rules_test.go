package render

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const rulesFile = "../examples/prometheus/zplan.rules.yml"

// tool is the path of a test tool scripts/ci-deps.sh installs; a test
// without it skips, except in CI (CI=true), where it fails.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (scripts/ci-deps.sh installs it)", name)
		}
		t.Skipf("%s not installed (scripts/ci-deps.sh installs it)", name)
	}
	return p
}

func TestRulesCheck(t *testing.T) {
	promtool := tool(t, "promtool")
	out, err := exec.Command(promtool, "check", "rules", rulesFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS: 8 rules found") {
		t.Errorf("promtool check rules:\n%s", out)
	}
}

// promtool test rules feeds the golden metrics (drift.prom.golden) as
// constant series for two hours and checks which alerts fire: the lag,
// blocked edge, unsent snapshots near keep_unsent_for, overdue snapshot,
// conflict, waiting receive and orphaned hold of the
// golden report do, with the labels the rules' summaries name; the
// healthy edge and dataset do not.
func TestRulesFireOnGoldenMetrics(t *testing.T) {
	promtool := tool(t, "promtool")
	f, err := os.Open(filepath.Join("testdata", "drift.prom.golden"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatal(err)
	}
	var series []string
	for name, mf := range mfs {
		for _, m := range mf.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			series = append(series, fmt.Sprintf("      - series: '%s{%s}'\n        values: '%s+0x24'\n", name, strings.Join(ls, ","), strconv.FormatFloat(m.GetGauge().GetValue(), 'f', -1, 64)))
		}
	}
	sort.Strings(series)
	edge := `edge: offsite
              host: dst
              source_host: src`
	test := `rule_files: [zplan.rules.yml]
evaluation_interval: 1m
tests:
  - interval: 5m
    input_series:
` + strings.Join(series, "") + `
    alert_rule_test:
      - eval_time: 2h
        alertname: ZplanReplicationLagHigh
        exp_alerts:
          - exp_labels:
              severity: warning
              ` + edge + `
              dataset: backup/src/data
              source_dataset: tank/data
            exp_annotations:
              summary: "zplan edge offsite to dst:backup/src/data lags more than 1h"
      - eval_time: 2h
        alertname: ZplanReplicationBlocked
        exp_alerts:
          - exp_labels:
              severity: critical
              ` + edge + `
              dataset: backup/src/other
              source_dataset: tank/other
            exp_annotations:
              summary: "zplan edge offsite to dst:backup/src/other is blocked by a conflict"
      - eval_time: 2h
        alertname: ZplanUnsentSnapshotsExpiring
        exp_alerts:
          - exp_labels:
              severity: warning
              ` + edge + `
              dataset: backup/src/other
              source_dataset: tank/other
            exp_annotations:
              summary: "zplan edge offsite to dst:backup/src/other is blocked and near keep_unsent_for: retention will give up unsent snapshots"
      - eval_time: 2h
        alertname: ZplanSnapshotsOverdue
        exp_alerts:
          - exp_labels: {severity: warning, host: src, dataset: tank/data, policy: data}
            exp_annotations:
              summary: "zplan snapshots.data missed a scheduled snapshot of src:tank/data"
      - eval_time: 2h
        alertname: ZplanConflicts
        exp_alerts:
          - exp_labels: {severity: critical, host: dst, kind: diverged}
            exp_annotations:
              summary: "zplan sees diverged conflicts on dst"
      - eval_time: 30m
        alertname: ZplanInterruptedReceiveWaiting
      - eval_time: 2h
        alertname: ZplanInterruptedReceiveWaiting
        exp_alerts:
          - exp_labels: {severity: warning, host: dst}
            exp_annotations:
              summary: "an interrupted receive on dst has waited over an hour"
      - eval_time: 2h
        alertname: ZplanOrphans
        exp_alerts:
          - exp_labels: {severity: warning, host: dst, kind: hold}
            exp_annotations:
              summary: "zplan hold orphans on dst: holds or cursors of no configured edge (settings { orphans = \"release\" } releases them)"
      - eval_time: 2h
        alertname: ZplanDriftNotRunning
`
	dir := t.TempDir()
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zplan.rules.yml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.yml"), []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "test", "rules", "test.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\n%s", err, out, test)
	}
}
