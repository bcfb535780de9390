package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// A real apply on a terminal (tmux, its pane captured while it runs):
// a bar for the running send plus a total, a rate and no ETA while it
// means nothing, and the summary at the end. The send is slowed with
// send { bandwidth } so that the bars are on screen long enough.
func TestApplyProgressOnTerminal(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux not installed (scripts/ci-deps.sh installs it)")
	}
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 6)
	z := newZenv(t, l, fmt.Sprintf(`
snapshots "data" {
  host     = host.src
  datasets = ["%s"]
  every    = "5m"
}

replication "r1" {
  source {
    snapshots = snapshots.data
  }
  target {
    host = host.dst
    root = "%s/backup"
  }
  send {
    bandwidth = "384KiB/s"
  }
}
`, sds, dst))
	cmd := []string{"env", "TERM=xterm-256color", zplanBinary(t)}
	cmd = append(cmd, z.args("apply", "-auto-approve")...)
	for i, a := range cmd {
		cmd[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	sock := "zplan-e2e-" + strconv.Itoa(os.Getpid())
	run := func(args ...string) string {
		b, err := exec.Command(tmux, append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %q: %v\n%s", args, err, b)
		}
		return string(b)
	}
	run("new-session", "-d", "-x", "160", "-y", "30", strings.Join(cmd, " ")+"; echo EXIT=$?; sleep 600")
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", sock, "kill-server").Run() })

	screen := ""
	waitFor := func(what string, within time.Duration, ok func(string) bool) {
		t.Helper()
		for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if screen = run("capture-pane", "-p"); ok(screen) {
				t.Logf("pane with %s:\n%s", what, strings.TrimRight(screen, "\n"))
				return
			}
		}
		t.Fatalf("the pane never showed %s:\n%s", what, screen)
	}
	barOf := func(s, prefix string) string {
		for _, line := range strings.Split(s, "\n") {
			if strings.HasPrefix(line, prefix) && strings.Contains(line, "[") && strings.Contains(line, "B/s") {
				return line
			}
		}
		return ""
	}
	send := `send.r1["` + sds + "@"
	waitFor("the send's bar and the total", 10*time.Minute, func(s string) bool {
		return barOf(s, send) != "" && barOf(s, "total (1 running)") != ""
	})
	if b := barOf(screen, send); !strings.Contains(b, "/ ~") || strings.Contains(b, "\r") {
		t.Errorf("bar %q: want bytes of the estimate", b)
	}
	waitFor("the end", 10*time.Minute, func(s string) bool { return strings.Contains(s, "EXIT=") })
	if !strings.Contains(screen, "EXIT=0") || !strings.Contains(screen, "Apply complete: 3 done, 0 failed") {
		t.Fatalf("apply did not complete:\n%s", screen)
	}
	if barOf(screen, "total (") != "" {
		t.Errorf("bars left on screen after the apply:\n%s", screen)
	}
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != z.snapName() {
		t.Fatalf("target's newest %s, want %s", got, z.snapName())
	}
}
