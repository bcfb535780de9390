package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const testVersion = "1.2.3~test"

// TestDebPackage builds the .deb as make deb does, into a temporary
// directory, and checks its files, control fields and conffiles with
// dpkg-deb, runs the packaged binary on the packaged configuration, and
// verifies the systemd units with systemd-analyze when it is installed.
func TestDebPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: building the package takes a while")
	}
	for _, tool := range []string{"dpkg-deb", "gzip", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian: dpkg, gzip, git); cannot build or inspect the .deb", tool)
		}
	}
	out := t.TempDir()
	cmd := exec.Command("../scripts/deb", out)
	cmd.Env = append(os.Environ(), "ZPLAN_DEB_VERSION="+testVersion)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/deb: %v\n%s", err, b)
	}
	debs, _ := filepath.Glob(filepath.Join(out, "zplan_"+testVersion+"-1_*.deb"))
	if len(debs) != 1 {
		all, _ := os.ReadDir(out)
		t.Fatalf("want one zplan_%s-1_ARCH.deb in %s, have %v", testVersion, out, all)
	}
	deb := debs[0]

	fields := dpkgDeb(t, "-f", deb)
	for _, want := range []string{
		"Package: zplan\n",
		"Version: " + testVersion + "-1\n",
		"Section: admin\n",
		"Recommends: zfsutils-linux\n",
		"Description: Declarative ZFS snapshots, replication and retention\n",
	} {
		if !strings.Contains(fields, want) {
			t.Errorf("control fields lack %q:\n%s", want, fields)
		}
	}
	if !strings.Contains(fields, "Maintainer: ") || !strings.Contains(fields, "Architecture: ") {
		t.Errorf("control fields lack Maintainer or Architecture:\n%s", fields)
	}

	files := map[string]string{} // path -> mode string
	for _, line := range strings.Split(strings.TrimSpace(dpkgDeb(t, "-c", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", line)
		}
		files[strings.TrimPrefix(f[len(f)-1], ".")] = f[0]
	}
	want := map[string]string{
		"/usr/bin/zplan":                                        "-rwxr-xr-x",
		"/etc/zplan/main.zplan.hcl":                             "-rw-r--r--",
		"/usr/lib/systemd/system/zplan-apply.service":           "-rw-r--r--",
		"/usr/lib/systemd/system/zplan-apply.timer":             "-rw-r--r--",
		"/usr/lib/systemd/system/zplan-drift.service":           "-rw-r--r--",
		"/usr/lib/systemd/system/zplan-drift.timer":             "-rw-r--r--",
		"/usr/share/bash-completion/completions/zplan":          "-rw-r--r--",
		"/usr/share/zsh/vendor-completions/_zplan":              "-rw-r--r--",
		"/usr/share/fish/vendor_completions.d/zplan.fish":       "-rw-r--r--",
		"/usr/share/doc/zplan/copyright":                        "-rw-r--r--",
		"/usr/share/doc/zplan/examples/demo.zplan.hcl":          "-rw-r--r--",
		"/usr/share/doc/zplan/examples/laptop-to-nas.zplan.hcl": "-rw-r--r--",
	}
	for _, page := range []string{"zplan", "zplan-plan", "zplan-apply", "zplan-show", "zplan-drift",
		"zplan-validate", "zplan-fmt", "zplan-force-unlock", "zplan-version", "zplan-completion"} {
		want["/usr/share/man/man1/"+page+".1.gz"] = "-rw-r--r--"
	}
	for path, mode := range want {
		if got, ok := files[path]; !ok {
			t.Errorf("package lacks %s", path)
		} else if got != mode {
			t.Errorf("%s has mode %s, want %s", path, got, mode)
		}
	}

	// The config is a conffile, so dpkg keeps the operator's edits.
	ctl := t.TempDir()
	dpkgDeb(t, "-e", deb, ctl)
	if b, err := os.ReadFile(filepath.Join(ctl, "conffiles")); err != nil || strings.TrimSpace(string(b)) != "/etc/zplan/main.zplan.hcl" {
		t.Errorf("conffiles = %q, %v; want /etc/zplan/main.zplan.hcl", b, err)
	}
	for _, s := range []string{"postinst", "postrm"} {
		if st, err := os.Stat(filepath.Join(ctl, s)); err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("maintainer script %s: %v", s, err)
		}
	}

	root := t.TempDir()
	dpkgDeb(t, "-x", deb, root)
	bin := filepath.Join(root, "usr/bin/zplan")
	if b, err := exec.Command(bin, "version").CombinedOutput(); err != nil || !strings.Contains(string(b), testVersion) {
		t.Errorf("packaged zplan version: %v\n%s", err, b)
	}
	// The shipped example is valid with its defaults.
	if b, err := exec.Command(bin, "validate", "-chdir", filepath.Join(root, "etc/zplan")).CombinedOutput(); err != nil {
		t.Errorf("zplan validate on the packaged /etc/zplan: %v\n%s", err, b)
	}

	units := filepath.Join(root, "usr/lib/systemd/system")
	apply := readFile(t, filepath.Join(units, "zplan-apply.service"))
	for _, s := range []string{
		"ExecStart=/usr/bin/zplan apply -chdir /etc/zplan -auto-approve -lock-timeout 10m",
		"Type=oneshot", "StandardOutput=journal",
		"Environment=HOME=/root", "EnvironmentFile=-/etc/default/zplan",
	} {
		if !strings.Contains(apply, s) {
			t.Errorf("zplan-apply.service lacks %q", s)
		}
	}
	if strings.Contains(apply, "PrivateDevices=yes") {
		t.Error("zplan-apply.service hides /dev/zfs (PrivateDevices=yes)")
	}
	if timer := readFile(t, filepath.Join(units, "zplan-apply.timer")); !strings.Contains(timer, "OnCalendar=*:00/15") {
		t.Errorf("zplan-apply.timer does not run every 15 minutes:\n%s", timer)
	}
	if drift := readFile(t, filepath.Join(units, "zplan-drift.service")); !strings.Contains(drift, "ExecStart=/usr/bin/zplan drift -chdir /etc/zplan") {
		t.Errorf("zplan-drift.service does not run zplan drift on /etc/zplan:\n%s", drift)
	}
	verifyUnits(t, units, bin)
	installIntoRoot(t, deb)
}

// installIntoRoot installs and purges the package with dpkg in an empty
// root (dpkg --root): dpkg accepts it, the maintainer scripts run (they
// leave systemd alone under DPKG_ROOT), and purge removes the conffile.
func installIntoRoot(t *testing.T, deb string) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Log("dpkg is not installed: install and purge not checked")
		return
	}
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dpkg := func(args ...string) {
		t.Helper()
		cmd := exec.Command("dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--force-not-root", "--log=/dev/null"}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dpkg %v: %v\n%s", args, err, b)
		}
	}
	dpkg("-i", deb)
	for _, f := range []string{"usr/bin/zplan", "etc/zplan/main.zplan.hcl", "usr/share/man/man1/zplan-plan.1.gz"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("after dpkg -i: %v", err)
		}
	}
	dpkg("--purge", "zplan")
	if _, err := os.Stat(filepath.Join(root, "etc/zplan/main.zplan.hcl")); !os.IsNotExist(err) {
		t.Errorf("after dpkg --purge, /etc/zplan/main.zplan.hcl: %v", err)
	}
}

// verifyUnits runs systemd-analyze verify on the packaged units, with
// /usr/bin/zplan pointed at the extracted binary (it is not installed
// here) and the man: links left to the man page checks above.
func verifyUnits(t *testing.T, units, bin string) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed (Debian: systemd): the units are not verified")
		return
	}
	dir := t.TempDir()
	var names []string
	for _, u := range []string{"zplan-apply.service", "zplan-apply.timer", "zplan-drift.service", "zplan-drift.timer"} {
		text := strings.ReplaceAll(readFile(t, filepath.Join(units, u)), "/usr/bin/zplan", bin)
		if err := os.WriteFile(filepath.Join(dir, u), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Join(dir, u))
	}
	var stderr bytes.Buffer
	cmd := exec.Command(sa, append([]string{"verify", "--man=no"}, names...)...)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, stderr.String())
	}
}

func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("dpkg-deb", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dpkg-deb %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
