package main

import (
	"encoding/json"
	"fmt"

	"github.com/fatih/color"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
)

// ValidateOptions are zplan validate's inputs.
type ValidateOptions struct {
	Factory *factory
	Config  configFlags
	JSON    bool
	NoColor bool
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
		RunE: func(*cobra.Command, []string) error { return runValidate(opts) },
	}
	opts.Config.register(cmd, f.IO)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the result as JSON (terraform validate -json layout) on stdout")
	cmd.Flags().BoolVar(&opts.NoColor, "no-color", false, "disable colour (also NO_COLOR=1; off when stdout is not a terminal)")
	return cmd
}

func runValidate(opts *ValidateOptions) error {
	ios := opts.Factory.IO
	if opts.NoColor {
		ios.SetColorEnabled(false)
	}
	cfg, diags, err := opts.Config.loadDiags()
	if err != nil {
		return err
	}
	out := ios.Out
	if opts.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(validateJSON(diags)); err != nil {
			return fmt.Errorf("writing JSON: %w", err)
		}
	} else {
		if len(diags) > 0 {
			w := ios.ErrOut
			if !diags.HasErrors() {
				w = out // only warnings: they belong with the success line
			}
			writeDiags(ios, w, cfg.Files, diags)
		}
		if !diags.HasErrors() {
			fmt.Fprintln(out, ios.Color(color.FgGreen, color.Bold).Sprint("Success!")+" The configuration is valid.")
		}
	}
	if diags.HasErrors() {
		return errReported
	}
	return nil
}

// The JSON layout follows terraform validate -json, so tools that read
// one can read the other.
type jsonValidate struct {
	FormatVersion string     `json:"format_version"`
	Valid         bool       `json:"valid"`
	ErrorCount    int        `json:"error_count"`
	WarningCount  int        `json:"warning_count"`
	Diagnostics   []jsonDiag `json:"diagnostics"`
}

type jsonDiag struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *jsonRange `json:"range,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

func validateJSON(diags hcl.Diagnostics) jsonValidate {
	out := jsonValidate{FormatVersion: "1.0", Diagnostics: []jsonDiag{}}
	for _, d := range diags {
		jd := jsonDiag{Severity: "warning", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagError {
			jd.Severity = "error"
			out.ErrorCount++
		} else {
			out.WarningCount++
		}
		if d.Subject != nil {
			s := d.Subject
			jd.Range = &jsonRange{Filename: s.Filename,
				Start: jsonPos{s.Start.Line, s.Start.Column, s.Start.Byte},
				End:   jsonPos{s.End.Line, s.End.Column, s.End.Byte}}
		}
		out.Diagnostics = append(out.Diagnostics, jd)
	}
	out.Valid = out.ErrorCount == 0
	return out
}
