package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// A replica is received readonly and canmount=noauto: mounting it and
// reading its files (atime=on) does not make it diverge, and one made
// writable by hand is set back by the next apply.
func TestReplicaStaysReplica(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	z, _, _, sds, tds := syncedEdge(t, l, 1)
	for p, want := range map[string]string{"readonly": "on", "canmount": "noauto"} {
		if got := prop(t, l, tds, p); got != want {
			t.Errorf("replica %s = %q, want %q", p, got, want)
		}
	}
	// Browse the replica as a user would, with atime on.
	l.Sh(t, "zfs set atime=on "+tds+" && zfs mount "+tds+" && cat /"+tds+"/* >/dev/null && ls -la /"+tds+" >/dev/null && sync && zfs umount "+tds)
	if w := prop(t, l, tds, "written"); w != "0" {
		t.Errorf("browsing the replica wrote %s bytes to it", w)
	}
	z.advance(5 * time.Minute)
	writeRandom(t, l, sds, 1)
	z.mustApply()
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != z.snapName() {
		t.Fatalf("after browsing, target's newest is %s, want %s", got, z.snapName())
	}

	// Someone makes the replica writable and mountable at boot.
	l.Run(t, "zfs", "set", "readonly=off", "canmount=on", tds)
	out, code := z.plan()
	if code != 2 || !strings.Contains(out, "~ set canmount=noauto readonly=on on "+tds) {
		t.Fatalf("plan (exit %d) does not set the replica's properties back:\n%s", code, out)
	}
	z.mustApply()
	for p, want := range map[string]string{"readonly": "on", "canmount": "noauto"} {
		if got := prop(t, l, tds, p); got != want {
			t.Errorf("after apply, replica %s = %q, want %q", p, got, want)
		}
	}
	z.mustNoChanges()
}

// A volume replicates with the receive defaults that apply to volumes
// (zfs refuses canmount on one).
func TestVolumeReplicates(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	l.Run(t, "zfs", "create", "-V", "8M", src+"/vol")
	l.Sh(t, "sleep 1; dd if=/dev/urandom of=/dev/zvol/"+src+"/vol bs=1M count=2 status=none conv=fsync")
	z := newZenv(t, l, fmt.Sprintf(`
snapshots "vols" {
  host     = host.src
  datasets = ["%s/vol"]
  every    = "5m"
}

replication "r1" {
  source {
    snapshots = snapshots.vols
  }
  target {
    host = host.dst
    root = "%s/backup"
  }
}
`, src, dst))
	z.mustApply()
	tv := dst + "/backup/vol"
	if got := checkEdgeInSync(t, l, src+"/vol", tv, "r1"); got != z.snapName() {
		t.Fatalf("target volume's newest is %s, want %s", got, z.snapName())
	}
	if got := prop(t, l, tv, "type"); got != "volume" {
		t.Errorf("target type %q", got)
	}
	if got := prop(t, l, tv, "readonly"); got != "on" {
		t.Errorf("target volume readonly = %q, want on", got)
	}
	z.advance(5 * time.Minute)
	z.mustApply()
	if got := checkEdgeInSync(t, l, src+"/vol", tv, "r1"); got != z.snapName() {
		t.Fatalf("after the incremental, target volume's newest is %s, want %s", got, z.snapName())
	}
	z.mustNoChanges()
}
