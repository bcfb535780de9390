// Package plancmd is zplan plan.
package plancmd

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/views"
)

// Options are zplan plan's inputs.
type Options struct {
	Factory  *cmdutil.Factory
	Flags    cmdutil.PlanFlags
	Detailed bool
	Out      string
	Format   views.Format
}

// NewCmdPlan builds zplan plan; runF (nil: Run) carries it out, so tests
// can check what the command line parses to.
func NewCmdPlan(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
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

A host that cannot be observed (unreachable, or its zfs list fails) is
reported as host_unobserved conflicts for what depends on it; the other
hosts are planned.

Exit status: 0 no changes, 1 error or conflicts, 0 with changes (see
-detailed-exitcode to get 2 for changes). A crash exits 11.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Format, err = opts.Flags.Output.Resolve(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	opts.Flags.Register(cmd)
	cmd.Flags().BoolVar(&opts.Detailed, "detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are, 1 on errors")
	cmd.Flags().StringVar(&opts.Out, "out", "", "save the plan to this file, for zplan apply FILE")
	return cmd
}

// Run plans, shows the plan and saves it with -out.
func Run(opts *Options) error {
	f := opts.Factory
	if opts.Flags.NoColor {
		f.IO.SetColorEnabled(false)
	}
	v := views.NewPlan(opts.Format, f.View())
	ctx, stop := cmdutil.SignalContext()
	defer stop()
	s, err := opts.Flags.Open(ctx, f)
	if err != nil {
		return err
	}
	defer s.Close()
	full, pol, st, err := s.ObserveAndPlan(ctx, opts.Flags.Explain)
	if err != nil {
		return err
	}
	p := full.Select(opts.Flags.Targets) // as Session.MakePlan

	if f.AfterPlan != nil {
		f.AfterPlan()
	}
	if err := v.Plan(p, opts.Flags.Explain); err != nil {
		return err
	}
	if g, ok := v.(views.Fleet); ok {
		r := drift.Detect(drift.Input{Policy: pol, State: st, Plan: full, Now: s.Now})
		if err := g.Fleet(pol, r); err != nil {
			return err
		}
	}
	if opts.Out != "" {
		if err := planfile.Save(opts.Flags.Config.Path(opts.Out), p, time.Now()); err != nil {
			return err
		}
		v.Saved(opts.Out)
	}
	v.Done(p)
	return cmdutil.PlanExit(p, opts.Detailed)
}
