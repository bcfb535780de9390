// Package graphcmd is zplan graph.
package graphcmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/render"
)

// Options are zplan graph's inputs.
type Options struct {
	Factory *cmdutil.Factory
	Flags   cmdutil.PlanFlags // -chdir, -config, -var, -now (Output unused)
	Grace   time.Duration
	Format  string // mermaid or dot
}

// NewCmdGraph builds zplan graph; runF (nil: Run) carries it out.
func NewCmdGraph(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Draw the fleet: hosts, snapshot policies, datasets and replication edges with their lag and conflicts",
		Long: `graph observes the hosts as drift does (observe, plan, drift) and draws
the configuration with what it found: a box per host with its datasets
(and the age of each one's newest managed snapshot), a node per snapshots
policy linked to its datasets, and an arrow per replication edge labelled
in sync, with its lag and snapshots behind, or BLOCKED with the conflict
kinds (red).

-format mermaid (default) writes a Mermaid flowchart (GitHub and GitLab
render it inside Markdown); -format dot writes Graphviz DOT, e.g.
  zplan graph -format dot | dot -Tsvg > fleet.svg

Changes nothing. Exit status: 0, or 1 on errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Format != "mermaid" && opts.Format != "dot" {
				return cmdutil.UsageError{Msg: fmt.Sprintf("-format %q: want mermaid or dot", opts.Format)}
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	fl := &opts.Flags
	fl.Config.Register(cmd)
	cmd.Flags().StringVar(&fl.Now, "now", "", "draw as if the time were this RFC 3339 instant")
	cmd.Flags().StringVar(&opts.Format, "format", "mermaid", "output format: mermaid or dot")
	cmd.Flags().DurationVar(&opts.Grace, "grace", 0, "a snapshot this late after its slot is not overdue yet (as drift -grace)")
	return cmd
}

// Run observes the hosts and draws the fleet.
func Run(opts *Options) error {
	f := opts.Factory
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
	if opts.Format == "dot" {
		return render.GraphDOT(f.IO.Out, pol, r)
	}
	return render.GraphMermaid(f.IO.Out, pol, r)
}
