package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// oneEdgeConfig snapshots src/data every 5 minutes (no retention: keep
// everything) and replicates it below dst/backup with edge id "r1".
func oneEdgeConfig(src, dst string) string {
	return fmt.Sprintf(`
snapshots "data" {
  host     = host.src
  datasets = ["%s/data"]
  every    = "5m"
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
`, src, dst)
}

// syncedEdge sets up src/data with some data and replicates it once.
func syncedEdge(t *testing.T, l *lab.Lab, mib int) (z *zenv, src, dst, sds, tds string) {
	t.Helper()
	return syncedEdgeOn(t, l, l.NewPool(t, 128), l.NewPool(t, 128), mib)
}

// syncedEdgeOn is syncedEdge on pools the caller sized.
func syncedEdgeOn(t *testing.T, l *lab.Lab, src, dst string, mib int) (z *zenv, _, _, sds, tds string) {
	t.Helper()
	sds, tds = src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, mib)
	z = newZenv(t, l, oneEdgeConfig(src, dst))
	z.mustApply()
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != z.snapName() {
		t.Fatalf("target's newest snapshot %s, want %s", got, z.snapName())
	}
	return z, src, dst, sds, tds
}

func TestReplicationFullThenIncrementals(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 2)
	z := newZenv(t, l, oneEdgeConfig(src, dst))

	out, code := z.plan()
	first := z.snapName()
	if code != 2 || !strings.Contains(out, "+ snapshot "+sds+"@"+first) ||
		!strings.Contains(out, "~ send "+sds+"@"+first+" -> dst:"+tds+" (full") ||
		!strings.Contains(out, "+ create "+dst+"/backup (placeholder)") {
		t.Fatalf("first plan (exit %d):\n%s", code, out)
	}
	z.mustApply()
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != first {
		t.Fatalf("newest on target %s, want %s", got, first)
	}
	z.mustNoChanges()
	prevCursor := cursors(t, l, sds, "r1")[0]

	prev := first
	for i := 1; i <= 2; i++ {
		writeRandom(t, l, sds, 1)
		z.advance(5 * time.Minute)
		name := z.snapName()
		out, code := z.plan()
		want := "~ send " + sds + "@" + name + " -> dst:" + tds + " (incremental from @" + prev
		if code != 2 || !strings.Contains(out, want) || strings.Contains(out, "(full") {
			t.Fatalf("incremental %d: plan (exit %d) lacks %q:\n%s", i, code, want, out)
		}
		z.mustApply()
		if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != name {
			t.Fatalf("incremental %d: newest on target %s, want %s", i, got, name)
		}
		cur := cursors(t, l, sds, "r1")[0]
		if cur == prevCursor {
			t.Errorf("incremental %d: cursor did not move from %s", i, prevCursor)
		}
		prevCursor = cur
		if h := holdsUnder(t, l, tds+"@"+prev); len(h) != 0 {
			t.Errorf("incremental %d: previous snapshot %s@%s still held: %v", i, tds, prev, h)
		}
		prev = name
		// Idempotent: a second apply at the same time has nothing to do.
		if out := z.mustApply(); !strings.Contains(out, "No changes.") {
			t.Fatalf("second apply did something:\n%s", out)
		}
	}
	// Every snapshot arrived with the source's GUID.
	ss, ts := snapshots(t, l, sds), snapshots(t, l, tds)
	if len(ss) != 3 || len(ts) != 3 {
		t.Fatalf("source snapshots %v, target %v: want 3 each", ss, ts)
	}
	for i := range ss {
		if ss[i] != ts[i] {
			t.Errorf("snapshot %d: source %+v, target %+v", i, ss[i], ts[i])
		}
	}
	if hs := holdsUnder(t, l, src); len(hs) != 0 {
		t.Errorf("holds left on the source pool: %v", hs)
	}
}

func TestPlaceholderParents(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	l.Run(t, "zfs", "create", "-p", src+"/a/b/c")
	writeRandom(t, l, src+"/a/b/c", 1)
	writeRandom(t, l, src+"/a", 1)
	z := newZenv(t, l, fmt.Sprintf(`
snapshots "ab" {
  host     = host.src
  datasets = ["%s/a/b/**"]
  every    = "5m"
}
replication "p" {
  source {
    snapshots = snapshots.ab
  }
  target {
    host = host.dst
    root = "%s/backup"
  }
}
`, src, dst))
	out, code := z.plan()
	if code != 2 || strings.Contains(out, "~ send "+src+"/a@") {
		t.Fatalf("plan (exit %d):\n%s", code, out)
	}
	for _, want := range []string{
		"+ create " + dst + "/backup (placeholder)", "+ create " + dst + "/backup/a (placeholder)",
		"~ send " + src + "/a/b@", "~ send " + src + "/a/b/c@",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if strings.Contains(out, "+ create "+dst+"/backup/a/b ") {
		t.Errorf("plan creates a placeholder for a replica:\n%s", out)
	}
	z.mustApply()
	for _, ph := range []string{dst + "/backup", dst + "/backup/a"} {
		if got := prop(t, l, ph, "canmount"); got != "off" {
			t.Errorf("%s canmount=%s, want off", ph, got)
		}
		if got := prop(t, l, ph, "zplan:placeholder"); got != ph {
			t.Errorf("%s zplan:placeholder=%q, want its own name", ph, got)
		}
		if ss := snapshots(t, l, ph); len(ss) != 0 {
			t.Errorf("placeholder %s has snapshots %v", ph, ss)
		}
	}
	for _, rel := range []string{"/a/b", "/a/b/c"} {
		tds := dst + "/backup" + rel
		checkEdgeInSync(t, l, src+rel, tds, "p")
		// The property inherits; only a value naming the dataset itself
		// marks a placeholder.
		if got := prop(t, l, tds, "zplan:placeholder"); got == tds {
			t.Errorf("replica %s is marked as a placeholder", tds)
		}
	}
	if exists(t, l, dst+"/backup/a@"+z.snapName()) || len(snapshots(t, l, src+"/a")) != 0 {
		t.Errorf("%s/a was snapshotted or replicated though not selected", src)
	}
	z.mustNoChanges()
}

// TestHoldsBlockOutsideDestroy interrupts an incremental send (the target
// pool runs out of space mid-stream) and checks that the snapshots the
// step holds and the last-received hold protect cannot be destroyed from
// outside zplan, then that the edge recovers once there is room.
func TestHoldsBlockOutsideDestroy(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	// ZFS reserves slop space (at least 128 MiB, at most half the pool):
	// 64 MiB pools hold about 30 MiB.
	z, _, dst, sds, tds := syncedEdgeOn(t, l, l.NewPool(t, 256), l.NewPool(t, 64), 1)
	base := z.snapName()

	// The target is held: an outside destroy is refused.
	ee := l.Fails(t, "zfs", "destroy", tds+"@"+base)
	if !busy(ee.Stderr) {
		t.Errorf("destroy of held target snapshot: %q, want dataset is busy", ee.Stderr)
	}

	writeRandom(t, l, sds, 48) // more than the 64 MiB target pool holds
	z.advance(5 * time.Minute)
	next := z.snapName()
	out, code := z.zplan("apply", "-auto-approve")
	if code == 0 {
		t.Fatalf("apply into a full pool succeeded?\n%s", out)
	}
	// The send failed after its step holds were placed: both ends on the
	// source are step-held and cannot be destroyed from outside.
	held := snapsWithTag(t, l, sds, "zplan_step_r1")
	want := []string{sds + "@" + base, sds + "@" + next}
	if strings.Join(held, " ") != strings.Join(want, " ") {
		t.Fatalf("step-held snapshots %v, want %v", held, want)
	}
	for _, s := range want {
		ee := l.Fails(t, "zfs", "destroy", s)
		if !busy(ee.Stderr) {
			t.Errorf("destroy %s: %q, want dataset is busy", s, ee.Stderr)
		}
	}
	// The partial receive's clone also pins the target's base; zplan's
	// hold is still there for when it is gone.
	l.Fails(t, "zfs", "destroy", tds+"@"+base)
	if hs := snapsWithTag(t, l, tds, "zplan_last_r1"); strings.Join(hs, " ") != tds+"@"+base {
		t.Errorf("last-received hold during the interrupted send: %v", hs)
	}
	for _, s := range append(want, tds+"@"+base) {
		if !exists(t, l, s) {
			t.Errorf("%s is gone", s)
		}
	}

	// Make room (grow the target pool's file vdev) and the edge finishes.
	l.Sh(t, fmt.Sprintf("truncate -s 256M /var/tmp/zplan-lab/%s.vdev && zpool online -e %s /var/tmp/zplan-lab/%s.vdev", dst, dst, dst))
	out, code = z.plan()
	if code != 2 || !strings.Contains(out, "~ send "+sds+"@"+next) {
		t.Fatalf("plan after making room (exit %d):\n%s", code, out)
	}
	z.mustApply()
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != next {
		t.Fatalf("newest on target %s, want %s", got, next)
	}
	z.mustNoChanges()
}

func TestIncrementalFromBookmarkAfterSourceSnapshotDestroyed(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	z, _, _, sds, tds := syncedEdge(t, l, 2)
	base := z.snapName()
	cursor := cursors(t, l, sds, "r1")[0]
	// zplan keeps no hold on the source between runs; release any, then
	// destroy the base snapshot behind zplan's back, keeping the cursor.
	for s, tags := range holdsUnder(t, l, sds) {
		for _, tag := range tags {
			l.Run(t, "zfs", "release", tag, s)
		}
	}
	l.Run(t, "zfs", "destroy", sds+"@"+base)
	if !exists(t, l, sds+"#"+cursor) {
		t.Fatalf("cursor %s vanished with the snapshot", cursor)
	}

	writeRandom(t, l, sds, 1)
	z.advance(5 * time.Minute)
	next := z.snapName()
	out, code := z.plan()
	want := "~ send " + sds + "@" + next + " -> dst:" + tds + " (incremental from #" + cursor
	if code != 2 || !strings.Contains(out, want) {
		t.Fatalf("plan (exit %d) lacks %q:\n%s", code, want, out)
	}
	z.mustApply()
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != next {
		t.Fatalf("newest on target %s, want %s", got, next)
	}
	if exists(t, l, sds+"#"+cursor) {
		t.Errorf("old cursor %s not destroyed after the new one was made", cursor)
	}
	if ts := snapNamesOf(snapshots(t, l, tds)); strings.Join(ts, " ") != base+" "+next {
		t.Errorf("target snapshots %v, want [%s %s]", ts, base, next)
	}
	z.mustNoChanges()
}

// TestObserveSurvivesSnapshotDestroyedMeanwhile destroys a held snapshot
// (not one zplan manages) between observe's zfs list and its zfs holds,
// deterministically, through a command_prefix wrapper on the host. A
// snapshot that vanishes meanwhile is an everyday event on a busy host
// (another tool's retention); it must not make the whole plan fail.
func TestObserveSurvivesSnapshotDestroyedMeanwhile(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds := src + "/data"
	victim := src + "/other@victim"
	armed := "/tmp/" + src + ".armed"
	wrapper := "/tmp/" + src + ".racer"
	l.Sh(t, fmt.Sprintf(`zfs create %[1]s && zfs create %[2]s/other && zfs snapshot %[3]s && zfs hold keep %[3]s
cat > %[4]s <<'X'
#!/bin/sh
if [ "$1" = xargs ] && [ -e %[5]s ]; then
	rm -f %[5]s
	zfs release keep %[3]s && zfs destroy %[3]s
fi
exec "$@"
X
chmod +x %[4]s && touch %[5]s`, sds, src, victim, wrapper, armed))
	t.Cleanup(func() { _, _ = l.Exec(t.Context(), "rm", "-f", wrapper, armed) })
	writeRandom(t, l, sds, 1)
	z := newZenv(t, l, oneEdgeConfig(src, dst))
	cfg, err := os.ReadFile(z.cfg)
	if err != nil {
		t.Fatal(err)
	}
	withPrefix := strings.Replace(string(cfg), "host \"src\" {\n", "host \"src\" {\n  command_prefix = [\""+wrapper+"\"]\n", 1)
	if err := os.WriteFile(z.cfg, []byte(withPrefix), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(zplanBinary(t), z.args("plan", "-detailed-exitcode")...)
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	t.Logf("zplan plan (%v):\n%s", err, out)
	if exists(t, l, victim) {
		t.Fatalf("the wrapper did not destroy %s during observe", victim)
	}
	if !strings.Contains(out, "~ send "+sds+"@") {
		t.Fatalf("plan failed because %s vanished between zfs list and zfs holds (observe must drop it):\n%s", victim, out)
	}
}
