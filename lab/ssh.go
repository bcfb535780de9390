package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/zplan/zplan/remote"
)

// sshConfig is how remote.DialSSH reaches the guest: the lab's key, the
// lab's known_hosts with strict checking, and no ~/.ssh/config (a user's
// "Host *" settings must not change how tests connect).
func sshConfig(name string, port int, identity, knownHosts string, timeout time.Duration) remote.SSHConfig {
	return remote.SSHConfig{
		Name:            name,
		Address:         "127.0.0.1",
		Port:            port,
		User:            "root",
		IdentityFiles:   []string{identity},
		KnownHostsFiles: []string{knownHosts},
		ConnectTimeout:  timeout,
		SSHConfigFile:   os.DevNull,
		MaxSessions:     32, // the guest's sshd allows 100
	}
}

func dialGuest(ctx context.Context, name string, port int, identity, knownHosts string, timeout time.Duration) (remote.Host, error) {
	h, err := remote.DialSSH(ctx, sshConfig(name, port, identity, knownHosts, timeout))
	if err != nil {
		return nil, fmt.Errorf("lab: ssh to guest: %w", err)
	}
	return h, nil
}

// named gives the shared connection another host name. Its Close is a
// no-op: the connection belongs to the lab.
type named struct {
	h remote.Host
	n string
}

func (n named) Name() string { return n.n }

func (n named) Run(ctx context.Context, c remote.Cmd) error {
	err := n.h.Run(ctx, c)
	var ee *remote.ExitError
	if errors.As(err, &ee) && ee.Host != n.n {
		cp := *ee
		cp.Host = n.n
		return &cp
	}
	return err
}

func (n named) Close() error { return nil }

func cmdOf(stdout io.Writer, argv ...string) remote.Cmd {
	return remote.Cmd{Argv: argv, Stdout: stdout}
}
