package main

import (
	"fmt"

	"github.com/fatih/color"
	"github.com/spf13/cobra"

	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/render"
)

func init() {
	var (
		asJSON  bool
		format  string
		noColor bool
	)
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
                    kept below 60,000 characters`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if noColor {
				color.NoColor = true
			}
			if asJSON {
				format = "json"
			}
			f, err := planfile.Load(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch format {
			case "human", "":
				partialWarning(w, f.Plan)
				fmt.Fprintf(w, "Saved plan %s (zplan %s, saved %s)\n\n", args[0], f.ZplanVersion, f.Created.Format("2006-01-02T15:04:05Z"))
				render.NewStyles(!color.NoColor).Human(w, f.Plan, len(f.Plan.Kept) > 0)
				return nil
			case "json":
				return render.ShowJSON(w, f.Plan)
			case "markdown", "md":
				return render.Markdown(w, f.Plan)
			}
			return fmt.Errorf("-format %q: want human, json or markdown", format)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "same as -format json")
	cmd.Flags().StringVar(&format, "format", "human", "human, json or markdown")
	cmd.Flags().BoolVar(&noColor, "no-color", false, "disable colour")
	rootCmd.AddCommand(cmd)
}
