package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// Local runs commands on the controller itself.
type Local struct {
	HostName string
	// Prefix is prepended to every command (e.g. sudo -n).
	Prefix []string
}

// NewLocal returns a Host that runs commands on this machine.
func NewLocal(name string, prefix ...string) *Local {
	return &Local{HostName: name, Prefix: prefix}
}

func (l *Local) Name() string { return l.HostName }

func (l *Local) Close() error { return nil }

func (l *Local) Run(ctx context.Context, c Cmd) error {
	argv := append(append([]string(nil), l.Prefix...), c.Argv...)
	if len(argv) == 0 {
		return fmt.Errorf("%s: empty command", l.HostName)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// SIGTERM first so zfs recv can leave a clean resumable state; the
	// WaitDelay bounds how long a stuck process may linger.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Stdin = c.Stdin
	cmd.Stdout = c.Stdout
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %s: %w", l.HostName, argv[0], ctx.Err())
		}
		return &ExitError{Host: l.HostName, Argv: argv, Code: ee.ExitCode(), Stderr: stderr.String()}
	}
	return fmt.Errorf("%s: run %s: %w", l.HostName, argv[0], err)
}
