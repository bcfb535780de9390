package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// hookScripts are the hook commands of TestSnapshotHooksOverSSH: pre
// writes a file into the dataset (so the snapshot holds it only if pre
// ran first) and a marker; post records what it sees of the new snapshot
// and removes the marker. The variables come from zplan through env(1)
// over SSH.
const (
	hookPreScript = `set -e
ds="$ZPLAN_DATASETS"
printf '%s\n' "$ZPLAN_POLICY" "$ZPLAN_HOOK" "$ZPLAN_PHASE" "$ZPLAN_SNAPSHOT" "$ds" > "/$ds/written-by-pre"
touch "$1"`
	hookPostScript = `ds="$ZPLAN_DATASETS"
if zfs list -H -o name "$ds@$ZPLAN_SNAPSHOT" >/dev/null 2>&1; then seen=snapshot-exists; else seen=no-snapshot; fi
printf '%s %s\n' "$ZPLAN_SNAPSHOT_STATUS" "$seen" >> "$2"
rm -f "$1"`
)

// TestSnapshotHooksOverSSH runs a policy's pre and post hooks on real
// ZFS over SSH: the order (pre's file is in the snapshot, post sees the
// snapshot and removes pre's marker), the environment, and a failing pre
// that skips the snapshot but still runs the earlier hook's post.
func TestSnapshotHooksOverSSH(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src := l.NewPool(t, 128)
	ds := src + "/db"
	l.Run(t, "zfs", "create", ds)
	marker := "/var/tmp/zplan-e2e-hook-" + src + ".marker"
	postLog := "/var/tmp/zplan-e2e-hook-" + src + ".post"
	failFlag := "/var/tmp/zplan-e2e-hook-" + src + ".fail"
	t.Cleanup(func() { _, _ = l.Exec(t.Context(), "rm", "-f", marker, postLog, failFlag) })

	z := newZenv(t, l, fmt.Sprintf(`
snapshots "db" {
  host     = host.src
  datasets = [%q]
  every    = "5m"

  hook "freeze" {
    pre     = ["/bin/sh", "-c", %q, "pre", %q]
    post    = ["/bin/sh", "-c", %q, "post", %q, %q]
    timeout = "30s"
  }
  hook "gate" {
    pre = ["/bin/sh", "-c", "if [ -e \"$1\" ]; then echo \"gate closed: $1\" >&2; exit 4; fi", "gate", %q]
  }
}
`, ds, hookPreScript, marker, hookPostScript, marker, postLog, failFlag))

	out, code := z.plan()
	if code != 2 || !strings.Contains(out, "hook freeze: pre /bin/sh -c") || !strings.Contains(out, "hook gate: pre /bin/sh -c") {
		t.Fatalf("plan (exit %d) does not show the hooks:\n%s", code, out)
	}
	first := z.snapName()
	z.mustApply()

	// pre ran before the snapshot: its file is in it, with the environment.
	got := l.Run(t, "cat", "/"+ds+"/.zfs/snapshot/"+first+"/written-by-pre")
	if want := strings.Join([]string{"db", "freeze", "pre", first, ds}, "\n") + "\n"; got != want {
		t.Fatalf("file pre wrote into the snapshot:\n%q\nwant\n%q", got, want)
	}
	// post ran after it: it saw the snapshot and removed pre's marker.
	if exists := l.Sh(t, "test -e "+marker+" && echo yes || echo no"); strings.TrimSpace(exists) != "no" {
		t.Fatal("post did not remove the marker pre made")
	}
	if log := l.Run(t, "cat", postLog); log != "created snapshot-exists\n" {
		t.Fatalf("post log %q", log)
	}
	z.mustNoChanges()

	// A failing pre (the second hook's) skips the snapshot; the first
	// hook's post still runs, and apply names the hook, host and status.
	l.Run(t, "touch", failFlag)
	z.advance(5 * time.Minute)
	second := z.snapName()
	out, code = z.zplan("apply", "-auto-approve")
	if code == 0 {
		t.Fatalf("apply with a failing pre hook exited 0:\n%s", out)
	}
	for _, want := range []string{"hook gate (snapshots.db) pre on src", "exit status 4", "gate closed", "snapshot not taken"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	if exists(t, l, ds+"@"+second) {
		t.Fatalf("%s@%s was taken despite the failed pre", ds, second)
	}
	if log := l.Run(t, "cat", postLog); log != "created snapshot-exists\nskipped no-snapshot\n" {
		t.Fatalf("post log %q: freeze's post must run after the failed gate", log)
	}
	l.Run(t, "rm", "-f", failFlag)
	z.mustApply()
	if !exists(t, l, ds+"@"+second) {
		t.Fatalf("no %s@%s once the gate opened", ds, second)
	}
}
