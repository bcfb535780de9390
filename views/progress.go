package views

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/render"
)

// Progress prints one line per finished action. For sends it shows
// bytes, rate and ETA: on a terminal as multi-bar progress (mpb), one
// bar per running send and a total, redrawn in place; otherwise a
// plain line at most every 10 seconds, so CI logs stay readable.
type Progress struct {
	mu     sync.Mutex
	w      io.Writer
	errw   io.Writer
	tty    bool
	errTTY bool // errw is the same terminal: errors go above the bars
	now    func() time.Time
	start  map[string]time.Time
	last   map[string]time.Time
	meters meters
	every  time.Duration
	bars   *terminalBars // tty only
}

// NewProgress reports to w (errors to errw); tty draws send progress
// as bars redrawn in place.
func NewProgress(w, errw io.Writer, tty bool) *Progress {
	p := &Progress{w: w, errw: errw, tty: tty, now: time.Now, start: map[string]time.Time{}, last: map[string]time.Time{}, meters: meters{},
		every: 10 * time.Second}
	if tty {
		p.bars = newTerminalBars(w, func() time.Time { return p.now() })
	}
	return p
}

// ErrorsOnTerminal says errw is the terminal w is: error lines are
// then printed above the running bars instead of under them.
func (p *Progress) ErrorsOnTerminal(on bool) { p.errTTY = on }

// Close ends the bars still drawn (an apply that stopped early); the
// terminal is left with the lines printed so far.
func (p *Progress) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bars != nil {
		p.bars.close()
	}
}

// verb is what the progress says while an action of kind k runs.
func verb(k plan.Kind) string {
	info, _ := k.Info()
	return info.Verb
}

// sendStatus is bytes, the moving-window rate and, once it means
// something (see meter.eta), the ETA of a send so far.
func sendStatus(a *plan.Action, m *meter, now time.Time) string {
	rate := m.rateAt(now)
	line := fmt.Sprintf("%s sent, %s/s", plan.HumanBytes(m.bytes), plan.HumanBytes(int64(rate)))
	if a.Estimate > 0 {
		pct := min(100*float64(m.bytes)/float64(a.Estimate), 100)
		line = fmt.Sprintf("%s of ~%s (%.0f%%), %s/s", plan.HumanBytes(m.bytes), plan.HumanBytes(a.Estimate), pct, plan.HumanBytes(int64(rate)))
		if d, ok := m.eta(now, a.Estimate); ok {
			line += ", ETA " + d.String()
		}
	}
	return line
}

// meters keeps one meter per running send, started at its start event.
type meters map[string]*meter

func (ms meters) add(addr string, start, now time.Time, bytes int64) *meter {
	m := ms[addr]
	if m == nil {
		m = &meter{start: start}
		ms[addr] = m
	}
	m.add(now, bytes)
	return m
}

// line prints one finished line: above the bars while they are drawn.
func (p *Progress) line(toErr bool, format string, args ...any) {
	if p.bars != nil && (!toErr || p.errTTY) && p.bars.live() {
		p.bars.println(fmt.Sprintf(format, args...))
		return
	}
	w := p.w
	if toErr {
		w = p.errw
	}
	fmt.Fprintf(w, format+"\n", args...)
}

// Report implements apply.Reporter.
func (p *Progress) Report(e apply.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := e.Action
	now := p.now()
	switch e.Kind {
	case apply.EventStart:
		p.start[a.Address] = now
		p.line(false, "%s: %s...", a.Address, verb(a.Kind))
	case apply.EventProgress:
		if p.bars != nil {
			p.bars.progress(a, e.Bytes, p.start[a.Address])
			return
		}
		m := p.meters.add(a.Address, p.start[a.Address], now, e.Bytes)
		if now.Sub(p.last[a.Address]) < p.every {
			return
		}
		p.last[a.Address] = now
		fmt.Fprintf(p.w, "%s: %s\n", a.Address, sendStatus(a, m, now))
	case apply.EventDone:
		if p.bars != nil {
			p.bars.end(a, true)
		}
		if e.AlreadyDone {
			p.line(false, "%s: already done", a.Address)
		} else {
			p.line(false, "%s: done after %s", a.Address, now.Sub(p.start[a.Address]).Round(time.Millisecond))
		}
		p.settle()
	case apply.EventHook:
		p.line(e.Err != nil, "%s: %s", a.Address, hookStatus(e))
	default:
		if p.bars != nil {
			p.bars.end(a, false)
		}
		p.line(true, "%s: %s: %v", a.Address, e.Kind, e.Err)
		p.settle()
	}
}

// settle takes the bars off the terminal when no send is running.
func (p *Progress) settle() {
	if p.bars != nil && p.bars.idle() {
		p.bars.close()
	}
}

// bar is a 20-cell progress bar ("[=====>     ]").
func bar(n, total int64) string {
	const width = 20
	if total <= 0 {
		return "[" + strings.Repeat("?", width) + "]"
	}
	fill := int(min(float64(n)/float64(total), 1) * width)
	b := strings.Repeat("=", fill)
	if fill < width {
		b += ">" + strings.Repeat(" ", width-fill-1)
	}
	return "[" + b + "]"
}

// JSONProgress turns apply events into apply_* stream lines; send
// progress at most once a second per action.
type JSONProgress struct {
	mu     sync.Mutex
	s      *render.Stream
	start  map[string]time.Time
	last   map[string]time.Time
	meters meters
}

// NewJSONProgress reports to s.
func NewJSONProgress(s *render.Stream) *JSONProgress {
	return &JSONProgress{s: s, start: map[string]time.Time{}, last: map[string]time.Time{}, meters: meters{}}
}

// Report implements apply.Reporter.
func (j *JSONProgress) Report(e apply.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	a := e.Action
	now := j.s.Now()
	hook := map[string]any{"resource": render.Resource(a), "action": render.ChangeAction(a.Kind)}
	switch e.Kind {
	case apply.EventStart:
		j.start[a.Address] = now
		j.s.Emit("info", "apply_start", a.Address+": "+verb(a.Kind)+"...", map[string]any{"hook": hook})
	case apply.EventProgress:
		m := j.meters.add(a.Address, j.start[a.Address], now, e.Bytes)
		if now.Sub(j.last[a.Address]) < time.Second {
			return
		}
		j.last[a.Address] = now
		hook["bytes"] = e.Bytes
		hook["estimate"] = a.Estimate
		hook["bytes_per_second"] = int64(m.rateAt(now))
		hook["elapsed_seconds"] = now.Sub(j.start[a.Address]).Seconds()
		if d, ok := m.eta(now, a.Estimate); ok {
			hook["eta_seconds"] = int64(d.Seconds())
		}
		j.s.Emit("info", "apply_progress", a.Address+": "+sendStatus(a, m, now), map[string]any{"hook": hook})
	case apply.EventDone:
		hook["already_done"] = e.AlreadyDone
		hook["elapsed_seconds"] = now.Sub(j.start[a.Address]).Seconds()
		msg := a.Address + ": done"
		if e.AlreadyDone {
			msg = a.Address + ": already done"
		}
		j.s.Emit("info", "apply_complete", msg, map[string]any{"hook": hook})
	case apply.EventHook:
		// "hook" is the terraform-style name of the action's block; the
		// snapshot hook that ran is "snapshot_hook".
		h := e.Hook
		sh := map[string]any{"policy": h.Hook.Policy, "name": h.Hook.Name, "phase": string(h.Phase), "elapsed_seconds": h.Elapsed.Seconds(), "continued": h.Continued}
		level := "info"
		if e.Err != nil {
			sh["error"] = e.Err.Error()
			level = "error"
			if h.Continued {
				level = "warn"
			}
		}
		j.s.Emit(level, "apply_snapshot_hook", a.Address+": "+hookStatus(e), map[string]any{"hook": hook, "snapshot_hook": sh})
	default:
		hook["outcome"] = string(e.Kind)
		hook["stale"] = errors.Is(e.Err, apply.ErrStale)
		hook["error"] = fmt.Sprint(e.Err)
		level := "error"
		if e.Kind == apply.EventSkipped {
			level = "warn"
		}
		j.s.Emit(level, "apply_errored", fmt.Sprintf("%s: %s: %v", a.Address, e.Kind, e.Err), map[string]any{"hook": hook})
	}
}

// hookStatus is one line about a hook command that finished.
func hookStatus(e apply.Event) string {
	h := e.Hook
	what := fmt.Sprintf("hook %s %s", h.Hook.Name, h.Phase)
	switch {
	case e.Err == nil:
		return fmt.Sprintf("%s done after %s", what, h.Elapsed.Round(time.Millisecond))
	case h.Continued:
		return fmt.Sprintf("%s failed, snapshotting anyway (on_pre_failure = \"continue\"): %v", what, e.Err)
	}
	return fmt.Sprintf("%s failed: %v", what, e.Err)
}
