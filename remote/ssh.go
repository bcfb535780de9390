package remote

import (
	"context"
	"sync"
	"time"
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
