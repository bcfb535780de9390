// Package showcmd is zplan show.
package showcmd

import (
	"github.com/spf13/cobra"

	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/views"
)

// Options are zplan show's inputs.
type Options struct {
	Factory  *cmdutil.Factory
	PlanFile string
	Output   cmdutil.FormatFlags
	NoColor  bool
	Format   views.Format
}

// NewCmdShow builds zplan show; runF (nil: Run) carries it out.
func NewCmdShow(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "show PLANFILE",
		Short: "Show a saved plan (human, JSON for policies, Markdown for PR comments)",
		Long: `show renders a plan saved with zplan plan -out again, without reading the
configuration or contacting any host.

  -format human     the plan as zplan plan prints it (default)
  -format json      (or -json) a JSON document shaped like terraform show -json:
                    format_version, zplan_version, resource_changes[] with
                    address, type, change.actions, change.before/after and
                    action_reason, plus summary, conflicts and the raw actions
  -format markdown  for a PR comment: summary, a warning when snapshots are
                    destroyed, a table per host, the full plan in <details>,
                    kept below 60,000 characters

On a terminal, -format human goes through the pager ZPLAN_PAGER names (a
shell command, e.g. "less"), if it is set.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Format, err = opts.Output.Resolve(cmd); err != nil {
				return err
			}
			opts.PlanFile = args[0]
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	opts.Output.Register(cmd, "write the plan as one JSON document shaped like terraform show -json")
	cmd.Flags().BoolVar(&opts.NoColor, "no-color", false, "disable colour")
	return cmd
}

// Run renders the saved plan.
func Run(opts *Options) error {
	f := opts.Factory
	if opts.NoColor {
		f.IO.SetColorEnabled(false)
	}
	file, err := planfile.Load(opts.PlanFile)
	if err != nil {
		return err
	}
	if opts.Format == views.Human { // a long saved plan, read at leisure
		if err := f.IO.StartPager(); err != nil {
			return err
		}
		defer f.IO.StopPager()
	}
	return views.NewShow(opts.Format, f.View()).Show(opts.PlanFile, file)
}
