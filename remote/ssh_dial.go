package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

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
		return nil, &UnreachableError{Err: err}
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

// Ciphers in our order of preference: AES-GCM is the fastest where the
// CPU has AES instructions (amd64, arm64), ChaCha20 where it has not.
var sshCiphers = []string{
	"aes128-gcm@openssh.com",
	"aes256-gcm@openssh.com",
	"chacha20-poly1305@openssh.com",
	"aes128-ctr", "aes192-ctr", "aes256-ctr",
}
