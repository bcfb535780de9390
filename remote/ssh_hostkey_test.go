package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/remote/internal/sshtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func writeKnownHosts(t *testing.T, lines ...string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func authorized(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// Hosts whose known_hosts entry is a @cert-authority line are checked by
// their host certificate: accepted when the CA is trusted for the host
// pattern and the certificate is valid for the host name, refused (never
// as a "changed key") otherwise; @revoked keys are refused.
func TestSSHHostCertificate(t *testing.T) {
	type want struct {
		ok      bool
		revoked bool
		changed bool
		msg     string
	}
	for _, c := range []struct {
		name string
		cert *sshtest.HostCert // nil: the server has no certificate
		// known_hosts lines; CA, HOST and KEY are replaced by the CA's
		// public key, the [127.0.0.1]:port pattern and the host's key.
		lines []string
		want  want
	}{
		{"trusted CA", &sshtest.HostCert{Principals: []string{"127.0.0.1"}},
			[]string{"@cert-authority HOST CA"}, want{ok: true}},
		{"CA for a wildcard pattern", &sshtest.HostCert{Principals: []string{"127.0.0.1"}},
			[]string{"@cert-authority [127.0.0.*]:PORT CA"}, want{ok: true}},
		{"CA and the plain key", &sshtest.HostCert{Principals: []string{"127.0.0.1"}},
			[]string{"HOST KEY", "@cert-authority HOST CA"}, want{ok: true}},
		{"CA for other hosts only", &sshtest.HostCert{Principals: []string{"127.0.0.1"}},
			[]string{"@cert-authority [10.0.0.1]:PORT CA"}, want{msg: "no @cert-authority line"}},
		{"certificate for another name", &sshtest.HostCert{Principals: []string{"nas.example.org"}},
			[]string{"@cert-authority HOST CA"}, want{msg: "not in the set of valid principals"}},
		{"expired certificate", &sshtest.HostCert{Principals: []string{"127.0.0.1"}, Validity: "-2d:-1d"},
			[]string{"@cert-authority HOST CA"}, want{msg: "expired"}},
		{"expired certificate of a known key", &sshtest.HostCert{Principals: []string{"127.0.0.1"}, Validity: "-2d:-1d"},
			[]string{"@cert-authority HOST CA", "HOST KEY"}, want{ok: true}},
		{"revoked CA", &sshtest.HostCert{Principals: []string{"127.0.0.1"}},
			[]string{"@cert-authority HOST CA", "@revoked * CA"}, want{revoked: true, msg: "@revoked"}},
		{"revoked certified key", &sshtest.HostCert{Principals: []string{"127.0.0.1"}},
			[]string{"@cert-authority HOST CA", "@revoked * KEY"}, want{revoked: true, msg: "@revoked"}},
		{"revoked plain key", nil,
			[]string{"HOST KEY", "@revoked * KEY"}, want{revoked: true, msg: "@revoked"}},
		{"CA but no certificate offered", nil,
			[]string{"@cert-authority HOST OTHERCA"}, want{msg: "offers no host certificate"}},
		{"changed plain key, server has a certificate", &sshtest.HostCert{Principals: []string{"127.0.0.1"}},
			[]string{"HOST OTHERCA"}, want{changed: true, msg: "HOST KEY MISMATCH"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := sshtest.StartWith(t, sshtest.Options{HostCert: c.cert})
			other, err := sshtest.NewKey(filepath.Join(t.TempDir(), "otherca"))
			if err != nil {
				t.Fatal(err)
			}
			r := strings.NewReplacer("HOST", knownhosts.Normalize(srv.Addr()), "PORT", fmt.Sprint(srv.Port),
				"OTHERCA", authorized(other.PublicKey()), "KEY", authorized(srv.HostKey))
			var lines []string
			for _, l := range c.lines {
				l = r.Replace(l)
				if srv.CA != nil {
					l = strings.ReplaceAll(l, " CA", " "+authorized(srv.CA))
				}
				lines = append(lines, l)
			}
			cfg := testConfig(t, srv)
			cfg.KnownHostsFiles = []string{writeKnownHosts(t, lines...)}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			h, err := dialSSH(ctx, cfg)
			if c.want.ok {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				defer h.Close()
				if out, err := Output(ctx, h, "echo", "ok"); err != nil || string(out) != "ok\n" {
					t.Fatalf("%q %v", out, err)
				}
				return
			}
			if err == nil {
				h.Close()
				t.Fatal("dial succeeded, want refusal")
			}
			var he *HostKeyError
			if !errors.As(err, &he) {
				t.Fatalf("want *HostKeyError, got %v", err)
			}
			if he.Revoked != c.want.revoked || he.Changed != c.want.changed {
				t.Errorf("revoked=%v changed=%v, want %v %v: %v", he.Revoked, he.Changed, c.want.revoked, c.want.changed, err)
			}
			if !strings.Contains(err.Error(), c.want.msg) {
				t.Errorf("message lacks %q: %v", c.want.msg, err)
			}
			if !c.want.changed && strings.Contains(err.Error(), "MISMATCH") {
				t.Errorf("reported as a changed key: %v", err)
			}
		})
	}
}

// sshConfigFile writes an ssh config for tests; GlobalKnownHostsFile is
// none unless the text sets it, so the machine's files are not read.
func sshConfigFile(t *testing.T, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(f, []byte(text+"\nHost *\n    GlobalKnownHostsFile none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// insecure_ignore_host_key covers the target only: its jump hosts are
// checked against their own known_hosts.
func TestSSHJumpHostKeyChecked(t *testing.T) {
	srv := sshtest.Start(t)
	empty := writeKnownHosts(t)
	entry := func(name, kh, jump string) string {
		s := fmt.Sprintf("Host %s\n    HostName 127.0.0.1\n    Port %d\n    User %s\n    IdentityFile %s\n    UserKnownHostsFile %s\n",
			name, srv.Port, srv.User, srv.UserKeyFile, kh)
		if jump != "" {
			s += "    ProxyJump " + jump + "\n"
		}
		return s
	}
	conf := sshConfigFile(t, entry("goodjump", srv.KnownHostsFile, "")+entry("badjump", empty, "")+
		entry("via-good", empty, "goodjump")+entry("via-bad", empty, "badjump"))
	for _, c := range []struct {
		addr     string
		insecure bool
		fail     string // "" for success, else what the error names
	}{
		{"via-good", true, ""},
		{"via-bad", true, "jump host badjump"},
		{"via-good", false, "unknown host key"}, // the target itself is checked
	} {
		t.Run(fmt.Sprintf("%s insecure=%v", c.addr, c.insecure), func(t *testing.T) {
			before := strings.Count(srv.SettledLog(), "Accepted publickey")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			h, err := dialSSH(ctx, SSHConfig{Name: "t", Address: c.addr, SSHConfigFile: conf, InsecureIgnoreHostKey: c.insecure})
			if c.fail == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer h.Close()
				if n := strings.Count(srv.SettledLog(), "Accepted publickey") - before; n != 2 {
					t.Errorf("want 2 logins (jump and target), sshd saw %d", n)
				}
				return
			}
			if err == nil {
				h.Close()
				t.Fatalf("dial succeeded, want a host key error naming %q", c.fail)
			}
			var he *HostKeyError
			if !errors.As(err, &he) || !strings.Contains(err.Error(), c.fail) {
				t.Fatalf("want host key error naming %q, got %v", c.fail, err)
			}
		})
	}
}

// GlobalKnownHostsFile is read in addition to the user's files.
func TestSSHGlobalKnownHostsFile(t *testing.T) {
	srv := sshtest.Start(t)
	empty := writeKnownHosts(t)
	for _, c := range []struct {
		global string
		ok     bool
	}{
		{srv.KnownHostsFile, true},
		{"/nonexistent/zplan " + srv.KnownHostsFile, true},
		{"none", false},
	} {
		t.Run(c.global, func(t *testing.T) {
			conf := sshConfigFile(t, fmt.Sprintf("Host zhost\n    HostName 127.0.0.1\n    Port %d\n    User %s\n    IdentityFile %s\n"+
				"    UserKnownHostsFile %s\n    GlobalKnownHostsFile %s\n", srv.Port, srv.User, srv.UserKeyFile, empty, c.global))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			h, err := dialSSH(ctx, SSHConfig{Name: "g", Address: "zhost", SSHConfigFile: conf})
			if err == nil {
				h.Close()
			}
			var he *HostKeyError
			switch {
			case c.ok && err != nil:
				t.Fatalf("dial: %v", err)
			case !c.ok && !errors.As(err, &he):
				t.Fatalf("want unknown host key, got %v", err)
			}
		})
	}
}

// A command that is not a stream is stopped after CommandTimeout, and
// its process on the host is gone; the ends of a Pipe are not bounded.
func TestSSHCommandTimeout(t *testing.T) {
	srv := sshtest.Start(t)
	cfg := testConfig(t, srv)
	cfg.CommandTimeout = time.Second
	h := dialTest(t, cfg)

	m := marker("timeout")
	t.Cleanup(func() { killMarked(m) })
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		errc <- h.Run(context.Background(), Cmd{Argv: []string{"sh", "-c", "sleep 1000; : " + m}, Stdout: &strings.Builder{}})
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "command_timeout") {
			t.Fatalf("want a command_timeout error, got %v", err)
		}
	case <-time.After(cfg.CommandTimeout + stopGrace + 5*time.Second):
		t.Fatal("hung command was not stopped")
	}
	// Stopped within the grace a hung command gets (not a timing target:
	// a loaded machine only makes the kill later, never the check wrong).
	if d := time.Since(start); d > cfg.CommandTimeout+stopGrace {
		t.Errorf("timeout took %s", d)
	}
	waitGone(t, m, 5*time.Second)

	// Streams outlive the timeout, with and without a progress counter.
	for _, progress := range []Progress{nil, func(int64) {}} {
		out := filepath.Join(t.TempDir(), "recv")
		err := Pipe(context.Background(), h, []string{"sh", "-c", "sleep 2; echo streamed"}, h, []string{"sh", "-c", "cat > " + out}, progress)
		if err != nil {
			t.Fatalf("pipe (progress %v): %v", progress != nil, err)
		}
		if b, err := os.ReadFile(out); err != nil || string(b) != "streamed\n" {
			t.Fatalf("pipe output %q %v", b, err)
		}
	}

	// A negative timeout is none.
	cfg.CommandTimeout = -1
	h = dialTest(t, cfg)
	if err := h.Run(context.Background(), Cmd{Argv: []string{"sleep", "1.5"}}); err != nil {
		t.Fatalf("no timeout: %v", err)
	}
}
