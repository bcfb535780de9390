package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zplan/zplan/zfs/zfsfake"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// graphWorld is the fake fleet of fakeConfig after an apply at 12:00,
// then a snapshot at 12:15 not yet sent (lag), a target that diverged
// (a conflict) and no snapshot since (overdue at 12:40).
func graphWorld(t *testing.T) string {
	t.Helper()
	w := useFakeHosts(t)
	w.Host("src").Create("tank/data/other", zfsfake.Opts{})
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	if out, errOut, code := runCmdline(t, "apply", "-chdir", dir, "-now=2026-11-22T12:00:00Z", "-auto-approve"); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	src, dst := w.Host("src"), w.Host("dst")
	src.Write("tank/data", 2<<20)
	src.Snapshot("tank/data@zplan_20261122T121500Z")
	dst.Write("backup/src/data/other", 1<<20)
	dst.Snapshot("backup/src/data/other@theirs")
	return dir
}

func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/zplan -run Graph -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (-update rewrites it):\n%s", name, got)
	}
}

func TestGraph(t *testing.T) {
	dir := graphWorld(t)
	now := "-now=2026-11-22T12:40:00Z"
	mmd, errOut, code := runCmdline(t, "graph", "-chdir", dir, now)
	if code != 0 {
		t.Fatalf("graph: exit %d\n%s", code, errOut)
	}
	goldenFile(t, "graph.mmd.golden", []byte(mmd))
	for _, w := range []string{"flowchart LR", "has the newest snapshot", "lag 40m, 1 behind", "BLOCKED: diverged", "OVERDUE", "snapshots.data"} {
		if !strings.Contains(mmd, w) {
			t.Errorf("mermaid lacks %q:\n%s", w, mmd)
		}
	}
	dot, errOut, code := runCmdline(t, "graph", "-chdir", dir, now, "-format", "dot")
	if code != 0 {
		t.Fatalf("graph -format dot: exit %d\n%s", code, errOut)
	}
	goldenFile(t, "graph.dot.golden", []byte(dot))
	if _, errOut, code := runCmdline(t, "graph", "-chdir", dir, now, "-format", "svg"); code != 1 || !strings.Contains(errOut, "want mermaid or dot") {
		t.Errorf("graph -format svg: exit %d, %s", code, errOut)
	}

	// Graphviz draws it (scripts/ci-deps.sh installs graphviz).
	dotBin, err := exec.LookPath("dot")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dot not installed (scripts/ci-deps.sh installs graphviz)")
		}
		t.Skip("dot not installed (scripts/ci-deps.sh installs graphviz)")
	}
	cmd := exec.Command(dotBin, "-Tsvg")
	cmd.Stdin = strings.NewReader(dot)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	svg, err := cmd.Output()
	if err != nil || stderr.Len() > 0 || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("BLOCKED: diverged")) {
		t.Fatalf("dot -Tsvg: %v\n%s\n%s", err, stderr.String(), svg)
	}
	if out := os.Getenv("ZPLAN_GRAPH_SVG"); out != "" {
		if err := os.WriteFile(out, svg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// drift -format openmetrics on the same fleet, end to end: the text
// parses with expfmt and carries the lag, unsent bytes and conflict the
// graph shows.
func TestDriftOpenMetricsFleet(t *testing.T) {
	dir := graphWorld(t)
	out, errOut, code := runCmdline(t, "drift", "-chdir", dir, "-now=2026-11-22T12:40:00Z", "-format", "openmetrics")
	if code != 0 {
		t.Fatalf("drift -format openmetrics: exit %d\n%s", code, errOut)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, out)
	}
	get := func(name, dataset string) float64 {
		t.Helper()
		for _, m := range mfs[name].GetMetric() {
			for _, l := range m.Label {
				if l.GetName() == "dataset" && l.GetValue() == dataset {
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Fatalf("no %s{dataset=%q} in\n%s", name, dataset, out)
		return 0
	}
	if got := get("zplan_replication_lag_seconds", "backup/src/data"); got != 2400 {
		t.Errorf("lag %v, want 2400 (12:40 - 12:00)", got)
	}
	if got := get("zplan_replication_unsent_bytes", "backup/src/data"); got <= 0 {
		t.Errorf("unsent bytes %v, want > 0", got)
	}
	if got := get("zplan_replication_blocked", "backup/src/data/other"); got != 1 {
		t.Errorf("blocked %v, want 1", got)
	}
	if got := get("zplan_snapshot_newest_age_seconds", "tank/data"); got != 1500 {
		t.Errorf("newest snapshot age %v, want 1500 (12:40 - 12:15)", got)
	}
	if !strings.Contains(out, `zplan_conflicts{host="dst",kind="diverged"} 1`) {
		t.Errorf("no diverged conflict on dst:\n%s", out)
	}
}
