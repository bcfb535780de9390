// Package apply executes a plan: actions in dependency order with bounded
// parallelism, each one's preconditions re-checked on the hosts just
// before it runs. It decides nothing new; a stale action is refused.
package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
)

// EventKind says what happened to an action.
type EventKind string

const (
	EventStart    EventKind = "start"
	EventProgress EventKind = "progress" // Bytes so far of a send
	EventDone     EventKind = "done"
	EventFailed   EventKind = "failed"  // Err says why
	EventRefused  EventKind = "refused" // a precondition no longer holds; Err says which
	EventSkipped  EventKind = "skipped" // a dependency did not complete
	// EventHook: a hook command of a running snapshot action finished
	// (Hook says which; Err is nil when it succeeded). The action's own
	// outcome follows as usual.
	EventHook EventKind = "hook"
)

// Event reports progress. Core packages never print; the CLI renders events.
type Event struct {
	Kind   EventKind
	Action *plan.Action
	Bytes  int64 // EventProgress: bytes relayed so far
	Err    error
	// AlreadyDone marks an EventDone for an action an earlier apply of
	// the same saved plan had already carried out.
	AlreadyDone bool
	// Hook is set on an EventHook.
	Hook *HookRun
}

// Reporter receives events; it must be safe for concurrent use.
type Reporter interface{ Report(Event) }

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(Event)

func (f ReporterFunc) Report(e Event) { f(e) }

// Options tune an apply.
type Options struct {
	// Parallelism bounds how many actions run at once (default 4).
	Parallelism int
	Reporter    Reporter
	// Resume recognises actions an earlier, interrupted apply of the same
	// saved plan already did. It costs a lookup per action, so a plan made
	// moments ago (which nothing can have applied yet) skips it.
	Resume bool
	// Wire are the relay settings by replication id (wire.go); Bandwidth
	// caps all sends of the apply together (bytes/s; 0: none).
	Wire      map[string]Wire
	Bandwidth int64
}

// Result counts what happened.
type Result struct {
	Done, Failed, Refused, Skipped int
	// AlreadyDone counts the Done actions that needed nothing (re-applied plan).
	AlreadyDone int
}

// ActionError is what went wrong with one action: Address names the
// action, Err says why (a *StaleError when it was refused). Its text is
// "ADDRESS: reason"; callers that need the address use the field.
type ActionError struct {
	Address string
	Err     error
}

func (e *ActionError) Error() string { return e.Address + ": " + e.Err.Error() }
func (e *ActionError) Unwrap() error { return e.Err }

// ErrStale marks a refused action whose preconditions no longer hold.
var ErrStale = errors.New("saved plan is stale")

// Apply runs the plan's actions on hosts (by host name). It returns an
// error if any action failed, was refused or skipped, or ctx ended.
func Apply(ctx context.Context, p *plan.Plan, hosts map[string]remote.Host, opts Options) (Result, error) {
	if opts.Parallelism <= 0 {
		opts.Parallelism = 4
	}
	if opts.Reporter == nil {
		opts.Reporter = ReporterFunc(func(Event) {})
	}
	// A plan read from a file may lack fields the workers index: refuse
	// it whole, before anything runs (planfile.Validate says more).
	if errs := p.CheckGraph(); len(errs) > 0 {
		return Result{}, fmt.Errorf("malformed plan: %w", errors.Join(errs...))
	}
	for _, a := range p.Actions {
		if err := a.CheckShape(); err != nil {
			return Result{}, fmt.Errorf("malformed plan: %w", err)
		}
	}
	for _, a := range p.Actions {
		for _, h := range actionHosts(a) {
			if hosts[h] == nil {
				return Result{}, fmt.Errorf("action %s needs host %q, which the configuration does not define", a.Address, h)
			}
		}
	}
	r := &runner{ctx: ctx, hosts: hosts, opts: opts, lim: newLimiters(opts), state: map[string]EventKind{}}
	return r.run(p.Actions)
}

func actionHosts(a *plan.Action) []string {
	hs := []string{a.Host}
	if a.Send != nil {
		hs = append(hs, a.Send.TargetHost)
	}
	for _, pc := range a.Preconditions {
		hs = append(hs, pc.Host)
	}
	return hs
}

type runner struct {
	ctx   context.Context
	hosts map[string]remote.Host
	opts  Options
	lim   *limiters

	mu    sync.Mutex
	state map[string]EventKind // final state of each finished action
	res   Result
	errs  []error
}

// run schedules actions as their dependencies finish. Actions arrive
// sorted, dependencies first, which keeps the order deterministic.
func (r *runner) run(actions []*plan.Action) (Result, error) {
	sem := make(chan struct{}, r.opts.Parallelism)
	done := make(map[string]chan struct{}, len(actions))
	for _, a := range actions {
		done[a.Address] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for _, a := range actions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[a.Address])
			for _, d := range a.DependsOn {
				<-done[d]
			}
			if bad := r.failedDep(a); bad != "" {
				r.finish(Event{Kind: EventSkipped, Action: a, Err: fmt.Errorf("%s: skipped because %s did not complete", a.Address, bad)})
				return
			}
			select {
			case sem <- struct{}{}:
			case <-r.ctx.Done():
				r.finish(Event{Kind: EventSkipped, Action: a, Err: fmt.Errorf("%s: not started: %w", a.Address, r.ctx.Err())})
				return
			}
			defer func() { <-sem }()
			if err := r.ctx.Err(); err != nil {
				r.finish(Event{Kind: EventSkipped, Action: a, Err: fmt.Errorf("%s: not started: %w", a.Address, err)})
				return
			}
			r.opts.Reporter.Report(Event{Kind: EventStart, Action: a})
			r.finish(r.executeGuarded(a))
		}()
	}
	wg.Wait()
	if len(r.errs) > 0 {
		return r.res, errors.Join(r.errs...)
	}
	if err := r.ctx.Err(); err != nil {
		return r.res, fmt.Errorf("apply interrupted: %w", err)
	}
	if r.res.Skipped > 0 {
		return r.res, fmt.Errorf("%d action(s) skipped", r.res.Skipped)
	}
	return r.res, nil
}

func (r *runner) failedDep(a *plan.Action) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range a.DependsOn {
		if r.state[d] != EventDone {
			return d
		}
	}
	return ""
}

func (r *runner) finish(e Event) {
	r.mu.Lock()
	r.state[e.Action.Address] = e.Kind
	switch e.Kind {
	case EventDone:
		r.res.Done++
		if e.AlreadyDone {
			r.res.AlreadyDone++
		}
	case EventFailed:
		r.res.Failed++
	case EventRefused:
		r.res.Refused++
	case EventSkipped:
		r.res.Skipped++
	}
	if e.Err != nil && e.Kind != EventSkipped {
		r.errs = append(r.errs, e.Err)
	}
	r.mu.Unlock()
	r.opts.Reporter.Report(e)
}

// executeGuarded turns a panic in one action into its failure: a panic
// in a worker goroutine would kill the process past main's recover,
// with other sends still running.
func (r *runner) executeGuarded(a *plan.Action) (e Event) {
	defer func() {
		if v := recover(); v != nil {
			e = Event{Kind: EventFailed, Action: a, Err: &ActionError{Address: a.Address, Err: fmt.Errorf("internal error (this is a bug in zplan): %v", v)}}
		}
	}()
	return r.execute(a)
}

func (r *runner) execute(a *plan.Action) Event {
	done, err := false, error(nil)
	if r.opts.Resume {
		done, err = r.alreadyDone(a)
	}
	if errors.Is(err, ErrStale) {
		return Event{Kind: EventRefused, Action: a, Err: &ActionError{Address: a.Address, Err: err}}
	}
	if err != nil {
		return Event{Kind: EventFailed, Action: a, Err: &ActionError{Address: a.Address, Err: err}}
	}
	if done {
		if a.Kind.IsSend() {
			// The data arrived; the bookkeeping after it may not have.
			// Every step of it repeats harmlessly.
			if err := r.sendBookkeeping(a); err != nil {
				return Event{Kind: EventFailed, Action: a, Err: &ActionError{Address: a.Address, Err: err}}
			}
		}
		return Event{Kind: EventDone, Action: a, AlreadyDone: true}
	}
	f, err := r.checkPreconditions(a)
	if err != nil {
		return Event{Kind: EventRefused, Action: a, Err: &ActionError{Address: a.Address, Err: err}}
	}
	if err := r.do(a, f); err != nil {
		return Event{Kind: EventFailed, Action: a, Err: &ActionError{Address: a.Address, Err: err}}
	}
	return Event{Kind: EventDone, Action: a}
}
