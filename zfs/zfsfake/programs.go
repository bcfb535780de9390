package zfsfake

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/zplan/zplan/remote"
)

// Program stands in for a program other than zfs on a fake host (a
// snapshot hook's command). The fake does not pretend to be a system: a
// test registers each program it expects by absolute path and decides
// what it does; any other program fails as "not found" (exit 127), as a
// shell says.
type Program func(ctx context.Context, call ProgramCall) (code int, stderr string)

// ProgramCall is one run of a Program: its argv, the environment zplan
// added (remote.Cmd.Env) and its output.
type ProgramCall struct {
	Argv   []string
	Env    []string
	Stdout io.Writer `json:"-"`
}

// Getenv returns the value of NAME in the call's added environment.
func (c ProgramCall) Getenv(name string) string {
	for _, kv := range c.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// AddProgram registers p as the program at path on this host.
func (h *Host) AddProgram(path string, p Program) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if h.programs == nil {
		h.programs = map[string]Program{}
	}
	h.programs[path] = p
}

// ProgramCalls returns every run of a registered program, in order.
func (h *Host) ProgramCalls() []ProgramCall {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	return append([]ProgramCall(nil), h.programCalls...)
}

// ExitProgram is a Program that exits with code and stderr at once.
func ExitProgram(code int, stderr string) Program {
	return func(context.Context, ProgramCall) (int, string) { return code, stderr }
}

// HangingProgram is a Program that runs until its context ends (a hook
// that hangs): the run then fails with the context's error.
func HangingProgram() Program {
	return func(ctx context.Context, _ ProgramCall) (int, string) { <-ctx.Done(); return -1, "" }
}

// runProgram runs a registered program, or fails like a shell when
// there is none; ok is false for zfs and xargs, which the fake interprets.
func (h *Host) runProgram(ctx context.Context, c remote.Cmd) (ok bool, err error) {
	argv := c.Argv
	if len(argv) == 0 || argv[0] == "zfs" || argv[0] == "xargs" {
		return false, nil
	}
	h.w.mu.Lock()
	p := h.programs[argv[0]]
	call := ProgramCall{Argv: append([]string(nil), argv...), Env: append([]string(nil), c.Env...), Stdout: c.Stdout}
	if p != nil {
		h.programCalls = append(h.programCalls, call)
	}
	h.w.mu.Unlock()
	if p == nil {
		if strings.HasPrefix(argv[0], "/") {
			return true, h.exit(argv, 127, fmt.Sprintf("sh: 1: %s: not found", argv[0]))
		}
		return false, nil // the fake zfs says it does not support it
	}
	if call.Stdout == nil {
		call.Stdout = io.Discard
	}
	code, stderr := p(ctx, call)
	if err := ctx.Err(); err != nil {
		return true, fmt.Errorf("%s: %s: %w", h.name, argv[0], err)
	}
	if code != 0 {
		return true, h.exit(argv, code, stderr)
	}
	return true, nil
}
