package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/remote/internal/sshtest"
)

// testConfig is an SSHConfig for srv that reads no file of the machine's
// user (~/.ssh/config, known_hosts, keys).
func testConfig(t testing.TB, srv *sshtest.Server) SSHConfig {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return SSHConfig{
		Name:            "test",
		Address:         srv.Host,
		Port:            srv.Port,
		User:            srv.User,
		IdentityFiles:   []string{srv.UserKeyFile},
		KnownHostsFiles: []string{srv.KnownHostsFile},
		SSHConfigFile:   empty,
		ConnectTimeout:  10 * time.Second,
	}
}

func dialTest(t testing.TB, cfg SSHConfig) *SSHHost {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, err := dialSSH(ctx, cfg)
	if err != nil {
		t.Fatalf("DialSSH: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":               "''",
		"zfs":            "zfs",
		"pool/fs@snap_1": "pool/fs@snap_1",
		"a b":            "'a b'",
		"it's":           `'it'\''s'`,
		"$(reboot)":      "'$(reboot)'",
		"~":              "'~'",
		"*":              "'*'",
		"a\nb":           "'a\nb'",
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSSHRun(t *testing.T) {
	srv := sshtest.Start(t)
	h := dialTest(t, testConfig(t, srv))
	ctx := context.Background()

	// Words with shell syntax reach the command unchanged.
	words := []string{"a b", "it's", "$(echo no)", "`x`", "*", "~", "", "\\n", "a\nb", "--", ";", "|", "&&", "\"q\""}
	out, err := Output(ctx, h, append([]string{"printf", `%s\0`}, words...)...)
	if err != nil {
		t.Fatalf("printf: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if fmt.Sprint(got) != fmt.Sprint(words) || len(got) != len(words) {
		t.Errorf("argv round trip:\n got %q\nwant %q", got, words)
	}

	// Exit codes and stderr.
	err = h.Run(ctx, Cmd{Argv: []string{"sh", "-c", "echo oops >&2; exit 3"}})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || strings.TrimSpace(ee.Stderr) != "oops" {
		t.Fatalf("exit 3: got %#v (%v)", ee, err)
	}
	if !strings.Contains(err.Error(), "oops") {
		t.Errorf("error should carry stderr: %v", err)
	}

	// A missing command (like zfs not installed) is exit 127.
	err = h.Run(ctx, Cmd{Argv: []string{"zplan-no-such-command", "list"}})
	if !errors.As(err, &ee) || ee.Code != 127 || !strings.Contains(err.Error(), "command not found") {
		t.Fatalf("missing command: %v", err)
	}

	// Stdin is passed, and closed at its end.
	var sb strings.Builder
	if err := h.Run(ctx, Cmd{Argv: []string{"tr", "a-z", "A-Z"}, Stdin: strings.NewReader("hello"), Stdout: &sb}); err != nil || sb.String() != "HELLO" {
		t.Fatalf("stdin: %q %v", sb.String(), err)
	}
	// No stdin: the command sees EOF at once rather than hanging.
	if out, err := Output(ctx, h, "wc", "-c"); err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Fatalf("empty stdin: %q %v", out, err)
	}

	// Large stdout: 16 MiB of a known pattern, checked byte for byte.
	const n = 16 << 20
	hsh := sha256.New()
	if err := h.Run(ctx, Cmd{Argv: []string{"sh", "-c", fmt.Sprintf("yes zplan | head -c %d", n)}, Stdout: hsh}); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(bytes.Repeat([]byte("zplan\n"), n/6+1)[:n])
	if !bytes.Equal(hsh.Sum(nil), want[:]) {
		t.Error("large stdout corrupted")
	}

	// Many commands at once share one connection; more than sshd's
	// MaxSessions wait for a slot.
	errc := make(chan error, 40)
	for i := 0; i < 40; i++ {
		go func(i int) {
			out, err := Output(ctx, h, "echo", fmt.Sprint(i))
			if err == nil && strings.TrimSpace(string(out)) != fmt.Sprint(i) {
				err = fmt.Errorf("got %q", out)
			}
			errc <- err
		}(i)
	}
	for i := 0; i < 40; i++ {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	if n := strings.Count(srv.Log(), "Accepted publickey"); n != 1 {
		t.Errorf("want one connection for all commands, sshd accepted %d", n)
	}
}

func TestSSHCommandPrefix(t *testing.T) {
	srv := sshtest.Start(t)
	cfg := testConfig(t, srv)
	cfg.CommandPrefix = []string{"env", "ZPLAN_X=1 2"}
	h := dialTest(t, cfg)
	out, err := Output(context.Background(), h, "sh", "-c", `printf %s "$ZPLAN_X"`)
	if err != nil || string(out) != "1 2" {
		t.Fatalf("prefix: %q %v", out, err)
	}
}

// pgrep reports whether a process whose command line contains marker runs
// on this machine (the test sshd is local).
func pgrep(t *testing.T, marker string) bool {
	t.Helper()
	err := exec.Command("pgrep", "-f", marker).Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return false
	}
	if err != nil {
		t.Fatalf("pgrep: %v", err)
	}
	return true
}

func waitGone(t *testing.T, marker string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for pgrep(t, marker) {
		if time.Now().After(deadline) {
			out, _ := exec.Command("pgrep", "-af", marker).Output()
			t.Fatalf("process %q still running after cancel: %s", marker, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitRunning(t *testing.T, marker string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !pgrep(t, marker) {
		if time.Now().After(deadline) {
			t.Fatalf("process %q never started", marker)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSSHCancel(t *testing.T) {
	srv := sshtest.Start(t)
	h := dialTest(t, testConfig(t, srv))
	marker := fmt.Sprintf("zplan-cancel-%d", time.Now().UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	// A shell with a child: sshd signals the process group, so the
	// sleep goes too, not only the shell.
	go func() {
		errc <- h.Run(ctx, Cmd{Argv: []string{"sh", "-c", "sleep 1000; : " + marker}})
	}()
	waitRunning(t, marker)
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
	case <-time.After(stopGrace + 5*time.Second):
		t.Fatal("Run did not return after cancel")
	}
	// SIGTERM must have done it, well before the grace period.
	if d := time.Since(start); d > stopGrace/2 {
		t.Errorf("cancel took %s: the signal was not delivered", d)
	}
	waitGone(t, marker, 5*time.Second)
	// The connection is still usable.
	if _, err := Output(context.Background(), h, "true"); err != nil {
		t.Fatal(err)
	}
}
