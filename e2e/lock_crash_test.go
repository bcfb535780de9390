package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
	"github.com/zplan/zplan/lock"
)

// lockOf reads POOL@zplan-lock in the guest: its zplan:lock record and
// its hold tags ("" and nil when there is no lock snapshot).
func lockOf(t *testing.T, l *lab.Lab, pool string) (record string, tags []string) {
	t.Helper()
	snap := pool + "@" + lock.SnapName
	if !exists(t, l, snap) {
		return "", nil
	}
	record = prop(t, l, snap, lock.Property)
	for _, line := range strings.Split(strings.TrimSpace(l.Run(t, "zfs", "holds", "-H", snap)), "\n") {
		if f := strings.Split(line, "\t"); len(f) == 3 {
			tags = append(tags, f[1])
		}
	}
	return record, tags
}

// checkLockedBy fails unless pool's lock is zplan's, owned by pid.
func checkLockedBy(t *testing.T, l *lab.Lab, pool string, pid int) lock.Owner {
	t.Helper()
	rec, tags := lockOf(t, l, pool)
	o, err := lock.ParseRecord(rec)
	if err != nil || o.PID != pid || len(tags) != 1 || tags[0] != o.Tag() {
		t.Fatalf("%s's lock: record %q (%v), holds %v; want zplan pid %d's, held by its tag", pool, rec, err, tags, pid)
	}
	return o
}

// syncBuf collects a process's output; the apply prompt ends without a
// newline, so it is polled rather than read by lines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// forceUnlock runs zplan force-unlock TARGET (it takes only the
// configuration flags).
func forceUnlock(t *testing.T, z *zenv, target string) (string, int) {
	t.Helper()
	out, err := exec.Command(zplanBinary(t), "force-unlock", target, "-config", z.cfg).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("zplan force-unlock %s (exit %d):\n%s", target, code, out)
	return string(out), code
}

// An apply is killed with kill -9 while it holds both pools' locks (at
// the confirmation prompt, after planning under the lock). A second
// apply meanwhile is refused, naming the live owner; once it is dead
// the next apply breaks both locks by itself, saying so, and converges.
func TestLockOfApplyKilledAtPromptIsBroken(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 4)
	z := newZenv(t, l, oneEdgeConfig(src, dst))

	cmd := exec.Command(zplanBinary(t), z.args("apply")...)
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	stdin, err := cmd.StdinPipe() // kept open: apply waits for "yes"
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		stdin.Close()
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), "Enter a value:") {
		select {
		case err := <-done:
			t.Fatalf("apply ended (%v) before asking:\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("apply did not ask within 2 minutes:\n%s", out.String())
		}
	}
	pid := cmd.Process.Pid
	// The plan was made under the lock, and it does not mention it.
	owner := checkLockedBy(t, l, src, pid)
	checkLockedBy(t, l, dst, pid)
	if strings.Contains(out.String(), lock.SnapName) {
		t.Errorf("the plan shows the lock snapshot:\n%s", out.String())
	}
	t.Logf("lock record of the waiting apply: %s", owner.Record())

	second, code := z.zplan("apply", "-auto-approve")
	if code != 1 || !strings.Contains(second, fmt.Sprintf("is locked by zplan pid %d", pid)) ||
		!strings.Contains(second, "still runs") || !strings.Contains(second, "zplan force-unlock") {
		t.Fatalf("second apply while the first waits: exit %d, want a refusal naming pid %d:\n%s", code, pid, second)
	}
	checkLockedBy(t, l, src, pid)
	if ss := snapshots(t, l, sds); len(ss) != 0 {
		t.Fatalf("the refused apply acted: %v", snapNamesOf(ss))
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	checkLockedBy(t, l, src, pid) // the crash left both locks
	checkLockedBy(t, l, dst, pid)

	start := time.Now()
	got := z.mustApply()
	t.Logf("apply over two dead locks took %s", time.Since(start).Round(time.Millisecond))
	for _, pool := range []string{"src:" + src, "dst:" + dst} {
		want := fmt.Sprintf("Broke the lock of %s left by zplan pid %d on %s", pool, pid, owner.Host)
		if n := strings.Count(got, want); n != 1 {
			t.Errorf("apply output has %q %d times, want once:\n%s", want, n, got)
		}
	}
	if !strings.Contains(got, "process "+fmt.Sprint(pid)+" is gone") {
		t.Errorf("apply does not say why the lock was broken:\n%s", got)
	}
	if checkEdgeInSync(t, l, sds, tds, "r1") != z.snapName() {
		t.Fatal("edge not in sync after the apply")
	}
	for _, p := range []string{src, dst} {
		if rec, tags := lockOf(t, l, p); rec != "" || tags != nil {
			t.Errorf("%s: lock left after a finished apply: %q %v", p, rec, tags)
		}
	}
	z.mustNoChanges()
}

// kill -9 in the middle of a send: the next apply, with no human step,
// breaks the dead locks, resumes the send and converges.
func TestLockOfApplyKilledDuringSendIsBroken(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 256), l.NewPool(t, 256)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 96)
	z := newZenv(t, l, oneEdgeConfig(src, dst))
	snap := z.snapName()

	killDuringSend(t, z, src, dst)
	recS, _ := lockOf(t, l, src)
	recD, _ := lockOf(t, l, dst)
	dead, err := lock.ParseRecord(recS)
	if err != nil || recD != recS {
		t.Fatalf("locks after the kill: src %q (%v), dst %q; want one dead owner's on both", recS, err, recD)
	}
	start := time.Now()
	out := z.mustApply()
	t.Logf("apply after kill -9 (breaking 2 locks, resuming the send) took %s", time.Since(start).Round(time.Millisecond))
	if n := strings.Count(out, fmt.Sprintf("left by zplan pid %d", dead.PID)); n != 2 || strings.Count(out, "Broke the lock of ") != 2 {
		t.Errorf("apply broke the dead locks %d times, want 2 lines naming pid %d:\n%s", n, dead.PID, out)
	}
	if !strings.Contains(out, "resume") {
		t.Errorf("apply did not resume the interrupted send:\n%s", out)
	}
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != snap {
		t.Fatalf("newest on target %s, want %s", got, snap)
	}
	for _, p := range []string{src, dst} {
		if rec, tags := lockOf(t, l, p); rec != "" || tags != nil {
			t.Errorf("%s: lock left after a finished apply: %q %v", p, rec, tags)
		}
	}
	z.mustNoChanges()
}

// A user's own POOL@zplan-lock is never adopted, held or destroyed:
// apply refuses the pool, force-unlock leaves it, and once renamed
// apply runs and the snapshot survives. A lock of another controller is
// refused, not broken, until force-unlock removes it.
func TestUserSnapshotAtLockNameSurvives(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds := src + "/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 2)
	user := src + "@" + lock.SnapName
	l.Run(t, "zfs", "snapshot", user)
	l.Run(t, "zfs", "hold", "mine", user)
	guid := prop(t, l, user, "guid")
	z := newZenv(t, l, oneEdgeConfig(src, dst))

	out, code := z.zplan("apply", "-auto-approve")
	if code != 1 || !strings.Contains(out, "is not zplan's lock") || !strings.Contains(out, "no zplan:lock property") ||
		!strings.Contains(out, "zfs rename") {
		t.Fatalf("apply with a user snapshot at the lock's name: exit %d, want a clear refusal:\n%s", code, out)
	}
	check := func(when string) {
		t.Helper()
		rec, tags := lockOf(t, l, src)
		if !exists(t, l, user) || prop(t, l, user, "guid") != guid || rec != "-" || len(tags) != 1 || tags[0] != "mine" {
			t.Fatalf("%s: the user's %s changed: record %q holds %v", when, user, rec, tags)
		}
	}
	check("after apply")
	if ss := snapshots(t, l, sds); len(ss) != 0 {
		t.Fatalf("apply acted on the pool it could not lock: %v", snapNamesOf(ss))
	}
	if rec, _ := lockOf(t, l, dst); rec != "" {
		t.Errorf("the other pool's lock was not released after the refusal: %q", rec)
	}
	out, code = forceUnlock(t, z, "src:"+src)
	if !strings.Contains(out, "Left "+user+" on src in place") {
		t.Errorf("force-unlock: exit %d, want it to leave the user's snapshot:\n%s", code, out)
	}
	check("after force-unlock")
	out, _ = z.plan()
	if strings.Contains(out, lock.SnapName) {
		t.Errorf("the plan acts on %s:\n%s", user, out)
	}
	l.Run(t, "zfs", "release", "mine", user)
	l.Run(t, "zfs", "rename", user, src+"@mine")

	// Another controller's lock: refused with who holds it, not broken.
	other := lock.Owner{Host: "other-ci", MachineID: strings.Repeat("1", 32), BootID: strings.Repeat("2", 32), PIDNS: 1,
		PID: 4242, Start: 5, Since: time.Now(), User: "ci"}
	l.Run(t, "zfs", "snapshot", "-o", lock.Property+"="+other.Record(), user)
	l.Run(t, "zfs", "hold", other.Tag(), user)
	out, code = z.zplan("apply", "-auto-approve", "-lock-timeout", "20s")
	if code != 1 || !strings.Contains(out, "src:"+src+" is locked by zplan pid 4242 on other-ci") ||
		!strings.Contains(out, "another controller") || !strings.Contains(out, "zplan force-unlock src:"+src) ||
		!strings.Contains(out, "Waiting for lock") {
		t.Fatalf("apply against another controller's lock: exit %d:\n%s", code, out)
	}
	if rec, _ := lockOf(t, l, src); rec != other.Record() {
		t.Fatalf("another controller's lock was changed: %q", rec)
	}
	out, code = forceUnlock(t, z, "src:"+src)
	if code != 0 || !strings.Contains(out, "Removed the lock of src:"+src+" (held by zplan pid 4242 on other-ci") || exists(t, l, user) {
		t.Fatalf("force-unlock of another controller's lock: exit %d:\n%s", code, out)
	}

	z.mustApply()
	z.mustNoChanges()
	if prop(t, l, src+"@mine", "guid") != guid {
		t.Fatal("the user's snapshot did not survive")
	}
}

// The longest owner record zplan can write fits a real hold tag and
// user property and reads back unchanged.
func TestLongestLockRecordFitsRealZFS(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	pool := l.NewPool(t, 64)
	o := lock.Owner{Host: strings.Repeat("h", 300), MachineID: strings.Repeat("a", 32), BootID: strings.Repeat("b", 32),
		PIDNS: 1<<32 - 1, PID: 1 << 22, Start: 1<<64 - 1, Since: time.Unix(1<<40-1, 0), User: strings.Repeat("u", 300)}
	snap := pool + "@" + lock.SnapName
	l.Run(t, "zfs", "snapshot", "-o", lock.Property+"="+o.Record(), snap)
	l.Run(t, "zfs", "hold", o.Tag(), snap)
	rec, tags := lockOf(t, l, pool)
	got, err := lock.ParseRecord(rec)
	if err != nil || got.Record() != o.Record() || len(tags) != 1 || tags[0] != o.Tag() {
		t.Fatalf("record %q (%v), tags %v; want the %d-byte tag back", rec, err, tags, len(o.Tag()))
	}
	t.Logf("a %d-byte lock hold tag and property round-trip on real ZFS", len(o.Tag()))
}
