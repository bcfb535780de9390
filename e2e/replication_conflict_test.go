package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

func TestMismatchedResumeTokenRefused(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	l.Run(t, "zfs", "create", src+"/other")
	writeRandom(t, l, sds, 1)
	writeRandom(t, l, src+"/other", 6)
	// A partial receive of another dataset's stream where the edge's
	// target will be.
	l.Sh(t, fmt.Sprintf("zfs create %[2]s/backup && zfs snapshot %[1]s/other@x && "+
		"{ zfs send %[1]s/other@x | head -c 3000000 | zfs recv -s -u %[3]s || true; }", src, dst, tds))
	token := prop(t, l, tds, "receive_resume_token")
	if token == "-" {
		t.Fatalf("no partial receive on %s", tds)
	}
	z := newZenv(t, l, oneEdgeConfig(src, dst))
	out, code := z.plan()
	if code != 1 || !strings.Contains(out, "interrupted receive is not the stream this plan would send") ||
		!strings.Contains(out, src+"/other@x") || !strings.Contains(out, "zfs recv -A "+tds) {
		t.Fatalf("plan (exit %d) does not refuse the foreign token:\n%s", code, out)
	}
	if strings.Contains(out, "~ send "+sds) {
		t.Fatalf("plan sends on the blocked edge:\n%s", out)
	}
	out, code = z.zplan("apply", "-auto-approve")
	if code == 0 {
		t.Errorf("apply with a conflict exited 0")
	}
	if got := prop(t, l, tds, "receive_resume_token"); got != token {
		t.Errorf("apply touched the partial receive: token now %q", got)
	}
	if strings.Contains(out, "send.") && sent(out) {
		t.Errorf("apply sent on the blocked edge:\n%s", out)
	}

	l.Run(t, "zfs", "recv", "-A", tds)
	out, code = z.plan()
	if code != 2 || !strings.Contains(out, "~ send "+sds+"@"+z.snapName()+" -> dst:"+tds+" (full") {
		t.Fatalf("plan after zfs recv -A (exit %d):\n%s", code, out)
	}
	z.mustApply()
	checkEdgeInSync(t, l, sds, tds, "r1")
	z.mustNoChanges()
}

func TestDivergedTargetRefused(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	z, _, _, sds, tds := syncedEdge(t, l, 1)
	base := z.snapName()

	// 1. A snapshot on the target that the source does not have.
	l.Run(t, "zfs", "snapshot", tds+"@mine")
	writeRandom(t, l, sds, 1)
	z.advance(5 * time.Minute)
	next := z.snapName()
	out, code := z.plan()
	want := "target diverged: 1 snapshot(s) after the common snapshot @" + base + " that the source does not have: @mine ("
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "replication r1, dst:"+tds) {
		t.Fatalf("plan (exit %d) lacks conflict %q:\n%s", code, want, out)
	}
	if strings.Contains(out, "~ send") {
		t.Fatalf("plan sends to a diverged target:\n%s", out)
	}
	before := snapshots(t, l, tds)
	if _, code := z.zplan("apply", "-auto-approve"); code == 0 {
		t.Errorf("apply with a conflict exited 0")
	}
	if after := snapshots(t, l, tds); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("apply changed the diverged target: %v -> %v", before, after)
	}
	if hs := snapsWithTag(t, l, tds, "zplan_last_r1"); strings.Join(hs, " ") != tds+"@"+base {
		t.Errorf("last-received hold moved: %v", hs)
	}
	if !exists(t, l, sds+"@"+next) {
		t.Errorf("the source's own snapshot was not taken (only the edge is blocked)")
	}

	// Resolved by hand: the edge catches up.
	l.Run(t, "zfs", "destroy", tds+"@mine")
	z.mustApply()
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != next {
		t.Fatalf("newest on target %s, want %s", got, next)
	}

	// 2. Data written on the target since the common snapshot.
	l.Sh(t, "zfs set readonly=off "+tds+" && zfs mount "+tds+" && dd if=/dev/urandom of=/"+tds+"/theirs bs=1M count=1 status=none && sync && zfs umount "+tds)
	writeRandom(t, l, sds, 1)
	z.advance(5 * time.Minute)
	out, code = z.plan()
	want = "written since the common snapshot @" + next
	if code != 1 || !strings.Contains(out, "target diverged: ") || !strings.Contains(out, want) || strings.Contains(out, "~ send") {
		t.Fatalf("plan (exit %d) lacks conflict %q or sends:\n%s", code, want, out)
	}
	if _, code := z.zplan("apply", "-auto-approve"); code == 0 {
		t.Errorf("apply with a conflict exited 0")
	}
	if got := prop(t, l, tds, "written"); got == "0" {
		t.Errorf("the target's own data was rolled back by zplan")
	}
	if ts := snapNamesOf(snapshots(t, l, tds)); ts[len(ts)-1] != next {
		t.Errorf("target received %v despite the conflict", ts)
	}
	l.Run(t, "zfs", "rollback", tds+"@"+next)
	z.mustApply()
	checkEdgeInSync(t, l, sds, tds, "r1")
	z.mustNoChanges()
}

// TestDivergedTargetRollbackDeclared expects on_divergence = "rollback"
// to resolve a diverged target by explicit destroy and rollback actions.
func TestDivergedTargetRollbackDeclared(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 1)
	z := newZenv(t, l, strings.Replace(oneEdgeConfig(src, dst), "  target {", "  on_divergence = \"rollback\"\n  target {", 1))
	z.mustApply()
	base := checkEdgeInSync(t, l, sds, tds, "r1")

	l.Sh(t, "zfs set readonly=off "+tds+" && zfs mount "+tds+" && dd if=/dev/urandom of=/"+tds+"/theirs bs=1M count=1 status=none && "+
		"zfs snapshot "+tds+"@mine && dd if=/dev/urandom of=/"+tds+"/more bs=1M count=1 status=none && sync && zfs umount "+tds)
	writeRandom(t, l, sds, 1)
	z.advance(5 * time.Minute)
	next := z.snapName()
	out, code := z.plan()
	if code != 2 || strings.Contains(out, "Conflicts:") {
		t.Fatalf("plan (exit %d) with on_divergence = \"rollback\" still conflicts:\n%s", code, out)
	}
	if !strings.Contains(out, "destroy "+tds+"@mine") {
		t.Errorf("plan does not destroy the target's extra snapshot @mine explicitly")
	}
	if countLines(out, "rollback", tds) == 0 {
		t.Errorf("plan has no rollback action for %s", tds)
	}
	if !strings.Contains(out, "~ send "+sds+"@"+next+" -> dst:"+tds+" (incremental from @"+base) {
		t.Errorf("plan does not send @%s incrementally from @%s", next, base)
	}
	z.mustApply()
	if ts := snapNamesOf(snapshots(t, l, tds)); strings.Join(ts, " ") != base+" "+next {
		t.Errorf("target snapshots %v, want [%s %s]", ts, base, next)
	}
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != next {
		t.Errorf("newest on target %s, want %s", got, next)
	}
	z.mustNoChanges()
}

func TestTwoTargetsIndependentCursors(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, d1, d2 := l.NewPool(t, 128), l.NewPool(t, 64), l.NewPool(t, 64)
	sds, t1, t2 := src+"/data", d1+"/backup/data", d2+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 1)
	z := newZenv(t, l, fmt.Sprintf(`
snapshots "data" {
  host     = host.src
  datasets = ["%s/data"]
  every    = "5m"
  retention {
    keep_last = 1
  }
}
replication "one" {
  source {
    snapshots = snapshots.data
  }
  target {
    host = host.dst
    root = "%s/backup"
  }
}
replication "two" {
  source {
    snapshots = snapshots.data
  }
  target {
    host = host.dst
    root = "%s/backup"
  }
}
`, src, d1, d2))
	z.mustApply()
	base := z.snapName()
	for _, e := range []struct{ tds, id string }{{t1, "one"}, {t2, "two"}} {
		if got := checkEdgeInSync(t, l, sds, e.tds, e.id); got != base {
			t.Fatalf("edge %s newest %s, want %s", e.id, got, base)
		}
		if hs := snapsWithTag(t, l, e.tds, "zplan_last_"+map[string]string{"one": "two", "two": "one"}[e.id]); len(hs) != 0 {
			t.Errorf("target of edge %s carries the other edge's hold: %v", e.id, hs)
		}
	}
	if bms := bookmarks(t, l, sds); len(bms) != 2 {
		t.Errorf("source bookmarks %v, want one cursor per edge", bms)
	}
	z.mustNoChanges()

	// Edge two's target diverges: edge one goes on, edge two waits, and
	// retention (keep_last = 1) keeps the base edge two still needs.
	l.Run(t, "zfs", "snapshot", t2+"@mine")
	writeRandom(t, l, sds, 1)
	z.advance(5 * time.Minute)
	next := z.snapName()
	out, code := z.zplan("apply", "-auto-approve")
	if code == 0 || !strings.Contains(out, "replication two, dst:"+t2) || strings.Contains(out, "replication one,") {
		t.Fatalf("apply (exit %d) should report only edge two's conflict:\n%s", code, out)
	}
	if strings.Contains(out, "- destroy "+sds+"@"+base) {
		t.Errorf("retention destroys @%s that blocked edge two still needs", base)
	}
	if got := checkEdgeInSync(t, l, sds, t1, "one"); got != next {
		t.Errorf("edge one newest %s, want %s", got, next)
	}
	if ts := snapNamesOf(snapshots(t, l, t2)); strings.Join(ts, " ") != base+" mine" {
		t.Errorf("edge two's target %v, want [%s mine]", ts, base)
	}
	g := snapshots(t, l, sds)[0].guid
	if cs := cursors(t, l, sds, "two"); len(cs) != 1 || !strings.Contains(fmt.Sprintf("%v", cs), "_two") {
		t.Errorf("edge two cursors %v (base guid %s)", cs, g)
	}
	if hs := snapsWithTag(t, l, t2, "zplan_last_two"); strings.Join(hs, " ") != t2+"@"+base {
		t.Errorf("edge two's last-received hold: %v", hs)
	}
	if !exists(t, l, sds+"@"+base) {
		t.Fatalf("source retention destroyed @%s, which edge two still needs", base)
	}

	// Resolved: edge two catches up and only then may the base go.
	l.Run(t, "zfs", "destroy", t2+"@mine")
	out, code = z.plan()
	if code != 2 || !strings.Contains(out, "~ send "+sds+"@"+next+" -> dst:"+t2+" (incremental from @"+base) {
		t.Fatalf("plan after resolving (exit %d):\n%s", code, out)
	}
	z.mustApply()
	for _, e := range []struct{ tds, id string }{{t1, "one"}, {t2, "two"}} {
		if got := checkEdgeInSync(t, l, sds, e.tds, e.id); got != next {
			t.Errorf("edge %s newest %s, want %s", e.id, got, next)
		}
	}
	if ss := snapNamesOf(snapshots(t, l, sds)); strings.Join(ss, " ") != next {
		t.Errorf("source snapshots %v, want only [%s] (keep_last = 1, both edges have it)", ss, next)
	}
	z.mustNoChanges()
}
