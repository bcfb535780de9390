package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
)

// stopGrace is how long a cancelled command gets after SIGTERM before
// its session is closed (zfs recv needs a moment to leave a clean
// resumable state).
const stopGrace = 10 * time.Second

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
