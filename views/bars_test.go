package views

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/plan"
)

// The moving-window rate follows the current speed, not the average
// since the start, and an ETA appears only after etaAfter at a steady
// rate.
func TestMeter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := meter{start: t0}
	// A slow first second (what made the old single line say 7h20m),
	// then 1 MiB/s.
	m.add(t0.Add(time.Second), 312)
	var bytes int64 = 312
	for i := 1; i <= 60; i++ {
		bytes += 1 << 18 // 256 KiB every 250 ms
		now := t0.Add(time.Second + time.Duration(i)*250*time.Millisecond)
		m.add(now, bytes)
		eta, ok := m.eta(now, 64<<20)
		if now.Sub(t0) < etaAfter && ok {
			t.Fatalf("ETA %s after %s", eta, now.Sub(t0))
		}
		if i == 60 {
			if !ok || m.rate < 0.9*(1<<20) || m.rate > 1.1*(1<<20) {
				t.Fatalf("after %s: rate %.0f B/s, ETA %s %v; want ~1 MiB/s and an ETA", now.Sub(t0), m.rate, eta, ok)
			}
			if want := time.Duration(float64(64<<20-bytes)/m.rate) * time.Second; eta != want.Round(time.Second) {
				t.Errorf("ETA %s, want %s", eta, want)
			}
			// Then nothing comes for 10 s: the rate falls, the ETA goes.
			later := now.Add(10 * time.Second)
			if r := m.rateAt(later); r > 0.2*m.rate {
				t.Errorf("rate %.0f B/s after a 10 s stall, was %.0f", r, m.rate)
			}
			if eta, ok := m.eta(later, 64<<20); ok {
				t.Errorf("ETA %s during a stall", eta)
			}
		}
	}
}

// On a terminal (here a buffer the view is told is one) the bars are
// drawn and the finished lines come out in order.
func TestTerminalProgressLines(t *testing.T) {
	var out, errw bytes.Buffer
	p := NewProgress(&out, &errw, true)
	a := &plan.Action{Address: "send.a", Kind: plan.KindSendFull, Estimate: 1 << 20}
	b := &plan.Action{Address: "send.b", Kind: plan.KindSendFull}
	p.Report(apply.Event{Kind: apply.EventStart, Action: a})
	p.Report(apply.Event{Kind: apply.EventStart, Action: b})
	p.Report(apply.Event{Kind: apply.EventProgress, Action: a, Bytes: 1 << 19})
	p.Report(apply.Event{Kind: apply.EventProgress, Action: b, Bytes: 100})
	p.Report(apply.Event{Kind: apply.EventProgress, Action: a, Bytes: 2 << 20}) // past the estimate
	p.Report(apply.Event{Kind: apply.EventDone, Action: a})
	p.Report(apply.Event{Kind: apply.EventFailed, Action: b, Err: errors.New("boom")})
	p.Report(apply.Event{Kind: apply.EventStart, Action: a})
	p.Report(apply.Event{Kind: apply.EventProgress, Action: a, Bytes: 1})
	p.Close() // an apply that stopped with a send running
	rest := out.String()
	for _, want := range []string{"send.a: sending...\n", "send.b: sending...\n", "total (", "send.a: done after ", "send.a: sending...\n"} {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("stdout lacks %q (in order):\n%q", want, out.String())
		}
		rest = rest[i+len(want):]
	}
	if errw.String() != "send.b: failed: boom\n" {
		t.Errorf("stderr %q", errw.String())
	}
}

// TestTerminalProgressInTmux runs testdata/progressdemo (two parallel
// sends, a short and a long one) in a real terminal, a tmux pane, and
// reads the screen while it runs.
func TestTerminalProgressInTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux not installed (scripts/ci-deps.sh installs it): terminal progress not checked in a real terminal")
	}
	if testing.Short() {
		t.Skip("-short: the tmux check takes about 10 s")
	}
	bin := filepath.Join(t.TempDir(), "progressdemo")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "./testdata/progressdemo")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building progressdemo: %v\n%s", err, b)
	}
	sock := "zplan-progress-" + strconv.Itoa(os.Getpid()) // a tmux server of our own
	run := func(args ...string) string {
		b, err := exec.Command(tmux, append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %q: %v\n%s", args, err, b)
		}
		return string(b)
	}
	run("new-session", "-d", "-x", "120", "-y", "24", "env TERM=xterm-256color "+bin+"; echo EXIT=$?; sleep 60")
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", sock, "kill-server").Run() })

	screen := ""
	waitFor := func(what string, ok func(string) bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if screen = run("capture-pane", "-p"); ok(screen) {
				t.Logf("pane with %s:\n%s", what, strings.TrimRight(screen, "\n"))
				return
			}
		}
		t.Fatalf("the pane never showed %s:\n%s", what, screen)
	}
	barOf := func(s, addr string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, addr+" ") && strings.Contains(l, "[") {
				return l
			}
		}
		return ""
	}
	short, long := `send.src["tank/data"]`, `send.src["tank/data/home"]`
	waitFor("two bars and a total", func(s string) bool {
		return barOf(s, short) != "" && barOf(s, long) != "" && barOf(s, "total (2 running)") != ""
	})
	for _, l := range []string{barOf(screen, short), barOf(screen, long), barOf(screen, "total (2 running)")} {
		if !strings.Contains(l, "B/s") || strings.Contains(l, "ETA") || strings.Contains(l, "\r") {
			t.Errorf("bar line %q: want a rate and no ETA yet", l)
		}
	}
	if !strings.Contains(barOf(screen, "total (2 running)"), "/ ~28.0 MiB") {
		t.Errorf("the total is not of both sends: %q", barOf(screen, "total (2 running)"))
	}
	waitFor("the short send done, its bar gone, the long one with an ETA", func(s string) bool {
		return strings.Contains(s, short+": done after ") && barOf(s, short) == "" &&
			strings.Contains(barOf(s, long), "ETA ") && barOf(s, "total (1 running)") != ""
	})
	waitFor("the end", func(s string) bool { return strings.Contains(s, "EXIT=") })
	want := []string{
		`snapshot.src["tank@zplan_20261122T120000Z"]: creating snapshots...`,
		`snapshot.src["tank@zplan_20261122T120000Z"]: done after 0s`,
		long + ": sending...", short + ": sending...", // either order
		short + ": done after ",
		long + ": done after ",
		`hold.dst["backup/src/data@zplan_20261122T120000Z"]: holding...`,
		`hold.dst["backup/src/data@zplan_20261122T120000Z"]: failed: demo failure`,
		"progressdemo finished",
		"EXIT=0",
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(screen), "\n") {
		got = append(got, strings.TrimRight(l, " "))
	}
	if len(got) != len(want) {
		t.Fatalf("final pane has %d lines, want %d (no bar left behind):\n%s", len(got), len(want), screen)
	}
	if got[2] > got[3] {
		got[2], got[3] = got[3], got[2]
	}
	if want[2] > want[3] {
		want[2], want[3] = want[3], want[2]
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("line %d: %q, want %q…", i+1, got[i], want[i])
		}
	}
}
