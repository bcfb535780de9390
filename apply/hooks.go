package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

// HookPhase is which command of a hook ran.
type HookPhase string

const (
	HookPre  HookPhase = "pre"
	HookPost HookPhase = "post"
)

// HookRun reports one hook command that finished (an EventHook).
type HookRun struct {
	Hook    plan.Hook
	Phase   HookPhase
	Elapsed time.Duration
	// Continued: the pre command failed and on_pre_failure = "continue"
	// took the snapshot anyway.
	Continued bool
}

// HookError is a hook command that failed: it exited non-zero, timed out
// or could not run.
type HookError struct {
	Host     string
	Hook     plan.Hook
	Phase    HookPhase
	Code     int    // exit status; -1 when killed, timed out or not known
	TimedOut bool   // stopped after the hook's timeout
	Stderr   string // the last lines of its stderr
	Err      error  // what the transport said
}

func (e *HookError) Error() string {
	argv := e.Hook.Pre
	if e.Phase == HookPost {
		argv = e.Hook.Post
	}
	what := fmt.Sprintf("hook %s (snapshots.%s) %s on %s: %s", e.Hook.Name, e.Hook.Policy, e.Phase, e.Host, plan.ArgvString(argv))
	var why string
	var ee *remote.ExitError
	switch {
	case e.TimedOut:
		why = fmt.Sprintf("no result within its timeout of %s, stopped", e.Hook.Timeout)
	case errors.As(e.Err, &ee):
		why = fmt.Sprintf("exit status %d", e.Code)
		switch {
		case ee.Signal != "":
			why = "killed by signal " + ee.Signal
		case e.Code < 0:
			why = "exit status lost"
		}
		switch e.Code {
		case 127:
			why += " (not found on " + e.Host + ")"
		case 126:
			why += " (not executable on " + e.Host + ")"
		}
	default:
		why = e.Err.Error()
	}
	if e.Stderr != "" {
		why += ": " + e.Stderr
	}
	return what + ": " + why
}

func (e *HookError) Unwrap() error { return e.Err }

// hookStderrLines is how much of a failed hook's stderr its error keeps:
// the end, where programs say why they stop.
const hookStderrLines = 5

// lastLines keeps the last n lines of s, at most 2000 bytes, with control
// characters other than newline and tab shown as '?': the hook's output
// is host text and goes to the operator's terminal.
func lastLines(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '?'
		}
		return r
	}, s)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, "\n")
	if len(out) > 2000 {
		cut := len(out) - 2000
		for cut < len(out) && !utf8.RuneStart(out[cut]) {
			cut++
		}
		out = "…" + out[cut:]
	}
	return strings.TrimSpace(out)
}

// doSnapshot runs each hook's pre command in declaration order, then
// the snapshot, then the post command of every hook whose pre succeeded
// (or that has none), in reverse order, whatever became of the
// snapshot. A failed pre stops there, and no snapshot is taken, unless
// its hook says on_pre_failure = "continue".
func (r *runner) doSnapshot(a *plan.Action) error {
	var (
		ready   []plan.Hook // post must run for these
		preErr  error
		snapErr error
	)
	for _, h := range a.Hooks {
		if len(h.Pre) > 0 {
			err := r.runHook(r.ctx, a, h, HookPre, "")
			if err != nil && (h.OnPreFailure != plan.PreFailureContinue || r.ctx.Err() != nil) {
				preErr = fmt.Errorf("snapshot not taken: %w", err)
				break
			}
			if err != nil {
				continue // reported (Continued); its post does not undo a pre that failed
			}
		}
		ready = append(ready, h)
	}
	status := "skipped"
	if preErr == nil {
		snapErr = r.zfs(a.Host, zfs.SnapshotArgv(newSnapshots(a)...))
		status = "created"
		if snapErr != nil {
			status = "failed"
		}
	}
	// Post commands undo what pre did (a thaw after a freeze), so they run
	// even when apply is being interrupted; their timeout bounds them.
	postCtx := context.WithoutCancel(r.ctx)
	var postErrs []error
	for i := len(ready) - 1; i >= 0; i-- {
		if h := ready[i]; len(h.Post) > 0 {
			if err := r.runHook(postCtx, a, h, HookPost, status); err != nil {
				postErrs = append(postErrs, err)
			}
		}
	}
	first := preErr
	if first == nil {
		first = snapErr
	}
	return errors.Join(append([]error{first}, postErrs...)...)
}

// runHook runs one command of h on the action's host with the hook's
// timeout and its environment, and reports it.
func (r *runner) runHook(ctx context.Context, a *plan.Action, h plan.Hook, phase HookPhase, status string) error {
	argv := h.Pre
	if phase == HookPost {
		argv = h.Post
	}
	timeout, err := h.TimeoutDuration()
	if err != nil {
		return err
	}
	env := []string{
		"ZPLAN_POLICY=" + h.Policy,
		"ZPLAN_HOOK=" + h.Name,
		"ZPLAN_PHASE=" + string(phase),
		"ZPLAN_HOST=" + a.Host,
		"ZPLAN_POOL=" + a.Dataset,
		"ZPLAN_SNAPSHOT=" + a.Snapshots[0].Name,
		// Dataset names may contain spaces, never newlines (zplan refuses
		// such names), so one per line.
		"ZPLAN_DATASETS=" + strings.Join(h.Datasets, "\n"),
	}
	if phase == HookPost {
		env = append(env, "ZPLAN_SNAPSHOT_STATUS="+status)
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	err = r.hosts[a.Host].Run(hctx, remote.Cmd{Argv: argv, Env: env})
	run := &HookRun{Hook: h, Phase: phase, Elapsed: time.Since(start)}
	if err != nil {
		he := &HookError{Host: a.Host, Hook: h, Phase: phase, Code: -1, Err: err}
		var ee *remote.ExitError
		switch {
		case errors.As(err, &ee):
			he.Code, he.Stderr = ee.Code, lastLines(ee.Stderr, hookStderrLines)
		case hctx.Err() != nil && ctx.Err() == nil:
			he.TimedOut = true
		}
		err = he
		run.Continued = phase == HookPre && h.OnPreFailure == plan.PreFailureContinue && r.ctx.Err() == nil
	}
	r.opts.Reporter.Report(Event{Kind: EventHook, Action: a, Hook: run, Err: err})
	return err
}
