package main

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/remote"
)

// A second target, reachable, next to fakeConfig's dst.
const twoTargetsConfig = fakeConfig + `
host "dst2" {}

replication "second" {
  source {
    snapshots = snapshots.data
  }
  target {
    host = host.dst2
    root = "backup/src"
  }
}
`

// downHost fails every command as an SSH host does whose connection is
// refused, and counts the attempts.
type downHost struct {
	name  string
	calls atomic.Int32
}

func (h *downHost) Name() string { return h.name }
func (h *downHost) Close() error { return nil }
func (h *downHost) Run(context.Context, remote.Cmd) error {
	h.calls.Add(1)
	return &remote.UnreachableError{Err: errors.New("host " + h.name + ": cannot reach " + h.name + ".example:22: connection refused")}
}

// One unreachable target degrades only its edge: plan shows the rest and
// a host_unobserved conflict in every view and exits 1 (conflicts);
// apply carries out the healthy part and runs nothing on the host after
// the one failed connection (its lock); drift counts the conflict.
func TestUnreachableTargetDegradesOnlyItsEdge(t *testing.T) {
	w := useFakeHosts(t)
	w.Host("dst2").CreatePool("backup")
	down := &downHost{name: "dst"}
	fakeConnect = func(_ context.Context, cfg *hclspec.Config) (map[string]remote.Host, func(), error) {
		hosts := map[string]remote.Host{}
		for _, h := range cfg.Hosts {
			hosts[h.Name] = w.Host(h.Name)
		}
		hosts["dst"] = down
		return hosts, func() {}, nil
	}
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": twoTargetsConfig})

	for _, detailed := range []bool{false, true} {
		args := []string{"plan", "-chdir", dir, t0}
		if detailed {
			args = append(args, "-detailed-exitcode")
		}
		out, errOut, code := runCmdline(t, args...)
		if code != 1 || strings.Contains(out, "No changes") ||
			!strings.Contains(out, "+ snapshot tank/data@zplan_20261122T120000Z") ||
			!strings.Contains(out, "-> dst2:backup/src/data (full") ||
			!strings.Contains(out, "! replication offsite, dst:backup/src/data") ||
			!strings.Contains(out, "target host dst was not observed") || !strings.Contains(out, "connection refused") ||
			strings.Contains(out, "-> dst:") {
			t.Fatalf("plan %v: exit %d\n%s\n%s", args[4:], code, out, errOut)
		}
	}
	out, _, code := runCmdline(t, "plan", "-chdir", dir, t0, "-json")
	if code != 1 || !strings.Contains(out, `"kind":"host_unobserved"`) || !strings.Contains(out, `Conflict: replication offsite, dst:backup/src/data`) {
		t.Fatalf("plan -json: exit %d\n%s", code, out)
	}
	out, _, code = runCmdline(t, "plan", "-chdir", dir, t0, "-format", "markdown")
	if code != 1 || !strings.Contains(out, "**1 conflict(s)**") || !strings.Contains(out, "`replication offsite, dst:backup/src/data`") {
		t.Fatalf("plan -format markdown: exit %d\n%s", code, out)
	}

	down.calls.Store(0)
	out, errOut, code := runCmdline(t, "apply", "-chdir", dir, t0, "-auto-approve")
	if code != 1 || !strings.Contains(out, "Apply complete: 3 done, 0 failed") || !strings.Contains(out, "host dst was not observed") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := down.calls.Load(); n != 1 {
		t.Errorf("apply ran %d commands on the unreachable host, want 1 (the lock attempt that found it down)", n)
	}
	if got := w.Host("dst2").Snapshots("backup/src/data"); len(got) != 1 {
		t.Errorf("healthy target after apply: %v", got)
	}
	if w.Host("src").Exists("tank@zplan-lock") || w.Host("dst2").Exists("backup@zplan-lock") {
		t.Error("apply left a lock behind")
	}

	out, _, code = runCmdline(t, "drift", "-chdir", dir, t0, "-format", "openmetrics")
	if code != 0 || !strings.Contains(out, `zplan_conflicts{host="dst",kind="host_unobserved"} 1`) ||
		!strings.Contains(out, `zplan_replication_blocked{dataset="backup/src/data",edge="offsite",host="dst"`) {
		t.Fatalf("drift -format openmetrics: exit %d\n%s", code, out)
	}
	out, _, code = runCmdline(t, "drift", "-chdir", dir, t0, "-detailed-exitcode")
	if code != 2 || !strings.Contains(out, "host dst was not observed") || strings.Contains(out, "never replicated from") {
		t.Fatalf("drift: exit %d\n%s", code, out)
	}
}

// A saved plan needs every lock it names: an unreachable host fails
// the apply before anything runs (see lockPools).
func TestSavedPlanNeedsItsUnreachableHost(t *testing.T) {
	w := useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	file := savePlan(t, dir, t0)
	down := &downHost{name: "dst"}
	fakeConnect = func(_ context.Context, cfg *hclspec.Config) (map[string]remote.Host, func(), error) {
		return map[string]remote.Host{"src": w.Host("src"), "dst": down}, func() {}, nil
	}
	_, errOut, code := runCmdline(t, "apply", "-chdir", dir, file)
	if code != 1 || !strings.Contains(errOut, "connection refused") {
		t.Fatalf("apply FILE: exit %d\n%s", code, errOut)
	}
	if len(w.Host("src").Snapshots("tank/data")) != 0 {
		t.Error("a saved plan ran without the lock of a host it works on")
	}
}
