// Package driftcmd is zplan drift.
package driftcmd

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/views"
)

// Options are zplan drift's inputs.
type Options struct {
	Factory  *cmdutil.Factory
	Flags    cmdutil.PlanFlags // -chdir, -config, -var, -no-color, -now, -format
	Detailed bool
	Grace    time.Duration
	Format   views.Format
}

// NewCmdDrift builds zplan drift; runF (nil: Run) carries it out.
func NewCmdDrift(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "Report how far the hosts are from the configuration (for scheduled jobs)",
		Long: `drift observes the hosts and reports, without planning changes to make:
missed scheduled snapshots, replication lag per edge, diverged targets and
other conflicts, interrupted receives, stale or foreign zplan holds,
replication cursors that no longer match, selected datasets without any
snapshot yet, and snapshots kept past retention.

-format json (or -json) writes one drift event per finding; -format
markdown writes the report for a PR or issue comment; -format openmetrics
writes Prometheus text exposition (zplan_* gauges, no timestamps) for
node_exporter's textfile collector, e.g.
  zplan drift -format openmetrics > /var/lib/prometheus/node-exporter/zplan.prom.$$ &&
  mv /var/lib/prometheus/node-exporter/zplan.prom.$$ /var/lib/prometheus/node-exporter/zplan.prom

Exit status: 0 no drift, 1 error, 0 with drift (2 with -detailed-exitcode).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Format, err = resolveFormat(cmd, &opts.Flags.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	fl := &opts.Flags
	fl.Config.Register(cmd)
	cmd.Flags().BoolVar(&fl.NoColor, "no-color", false, "disable colour")
	cmd.Flags().StringVar(&fl.Now, "now", "", "check as if the time were this RFC 3339 instant")
	fl.Output.Register(cmd, "write drift events, one JSON object per line")
	cmd.Flags().Lookup("format").Usage = "output format: human, json, markdown or openmetrics"
	cmd.Flags().DurationVar(&opts.Grace, "grace", 0, "a snapshot this late after its slot is not drift yet (e.g. 5m, while the scheduled apply runs)")
	cmd.Flags().BoolVar(&opts.Detailed, "detailed-exitcode", false, "exit 0 without drift, 2 with drift, 1 on errors")
	return cmd
}

// resolveFormat is -format with drift's extra openmetrics.
func resolveFormat(cmd *cobra.Command, o *cmdutil.FormatFlags) (views.Format, error) {
	if o.Format != "openmetrics" {
		return o.Resolve(cmd)
	}
	if o.JSON {
		return views.OpenMetrics, cmdutil.UsageError{Msg: "-json and -format openmetrics conflict: give one of them"}
	}
	return views.OpenMetrics, nil
}

// Run observes the hosts and reports the drift.
func Run(opts *Options) error {
	f := opts.Factory
	if opts.Flags.NoColor {
		f.IO.SetColorEnabled(false)
	}
	v := views.NewDrift(opts.Format, f.View())
	ctx, stop := cmdutil.SignalContext()
	defer stop()
	s, err := opts.Flags.Open(ctx, f)
	if err != nil {
		return err
	}
	defer s.Close()
	r, pol, err := s.Drift(ctx, opts.Grace)
	if err != nil {
		return err
	}
	if err := v.Drift(r); err != nil {
		return err
	}
	if g, ok := v.(views.Fleet); ok {
		if err := g.Fleet(pol, r); err != nil {
			return err
		}
	}
	if opts.Detailed && len(r.Findings) > 0 {
		return cmdutil.ErrChanges
	}
	return nil
}
