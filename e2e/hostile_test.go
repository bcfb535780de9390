package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// keepLastConfig snapshots src/data/** every 5 minutes keeping the last
// n, and replicates below dst/backup keeping the last n there too.
func keepLastConfig(src, dst string, n int) string {
	return fmt.Sprintf(`
snapshots "data" {
  host     = host.src
  datasets = ["%s/data/**"]
  every    = "5m"
  retention {
    keep_last = %d
  }
}

replication "r1" {
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
`, src, n, dst, n)
}

// destroyedBy returns the fs@snap names a plan's output lists as destroyed.
func destroyedBy(out string) map[string]bool {
	res := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*- destroy (\S+@\S+)`).FindAllStringSubmatch(out, -1) {
		res[m[1]] = true
	}
	return res
}

// survivors checks that every snapshot of the datasets listed before an
// apply still exists afterwards unless the plan named it for destruction.
func survivors(t *testing.T, l *lab.Lab, before map[string][]snapInfo, planned map[string]bool) {
	t.Helper()
	for ds, snaps := range before {
		now := map[string]bool{}
		for _, s := range snapshots(t, l, ds) {
			now[s.name] = true
		}
		for _, s := range snaps {
			if full := ds + "@" + s.name; !now[s.name] && !planned[full] {
				t.Errorf("%s was destroyed although the plan keeps it", full)
			}
		}
	}
}

// A snapshot named PREFIXa%PREFIXb (a channel program can create one)
// next to managed ones: zfs destroy would read it as the range a..b, so
// zplan keeps it, does not replicate it, and reports it, while the other
// snapshots are pruned and replicated as usual on both sides.
func TestRangeNamedSnapshotNeverDestroyed(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 1)
	z := newZenv(t, l, keepLastConfig(src, dst, 3))
	var names []string
	for i := 0; i < 3; i++ {
		z.mustApply()
		names = append(names, z.snapName())
		z.advance(5 * time.Minute)
	}
	odd := names[0] + "%" + names[2]
	l.Sh(t, fmt.Sprintf("cat >/tmp/%s.lua <<'EOF'\nassert(zfs.sync.snapshot(%q) == 0)\nEOF\nzfs program %s /tmp/%s.lua", src, sds+"@"+odd, src, src))
	if !exists(t, l, sds+"@"+odd) {
		t.Fatalf("the channel program did not create %s", odd)
	}

	before := map[string][]snapInfo{sds: snapshots(t, l, sds), tds: snapshots(t, l, tds)}
	out, code := z.plan()
	if code != 1 || !strings.Contains(out, "snapshot @"+odd+": its name holds '%'") {
		t.Fatalf("plan must report the range-named snapshot as a conflict (exit 1), got exit %d:\n%s", code, out)
	}
	planned := destroyedBy(out)
	for name := range planned {
		if strings.Contains(name, "%") {
			t.Fatalf("plan destroys %s", name)
		}
	}
	out, _ = z.zplan("apply", "-auto-approve")
	survivors(t, l, before, destroyedBy(out))
	if !exists(t, l, sds+"@"+odd) {
		t.Errorf("%s is gone", sds+"@"+odd)
	}
	if exists(t, l, tds+"@"+odd) {
		t.Errorf("%s was replicated: the target could never prune it", tds+"@"+odd)
	}
	// keep_last = 3 still prunes the others: the oldest regular one went.
	if exists(t, l, sds+"@"+names[0]) || !exists(t, l, sds+"@"+names[2]) {
		t.Errorf("retention did not run around the odd name: %v", snapNamesOf(snapshots(t, l, sds)))
	}
	checkEdgeInSync(t, l, sds, tds, "r1")
}

// Names with spaces, ':', '.' and '-' (all legal in ZFS) are observed,
// pruned under adopt_foreign and replicated, and the plan converges.
func TestOddButLegalNamesConverge(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data/my data", dst+"/backup/data/my data"
	l.Run(t, "zfs", "create", "-p", sds)
	l.Sh(t, fmt.Sprintf("dd if=/dev/urandom of='/%s/f' bs=1M count=1 status=none", sds))
	for _, s := range []string{"manual 2", "odd:name.v-1"} {
		l.Run(t, "zfs", "snapshot", sds+"@"+s)
	}
	z := newZenv(t, l, fmt.Sprintf(`
snapshots "data" {
  host     = host.src
  datasets = ["%s/data/**"]
  every    = "5m"
  retention {
    keep_last     = 1
    adopt_foreign = true
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
`, src, dst))
	// The foreign snapshots were just made: plan after them, or retention
	// keeps them as being from the future (clock skew).
	z.now = time.Now().UTC().Truncate(5 * time.Minute).Add(5 * time.Minute)
	z.mustApply()
	z.mustNoChanges()
	got := snapNamesOf(snapshots(t, l, sds))
	if len(got) != 1 || got[0] != z.snapName() {
		t.Errorf("source snapshots %q: want only %s (foreign ones adopted and pruned)", got, z.snapName())
	}
	checkEdgeInSync(t, l, sds, tds, "r1")
	z.advance(5 * time.Minute)
	z.mustApply()
	z.mustNoChanges()
}

// What a delegated user can shape on one dataset: user property values
// with a newline that imitates listing lines for another dataset, or a
// tab; hold tags with a tab and with a newline. Planning and applying go
// on for the other datasets, retention keeps what it keeps, and the hold
// tags are read back exactly (so the snapshots they hold are kept).
func TestHostileTextOnOneDataset(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	good, odd := src+"/data/good", src+"/data/odd"
	l.Run(t, "zfs", "create", "-p", good)
	l.Run(t, "zfs", "create", odd)
	z := newZenv(t, l, keepLastConfig(src, dst, 2))
	z.mustApply()
	held := z.snapName()
	z.advance(5 * time.Minute)
	z.mustApply()
	z.advance(5 * time.Minute)

	// A forged line claims good has a snapshot newer than any real one.
	forged := fmt.Sprintf("x\n%s@zplan_29991231T000000Z\tsnapshot\t1\t99999999\t32503593600\t0\t0\t0\t0\toff\t-\t-\t-", good)
	l.Run(t, "zfs", "set", "zplan:placeholder="+forged, odd)
	l.Run(t, "zfs", "set", "zplan:note=a\tb", odd)
	l.Run(t, "zfs", "hold", "tab\there", odd+"@"+held)
	l.Run(t, "zfs", "hold", "new\nline", odd+"@"+held)

	before := map[string][]snapInfo{good: snapshots(t, l, good), odd: snapshots(t, l, odd)}
	out, code := z.plan()
	if code != 2 {
		t.Fatalf("plan must proceed (exit 2), got exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "- destroy "+odd+"@"+held) {
		t.Errorf("plan destroys the snapshot the odd tags hold:\n%s", out)
	}
	out = z.mustApply()
	survivors(t, l, before, destroyedBy(out))
	// keep_last = 2 on good: the two newest of its three snapshots stay.
	if got := snapNamesOf(snapshots(t, l, good)); len(got) != 2 {
		t.Errorf("good has %q, want its 2 newest snapshots", got)
	}
	// odd's oldest is held by the two odd tags: kept, tags intact.
	if !exists(t, l, odd+"@"+held) {
		t.Errorf("%s@%s (held) is gone", odd, held)
	}
	tags := l.Run(t, "zfs", "holds", "-H", odd+"@"+held)
	if !strings.Contains(tags, "tab\there") || !strings.Contains(tags, "new\nline") {
		t.Errorf("holds changed: %q", tags)
	}
	checkEdgeInSync(t, l, good, dst+"/backup/data/good", "r1")
	checkEdgeInSync(t, l, odd, dst+"/backup/data/odd", "r1")
}
