package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
