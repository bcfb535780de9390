// Package remote runs commands on hosts, locally or over SSH, and relays
// zfs send streams between them. Observe and apply only see the Host
// interface, so they work the same on every transport.
package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Cmd is one command to run on a host. Argv is never interpreted by a
// shell on the local transport; the SSH transport quotes each word.
type Cmd struct {
	Argv   []string
	Stdin  io.Reader // nil: empty stdin
	Stdout io.Writer // nil: discarded
	// Env are NAME=value variables added to the command's environment
	// (hooks). They apply to the whole command, command_prefix included:
	// locally as the process environment, over SSH as `env NAME=value`
	// words in front of it (sshd usually refuses SetEnv). A sudo prefix
	// drops them unless sudoers keeps them (env_keep).
	Env []string
}

// checkEnv refuses an entry that is not NAME=value with a shell-safe
// NAME, or that holds a NUL byte no environment can carry, and a program
// env(1) would read as one more variable or an option.
func checkEnv(env []string, prog string) error {
	if len(env) > 0 && (strings.Contains(prog, "=") || strings.HasPrefix(prog, "-")) {
		return fmt.Errorf("program name %q cannot follow environment variables", prog)
	}
	for _, kv := range env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || !validEnvName(name) || strings.IndexByte(kv, 0) >= 0 {
			return fmt.Errorf("invalid environment entry %q", kv)
		}
	}
	return nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Host runs commands on one machine.
type Host interface {
	// Name is the host's name in the configuration (for messages).
	Name() string
	// Run runs c and waits for it. A non-zero exit yields an *ExitError
	// carrying the command's stderr. Cancelling ctx ends the command.
	Run(ctx context.Context, c Cmd) error
	// Close releases connections held for the host.
	Close() error
}

// ExitError reports a command that ran and failed.
type ExitError struct {
	Host   string
	Argv   []string
	Code   int    // -1 when killed by a signal or the exit status was lost
	Signal string // signal that killed the command ("TERM"), if known
	Stderr string
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		if e.Signal != "" {
			msg = "killed by signal " + e.Signal
		} else {
			msg = fmt.Sprintf("exit status %d", e.Code)
		}
	}
	// 126 and 127 are the shell's codes for "cannot execute" and "not
	// found": usually a missing package or PATH on that host.
	switch e.Code {
	case 127:
		msg += " (command not found on " + e.Host + ")"
	case 126:
		msg += " (command not executable on " + e.Host + ")"
	}
	return fmt.Sprintf("%s: %s: %s", e.Host, strings.Join(e.Argv, " "), msg)
}

// ErrUnreachable matches (errors.Is) a command that never started
// because the host could not be connected to: nothing ran there.
var ErrUnreachable = errors.New("host unreachable")

// UnreachableError wraps a failed connection (dial, handshake, host
// key, authentication); its text is the failure's.
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string   { return e.Err.Error() }
func (e *UnreachableError) Unwrap() error   { return e.Err }
func (e *UnreachableError) Is(t error) bool { return t == ErrUnreachable }

// Output runs argv on h and returns its stdout.
func Output(ctx context.Context, h Host, argv ...string) ([]byte, error) {
	var b bytes.Buffer
	if err := h.Run(ctx, Cmd{Argv: argv, Stdout: &b}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
