package cmdutil

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/lock"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
)

// PlanFlags are shared by plan and apply (drift and force-unlock use
// some of them).
type PlanFlags struct {
	Config  ConfigFlags
	NoColor bool
	Explain bool
	Now     string
	Targets []string
	Output  FormatFlags
}

// Register adds plan's flags to cmd.
func (f *PlanFlags) Register(cmd *cobra.Command) {
	f.Config.Register(cmd)
	cmd.Flags().BoolVar(&f.NoColor, "no-color", false, "disable colour (also NO_COLOR=1; off when stdout is not a terminal)")
	cmd.Flags().BoolVar(&f.Explain, "explain", false, "also list the snapshots retention keeps, and why")
	cmd.Flags().StringVar(&f.Now, "now", "", "plan as if the time were this RFC 3339 instant (for reproducing a plan)")
	f.Output.Register(cmd, "write machine-readable events, one JSON object per line")
	cmd.Flags().StringArrayVar(&f.Targets, "target", nil, "plan only this action address prefix, host, [HOST:]dataset (with its subtree) or replication id, and what it depends on (repeatable)")
}

// PlanTime is -now, or the clock.
func (f *PlanFlags) PlanTime() (time.Time, error) {
	if f.Now == "" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, f.Now)
	if err != nil {
		return time.Time{}, fmt.Errorf("-now: %w (want e.g. 2026-11-22T12:00:00Z)", err)
	}
	return t.UTC(), nil
}

// SignalContext is cancelled on Ctrl-C or SIGTERM, so running zfs
// commands stop cleanly and partial receives stay resumable.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// Session is a loaded configuration with its hosts open.
type Session struct {
	Cfg   *hclspec.Config
	Hosts map[string]remote.Host
	Close func()
	Now   time.Time // the plan time: -now, or the clock once at start
	// Unobserved are the hosts known unusable, with why: set by apply for
	// a host whose lock it could not take because it is unreachable (it
	// is then not observed at all), and by ObserveAndPlan for every
	// host whose listing failed.
	Unobserved map[string]error
	version    string
}

// ObservedHosts are Hosts without the unobserved ones: what apply may
// run commands on.
func (s *Session) ObservedHosts() map[string]remote.Host {
	out := make(map[string]remote.Host, len(s.Hosts))
	for n, h := range s.Hosts {
		if s.Unobserved[n] == nil {
			out[n] = h
		}
	}
	return out
}

// Open resolves the plan time, loads the configuration and opens its hosts.
func (f *PlanFlags) Open(ctx context.Context, fac *Factory) (*Session, error) {
	now, err := f.PlanTime()
	if err != nil {
		return nil, err
	}
	cfg, err := fac.LoadConfig(&f.Config)
	if err != nil {
		return nil, err
	}
	hosts, closeAll, err := fac.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Session{Cfg: cfg, Hosts: hosts, Close: closeAll, Now: now, version: fac.Version}, nil
}

// MakePlan observes the hosts and computes the plan, narrowed to
// targets when there are any.
func (s *Session) MakePlan(ctx context.Context, explain bool, targets []string) (*plan.Plan, error) {
	p, _, _, err := s.ObserveAndPlan(ctx, explain)
	if err != nil {
		return nil, err
	}
	return p.Select(targets), nil
}

// Drift observes, plans and compares: what drift and graph show.
func (s *Session) Drift(ctx context.Context, grace time.Duration) (*drift.Report, *desired.Policy, error) {
	p, pol, st, err := s.ObserveAndPlan(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	return drift.Detect(drift.Input{Policy: pol, State: st, Plan: p, Now: s.Now, Grace: grace}), pol, nil
}

// ObserveAndPlan also returns the policy and the observed state, which
// drift compares.
func (s *Session) ObserveAndPlan(ctx context.Context, explain bool) (*plan.Plan, *desired.Policy, *observe.State, error) {
	// A host that fails is recorded, not fatal: the planner plans the
	// rest and reports what depends on it as conflicts.
	used := usedHosts(s.Cfg, s.Hosts)
	for n := range s.Unobserved {
		delete(used, n)
	}
	st, err := observe.ObserveAll(ctx, used)
	if err != nil {
		return nil, nil, nil, err
	}
	for n, err := range s.Unobserved {
		st.SetUnobserved(n, err)
	}
	if s.Unobserved == nil {
		s.Unobserved = map[string]error{}
	}
	for n, err := range st.Unobserved {
		s.Unobserved[n] = err
	}
	lock.Hide(st) // apply observes under its lock; no plan acts on it
	pol, err := desired.Resolve(s.Cfg, st)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := diff.Plan(pol, st, s.Now, diff.Options{ZplanVersion: s.version, ConfigHash: s.Cfg.Hash, Explain: explain})
	if err != nil {
		return nil, nil, nil, err
	}
	return p, pol, st, nil
}

// PlanExit maps a plan to the exit status: conflicts are errors (1),
// changes are 2 only with -detailed-exitcode.
func PlanExit(p *plan.Plan, detailed bool) error {
	switch {
	case len(p.Conflicts) > 0:
		return ErrFailed
	case detailed && !p.Empty():
		return ErrChanges
	}
	return nil
}
