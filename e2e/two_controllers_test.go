package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// Two controllers apply the same configuration at once: while the first
// holds the pools' locks, a second without -lock-timeout refuses at
// once, naming the lock; a third with -lock-timeout waits, then finds
// nothing left to do. Nothing is sent twice.
func TestTwoControllers(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 4)
	z := newZenv(t, l, oneEdgeConfig(src, dst)+`
replication "slow" {
  source {
    snapshots = snapshots.data
  }
  target {
    host = host.dst
    root = "`+dst+`/slow"
  }
  send {
    bandwidth = "256KiB/s"
  }
}
`)
	first := z.startApply()
	for deadline := time.Now().Add(10 * time.Minute); !strings.Contains(first.output(), "sending..."); time.Sleep(200 * time.Millisecond) {
		if first.exited() || time.Now().After(deadline) {
			t.Fatalf("the first apply never started sending:\n%s", first.output())
		}
	}
	out, code := z.zplan("apply", "-auto-approve")
	if code != 1 || !strings.Contains(out, "lock") || strings.Contains(out, "sending...") {
		t.Fatalf("second apply while the first runs (exit %d), want a refusal naming the lock:\n%s", code, out)
	}
	third := z.startApply("-lock-timeout", "15m")
	<-first.done
	<-third.done
	if first.err != nil || third.err != nil {
		t.Fatalf("first: %v\n%s\nthird: %v\n%s", first.err, first.output(), third.err, third.output())
	}
	sends := countLines(first.output()+third.output(), "send.", ": done after")
	if sends != 2 {
		t.Errorf("%d sends done in all, want 2 (one per edge, none twice):\nfirst:\n%s\nthird:\n%s", sends, first.output(), third.output())
	}
	if !strings.Contains(third.output(), "No changes.") {
		t.Errorf("the waiting apply did not find everything done:\n%s", third.output())
	}
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != z.snapName() {
		t.Errorf("r1 target's newest %s, want %s", got, z.snapName())
	}
	if got := checkEdgeInSync(t, l, sds, dst+"/slow/data", "slow"); got != z.snapName() {
		t.Errorf("slow target's newest %s, want %s", got, z.snapName())
	}
}
