package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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

var errOutput = errors.New("writing output")

// localWaitDelay bounds how long a stopped process may linger, and how
// long its output may stay open after it exited (a background child).
const localWaitDelay = 10 * time.Second

func (l *Local) Run(ctx context.Context, c Cmd) error {
	argv := append(append([]string(nil), l.Prefix...), c.Argv...)
	if len(c.Argv) == 0 {
		return fmt.Errorf("%s: empty command", l.HostName)
	}
	if err := checkEnv(c.Env, argv[0]); err != nil {
		return fmt.Errorf("%s: %s: %w", l.HostName, argv[0], err)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	// SIGTERM first so zfs recv can leave a clean resumable state; the
	// WaitDelay bounds how long a stuck process may linger.
	// The command gets its own process group, and stopping it signals
	// the group, so that children (a shell's pipeline) stop too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = localWaitDelay
	var stderr capBuffer
	cmd.Stderr = &stderr

	// Streams other than files go through pipes we copy ourselves: large
	// buffers and pipes for bulk data, and a failing input kills the
	// command instead of handing it a clean EOF (a truncated zfs stream
	// must never look complete).
	var outR, inW *os.File
	switch w := c.Stdout.(type) {
	case nil:
	case *os.File:
		cmd.Stdout = w
	default:
		pr, pw, err := os.Pipe()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", l.HostName, argv[0], err)
		}
		setPipeSize(pw)
		defer pw.Close()
		cmd.Stdout, outR = pw, pr
	}
	switch r := c.Stdin.(type) {
	case nil:
	case *os.File:
		cmd.Stdin = r
	default:
		pr, pw, err := os.Pipe()
		if err != nil {
			if outR != nil {
				outR.Close()
			}
			return fmt.Errorf("%s: %s: %w", l.HostName, argv[0], err)
		}
		setPipeSize(pw)
		defer pr.Close()
		cmd.Stdin, inW = pr, pw
	}
	if err := cmd.Start(); err != nil {
		if outR != nil {
			outR.Close()
		}
		if inW != nil {
			inW.Close()
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			// Same shape as a shell's "not found", as over SSH.
			return &ExitError{Host: l.HostName, Argv: argv, Code: 127, Stderr: err.Error()}
		}
		return fmt.Errorf("%s: run %s: %w", l.HostName, argv[0], err)
	}
	// The child has its own copies of the pipe ends.
	if f, ok := cmd.Stdout.(*os.File); ok && outR != nil {
		f.Close()
	}
	if f, ok := cmd.Stdin.(*os.File); ok && inW != nil {
		f.Close()
	}

	var (
		abortMu  sync.Mutex
		abortErr error
	)
	abort := func(err error) {
		abortMu.Lock()
		defer abortMu.Unlock()
		if abortErr == nil {
			abortErr = err
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		}
	}
	aborted := func() error {
		abortMu.Lock()
		defer abortMu.Unlock()
		return abortErr
	}
	outDone := make(chan struct{})
	if outR != nil {
		go func() {
			defer close(outDone)
			if err := copyStream(c.Stdout, outR); err != nil {
				abort(fmt.Errorf("%w: %w", errOutput, err))
				_, _ = io.Copy(io.Discard, outR)
			}
		}()
	} else {
		close(outDone)
	}
	if inW != nil {
		// Not waited for: it may block on the caller's reader after the
		// command has exited.
		go func() {
			defer inW.Close()
			err := copyStream(inW, c.Stdin)
			if err != nil && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, os.ErrClosed) {
				abort(fmt.Errorf("reading input: %w", err))
			}
		}()
	}

	err := cmd.Wait()
	// Read once: an input failing after the exit is not the command's.
	stopErr := aborted()
	if ctx.Err() != nil || stopErr != nil {
		// Nothing the stopped command started may outlive it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if outR != nil {
		select {
		case <-outDone:
		case <-time.After(localWaitDelay):
		}
		outR.Close()
		<-outDone
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %s: %w", l.HostName, argv[0], ctx.Err())
	}
	if stopErr != nil {
		return fmt.Errorf("%s: %s: %w", l.HostName, argv[0], stopErr)
	}
	if err := aborted(); err != nil && errors.Is(err, errOutput) {
		return fmt.Errorf("%s: %s: %w", l.HostName, argv[0], err)
	}
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		e := &ExitError{Host: l.HostName, Argv: argv, Code: ee.ExitCode(), Stderr: stderr.String()}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal = strings.TrimPrefix(unix.SignalName(ws.Signal()), "SIG")
		}
		return e
	}
	return fmt.Errorf("%s: run %s: %w", l.HostName, argv[0], err)
}
