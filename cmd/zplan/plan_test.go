package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs/zfsfake"
)

const fakeConfig = `
host "src" {}
host "dst" {}

snapshots "data" {
  host     = host.src
  datasets = ["tank/data/**"]
  every    = "15m"
  retention {
    grid = "1x1h(keep=all) | 24x1h"
  }
}

replication "offsite" {
  source {
    snapshots = snapshots.data
  }
  target {
    host = host.dst
    root = "backup/src"
  }
}
`

// useFakeHosts makes the CLI talk to an in-memory ZFS world.
func useFakeHosts(t *testing.T) *zfsfake.World {
	w := zfsfake.NewWorld(func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) })
	src, dst := w.Host("src"), w.Host("dst")
	src.CreatePool("tank")
	src.Create("tank/data", zfsfake.Opts{})
	src.Write("tank/data", 1<<20)
	dst.CreatePool("backup")
	fakeConnect = func(_ context.Context, cfg *hclspec.Config) (map[string]remote.Host, func(), error) {
		hosts := map[string]remote.Host{}
		for _, h := range cfg.Hosts {
			hosts[h.Name] = w.Host(h.Name)
		}
		return hosts, func() {}, nil
	}
	t.Cleanup(func() { fakeConnect = nil })
	return w
}

func TestPlanApplyPlan(t *testing.T) {
	w := useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	now := "-now=2026-11-22T12:00:00Z"

	out, errOut, code := runCmdline(t, "plan", "-chdir", dir, now, "-detailed-exitcode")
	if code != 2 || !strings.Contains(out, "+ snapshot tank/data@zplan_20261122T120000Z") ||
		!strings.Contains(out, "~ send tank/data@zplan_20261122T120000Z -> dst:backup/src/data (full") ||
		!strings.Contains(out, "Plan: 2 to create, 1 to send") {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	if len(w.Host("dst").Snapshots("backup/src/data")) != 0 {
		t.Fatal("plan changed something")
	}

	out, errOut, code = runCmdline(t, "apply", "-chdir", dir, now, "-auto-approve")
	if code != 0 || !strings.Contains(out, "Apply complete: 3 done, 0 failed, 0 refused, 0 skipped.") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := w.Host("dst").Snapshots("backup/src/data"); len(got) != 1 || got[0] != "zplan_20261122T120000Z" {
		t.Fatalf("target snapshots after apply: %v", got)
	}

	out, _, code = runCmdline(t, "plan", "-chdir", dir, now, "-detailed-exitcode")
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Fatalf("second plan: exit %d\n%s", code, out)
	}
}

func TestApplyAsksForYes(t *testing.T) {
	w := useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	out, _, code := runWith(t, harness{stdin: "no\n", connect: fakeConnect}, "apply", "-chdir", dir, "-now=2026-11-22T12:00:00Z")
	if code != 1 || !strings.Contains(out, "Only 'yes' will be accepted") || !strings.Contains(out, "Apply cancelled.") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if len(w.Host("src").Snapshots("tank/data")) != 0 {
		t.Fatal("apply acted without a yes")
	}
}

func TestPlanConflictExitsOne(t *testing.T) {
	w := useFakeHosts(t)
	// A target that has data but nothing in common with the source.
	w.Host("dst").Create("backup/src", zfsfake.Opts{})
	w.Host("dst").Create("backup/src/data", zfsfake.Opts{})
	w.Host("dst").Snapshot("backup/src/data@theirs")
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	out, _, code := runCmdline(t, "plan", "-chdir", dir, "-now=2026-11-22T12:00:00Z")
	if code != 1 || !strings.Contains(out, "no common snapshot") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
