package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// TestKeepUnsentForOnRealZFS blocks an edge (its target diverged) while
// the source keeps taking snapshots. drift warns as the oldest unsent
// snapshot nears keep_unsent_for; past it, the plan gives up the old
// unsent snapshots retention would not keep and says so, the cursor
// bookmark stays, and once the target is repaired the next incremental
// goes from the cursor (invariant 9's exception, invariant 2 kept).
func TestKeepUnsentForOnRealZFS(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 1)
	z := newZenv(t, l, fmt.Sprintf(`
snapshots "data" {
  host     = host.src
  datasets = [%q]
  every    = "5m"
  retention {
    keep_last       = 1
    keep_unsent_for = "20m"
  }
}

replication "r1" {
  source {
    snapshots = snapshots.data
  }
  target {
    host = host.dst
    root = "%s/backup"
  }
}
`, sds, dst))
	z.mustApply()
	base := checkEdgeInSync(t, l, sds, tds, "r1")
	cursor := cursors(t, l, sds, "r1")
	if len(cursor) != 1 {
		t.Fatalf("cursors %v, want one", cursor)
	}

	// The target diverges: the edge is blocked by a conflict.
	l.Run(t, "zfs", "snapshot", tds+"@theirs")
	var unsent []string
	// The snapshots zplan would take at 5, 10 and 15 minutes after the
	// base are taken by hand (the same names; an apply each would cost
	// minutes under emulation); the apply at 20 minutes takes its own.
	for i := 0; i < 4; i++ {
		writeRandom(t, l, sds, 1)
		z.advance(5 * time.Minute)
		unsent = append(unsent, z.snapName())
		if i < 3 {
			l.Run(t, "zfs", "snapshot", sds+"@"+z.snapName())
		}
	}
	if out, code := z.zplan("apply", "-auto-approve"); code != 1 || !strings.Contains(out, "target diverged") || !strings.Contains(out, ", 0 to destroy.") {
		t.Fatalf("apply with a diverged target: exit %d, want 1 with the conflict and nothing destroyed:\n%s", code, out)
	}
	// Every unsent snapshot is still there (invariant 9).
	have := strings.Join(snapNamesOf(snapshots(t, l, sds)), " ")
	for _, s := range append([]string{base}, unsent...) {
		if !strings.Contains(have, s) {
			t.Fatalf("source lost @%s before keep_unsent_for: %s", s, have)
		}
	}
	// The oldest unsent snapshot (5 minutes after the base) is 15 of 20
	// minutes old: drift warns.
	out, _ := z.zplan("drift", "-json")
	if !strings.Contains(out, "unsent_expiring") {
		t.Fatalf("drift does not warn about unsent snapshots near keep_unsent_for:\n%s", out)
	}
	out, _ = z.zplan("drift", "-format", "openmetrics")
	if !strings.Contains(out, "zplan_replication_keep_unsent_for_seconds{") || !strings.Contains(out, `zplan_drift_findings{kind="unsent_expiring"} 1`) {
		t.Fatalf("metrics lack keep_unsent_for or the unsent_expiring finding:\n%s", out)
	}

	// 27 minutes after the base: the base (27m) and the first unsent
	// snapshot (22m) are older than 20m; the plan gives them up and says
	// so, and keeps the younger ones.
	writeRandom(t, l, sds, 1)
	z.advance(7 * time.Minute)
	out, code := z.plan()
	for _, s := range []string{base, unsent[0]} {
		if !strings.Contains(out, "- destroy "+sds+"@"+s) {
			t.Fatalf("plan (exit %d) does not give up @%s:\n%s", code, s, out)
		}
	}
	if !strings.Contains(out, "gives up this snapshot unsent by replication r1: older than keep_unsent_for") ||
		strings.Contains(out, "destroy bookmark") || strings.Contains(out, "- destroy "+sds+"@"+unsent[2]) {
		t.Fatalf("plan does not say what it gives up, or destroys too much:\n%s", out)
	}
	z.zplan("apply", "-auto-approve") // exits 1 for the conflict; the destroys run
	if exists(t, l, sds+"@"+base) || exists(t, l, sds+"@"+unsent[0]) {
		t.Fatal("the given-up snapshots are still there")
	}
	if got := cursors(t, l, sds, "r1"); len(got) != 1 || got[0] != cursor[0] {
		t.Fatalf("cursors %v, want %v kept", got, cursor)
	}

	// The target is repaired: the next incremental goes from the cursor.
	l.Run(t, "zfs", "destroy", tds+"@theirs")
	z.advance(5 * time.Minute)
	out, code = z.plan()
	if code != 2 || !strings.Contains(out, "incremental from #"+cursor[0]) {
		t.Fatalf("plan after repair (exit %d) does not send from the cursor #%s:\n%s", code, cursor[0], out)
	}
	z.mustApply()
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != z.snapName() {
		t.Fatalf("target's newest %s, want %s", got, z.snapName())
	}
	z.mustNoChanges()
}
