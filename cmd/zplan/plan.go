package main

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
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/lock"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/views"
)

// planFlags are shared by plan and apply.
type planFlags struct {
	config  configFlags
	noColor bool
	explain bool
	now     string
	targets []string
	output  formatFlags
}

func (f *planFlags) register(cmd *cobra.Command, fac *factory) {
	f.config.register(cmd, fac.IO)
	cmd.Flags().BoolVar(&f.noColor, "no-color", false, "disable colour (also NO_COLOR=1; off when stdout is not a terminal)")
	cmd.Flags().BoolVar(&f.explain, "explain", false, "also list the snapshots retention keeps, and why")
	cmd.Flags().StringVar(&f.now, "now", "", "plan as if the time were this RFC 3339 instant (for reproducing a plan)")
	f.output.register(cmd, "write machine-readable events, one JSON object per line")
	cmd.Flags().StringArrayVar(&f.targets, "target", nil, "plan only this action address prefix, host, [HOST:]dataset (with its subtree) or replication id, and what it depends on (repeatable)")
}

func (f *planFlags) planTime() (time.Time, error) {
	if f.now == "" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, f.now)
	if err != nil {
		return time.Time{}, fmt.Errorf("-now: %w (want e.g. 2026-11-22T12:00:00Z)", err)
	}
	return t.UTC(), nil
}

// signalContext is cancelled on Ctrl-C or SIGTERM, so running zfs
// commands stop cleanly and partial receives stay resumable.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// session is a loaded configuration with its hosts open.
type session struct {
	cfg     *hclspec.Config
	hosts   map[string]remote.Host
	close   func()
	now     time.Time // the plan time: -now, or the clock once at start
	version string
}

// open resolves the plan time, loads the configuration and opens its hosts.
func (f *planFlags) open(ctx context.Context, fac *factory) (*session, error) {
	now, err := f.planTime()
	if err != nil {
		return nil, err
	}
	cfg, err := f.config.load()
	if err != nil {
		return nil, err
	}
	hosts, closeAll, err := fac.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &session{cfg: cfg, hosts: hosts, close: closeAll, now: now, version: fac.Version}, nil
}

// makePlan observes the hosts and computes the plan, narrowed to
// targets when there are any.
func (s *session) makePlan(ctx context.Context, explain bool, targets []string) (*plan.Plan, error) {
	p, _, _, err := s.observeAndPlan(ctx, explain)
	if err != nil {
		return nil, err
	}
	return p.Select(targets), nil
}

// observeAndPlan also returns the policy and the observed state, which
// drift compares.
func (s *session) observeAndPlan(ctx context.Context, explain bool) (*plan.Plan, *desired.Policy, *observe.State, error) {
	st, err := observe.Observe(ctx, usedHosts(s.cfg, s.hosts))
	if err != nil {
		return nil, nil, nil, err
	}
	lock.Hide(st) // apply observes under its lock; no plan acts on it
	pol, err := desired.Resolve(s.cfg, st)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := diff.Plan(pol, st, s.now, diff.Options{ZplanVersion: s.version, ConfigHash: s.cfg.Hash, Explain: explain})
	if err != nil {
		return nil, nil, nil, err
	}
	return p, pol, st, nil
}

// PlanOptions are zplan plan's inputs.
type PlanOptions struct {
	Factory  *factory
	Flags    planFlags
	Detailed bool
	Out      string
	Format   views.Format
}

func newCmdPlan(f *factory) *cobra.Command {
	opts := &PlanOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show the actions that would bring the hosts to the configuration",
		Long: `plan observes the hosts (one zfs list per host), compares them with the
configuration and prints the actions apply would take, in order, each with
the rule or schedule that demands it. It changes nothing.

-out FILE saves the plan for zplan apply FILE, which carries out exactly
those actions (see zplan show to render it again). -format json (or -json)
writes events, one JSON object per line, instead of text; -format markdown
writes the plan for a PR comment.

Exit status: 0 no changes, 1 error or conflicts, 0 with changes (see
-detailed-exitcode to get 2 for changes). A crash exits 11.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Format, err = opts.Flags.output.resolve(cmd); err != nil {
				return err
			}
			return runPlan(opts)
		},
	}
	opts.Flags.register(cmd, f)
	cmd.Flags().BoolVar(&opts.Detailed, "detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are, 1 on errors")
	cmd.Flags().StringVar(&opts.Out, "out", "", "save the plan to this file, for zplan apply FILE")
	return cmd
}

func runPlan(opts *PlanOptions) error {
	f := opts.Factory
	if opts.Flags.noColor {
		f.IO.SetColorEnabled(false)
	}
	v := views.NewPlan(opts.Format, f.view())
	ctx, stop := signalContext()
	defer stop()
	s, err := opts.Flags.open(ctx, f)
	if err != nil {
		return err
	}
	defer s.close()
	p, err := s.makePlan(ctx, opts.Flags.explain, opts.Flags.targets)
	if err != nil {
		return err
	}
	if f.AfterPlan != nil {
		f.AfterPlan()
	}
	if err := v.Plan(p, opts.Flags.explain); err != nil {
		return err
	}
	if opts.Out != "" {
		if err := planfile.Save(opts.Flags.config.path(opts.Out), p, time.Now()); err != nil {
			return err
		}
		v.Saved(opts.Out)
	}
	v.Done(p)
	return planExit(p, opts.Detailed)
}

// planExit maps a plan to the exit status: conflicts are errors (1),
// changes are 2 only with -detailed-exitcode.
func planExit(p *plan.Plan, detailed bool) error {
	switch {
	case len(p.Conflicts) > 0:
		return errReported
	case detailed && !p.Empty():
		return errChanges
	}
	return nil
}
