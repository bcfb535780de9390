package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// TestSavedPlanStaleOnRealZFS saves a plan, changes one fact it relies
// on, and checks that `zplan apply FILE` refuses the affected action with
// "Saved plan is stale", for each kind of precondition: a snapshot that
// must exist, a name that must be free (the target received something
// else), and a resume token that must be absent.
func TestSavedPlanStaleOnRealZFS(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	z, _, _, sds, tds := syncedEdge(t, l, 1)
	base := z.snapName()
	saved := func(name string) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), name+".zplan")
		if out, code := z.zplan("plan", "-out", path); code != 0 {
			t.Fatalf("plan -out exited %d:\n%s", code, out)
		}
		return path
	}
	applyStale := func(path, want string) {
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
	}

	// 1. The send's base snapshot is destroyed between plan and apply.
	writeRandom(t, l, sds, 1)
	z.advance(5 * time.Minute)
	p1 := saved("base-destroyed")
	l.Run(t, "zfs", "destroy", sds+"@"+base)
	applyStale(p1, "no longer has "+sds+"@"+base)
	if exists(t, l, tds+"@"+z.snapName()) {
		t.Fatal("the stale send ran anyway")
	}
	z.mustApply() // a fresh plan sends from the cursor bookmark instead
	z.mustNoChanges()

	// 2. The target receives something else under the planned name.
	writeRandom(t, l, sds, 1)
	z.advance(5 * time.Minute)
	p2 := saved("target-received-else")
	l.Run(t, "zfs", "snapshot", tds+"@"+z.snapName())
	applyStale(p2, "received something else")
	l.Run(t, "zfs", "destroy", tds+"@"+z.snapName())

	// 3. An interrupted receive appears on the target.
	z.advance(5 * time.Minute)
	p3 := saved("resume-token")
	ts := snapshots(t, l, tds)
	newest := ts[len(ts)-1].name
	l.Sh(t, "zfs snapshot "+sds+"@other && "+
		"(zfs send -i "+sds+"@"+newest+" "+sds+"@other | head -c 300000 | zfs recv -s -u "+tds+" || true) && "+
		"test \"$(zfs get -H -o value receive_resume_token "+tds+")\" != -")
	applyStale(p3, "interrupted receive")
	l.Run(t, "zfs", "recv", "-A", tds)
	l.Run(t, "zfs", "destroy", sds+"@other")
	z.mustApply()
	z.mustNoChanges()
}
