package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
	"github.com/zplan/zplan/remote"
)

// TestDebInstallsAndTimerServiceConverges installs the Debian package
// (make deb) in the lab guest with dpkg -i, points the packaged
// /etc/zplan at two pools with the demo configuration (the guest reaches
// itself over SSH at 127.0.0.1:22, as "src" and "dst"), runs the apply
// service once with systemctl start, and checks that it converged: the
// target has the source's snapshot and a plan at the apply's plan time
// says "No changes.". It also checks the shipped example config, the
// units' state after install and man zplan-plan.
func TestDebInstallsAndTimerServiceConverges(t *testing.T) {
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)

	// Build the package on the host, exactly as make deb does.
	const version = "0.0.1~e2e"
	out := t.TempDir()
	build := exec.Command("../scripts/deb", out)
	build.Env = append(os.Environ(), "ZPLAN_DEB_VERSION="+version)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("scripts/deb: %v\n%s", err, b)
	}
	debs, _ := filepath.Glob(filepath.Join(out, "zplan_"+version+"-1_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("no .deb built in %s", out)
	}

	const guestDeb = "/var/tmp/zplan-e2e.deb"
	copyToGuest(t, l, debs[0], guestDeb, "0644")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := l.Exec(ctx, "sh", "-c", `systemctl stop zplan-apply.service zplan-drift.service 2>/dev/null
systemctl reset-failed zplan-apply.service zplan-drift.service 2>/dev/null
dpkg --purge zplan; rc=$?
rm -f `+guestDeb+` /etc/default/zplan /root/.ssh/zplan_lab_id /root/.ssh/zplan_lab_known_hosts
rm -rf /etc/zplan
exit $rc`); err != nil {
			t.Errorf("lab: purge zplan: %v", err)
		}
	})
	t.Log(l.Sh(t, "DEBIAN_FRONTEND=noninteractive dpkg -i "+guestDeb+" 2>&1"))

	if got := l.Run(t, "dpkg-query", "-W", "-f", "${Status} ${Version}", "zplan"); got != "install ok installed "+version+"-1" {
		t.Fatalf("dpkg-query: %q", got)
	}
	if got := l.Run(t, "/usr/bin/zplan", "version"); !strings.Contains(got, version) {
		t.Errorf("zplan version: %q", got)
	}
	// The shipped example is valid as installed, and the timers are
	// installed but not enabled until the operator says so.
	l.Run(t, "zplan", "validate", "-chdir", "/etc/zplan", "-no-color")
	for _, u := range []string{"zplan-apply.timer", "zplan-drift.timer", "zplan-apply.service", "zplan-drift.service"} {
		if got := strings.TrimSpace(l.Run(t, "systemctl", "show", "-p", "LoadState", "--value", u)); got != "loaded" {
			t.Errorf("%s LoadState=%s", u, got)
		}
	}
	if out, _ := l.Exec(t.Context(), "systemctl", "is-enabled", "zplan-apply.timer"); strings.TrimSpace(out) != "disabled" {
		t.Errorf("zplan-apply.timer after install: is-enabled %q, want disabled", out)
	}

	// Two pools, the demo configuration, and the variables it needs in
	// /etc/default/zplan (the units' EnvironmentFile): the guest logs into
	// itself as root with the lab's key.
	l.Sh(t, "zfs create -p "+src+"/data/home && zfs create "+src+"/data/scratch && "+
		"dd if=/dev/urandom of=/"+src+"/data/home/file bs=1M count=2 status=none")
	copyToGuest(t, l, l.IdentityFile, "/root/.ssh/zplan_lab_id", "0600")
	copyToGuest(t, l, "../examples/demo.zplan.hcl", "/etc/zplan/main.zplan.hcl", "0644")
	l.Sh(t, `key=$(cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub)
printf '127.0.0.1 %s\n[127.0.0.1]:22 %s\n' "$key" "$key" > /root/.ssh/zplan_lab_known_hosts
cat > /etc/default/zplan <<EOF
ZPLAN_VAR_lab_address=127.0.0.1
ZPLAN_VAR_lab_port=22
ZPLAN_VAR_lab_user=root
ZPLAN_VAR_lab_identity=/root/.ssh/zplan_lab_id
ZPLAN_VAR_lab_known_hosts=/root/.ssh/zplan_lab_known_hosts
ZPLAN_VAR_src_pool=`+src+`
ZPLAN_VAR_dst_pool=`+dst+`
EOF`)

	// One run of the service, as the timer would start it. systemctl
	// start waits for a oneshot service to finish.
	started := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	_, startErr := l.Exec(ctx, "systemctl", "start", "zplan-apply.service")
	journal, _ := l.Exec(t.Context(), "journalctl", "-u", "zplan-apply.service", "--no-pager", "-o", "cat")
	t.Logf("systemctl start zplan-apply.service (%s): %v\njournal:\n%s", time.Since(started).Round(time.Second), startErr, journal)
	if startErr != nil {
		status, _ := l.Exec(t.Context(), "systemctl", "status", "--no-pager", "-l", "zplan-apply.service")
		t.Fatalf("zplan-apply.service failed:\n%s", status)
	}
	if got := strings.TrimSpace(l.Run(t, "systemctl", "show", "-p", "Result", "--value", "zplan-apply.service")); got != "success" {
		t.Fatalf("zplan-apply.service Result=%s", got)
	}
	if !strings.Contains(journal, "Apply complete: ") || !strings.Contains(journal, " 0 failed, 0 refused, 0 skipped.") {
		t.Errorf("the journal lacks apply's summary without failures")
	}

	// Converged: one snapshot on the source, the same GUID on the target.
	snaps := snapshots(t, l, src+"/data/home")
	if len(snaps) != 1 || !strings.HasPrefix(snaps[0].name, "zplan_") {
		t.Fatalf("source snapshots after the service: %v", snaps)
	}
	tgt := dst + "/backup/data/home@" + snaps[0].name
	if got := strings.TrimSpace(l.Run(t, "zfs", "get", "-H", "-o", "value", "guid", tgt)); got != snaps[0].guid {
		t.Fatalf("target %s guid %q, source %q", tgt, got, snaps[0].guid)
	}
	if s := snapshots(t, l, src+"/data/scratch"); len(s) != 0 {
		t.Errorf("excluded dataset got snapshots: %v", s)
	}

	// A plan at the apply's plan time (its snapshot's name) with the
	// service's environment: no changes. Pinning the time keeps a 5-minute
	// schedule slot passing in between from making new work.
	planTime, err := time.Parse(snapTimeFormat, strings.TrimPrefix(snaps[0].name, "zplan_"))
	if err != nil {
		t.Fatal(err)
	}
	plan := l.Sh(t, `set -a; . /etc/default/zplan; set +a
rc=0; zplan plan -chdir /etc/zplan -no-color -detailed-exitcode -now `+planTime.Format(time.RFC3339)+` 2>&1 || rc=$?
echo "exit=$rc"`)
	if !strings.Contains(plan, "No changes.") || !strings.HasSuffix(strings.TrimSpace(plan), "exit=0") {
		t.Fatalf("plan after the service:\n%s", plan)
	}

	checkManPage(t, l)
}

// checkManPage runs man zplan-plan in the guest; the lab image has no
// man-db, so then it checks the installed page is there and renders that
// file with man -l on this host instead.
func checkManPage(t *testing.T, l *lab.Lab) {
	const page = "/usr/share/man/man1/zplan-plan.1.gz"
	if owner := strings.TrimSpace(l.Run(t, "dpkg", "-S", page)); !strings.HasPrefix(owner, "zplan:") {
		t.Errorf("dpkg -S %s: %q", page, owner)
	}
	if _, err := l.Exec(t.Context(), "sh", "-c", "command -v man"); err == nil {
		got := l.Run(t, "env", "MANPAGER=cat", "MANWIDTH=80", "man", "zplan-plan")
		if !strings.Contains(got, "zplan-plan - Show the actions") {
			t.Errorf("man zplan-plan in the guest:\n%s", got)
		}
		return
	}
	t.Log("the lab guest has no man (man-db is not in lab/image/build.sh): rendering the installed page with man -l on the host instead")
	if _, err := exec.LookPath("man"); err != nil {
		t.Log("no man on the host either (scripts/ci-deps.sh installs man-db): page rendering not checked")
		return
	}
	var gz bytes.Buffer
	if err := l.Host("guest").Run(t.Context(), remote.Cmd{Argv: []string{"cat", page}, Stdout: &gz}); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "zplan-plan.1.gz")
	if err := os.WriteFile(local, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("man", "--warnings", "-l", local)
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=80")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() != 0 || !strings.Contains(stdout.String(), "zplan-plan - Show the actions") {
		t.Errorf("man -l the installed zplan-plan page: %v\n%s\n%s", err, stderr.String(), stdout.String())
	}
}

// copyToGuest writes the host file from to path in the guest with mode.
func copyToGuest(t *testing.T, l *lab.Lab, from, path, mode string) {
	t.Helper()
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = l.Host("guest").Run(t.Context(), remote.Cmd{
		Argv:  []string{"sh", "-ec", `mkdir -p "$(dirname "$1")"; umask 077; cat > "$1.tmp"; chmod "$2" "$1.tmp"; mv "$1.tmp" "$1"`, "sh", path, mode},
		Stdin: f,
	})
	if err != nil {
		t.Fatalf("lab: copy %s to %s: %v", from, path, err)
	}
}
