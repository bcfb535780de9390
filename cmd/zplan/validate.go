package main

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/zplan/zplan/views"
)

// ValidateOptions are zplan validate's inputs.
type ValidateOptions struct {
	Factory *factory
	Config  configFlags
	Output  formatFlags
	NoColor bool
	Format  views.Format
}

func newCmdValidate(f *factory) *cobra.Command {
	opts := &ValidateOptions{Factory: f}
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
			if opts.Format, err = opts.Output.resolve(cmd); err != nil {
				return err
			}
			return runValidate(opts)
		},
	}
	opts.Config.register(cmd, f.IO)
	opts.Output.register(cmd, "print the result as JSON (terraform validate -json layout) on stdout")
	cmd.Flags().BoolVar(&opts.NoColor, "no-color", false, "disable colour (also NO_COLOR=1; off when stdout is not a terminal)")
	return cmd
}

func runValidate(opts *ValidateOptions) error {
	ios := opts.Factory.IO
	if opts.NoColor {
		ios.SetColorEnabled(false)
	}
	cfg, diags, err := opts.Config.loadConfig()
	if err != nil {
		return err
	}
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files
	}
	if err := views.NewValidate(opts.Format, opts.Factory.view()).Validate(files, diags); err != nil {
		return err
	}
	if diags.HasErrors() {
		return errReported
	}
	return nil
}
