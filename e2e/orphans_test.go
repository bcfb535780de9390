package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// TestOrphansAfterIDChangeOnRealZFS: an edge replicated as r1 whose id
// becomes r2. The plan lists r1's hold and cursor as orphans and
// replicates r2 incrementally from the common snapshot (found by GUID,
// no cursor of r2 needed); with orphans = "release", apply releases r1's
// hold and destroys its cursor, and the next plan is clean.
func TestOrphansAfterIDChangeOnRealZFS(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	z, _, _, sds, tds := syncedEdge(t, l, 2)
	r1Hold := snapsWithTag(t, l, tds, "zplan_last_r1")
	r1Cursor := cursors(t, l, sds, "r1")
	if len(r1Hold) != 1 || len(r1Cursor) != 1 {
		t.Fatalf("after the first apply: r1 holds %v, cursors %v", r1Hold, r1Cursor)
	}
	cfg, err := os.ReadFile(z.cfg)
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(cfg), `replication "r1" {`, `replication "r2" {`, 1)
	if err := os.WriteFile(z.cfg, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}

	z.advance(5 * time.Minute)
	out, code := z.plan()
	for _, want := range []string{"Orphans: 2", r1Hold[0] + " zplan_last_r1 (hold): replication id r1 is not configured",
		sds + "#" + r1Cursor[0] + " (cursor): replication id r1 is not configured", `declare orphans = "release"`,
		"-> dst:" + tds + " (incremental from @"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan (exit %d) lacks %q:\n%s", code, want, out)
		}
	}
	if code != 2 || strings.Contains(out, "release zplan_last_r1") {
		t.Fatalf("plan with orphans = keep (exit %d) releases them or plans nothing:\n%s", code, out)
	}
	if out, _ := z.zplan("drift", "-json"); !strings.Contains(out, "orphaned hold zplan_last_r1") || !strings.Contains(out, "orphaned cursor "+r1Cursor[0]) {
		t.Errorf("drift does not report the 2 orphans:\n%s", out)
	}

	if err := os.WriteFile(z.cfg, []byte(renamed+"\nsettings {\n  orphans = \"release\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ = z.plan()
	if !strings.Contains(out, "release zplan_last_r1 on "+r1Hold[0]) || !strings.Contains(out, "destroy bookmark "+sds+"#"+r1Cursor[0]) {
		t.Fatalf("plan with orphans = release lacks the release and the cursor destroy:\n%s", out)
	}
	out = z.mustApply()
	if hs := snapsWithTag(t, l, tds, "zplan_last_r1"); len(hs) != 0 {
		t.Errorf("zplan_last_r1 still held on %v:\n%s", hs, out)
	}
	if cs := cursors(t, l, sds, "r1"); len(cs) != 0 {
		t.Errorf("r1 cursors left: %v", cs)
	}
	if got := checkEdgeInSync(t, l, sds, tds, "r2"); got != z.snapName() {
		t.Errorf("target's newest snapshot %s, want %s", got, z.snapName())
	}
	// The snapshot r1 held is still there: releasing never destroys.
	if !exists(t, l, r1Hold[0]) {
		t.Errorf("%s was destroyed", r1Hold[0])
	}
	z.mustNoChanges()
	if out, _ := z.plan(); strings.Contains(out, "Orphans:") {
		t.Errorf("orphans left after the release:\n%s", out)
	}
}
