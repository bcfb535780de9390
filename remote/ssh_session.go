package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Run runs c on the host. Each word of argv is quoted, /bin/sh execs the
// command (so its exit status and signals are its own), and cancelling
// ctx stops it and everything it started on the host.
func (h *SSHHost) Run(ctx context.Context, c Cmd) error {
	argv := append(append([]string(nil), h.r.prefix...), c.Argv...)
	if len(c.Argv) == 0 {
		return fmt.Errorf("%s: empty command", h.r.name)
	}
	if err := checkEnv(c.Env, argv[0]); err != nil {
		return fmt.Errorf("%s: %s: %w", h.r.name, argv[0], err)
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
// counter or rate limiter in front of it). Every other command has its input and output
// in memory or read as it comes, and should finish in bounded time.
func isStream(c Cmd) bool {
	switch c.Stdin.(type) {
	case *bufPipe, *limitedReader:
		return true
	}
	switch c.Stdout.(type) {
	case *bufPipe, *countingWriter, *limitedWriter:
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
	if err := sess.Start(remoteCommandLine(c.Env, argv)); err != nil {
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
