package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/remote/internal/sshtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
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

// killMarked kills, by pid, this test's processes whose command line
// holds the unique marker.
func killMarked(marker string) {
	out, _ := exec.Command("pgrep", "-f", marker).Output()
	for _, p := range strings.Fields(string(out)) {
		_ = exec.Command("kill", p).Run()
	}
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

func TestSSHUnknownHostRefused(t *testing.T) {
	srv := sshtest.Start(t)
	cfg := testConfig(t, srv)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, files := range map[string][]string{"empty": {empty}, "missing": {empty + ".nope"}} {
		cfg.KnownHostsFiles = files
		_, err := DialSSH(context.Background(), cfg)
		var he *HostKeyError
		if !errors.As(err, &he) || he.Changed {
			t.Fatalf("%s: want unknown-host error, got %v", name, err)
		}
		msg := err.Error()
		for _, want := range []string{ssh.FingerprintSHA256(srv.HostKey), fmt.Sprintf("ssh-keyscan -p %d -t ed25519 127.0.0.1 >> %s", srv.Port, files[0])} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: message lacks %q: %s", name, want, msg)
			}
		}
	}
}

func TestSSHChangedHostKeyRefused(t *testing.T) {
	srv := sshtest.Start(t)
	cfg := testConfig(t, srv)
	other, err := sshtest.NewKey(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, other.PublicKey())
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.KnownHostsFiles = []string{kh}
	_, err = DialSSH(context.Background(), cfg)
	var he *HostKeyError
	if !errors.As(err, &he) || !he.Changed {
		t.Fatalf("want changed-key error, got %v", err)
	}
	for _, want := range []string{"HOST KEY MISMATCH", ssh.FingerprintSHA256(srv.HostKey), ssh.FingerprintSHA256(other.PublicKey()), kh + ":1", "ssh-keygen -R"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
}

// The server prefers ed25519 but known_hosts has only its RSA key: the
// client must ask for RSA rather than fail as if the key had changed.
func TestSSHHostKeyAlgorithmFromKnownHosts(t *testing.T) {
	srv := sshtest.StartWith(t, sshtest.Options{RSAHostKey: true})
	cfg := testConfig(t, srv)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, srv.RSAHostKey)
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.KnownHostsFiles = []string{kh}
	h := dialTest(t, cfg)
	if _, err := Output(context.Background(), h, "true"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(srv.Log(), "Accepted publickey") {
		t.Error("no login in sshd log")
	}
}

func TestSSHAuthFailed(t *testing.T) {
	srv := sshtest.Start(t)
	cfg := testConfig(t, srv)
	key := filepath.Join(t.TempDir(), "stranger")
	if _, err := sshtest.NewKey(key); err != nil {
		t.Fatal(err)
	}
	cfg.IdentityFiles = []string{key}
	_, err := DialSSH(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "authentication as "+srv.User+" failed") || !strings.Contains(err.Error(), key) {
		t.Fatalf("want authentication error naming the key, got %v", err)
	}
}

func TestSSHUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := &sshtest.Server{Host: "127.0.0.1", Port: port, UserKeyFile: "/nonexistent", KnownHostsFile: "/nonexistent"}
	cfg := testConfig(t, srv)
	if _, err := sshtest.NewKey(filepath.Join(t.TempDir(), "k")); err != nil {
		t.Fatal(err)
	}
	cfg.IdentityFiles = []string{filepath.Join(t.TempDir(), "missing")}
	cfg.UseAgent = true
	t.Setenv("SSH_AUTH_SOCK", "")
	_, err = DialSSH(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "no usable private key") {
		t.Fatalf("want no-key error, got %v", err)
	}
	key := filepath.Join(t.TempDir(), "k2")
	if _, err := sshtest.NewKey(key); err != nil {
		t.Fatal(err)
	}
	cfg.IdentityFiles = []string{key}
	_, err = DialSSH(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "cannot reach 127.0.0.1:"+fmt.Sprint(port)) {
		t.Fatalf("want unreachable error, got %v", err)
	}
}

func TestSSHAgent(t *testing.T) {
	srv := sshtest.Start(t)
	kr := agent.NewKeyring()
	priv, err := os.ReadFile(srv.UserKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := kr.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(kr, c); c.Close() }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	t.Setenv("HOME", t.TempDir()) // no default key files
	cfg := testConfig(t, srv)
	cfg.IdentityFiles = nil
	cfg.UseAgent = true
	h := dialTest(t, cfg)
	if out, err := Output(context.Background(), h, "echo", "via agent"); err != nil || string(out) != "via agent\n" {
		t.Fatalf("%q %v", out, err)
	}
	// Without the agent the same config has no key.
	cfg.UseAgent = false
	if _, err := DialSSH(context.Background(), cfg); err == nil {
		t.Fatal("dial without agent or key files succeeded")
	}
}

func TestSSHConfigAlias(t *testing.T) {
	srv := sshtest.Start(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "config")
	text := fmt.Sprintf(`Host zhost
    HostName 127.0.0.1
    Port %d
    User %s
    IdentityFile %s
    UserKnownHostsFile %s

Host wrongport
    HostName 127.0.0.1
    Port 1
    IdentityFile %s
    UserKnownHostsFile %s

Host viajump
    HostName 127.0.0.1
    Port %d
    ProxyJump zhost
    IdentityFile %s
    UserKnownHostsFile %s
`, srv.Port, srv.User, srv.UserKeyFile, srv.KnownHostsFile,
		srv.UserKeyFile, srv.KnownHostsFile,
		srv.Port, srv.UserKeyFile, srv.KnownHostsFile)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run := func(cfg SSHConfig) {
		t.Helper()
		h := dialTest(t, cfg)
		if out, err := Output(ctx, h, "echo", "ok"); err != nil || string(out) != "ok\n" {
			t.Fatalf("%s: %q %v", cfg.Address, out, err)
		}
	}
	// Everything from the alias.
	run(SSHConfig{Name: "a", Address: "zhost", SSHConfigFile: conf})
	// An explicit port wins over the config's wrong one.
	run(SSHConfig{Name: "b", Address: "wrongport", Port: srv.Port, SSHConfigFile: conf})
	// ProxyJump: two logins, the second through a direct-tcpip channel.
	before := strings.Count(srv.Log(), "Accepted publickey")
	run(SSHConfig{Name: "c", Address: "viajump", SSHConfigFile: conf})
	if n := strings.Count(srv.Log(), "Accepted publickey") - before; n != 2 {
		t.Errorf("ProxyJump: want 2 logins (jump and target), sshd saw %d", n)
	}
	// Without the explicit port, the wrong one is used and fails.
	_, err := DialSSH(ctx, SSHConfig{Name: "d", Address: "wrongport", SSHConfigFile: conf, ConnectTimeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("want failure on port 1, got %v", err)
	}
	// ProxyCommand is refused rather than silently bypassed.
	pc := filepath.Join(dir, "pc")
	if err := os.WriteFile(pc, []byte("Host pc\n  ProxyCommand nc %h %p\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := DialSSH(ctx, SSHConfig{Address: "pc", SSHConfigFile: pc}); err == nil || !strings.Contains(err.Error(), "ProxyCommand") {
		t.Fatalf("want ProxyCommand refusal, got %v", err)
	}
}

// A connection that broke between commands is dialled again.
func TestSSHReconnect(t *testing.T) {
	srv := sshtest.Start(t)
	h := dialTest(t, testConfig(t, srv))
	h.mu.Lock()
	h.conn.client.Close()
	h.mu.Unlock()
	if out, err := Output(context.Background(), h, "echo", "again"); err != nil || string(out) != "again\n" {
		t.Fatalf("%q %v", out, err)
	}
}

// A server that stops answering (here: its connection processes frozen)
// is detected by keepalives: the command fails instead of hanging, and
// the next command dials a new connection.
func TestSSHKeepAliveDetectsDeadServer(t *testing.T) {
	srv := sshtest.Start(t)
	cfg := testConfig(t, srv)
	cfg.KeepAlive = 200 * time.Millisecond
	h := dialTest(t, cfg)
	m := marker("keepalive")
	errc := make(chan error, 1)
	go func() { errc <- h.Run(context.Background(), Cmd{Argv: []string{"sh", "-c", "sleep 30; : " + m}}) }()
	waitRunning(t, m)
	// The listener's children serve the connections.
	out, err := exec.Command("pgrep", "-P", fmt.Sprint(srv.Pid())).Output()
	if err != nil {
		t.Fatalf("pgrep sshd children: %v", err)
	}
	pids := strings.Fields(string(out))
	t.Cleanup(func() {
		for _, p := range pids {
			_ = exec.Command("kill", "-CONT", p).Run()
		}
		killMarked(m)
	})
	for _, p := range pids {
		if err := exec.Command("kill", "-STOP", p).Run(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "connection lost") {
			t.Fatalf("want connection lost, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("command on a frozen server did not fail")
	}
	for _, p := range pids {
		_ = exec.Command("kill", "-CONT", p).Run()
	}
	if out, err := Output(context.Background(), h, "echo", "new"); err != nil || string(out) != "new\n" {
		t.Fatalf("after reconnect: %q %v", out, err)
	}
}

func TestSSHLazy(t *testing.T) {
	srv := sshtest.Start(t)
	cfg := testConfig(t, srv)
	cfg.Lazy = true
	before := strings.Count(srv.SettledLog(), "Connection from")
	h := dialTest(t, cfg)
	if n := strings.Count(srv.SettledLog(), "Connection from"); n != before {
		t.Fatalf("lazy host connected before its first command")
	}
	if out, err := Output(context.Background(), h, "echo", "late"); err != nil || string(out) != "late\n" {
		t.Fatalf("%q %v", out, err)
	}
	// Settings are still checked at once.
	cfg.SSHConfigFile = filepath.Join(t.TempDir(), "missing")
	if _, err := DialSSH(context.Background(), cfg); err == nil {
		t.Fatal("lazy dial with a missing ssh config file succeeded")
	}
}

// A server that accepts TCP but never speaks SSH fails the dial after
// ConnectTimeout instead of hanging.
func TestSSHHandshakeTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	if _, err := sshtest.NewKey(key); err != nil {
		t.Fatal(err)
	}
	srv := &sshtest.Server{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, UserKeyFile: key, KnownHostsFile: filepath.Join(dir, "kh")}
	cfg := testConfig(t, srv)
	cfg.ConnectTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err = DialSSH(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 300ms") {
		t.Fatalf("want handshake timeout, got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout took %s", d)
	}
	// Cancelling the context ends a dial too.
	ctx, cancel := context.WithCancel(context.Background())
	cfg.ConnectTimeout = time.Minute
	time.AfterFunc(200*time.Millisecond, cancel)
	if _, err := DialSSH(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestPidSniffer(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{pidMarker + "42\nreal error\n", "real error\n"},
		{"motd noise\n" + pidMarker + "42\nerr", "motd noise\nerr"},
		{"no marker", "no marker"},
	} {
		var sb strings.Builder
		pidc := make(chan int, 1)
		p := &pidSniffer{w: &sb, pid: pidc}
		// Byte by byte: the marker may arrive split.
		for i := 0; i < len(c.in); i++ {
			_, _ = p.Write([]byte{c.in[i]})
		}
		p.flush()
		close(pidc)
		if sb.String() != c.out {
			t.Errorf("%q: passed on %q, want %q", c.in, sb.String(), c.out)
		}
		if pid := <-pidc; strings.Contains(c.in, pidMarker) != (pid == 42) {
			t.Errorf("%q: pid %d", c.in, pid)
		}
	}
}

// Env reaches the command over SSH as env(1) words, quoted like argv,
// in front of the command prefix.
func TestSSHEnv(t *testing.T) {
	srv := sshtest.Start(t)
	cfg := testConfig(t, srv)
	cfg.CommandPrefix = []string{"env", "ZPLAN_X=prefix"}
	h := dialTest(t, cfg)
	var out bytes.Buffer
	err := h.Run(context.Background(), Cmd{Argv: []string{"sh", "-c", `printf '%s|%s' "$ZPLAN_DATASETS" "$ZPLAN_X"`},
		Env: []string{"ZPLAN_DATASETS=" + envTestValue, "ZPLAN_X=env"}, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if want := envTestValue + "|prefix"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}
