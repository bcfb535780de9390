package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/planfile"
)

// TestCraftedSavedPlanRefusedOnRealZFS edits a saved plan the way the
// issue's attacker did: destroy and roll back a dataset no policy
// manages, send -R to an undeclared target, zfs recv -A. apply FILE
// refuses the file before anything reaches the host: the unmanaged
// dataset keeps its snapshots and data, nothing is sent, no lock is taken.
func TestCraftedSavedPlanRefusedOnRealZFS(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	z, src, dst, sds, tds := syncedEdge(t, l, 1)
	other := src + "/other"
	l.Run(t, "zfs", "create", other)
	writeRandom(t, l, other, 1)
	l.Run(t, "zfs", "snapshot", other+"@precious")
	writeRandom(t, l, other, 1)    // rollback would lose this
	l.Run(t, "zpool", "sync", src) // written is exact once the txg is synced
	written := prop(t, l, other, "written")
	writeRandom(t, l, sds, 1)
	z.advance(5 * time.Minute)
	path := filepath.Join(t.TempDir(), "plan.zplan")
	if out, code := z.zplan("plan", "-out", path); code != 0 {
		t.Fatalf("plan -out exited %d:\n%s", code, out)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("plan file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	f, err := planfile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var send *plan.Send
	for _, a := range f.Plan.Actions {
		if a.Send != nil {
			send = a.Send
		}
	}
	if send == nil {
		t.Fatalf("the plan sends nothing: %+v", f.Plan.Actions)
	}
	send.Flags = append([]string{"-R"}, send.Flags...)
	send.TargetDataset = dst + "/evil"
	f.Plan.Actions = append(f.Plan.Actions,
		&plan.Action{Address: `destroy.src["` + other + `"]`, Kind: plan.KindDestroy, Host: "src", Dataset: other, Snapshots: []plan.SnapRef{{Name: "precious"}}},
		&plan.Action{Address: `rollback.src["` + other + `"]`, Kind: plan.KindRollback, Host: "src", Dataset: other, Bookmark: "precious"},
		&plan.Action{Address: `abort_resume.src["` + other + `"]`, Kind: plan.KindAbortResume, Host: "src", Dataset: other},
	)
	crafted := filepath.Join(t.TempDir(), "crafted.zplan")
	fh, err := os.Create(crafted)
	if err != nil {
		t.Fatal(err)
	}
	if err := planfile.Encode(fh, f.Plan, time.Now()); err != nil {
		t.Fatal(err)
	}
	fh.Close()

	before := snapshots(t, l, tds)
	cmd := exec.Command(zplanBinary(t), "apply", crafted, "-config", z.cfg, "-no-color")
	b, err := cmd.CombinedOutput()
	out, code := string(b), 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("zplan apply crafted (exit %d):\n%s", code, out)
	for _, want := range []string{"cannot produce, so nothing was run", "(rule flags)", "(rule edge)", `destroy.src["` + other + `"]`, `rollback.src["` + other + `"]`, "(rule managed)", "(rule abort_resume)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	l.Run(t, "zpool", "sync", src)
	if got := prop(t, l, other, "written"); !exists(t, l, other+"@precious") || got != written || written == "0" {
		t.Logf("written %s before, %s after", written, got)
		t.Fatal("the unmanaged dataset was destroyed or rolled back")
	}
	if exists(t, l, dst+"/evil") || exists(t, l, sds+"@"+z.snapName()) || len(snapshots(t, l, tds)) != len(before) {
		t.Fatal("the crafted plan snapshotted or sent")
	}
	for _, pool := range []string{src, dst} {
		if exists(t, l, pool+"@zplan-lock") {
			t.Fatalf("a lock on %s was taken for a refused plan", pool)
		}
	}
	// The unedited file still applies.
	cmd = exec.Command(zplanBinary(t), "apply", path, "-config", z.cfg, "-no-color")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the unedited plan: %v\n%s", err, b)
	}
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != z.snapName() {
		t.Fatalf("after the unedited plan the target's newest is %s, want %s", got, z.snapName())
	}
}
