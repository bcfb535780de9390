// Package sshtest starts a throwaway OpenSSH server on a loopback port for
// tests of the SSH transport. It runs /usr/sbin/sshd as the current user
// with a fresh host key and user key in a temporary directory.
package sshtest

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is the server binary the harness runs.
const SSHD = "/usr/sbin/sshd"

// Server is a running sshd.
type Server struct {
	Dir            string
	Host           string // 127.0.0.1
	Port           int
	User           string
	HostKey        ssh.PublicKey // ed25519
	RSAHostKey     ssh.PublicKey // with Options.RSAHostKey
	UserKeyFile    string        // private key authorized on the server
	UserSigner     ssh.Signer    // same key, in memory
	KnownHostsFile string        // holds HostKey for [Host]:Port
	ConfigFile     string        // sshd_config
	CA             ssh.PublicKey // signer of the host certificate, with Options.HostCert
	CAKeyFile      string        // its private key
	HostCertFile   string        // the certificate sshd presents

	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Pid is the process id of the listening sshd.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Log returns what sshd has logged so far (for failure messages).
func (s *Server) Log() string { return s.log.String() }

// SettledLog is Log once sshd has stopped writing for a moment (at most
// 5s): sshd logs a connection a little after it happened, so a test that
// counts log lines before and after a step reads the settled log.
func (s *Server) SettledLog() string {
	last := s.Log()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		cur := s.Log()
		if cur == last {
			return cur
		}
		last = cur
	}
	return last
}

// Available reports whether sshd can be started here. Tests call Start,
// which fails (or skips when ZPLAN_SSHD=skip) when it is not.
func Available() bool {
	_, err := os.Stat(SSHD)
	return err == nil
}

// Options change the server.
type Options struct {
	// RSAHostKey adds an RSA host key, listed before the ed25519 one.
	RSAHostKey bool
	// HostCert makes sshd also present its ed25519 host key in a
	// certificate signed by a fresh CA (ssh-keygen -s).
	HostCert *HostCert
}

// HostCert says what the host certificate certifies.
type HostCert struct {
	Principals []string // host names it is valid for (ssh-keygen -n)
	Validity   string   // ssh-keygen -V interval, "" for forever
}

// Start starts sshd for the test and stops it at cleanup. Without sshd the
// test fails, unless ZPLAN_SSHD=skip, so CI cannot pass silently.
func Start(t testing.TB) *Server { t.Helper(); return StartWith(t, Options{}) }

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	if !Available() {
		if os.Getenv("ZPLAN_SSHD") == "skip" {
			t.Skipf("%s not installed and ZPLAN_SSHD=skip", SSHD)
		}
		t.Fatalf("%s not installed (run remote/ci-setup.sh, or set ZPLAN_SSHD=skip)", SSHD)
	}
	s, err := start(t.TempDir(), o)
	if err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func start(dir string, o Options) (*Server, error) {
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	s := &Server{Dir: dir, Host: "127.0.0.1", User: u.Username, log: &lockedBuffer{}}
	hostKeyFile := filepath.Join(dir, "ssh_host_ed25519_key")
	hostSigner, err := writeKey(hostKeyFile)
	if err != nil {
		return nil, err
	}
	s.HostKey = hostSigner.PublicKey()
	hostKeys := []string{hostKeyFile}
	if o.RSAHostKey {
		f := filepath.Join(dir, "ssh_host_rsa_key")
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate rsa key: %w", err)
		}
		rs, err := writePrivate(f, k)
		if err != nil {
			return nil, err
		}
		s.RSAHostKey = rs.PublicKey()
		hostKeys = append([]string{f}, hostKeys...)
	}
	if o.HostCert != nil {
		if err := s.signHostKey(hostKeyFile, *o.HostCert); err != nil {
			return nil, err
		}
	}
	s.UserKeyFile = filepath.Join(dir, "id_ed25519")
	if s.UserSigner, err = writeKey(s.UserKeyFile); err != nil {
		return nil, err
	}
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, ssh.MarshalAuthorizedKey(s.UserSigner.PublicKey()), 0o600); err != nil {
		return nil, fmt.Errorf("write authorized_keys: %w", err)
	}
	// sshd refuses to start without its privilege separation directory
	// when run as root.
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return nil, fmt.Errorf("create /run/sshd: %w", err)
		}
	}
	// A port picked by the kernel can be taken again before sshd binds
	// it; retry a few times.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.Port = port
		if err := s.writeConfig(hostKeys, authKeys); err != nil {
			return nil, err
		}
		if lastErr = s.run(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	s.KnownHostsFile = filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostKey) + "\n"
	if err := os.WriteFile(s.KnownHostsFile, []byte(line), 0o600); err != nil {
		return nil, fmt.Errorf("write known_hosts: %w", err)
	}
	return s, nil
}

func (s *Server) writeConfig(hostKeys []string, authKeys string) error {
	s.ConfigFile = filepath.Join(s.Dir, "sshd_config")
	var hk strings.Builder
	for _, f := range hostKeys {
		fmt.Fprintf(&hk, "HostKey %s\n", f)
	}
	if s.HostCertFile != "" {
		fmt.Fprintf(&hk, "HostCertificate %s\n", s.HostCertFile)
	}
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
%sPidFile %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowTcpForwarding yes
MaxSessions 32
MaxStartups 64
LogLevel VERBOSE
`, s.Port, hk.String(), filepath.Join(s.Dir, "sshd.pid"), authKeys)
	if err := os.WriteFile(s.ConfigFile, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("write sshd_config: %w", err)
	}
	return nil
}

// signHostKey makes a CA and signs the host key with it, as an admin
// would with ssh-keygen -s.
func (s *Server) signHostKey(hostKeyFile string, c HostCert) error {
	s.CAKeyFile = filepath.Join(s.Dir, "host_ca")
	ca, err := writeKey(s.CAKeyFile)
	if err != nil {
		return err
	}
	s.CA = ca.PublicKey()
	args := []string{"-q", "-s", s.CAKeyFile, "-h", "-I", "zplan-test-host", "-n", strings.Join(c.Principals, ",")}
	if c.Validity != "" {
		args = append(args, "-V", c.Validity)
	}
	args = append(args, hostKeyFile+".pub")
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ssh-keygen %s: %w: %s", strings.Join(args, " "), err, out)
	}
	s.HostCertFile = hostKeyFile + "-cert.pub"
	return nil
}

// run starts sshd in the foreground (-D) logging to stderr (-e) and waits
// until it answers with an SSH banner.
func (s *Server) run() error {
	cmd := exec.Command(SSHD, "-D", "-e", "-f", s.ConfigFile)
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", SSHD, err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("sshd exited: %s", s.log.String())
		default:
		}
		if banner(s.Addr()) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("sshd did not answer on %s: %s", s.Addr(), s.log.String())
}

func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-")
}

// Stop kills sshd. Sessions it forked end with their connections.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeKey writes a new ed25519 private key in OpenSSH format with its .pub.
func writeKey(path string) (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	signer, err := writePrivate(path, priv)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		return nil, fmt.Errorf("write public key: %w", err)
	}
	return signer, nil
}

// writePrivate writes key to path in OpenSSH format and returns its signer.
func writePrivate(path string, key crypto.Signer) (ssh.Signer, error) {
	block, err := ssh.MarshalPrivateKey(key, "zplan test")
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return signer, nil
}

// NewKey writes a fresh key that the server does not authorize.
func NewKey(path string) (ssh.Signer, error) { return writeKey(path) }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Keep the log bounded; VERBOSE logs a few lines per connection.
	if l.b.Len() > 1<<20 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
