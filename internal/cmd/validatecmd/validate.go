// Package validatecmd is zplan validate.
package validatecmd

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/views"
)

// Options are zplan validate's inputs.
type Options struct {
	Factory *cmdutil.Factory
	Config  cmdutil.ConfigFlags
	Output  cmdutil.FormatFlags
	NoColor bool
	Format  views.Format
}

// NewCmdValidate builds zplan validate; runF (nil: Run) carries it out.
func NewCmdValidate(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration without contacting any host",
		Long: `validate reads the configuration (every *.hcl file in the directory, or
one file) and checks it: syntax, block and argument names, types,
references between blocks, dataset names, prefixes, schedules and
retention grids. It contacts no host, so it cannot tell whether datasets
exist; plan does that.

Exit status: 0 valid (warnings allowed), 1 invalid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Format, err = opts.Output.Resolve(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	opts.Config.Register(cmd)
	opts.Output.Register(cmd, "print the result as JSON (terraform validate -json layout) on stdout")
	cmd.Flags().BoolVar(&opts.NoColor, "no-color", false, "disable colour (also NO_COLOR=1; off when stdout is not a terminal)")
	return cmd
}

// Run checks the configuration and shows the result.
func Run(opts *Options) error {
	ios := opts.Factory.IO
	if opts.NoColor {
		ios.SetColorEnabled(false)
	}
	cfg, diags, err := opts.Config.Check()
	if err != nil {
		return err
	}
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files
	}
	if err := views.NewValidate(opts.Format, opts.Factory.View()).Validate(files, diags); err != nil {
		return err
	}
	if diags.HasErrors() {
		return cmdutil.ErrFailed
	}
	return nil
}
