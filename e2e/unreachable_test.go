package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// A second target host that cannot be reached (a closed port on the
// controller: connection refused) degrades only its own edge, over real
// SSH: plan shows r1 and a host_unobserved conflict for r2 (exit 1),
// apply replicates r1 and exits 1 for the conflict, and r1 stays in
// sync with nothing destroyed that r2 may still need.
func TestUnreachableSecondTarget(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 1)
	gone := fmt.Sprintf(`
host "gone" {
  address         = "127.0.0.1"
  port            = 1
  user            = "root"
  identity_files  = [%q]
  agent           = false
  known_hosts     = [%q]
  connect_timeout = "10s"
}

replication "r2" {
  source {
    snapshots = snapshots.data
  }
  target {
    host = host.gone
    root = "vault/backup"
  }
}
`, l.IdentityFile, l.KnownHostsFile)
	z := newZenv(t, l, oneEdgeConfig(src, dst)+gone)

	out, code := z.plan()
	if code != 1 || strings.Contains(out, "No changes") ||
		!strings.Contains(out, "~ send "+sds+"@"+z.snapName()+" -> dst:"+tds+" (full") ||
		!strings.Contains(out, "! replication r2, gone:vault/backup/data") ||
		!strings.Contains(out, "target host gone was not observed") {
		t.Fatalf("plan (exit %d):\n%s", code, out)
	}
	out, code = z.zplan("apply", "-auto-approve")
	if code != 1 || !strings.Contains(out, "0 failed") {
		t.Fatalf("apply (exit %d):\n%s", code, out)
	}
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != z.snapName() {
		t.Fatalf("r1's target has %s, want %s", got, z.snapName())
	}
	// Later plans keep every snapshot r2 has not sent (no retention is
	// configured here, so this checks only that nothing is destroyed).
	z.advance(5 * time.Minute)
	out, code = z.zplan("apply", "-auto-approve")
	if code != 1 || !strings.Contains(out, ", 0 to destroy.") {
		t.Fatalf("second apply (exit %d):\n%s", code, out)
	}
	if n := len(snapshots(t, l, sds)); n != 2 {
		t.Errorf("source has %d snapshots, want 2", n)
	}
	if out, code := z.zplan("drift", "-format", "openmetrics"); code != 0 ||
		!strings.Contains(out, `zplan_conflicts{host="gone",kind="host_unobserved"} 1`) {
		t.Fatalf("drift (exit %d):\n%s", code, out)
	}
}
