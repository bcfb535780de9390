package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
	"github.com/zplan/zplan/zfs"
)

// savePlan runs zplan plan -out and returns the file and the output.
func savePlan(t *testing.T, z *zenv, name string) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".zplan")
	out, code := z.zplan("plan", "-out", path)
	if code != 0 {
		t.Fatalf("plan -out exited %d:\n%s", code, out)
	}
	return path, out
}

// applyFileStale runs zplan apply FILE and fails the test unless it
// refuses with "Saved plan is stale" naming want.
func applyFileStale(t *testing.T, z *zenv, path, want string) string {
	t.Helper()
	// A saved plan carries its own time: no -now here.
	cmd := exec.Command(zplanBinary(t), "apply", path, "-config", z.cfg, "-no-color")
	b, err := cmd.CombinedOutput()
	out, code := string(b), 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("zplan apply %s (exit %d):\n%s", filepath.Base(path), code, out)
	if code != 1 || !strings.Contains(out, "Saved plan is stale") || !strings.Contains(out, want) {
		t.Fatalf("apply of a stale plan: exit %d, want 1 with %q:\n%s", code, want, out)
	}
	return out
}

// handSnapshots writes a little and takes one zplan-named snapshot of ds
// for each age before z.now, oldest first, and returns their names.
func handSnapshots(t *testing.T, l *lab.Lab, z *zenv, ds string, ages ...time.Duration) []string {
	t.Helper()
	var names []string
	for _, age := range ages {
		writeRandom(t, l, ds, 1)
		n := "zplan_" + z.now.Add(-age).Format(snapTimeFormat)
		l.Run(t, "zfs", "snapshot", ds+"@"+n)
		names = append(names, n)
	}
	return names
}

// TestSavedPlanStaleKeeperOnRealZFS: a saved plan's retention destroy is
// refused when a snapshot that made its victims redundant (a member of
// the keep_last window) was destroyed by hand between plan and apply,
// and the victims survive; a fresh plan decides again.
func TestSavedPlanStaleKeeperOnRealZFS(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	sds := l.NewPool(t, 64) + "/data"
	l.Run(t, "zfs", "create", sds)
	z := newZenv(t, l, fmt.Sprintf(`
snapshots "data" {
  host     = host.src
  datasets = [%q]
  every    = "1h"
  retention {
    keep_last = 2
  }
}
`, sds))
	// Half past an hour, with snapshots from this hour: none is due, so
	// the plan only destroys.
	z.now = z.now.Truncate(time.Hour).Add(30 * time.Minute)
	s := handSnapshots(t, l, z, sds, 20*time.Minute, 15*time.Minute, 10*time.Minute, 5*time.Minute)

	path, out := savePlan(t, z, "keeper")
	if strings.Contains(out, "+ snapshot") || !strings.Contains(out, "destroy "+sds+"@"+s[0]) || !strings.Contains(out, "destroy "+sds+"@"+s[1]) {
		t.Fatalf("want a plan that only destroys @%s and @%s:\n%s", s[0], s[1], out)
	}
	// Another tool prunes a snapshot of the keep_last window.
	l.Run(t, "zfs", "destroy", sds+"@"+s[2])
	applyFileStale(t, z, path, "no longer has "+sds+"@"+s[2])
	for _, v := range s[:2] {
		if !exists(t, l, sds+"@"+v) {
			t.Errorf("victim @%s was destroyed by a stale action", v)
		}
	}
	// Planned afresh, keep_last 2 keeps @s[1] and @s[3].
	z.mustApply()
	if got := strings.Join(snapNamesOf(snapshots(t, l, sds)), " "); got != s[1]+" "+s[3] {
		t.Errorf("after a fresh apply: %s, want %s %s", got, s[1], s[3])
	}
	z.mustNoChanges()
}

// TestSavedPlanStaleEdgeBaseOnRealZFS: a target's retention destroy
// asserts the edge's common snapshot on the source too; destroyed there
// by hand, the saved plan's destroy is refused. The lookup's written
// column reads as zplan expects on real ZFS ("-" for a bookmark).
func TestSavedPlanStaleEdgeBaseOnRealZFS(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 64), l.NewPool(t, 64)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	cfg := func(keep int) string {
		return fmt.Sprintf(`
snapshots "data" {
  host     = host.src
  datasets = [%q]
  every    = "1h"
}

replication "r1" {
  initial = "all"
  source {
    snapshots = snapshots.data
  }
  target {
    host = host.dst
    root = "%s/backup"
    retention {
      keep_last = %d
    }
  }
}
`, sds, dst, keep)
	}
	z := newZenv(t, l, cfg(2))
	z.now = z.now.Truncate(time.Hour).Add(30 * time.Minute)
	s := handSnapshots(t, l, z, sds, 20*time.Minute, 10*time.Minute)
	z.mustApply()
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != s[1] {
		t.Fatalf("newest on target %s, want %s", got, s[1])
	}

	cur := cursors(t, l, sds, "r1")[0]
	// name, guid, written, receive_resume_token, encryption: written is
	// a number for the filesystem and the snapshot, "-" for the bookmark;
	// encryption is off here (the bookmark may print "-").
	wantCols := map[string]*regexp.Regexp{
		sds:              regexp.MustCompile(`^[0-9]+\t[0-9]+\t-\toff$`),
		sds + "@" + s[1]: regexp.MustCompile(`^[0-9]+\t[0-9]+\t-\toff$`),
		sds + "#" + cur:  regexp.MustCompile(`^[0-9]+\t-\t-\t(-|off)$`),
	}
	lines := strings.Split(strings.TrimSpace(l.Run(t, zfs.GUIDsArgv(sds, sds+"@"+s[1], sds+"#"+cur)...)), "\n")
	for _, line := range lines {
		name, rest, _ := strings.Cut(line, "\t")
		if re := wantCols[name]; re == nil || !re.MatchString(rest) {
			t.Errorf("lookup line %q: want %v", line, re)
		}
		delete(wantCols, name)
	}
	if len(wantCols) > 0 {
		t.Errorf("lookup printed no line for %v", wantCols)
	}

	if err := os.WriteFile(z.cfg, []byte(strings.Replace(readFile(t, z.cfg), "keep_last = 2", "keep_last = 1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	path, out := savePlan(t, z, "edge-base")
	if strings.Contains(out, "~ send") || !strings.Contains(out, "destroy "+tds+"@"+s[0]) {
		t.Fatalf("want a plan that only destroys %s@%s:\n%s", tds, s[0], out)
	}
	// The source's copy of the common snapshot goes (its cursor stays).
	l.Run(t, "zfs", "destroy", sds+"@"+s[1])
	applyFileStale(t, z, path, "src no longer has "+sds+"@"+s[1])
	if !exists(t, l, tds+"@"+s[0]) {
		t.Errorf("%s@%s was destroyed by a stale action", tds, s[0])
	}
	// Planned afresh, the base is the cursor bookmark and the destroy goes.
	z.mustApply()
	if exists(t, l, tds+"@"+s[0]) {
		t.Errorf("a fresh apply left %s@%s", tds, s[0])
	}
	z.mustNoChanges()
}

// TestSavedPlanStaleRollbackWrittenOnRealZFS: a declared rollback is
// refused when the target was written after planning: it would discard
// data the plan never showed.
func TestSavedPlanStaleRollbackWrittenOnRealZFS(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 1)
	z := newZenv(t, l, strings.Replace(oneEdgeConfig(src, dst), "  target {", "  on_divergence = \"rollback\"\n  target {", 1))
	z.mustApply()
	checkEdgeInSync(t, l, sds, tds, "r1")

	l.Sh(t, "zfs set readonly=off "+tds+" && zfs mount "+tds+" && dd if=/dev/urandom of=/"+tds+"/theirs bs=1M count=1 status=none && "+
		"zfs snapshot "+tds+"@mine && dd if=/dev/urandom of=/"+tds+"/more bs=1M count=1 status=none && sync && zfs umount "+tds)
	seen := prop(t, l, tds, "written")
	writeRandom(t, l, sds, 1)
	z.advance(5 * time.Minute)
	path, out := savePlan(t, z, "rollback")
	if countLines(out, "rollback", tds) == 0 {
		t.Fatalf("plan has no rollback of %s:\n%s", tds, out)
	}
	// More is written to the target after planning.
	l.Sh(t, "zfs set readonly=off "+tds+" && zfs mount "+tds+" && dd if=/dev/urandom of=/"+tds+"/later bs=1M count=1 status=none && sync && zfs umount "+tds)
	t.Logf("target written: %s when planned, %s now", seen, prop(t, l, tds, "written"))
	applyFileStale(t, z, path, "written since its newest snapshot, the plan saw "+seen)
	if !exists(t, l, tds+"@mine") {
		t.Error("the rollback ran although the target was written after planning")
	}
	// Planned afresh (showing the new amount), the rollback goes.
	z.mustApply()
	if exists(t, l, tds+"@mine") {
		t.Error("a fresh apply left @mine")
	}
	z.mustNoChanges()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
