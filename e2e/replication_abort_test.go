package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// pruneInterrupted destroys, behind zplan's back, the source snapshot an
// interrupted send was sending (as another tool's retention would): the
// step holds are released first, the target keeps its resume token.
func pruneInterrupted(t *testing.T, l *lab.Lab, sds, snap string) {
	t.Helper()
	for s, tags := range holdsUnder(t, l, sds) {
		for _, tag := range tags {
			l.Run(t, "zfs", "release", tag, s)
		}
	}
	l.Run(t, "zfs", "destroy", sds+"@"+snap)
}

// TestAbortStaleResumeOfIncremental: a send killed mid-stream leaves a
// resume token whose snapshot is then pruned on the source. zfs send -t
// can never finish it; the plan discards it (zfs recv -A) and sends the
// next snapshot from the edge's base, and one apply converges.
func TestAbortStaleResumeOfIncremental(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	z, src, dst, sds, tds := syncedEdgeOn(t, l, l.NewPool(t, 256), l.NewPool(t, 256), 1)
	base := z.snapName()

	writeRandom(t, l, sds, 96)
	z.advance(5 * time.Minute)
	gone := z.snapName()
	killDuringSend(t, z, src, dst)
	checkInterrupted(t, l, sds, tds, []string{base, gone})
	pruneInterrupted(t, l, sds, gone)

	z.advance(5 * time.Minute)
	next := z.snapName()
	out, code := z.plan()
	for _, want := range []string{
		"- abort interrupted receive on " + tds,
		"~ send " + sds + "@" + next + " -> dst:" + tds + " (incremental from @" + base,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if code != 2 || strings.Contains(out, "(resume") || strings.Contains(out, "Conflicts") {
		t.Fatalf("plan (exit %d) resumes or has a conflict:\n%s", code, out)
	}
	z.mustApply()
	if tok := prop(t, l, tds, "receive_resume_token"); tok != "-" {
		t.Errorf("token left after the abort: %s", tok)
	}
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != next {
		t.Fatalf("newest on target %s, want %s", got, next)
	}
	if ts := snapNamesOf(snapshots(t, l, tds)); strings.Join(ts, " ") != base+" "+next {
		t.Errorf("target snapshots %v, want [%s %s]", ts, base, next)
	}
	z.mustNoChanges()
}

// TestAbortStaleResumeOfFullSend: the first (full) send is killed and its
// snapshot pruned. zfs recv -A destroys the incomplete target
// filesystem, and the plan's full send of the next snapshot recreates it.
func TestAbortStaleResumeOfFullSend(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 256), l.NewPool(t, 256)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 96)
	z := newZenv(t, l, oneEdgeConfig(src, dst))
	gone := z.snapName()
	killDuringSend(t, z, src, dst)
	checkInterrupted(t, l, sds, tds, []string{gone})
	pruneInterrupted(t, l, sds, gone)

	z.advance(5 * time.Minute)
	next := z.snapName()
	out, code := z.plan()
	for _, want := range []string{
		"- abort interrupted receive on " + tds,
		"~ send " + sds + "@" + next + " -> dst:" + tds + " (full",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if code != 2 || strings.Contains(out, "(resume") || strings.Contains(out, "Conflicts") {
		t.Fatalf("plan (exit %d) resumes or has a conflict:\n%s", code, out)
	}
	z.mustApply()
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != next {
		t.Fatalf("newest on target %s, want %s", got, next)
	}
	if tok := prop(t, l, tds, "receive_resume_token"); tok != "-" {
		t.Errorf("token left after the abort: %s", tok)
	}
	z.mustNoChanges()
}
