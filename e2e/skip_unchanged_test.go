package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// TestSkipUnchangedOnRealZFS checks on real ZFS what skip_unchanged
// relies on: an idle filesystem's written is 0 after a snapshot, a
// snapshot of nothing new has written 0, and a write shows in either.
// The plan skips a due snapshot only while nothing changed since the
// policy's newest; drift does not call the skipped dataset late.
func TestSkipUnchangedOnRealZFS(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	pool := l.NewPool(t, 128)
	ds := pool + "/data"
	l.Run(t, "zfs", "create", "-o", "atime=off", ds)
	writeRandom(t, l, ds, 1)
	z := newZenv(t, l, fmt.Sprintf(`
snapshots "data" {
  host           = host.src
  datasets       = [%q]
  every          = "5m"
  skip_unchanged = true
  retention {
    keep_last = 3
  }
}
`, ds))
	z.mustApply()
	first := z.snapName()
	if w := prop(t, l, ds, "written"); w != "0" {
		t.Fatalf("written of an idle filesystem right after a snapshot is %s, want 0", w)
	}

	skipped := func(since string) {
		t.Helper()
		out, code := z.plan()
		want := "skipped: unchanged since @" + since
		if code != 0 || !strings.Contains(out, "No changes.") || !strings.Contains(out, want) {
			t.Fatalf("plan (exit %d) is not a skip with %q:\n%s", code, want, out)
		}
		out, _ = z.zplan("drift", "-json", "-grace", "1m")
		if strings.Contains(out, "missing_snapshot") {
			t.Fatalf("drift reports the unchanged dataset late:\n%s", out)
		}
	}

	// 1. Nothing written: the due snapshot is skipped, apply takes none.
	z.advance(5 * time.Minute)
	skipped(first)
	z.mustApply()
	if got := snapNamesOf(snapshots(t, l, ds)); len(got) != 1 {
		t.Fatalf("snapshots %v after a skipped tick, want only @%s", got, first)
	}

	// 2. Someone else's snapshot of nothing new: still unchanged.
	l.Run(t, "zfs", "snapshot", ds+"@manual_idle")
	if w := prop(t, l, ds+"@manual_idle", "written"); w != "0" {
		t.Fatalf("written of a snapshot of nothing new is %s, want 0", w)
	}
	z.advance(5 * time.Minute)
	skipped(first)

	// 3. A write captured by someone else's snapshot: the dataset's
	// written is 0 again, but the chain since @first is not.
	writeRandom(t, l, ds, 1)
	l.Run(t, "zfs", "snapshot", ds+"@manual_after_write")
	if w := prop(t, l, ds, "written"); w != "0" {
		t.Fatalf("written right after @manual_after_write is %s, want 0", w)
	}
	z.advance(5 * time.Minute)
	out, code := z.plan()
	if code != 2 || !strings.Contains(out, "+ snapshot "+ds+"@"+z.snapName()) || strings.Contains(out, "skipped:") {
		t.Fatalf("plan after a write behind a foreign snapshot (exit %d) does not snapshot:\n%s", code, out)
	}
	z.mustApply()

	// 4. A plain write: the next plan snapshots.
	writeRandom(t, l, ds, 1)
	z.advance(5 * time.Minute)
	out, code = z.plan()
	if code != 2 || !strings.Contains(out, "+ snapshot "+ds+"@"+z.snapName()) {
		t.Fatalf("plan after a write (exit %d) does not snapshot:\n%s", code, out)
	}
	z.mustApply()
	z.advance(5 * time.Minute)
	skipped("zplan_" + z.now.Add(-5*time.Minute).Format(snapTimeFormat))
}
