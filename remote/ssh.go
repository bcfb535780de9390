package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// SSHConfig says how to reach one host over SSH. Empty fields are taken
// from the ssh config file (~/.ssh/config), then from OpenSSH's defaults;
// fields set here win over the ssh config.
type SSHConfig struct {
	Name            string   // host name in the zplan config, for messages
	Address         string   // hostname, IP, or ~/.ssh/config alias ([user@]host[:port] accepted)
	Port            int      // 0: from ssh config or 22
	User            string   // "": from ssh config or current user
	IdentityFiles   []string // none: IdentityFile from ssh config, else ~/.ssh/id_{ed25519,ecdsa,rsa}
	UseAgent        bool     // offer the keys of the agent at SSH_AUTH_SOCK (or IdentityAgent)
	KnownHostsFiles []string // none: UserKnownHostsFile from ssh config, else ~/.ssh/known_hosts
	// InsecureIgnoreHostKey accepts any host key. It makes the connection
	// open to a man in the middle; for throwaway labs only.
	InsecureIgnoreHostKey bool
	CommandPrefix         []string      // prepended to every command, e.g. {"sudo", "-n"}
	ConnectTimeout        time.Duration // 0: ConnectTimeout from ssh config, else 15s
	KeepAlive             time.Duration // 0: ServerAliveInterval from ssh config, else 15s
	SSHConfigFile         string        // "": ~/.ssh/config (missing is fine)
	// MaxSessions bounds the commands run at once over the one connection
	// (sshd's MaxSessions defaults to 10); 0: 8. Further commands wait.
	MaxSessions int
	// CommandTimeout bounds each command that is not a stream: one that
	// has not finished by then is stopped like a cancelled one (SIGTERM to
	// its process group, SIGKILL after 10s) and fails with an error that
	// wraps context.DeadlineExceeded. The streams are the two ends of a
	// Pipe (zfs send and zfs receive), which run as long as the data
	// takes; keepalives catch a dead connection under them. 0: 10 minutes;
	// negative: no limit.
	CommandTimeout time.Duration
	// Lazy defers connecting to the first command: DialSSH then only
	// checks the settings, and an unreachable host fails only if used.
	Lazy bool
}

// Ciphers in our order of preference: AES-GCM is the fastest where the
// CPU has AES instructions (amd64, arm64), ChaCha20 where it has not.
var sshCiphers = []string{
	"aes128-gcm@openssh.com",
	"aes256-gcm@openssh.com",
	"chacha20-poly1305@openssh.com",
	"aes128-ctr", "aes192-ctr", "aes256-ctr",
}

const (
	// copyBufSize is the size of the buffers that move command output and
	// input; large buffers mean fewer wakeups per byte on bulk streams.
	copyBufSize = 1 << 20
	// stopGrace is how long a cancelled command gets after SIGTERM before
	// its session is closed (zfs recv needs a moment to leave a clean
	// resumable state).
	stopGrace = 10 * time.Second
	// maxStderr bounds the stderr kept for error messages.
	maxStderr = 64 << 10
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// SSHHost runs commands on a host over one SSH connection. Commands are
// multiplexed as sessions; a broken connection is dialled again for the
// next command.
type SSHHost struct {
	cfg  SSHConfig
	r    *resolved
	auth *authSet
	sem  chan struct{}

	mu     sync.Mutex
	conn   *sshConn
	closed bool
}

var _ Host = (*SSHHost)(nil)

// DialSSH connects to the host described by cfg and returns it as a Host.
// The connection is checked (host key, authentication) before DialSSH
// returns, so configuration mistakes show up at once (unless cfg.Lazy).
func DialSSH(ctx context.Context, cfg SSHConfig) (Host, error) {
	h, err := dialSSH(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return h, nil
}

func dialSSH(ctx context.Context, cfg SSHConfig) (*SSHHost, error) {
	r, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	auth, err := newAuthSet(r)
	if err != nil {
		return nil, err
	}
	h := &SSHHost{cfg: cfg, r: r, auth: auth, sem: make(chan struct{}, r.maxSessions)}
	if cfg.Lazy {
		return h, nil
	}
	conn, err := h.dial(ctx)
	if err != nil {
		auth.close()
		return nil, err
	}
	h.conn = conn
	return h, nil
}

// Name is the host's name in the configuration.
func (h *SSHHost) Name() string { return h.r.name }

// Close closes the connection. Commands still running are cut off.
func (h *SSHHost) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	var err error
	if h.conn != nil {
		err = h.conn.close()
		h.conn = nil
	}
	h.auth.close()
	return err
}

// sshConn is one connection to the host, possibly through jump hosts.
type sshConn struct {
	hops   []*ssh.Client // jump hosts then the target
	client *ssh.Client   // the target
	dead   chan struct{} // closed when the target connection has ended
}

func (c *sshConn) alive() bool {
	select {
	case <-c.dead:
		return false
	default:
		return true
	}
}

func (c *sshConn) close() error {
	var first error
	for i := len(c.hops) - 1; i >= 0; i-- {
		if err := c.hops[i].Close(); err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
		}
	}
	return first
}

// getConn returns the live connection, dialling a new one if the last
// one broke.
func (h *SSHHost) getConn(ctx context.Context) (*sshConn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, fmt.Errorf("host %s: connection closed", h.r.name)
	}
	if h.conn != nil && h.conn.alive() {
		return h.conn, nil
	}
	if h.conn != nil {
		_ = h.conn.close()
		h.conn = nil
	}
	c, err := h.dial(ctx)
	if err != nil {
		return nil, err
	}
	h.conn = c
	return c, nil
}

// drop closes c if it is still the current connection.
func (h *SSHHost) drop(c *sshConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_ = c.close()
	if h.conn == c {
		h.conn = nil
	}
}

func (h *SSHHost) dial(ctx context.Context) (*sshConn, error) {
	hops := []*resolved{}
	for _, j := range h.r.proxyJump {
		// Jump hosts are resolved through the ssh config like the target,
		// and their host keys are always checked, against their own
		// known_hosts files (UserKnownHostsFile and GlobalKnownHostsFile
		// of their ssh config entry) and the files set in zplan for the
		// host. insecure_ignore_host_key is the target's alone: it was set
		// for one throwaway host, not for the bastion in front of others.
		jr, err := resolve(SSHConfig{
			Name:           fmt.Sprintf("%s (jump host %s)", h.r.name, j),
			Address:        j,
			IdentityFiles:  h.cfg.IdentityFiles,
			UseAgent:       h.cfg.UseAgent,
			SSHConfigFile:  h.cfg.SSHConfigFile,
			ConnectTimeout: h.cfg.ConnectTimeout,
		})
		if err != nil {
			return nil, fmt.Errorf("host %s: jump host %s: %w", h.r.name, j, err)
		}
		jr.knownHosts = append(jr.knownHosts, h.r.explicitKnownHosts...)
		hops = append(hops, jr)
	}
	hops = append(hops, h.r)

	conn := &sshConn{dead: make(chan struct{})}
	var prev *ssh.Client
	for i, hop := range hops {
		auth := h.auth
		if hop != h.r {
			a, err := newAuthSet(hop)
			if err != nil {
				_ = conn.close()
				return nil, err
			}
			// The agent connection is only needed during the handshake.
			defer a.close()
			auth = a
		}
		c, err := dialHop(ctx, hop, auth, prev)
		if err != nil {
			_ = conn.close()
			if i < len(hops)-1 {
				return nil, fmt.Errorf("host %s: via jump host: %w", h.r.name, err)
			}
			return nil, err
		}
		conn.hops = append(conn.hops, c)
		prev = c
	}
	conn.client = prev
	go func() {
		_ = conn.client.Wait()
		close(conn.dead)
	}()
	go keepAlive(conn, h.r.keepAlive)
	return conn, nil
}

// keepAlive pings the server; a connection that stops answering is closed
// so that commands on it fail instead of hanging, and the next command
// dials again. Three missed intervals are tolerated, like OpenSSH's
// ServerAliveCountMax.
func keepAlive(c *sshConn, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.dead:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case <-c.dead:
			return
		case err := <-reply:
			if err != nil {
				_ = c.close()
				return
			}
		case <-time.After(3 * every):
			_ = c.close()
			return
		}
	}
}

// dialHop connects to r, over prev if it is a jump host, and completes
// the SSH handshake (host key check and authentication).
func dialHop(ctx context.Context, r *resolved, auth *authSet, prev *ssh.Client) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, r.connectTimeout)
	defer cancel()
	var (
		nc  net.Conn
		err error
	)
	if prev == nil {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", r.addr())
	} else {
		nc, err = prev.DialContext(ctx, "tcp", r.addr())
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("host %s: cannot reach %s: no answer within %s: %w", r.name, r.addr(), r.connectTimeout, err)
		}
		return nil, fmt.Errorf("host %s: cannot reach %s: %w", r.name, r.addr(), err)
	}

	hk, err := newHostKeyChecker(r)
	if err != nil {
		nc.Close()
		return nil, err
	}
	config := &ssh.ClientConfig{
		User:              r.user,
		Auth:              auth.methods(),
		HostKeyCallback:   hk.callback,
		HostKeyAlgorithms: hk.algorithms,
		ClientVersion:     "SSH-2.0-zplan",
		Timeout:           r.connectTimeout,
	}
	config.Ciphers = sshCiphers

	// The handshake has no context: bound it with the connection's
	// deadline and close the socket if ctx ends first.
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(nc, hk.lookupAddr, config)
	stopped := !stop()
	if err != nil {
		nc.Close()
		switch {
		case hk.err != nil:
			return nil, hk.err
		case len(hk.algorithms) > 0 && strings.Contains(err.Error(), "no common algorithm for host key"):
			// The server has none of the key types known_hosts records
			// for it: as suspicious as a changed key.
			e := &HostKeyError{Host: r.name, Address: hk.lookupAddr, Changed: true, KnownHosts: r.knownHosts,
				KeyType: "(none of " + strings.Join(hk.algorithms, ", ") + ")", Known: hk.known}
			if hk.onlyCA {
				e.Changed = false
				e.Reason = "known_hosts trusts only a certificate authority for it (" + strings.Join(hk.known, ", ") +
					"), but the server offers no host certificate"
			}
			return nil, e
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fmt.Errorf("host %s: authentication as %s failed at %s (offered %s): %w", r.name, r.user, r.addr(), auth.describe(), err)
		case errors.Is(err, os.ErrDeadlineExceeded) || stopped && errors.Is(ctx.Err(), context.DeadlineExceeded):
			return nil, fmt.Errorf("host %s: SSH handshake with %s did not finish within %s: %w", r.name, r.addr(), r.connectTimeout, err)
		case stopped:
			return nil, fmt.Errorf("host %s: connecting to %s: %w", r.name, r.addr(), ctx.Err())
		}
		return nil, fmt.Errorf("host %s: SSH handshake with %s: %w", r.name, r.addr(), err)
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// authSet holds the keys offered to a host.
type authSet struct {
	signers []ssh.Signer
	files   []string // files whose keys were loaded
	notes   []string // why some keys could not be used
	agent   agent.ExtendedAgent
	agentNC net.Conn
}

func newAuthSet(r *resolved) (*authSet, error) {
	a := &authSet{}
	for _, f := range r.identityFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && !r.explicitIDs {
				continue
			}
			a.notes = append(a.notes, fmt.Sprintf("%s: %v", f, err))
			continue
		}
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			var pm *ssh.PassphraseMissingError
			if errors.As(err, &pm) {
				a.notes = append(a.notes, fmt.Sprintf("%s is encrypted (load it into ssh-agent and enable the agent)", f))
			} else {
				a.notes = append(a.notes, fmt.Sprintf("%s: %v", f, err))
			}
			continue
		}
		a.signers = append(a.signers, s)
		a.files = append(a.files, f)
	}
	if r.agentSocket != "" {
		nc, err := net.Dial("unix", r.agentSocket)
		if err != nil {
			a.notes = append(a.notes, fmt.Sprintf("ssh-agent at %s: %v", r.agentSocket, err))
		} else {
			a.agentNC = nc
			a.agent = agent.NewClient(nc)
		}
	}
	if len(a.signers) == 0 && a.agent == nil {
		msg := "no usable private key"
		if len(a.notes) > 0 {
			msg += ": " + strings.Join(a.notes, "; ")
		} else if len(r.identityFiles) > 0 {
			msg += " (looked for " + strings.Join(r.identityFiles, ", ") + ")"
		}
		return nil, fmt.Errorf("host %s: %s", r.name, msg)
	}
	return a, nil
}

// methods offers the key files first, then the agent's keys; one
// publickey method so that the server's MaxAuthTries counts keys, not
// methods.
func (a *authSet) methods() []ssh.AuthMethod {
	return []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		out := append([]ssh.Signer(nil), a.signers...)
		if a.agent != nil {
			as, err := a.agent.Signers()
			if err == nil {
				seen := map[string]bool{}
				for _, s := range out {
					seen[string(s.PublicKey().Marshal())] = true
				}
				for _, s := range as {
					if !seen[string(s.PublicKey().Marshal())] {
						out = append(out, s)
					}
				}
			}
		}
		return out, nil
	})}
}

func (a *authSet) describe() string {
	var parts []string
	if len(a.files) > 0 {
		parts = append(parts, "keys "+strings.Join(a.files, ", "))
	}
	if a.agent != nil {
		n := "?"
		if ks, err := a.agent.List(); err == nil {
			n = fmt.Sprint(len(ks))
		}
		parts = append(parts, "ssh-agent ("+n+" keys)")
	}
	s := strings.Join(parts, " and ")
	if len(a.notes) > 0 {
		s += "; skipped: " + strings.Join(a.notes, "; ")
	}
	return s
}

func (a *authSet) close() {
	if a != nil && a.agentNC != nil {
		a.agentNC.Close()
	}
}

// Run runs c on the host. Each word of argv is quoted, /bin/sh execs the
// command (so its exit status and signals are its own), and cancelling
// ctx stops it and everything it started on the host.
func (h *SSHHost) Run(ctx context.Context, c Cmd) error {
	argv := append(append([]string(nil), h.r.prefix...), c.Argv...)
	if len(c.Argv) == 0 {
		return fmt.Errorf("%s: empty command", h.r.name)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %s: %w", h.r.name, argv[0], err)
	}
	select {
	case h.sem <- struct{}{}:
		defer func() { <-h.sem }()
	case <-ctx.Done():
		return fmt.Errorf("%s: %s: %w", h.r.name, argv[0], ctx.Err())
	}
	sess, err := h.newSession(ctx)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", h.r.name, argv[0], err)
	}
	// The clock starts once the command has its session: waiting for a
	// free session or for the dial is not the command hanging.
	if d := h.r.commandTimeout; d > 0 && !isStream(c) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, &commandTimeoutError{d: d})
		defer cancel()
	}
	return h.runSession(ctx, sess, argv, c)
}

// isStream tells the commands that get no CommandTimeout: the ends of a
// Pipe, whose stdin or stdout is the relay buffer (or the progress
// counter in front of it). Every other command has its input and output
// in memory or read as it comes, and should finish in bounded time.
func isStream(c Cmd) bool {
	if _, ok := c.Stdin.(*bufPipe); ok {
		return true
	}
	switch c.Stdout.(type) {
	case *bufPipe, *countingWriter:
		return true
	}
	return false
}

// defaultCommandTimeout is generous: zfs list or destroy on a large,
// busy pool can take minutes; a command still running after this is
// taken as hung (a suspended pool, a stuck txg).
const defaultCommandTimeout = 10 * time.Minute

// commandTimeoutError is the cause of a context ended by CommandTimeout.
type commandTimeoutError struct{ d time.Duration }

func (e *commandTimeoutError) Error() string {
	return fmt.Sprintf("no result within %s (command_timeout), stopped", e.d)
}

func (e *commandTimeoutError) Unwrap() error { return context.DeadlineExceeded }

func (h *SSHHost) newSession(ctx context.Context) (*ssh.Session, error) {
	for attempt := 0; ; attempt++ {
		conn, err := h.getConn(ctx)
		if err != nil {
			return nil, err
		}
		sess, err := conn.client.NewSession()
		if err == nil {
			return sess, nil
		}
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) {
			// The server refused the session (e.g. its MaxSessions is
			// below ours); the connection itself is fine.
			return nil, fmt.Errorf("open session: %w (the server allows fewer sessions per connection than zplan uses: raise MaxSessions in its sshd_config)", err)
		}
		// The connection broke since its last use: dial once more.
		h.drop(conn)
		if attempt > 0 {
			return nil, fmt.Errorf("open session: %w", err)
		}
	}
}

func (h *SSHHost) runSession(ctx context.Context, sess *ssh.Session, argv []string, c Cmd) error {
	defer sess.Close()
	name := h.r.name
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return fmt.Errorf("%s: %s: %w", name, argv[0], err)
	}
	stderrPipe, err := sess.StderrPipe()
	if err != nil {
		return fmt.Errorf("%s: %s: %w", name, argv[0], err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		return fmt.Errorf("%s: %s: %w", name, argv[0], err)
	}
	if err := sess.Start(remoteCommandLine(argv)); err != nil {
		return fmt.Errorf("%s: start %s: %w", name, argv[0], err)
	}

	// abort is closed when a local stream fails: the remote command must
	// then be stopped, not left waiting for input or output.
	var (
		abortOnce sync.Once
		abort     = make(chan struct{})
		abortErr  error
	)
	fail := func(err error) {
		abortOnce.Do(func() { abortErr = err; close(abort) })
	}

	var (
		wg     sync.WaitGroup
		outErr error // the output was not all delivered
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		w := c.Stdout
		if w == nil {
			w = io.Discard
		}
		if err := copyStream(w, stdout); err != nil {
			outErr = fmt.Errorf("writing output: %w", err)
			fail(outErr)
			// Keep draining so the remote is never blocked on a full
			// window while it is being stopped.
			_, _ = io.Copy(io.Discard, stdout)
		}
	}()
	var stderr capBuffer
	pidc := make(chan int, 1)
	go func() {
		defer wg.Done()
		ps := &pidSniffer{w: &stderr, pid: pidc}
		_, _ = io.Copy(ps, stderrPipe)
		ps.flush()
		close(pidc)
	}()
	// The stdin copier is not waited for: it may block on a reader that
	// belongs to the caller after the command has exited.
	go func() {
		if c.Stdin != nil {
			if err := copyStream(stdin, c.Stdin); err != nil && !errors.Is(err, io.EOF) {
				if !isClosedChannel(err) {
					fail(fmt.Errorf("reading input: %w", err))
				}
				return
			}
		}
		_ = stdin.Close() // EOF for the remote command
	}()

	waitc := make(chan error, 1)
	go func() { waitc <- sess.Wait() }()
	var (
		waitErr error
		stopped bool // stopped because a local stream failed
	)
	select {
	case waitErr = <-waitc:
	case <-ctx.Done():
		waitErr = h.stopRemote(sess, waitc, pidc)
	case <-abort:
		stopped = true
		waitErr = h.stopRemote(sess, waitc, pidc)
	}
	wg.Wait()

	if ctx.Err() != nil {
		var te *commandTimeoutError
		if errors.As(context.Cause(ctx), &te) {
			return fmt.Errorf("%s: %s: %w", name, argv[0], te)
		}
		return fmt.Errorf("%s: %s: %w", name, argv[0], ctx.Err())
	}
	// An input that fails after the command exited does not matter; lost
	// output always does.
	if stopped {
		return fmt.Errorf("%s: %s: %w", name, argv[0], abortErr)
	}
	if outErr != nil {
		return fmt.Errorf("%s: %s: %w", name, argv[0], outErr)
	}
	if waitErr == nil {
		return nil
	}
	var ee *ssh.ExitError
	if errors.As(waitErr, &ee) {
		code := ee.ExitStatus()
		if ee.Signal() != "" {
			code = -1
		}
		return &ExitError{Host: name, Argv: argv, Code: code, Signal: ee.Signal(), Stderr: stderr.String()}
	}
	var em *ssh.ExitMissingError
	if errors.As(waitErr, &em) {
		return fmt.Errorf("%s: %s: connection lost before the command finished (its outcome on the host is unknown): %w", name, argv[0], waitErr)
	}
	return fmt.Errorf("%s: %s: %w", name, argv[0], waitErr)
}

// remoteCommandLine is what sshd hands to the user's login shell. The
// login shell may be csh or fish, so it only gets an exec of /bin/sh with
// one single-quoted word (a syntax they share); /bin/sh then prints its
// PID and execs the command.
func remoteCommandLine(argv []string) string {
	return "exec /bin/sh -c " + ShellQuote(pidMarkerCmd+ShellCommand(argv))
}

// pidMarkerCmd makes the remote shell print its PID on stderr before it
// execs the command, which keeps that PID. sshd puts each command in its
// own session (setsid), so the PID is also the process group to kill.
const pidMarkerCmd = "echo " + pidMarker + "$$ >&2; "

const pidMarker = "zplan-remote-pid="

// stopRemote stops a remote command and everything it started. The SSH
// "signal" request alone is not enough: sshd ignores it for root logins
// (they run without privilege separation) and before OpenSSH 7.9, and
// closing the channel does not signal a command without a tty. So the
// process group is also killed from a second session: SIGTERM first (zfs
// recv leaves a clean resumable state), SIGKILL after stopGrace.
func (h *SSHHost) stopRemote(sess *ssh.Session, waitc <-chan error, pidc <-chan int) error {
	_ = sess.Signal(ssh.SIGTERM)
	pid := 0
	select {
	case pid = <-pidc:
	case err := <-waitc:
		return err
	case <-time.After(5 * time.Second):
	}
	if pid > 0 {
		h.killGroup(pid, "TERM")
	}
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case err := <-waitc:
		return err
	case <-t.C:
	}
	if pid > 0 {
		h.killGroup(pid, "KILL")
	}
	_ = sess.Close()
	select {
	case err := <-waitc:
		return err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("remote command (process group %d) did not stop", pid)
	}
}

// killGroup signals process group pgid on the host, with the command
// prefix (the group may belong to root under sudo), else without.
func (h *SSHHost) killGroup(pgid int, sig string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kill := []string{"kill", "-" + sig, "--", fmt.Sprint(-pgid)}
	try := [][]string{append(append([]string(nil), h.r.prefix...), kill...)}
	if len(h.r.prefix) > 0 {
		try = append(try, kill)
	}
	for _, argv := range try {
		conn, err := h.getConn(ctx)
		if err != nil {
			return
		}
		// Not counted against MaxSessions: sshd's default leaves room
		// above ours, and stopping must not wait behind other commands.
		sess, err := conn.client.NewSession()
		if err != nil {
			return
		}
		err = sess.Run(ShellCommand(argv))
		sess.Close()
		if err == nil {
			return
		}
	}
}

// pidSniffer takes the PID marker line out of stderr and passes the rest
// on. Startup files of the login shell may print lines before it, so it
// looks at the first few KiB, line by line.
type pidSniffer struct {
	w    io.Writer
	pid  chan<- int
	head []byte
	seen int
	done bool
}

func (p *pidSniffer) Write(b []byte) (int, error) {
	if p.done {
		return p.w.Write(b)
	}
	p.head = append(p.head, b...)
	for !p.done {
		i := bytes.IndexByte(p.head, '\n')
		if i < 0 {
			if p.seen+len(p.head) > 4096 {
				p.flush()
			}
			break
		}
		line := p.head[:i+1]
		p.seen += len(line)
		if bytes.HasPrefix(line, []byte(pidMarker)) {
			if n, err := strconv.Atoi(string(line[len(pidMarker):i])); err == nil {
				p.pid <- n
			}
			p.head = p.head[i+1:]
			p.flush()
			break
		}
		if _, err := p.w.Write(line); err != nil {
			return 0, err
		}
		p.head = p.head[i+1:]
		if p.seen > 4096 {
			p.flush()
		}
	}
	return len(b), nil
}

// flush passes on what is held and stops looking for the marker.
func (p *pidSniffer) flush() {
	if !p.done && len(p.head) > 0 {
		_, _ = p.w.Write(p.head)
	}
	p.head = nil
	p.done = true
}

// isClosedChannel tells writes that failed because the remote command
// had already exited, which is not the input's fault.
func isClosedChannel(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || strings.Contains(err.Error(), "channel closed")
}

// copyStream copies with a pooled large buffer. Unlike io.Copy it never
// delegates to ReadFrom/WriteTo, whose fallbacks use 32 KiB buffers. A
// write error is returned as is; a read error is wrapped with io.EOF
// semantics left intact (nil at EOF).
func copyStream(dst io.Writer, src io.Reader) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// capBuffer keeps the first maxStderr bytes written to it.
type capBuffer struct {
	mu        sync.Mutex
	b         []byte
	truncated bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := maxStderr - len(c.b)
	if room < len(p) {
		c.truncated = true
		if room > 0 {
			c.b = append(c.b, p[:room]...)
		}
		return len(p), nil
	}
	c.b = append(c.b, p...)
	return len(p), nil
}

func (c *capBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.truncated {
		return string(c.b) + "\n[stderr truncated]"
	}
	return string(c.b)
}

// ShellCommand turns argv into a command line for a POSIX remote shell:
// every word is quoted, and exec replaces the shell so that signals and
// the exit status are the command's own.
func ShellCommand(argv []string) string {
	var b strings.Builder
	b.WriteString("exec")
	for _, w := range argv {
		b.WriteByte(' ')
		b.WriteString(ShellQuote(w))
	}
	return b.String()
}

// ShellQuote quotes s as one word for a POSIX shell. Words made only of
// safe characters are left bare for readable logs; anything else is put in
// single quotes, with each ' written as '\”.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("@%+=:,./_-", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
