package main

import (
	"fmt"
	"github.com/fatih/color"
	"time"

	"github.com/spf13/cobra"

	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/render"
)

func init() {
	var (
		f        planFlags
		detailed bool
		format   string
		grace    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "Report how far the hosts are from the configuration (for scheduled jobs)",
		Long: `drift observes the hosts and reports, without planning changes to make:
missed scheduled snapshots, replication lag per edge, diverged targets and
other conflicts, interrupted receives, stale or foreign zplan holds,
replication cursors that no longer match, selected datasets without any
snapshot yet, and snapshots kept past retention.

Exit status: 0 no drift, 1 error, 0 with drift (2 with -detailed-exitcode).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			s, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer s.close()
			p, pol, st, err := s.observeAndPlan(ctx, false)
			if err != nil {
				return err
			}
			r := drift.Detect(drift.Input{Policy: pol, State: st, Plan: p, Now: s.now, Grace: grace})
			w := cmd.OutOrStdout()
			switch {
			case f.json:
				stream := render.NewStream(w)
				stream.Version(version)
				stream.Drift(r)
			case format == "markdown" || format == "md":
				if err := render.DriftMarkdown(w, r); err != nil {
					return err
				}
			case format == "human" || format == "":
				render.NewStyles(!color.NoColor).DriftHuman(w, r)
			default:
				return fmt.Errorf("-format %q: want human or markdown (or -json)", format)
			}
			if detailed && len(r.Findings) > 0 {
				return exitError{2}
			}
			return nil
		},
	}
	f.config.register(cmd)
	cmd.Flags().BoolVar(&f.noColor, "no-color", false, "disable colour")
	cmd.Flags().StringVar(&f.now, "now", "", "check as if the time were this RFC 3339 instant")
	cmd.Flags().BoolVar(&f.json, "json", false, "write drift events, one JSON object per line")
	cmd.Flags().StringVar(&format, "format", "human", "human or markdown")
	cmd.Flags().DurationVar(&grace, "grace", 0, "a snapshot this late after its slot is not drift yet (e.g. 5m, while the scheduled apply runs)")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 without drift, 2 with drift, 1 on errors")
	rootCmd.AddCommand(cmd)
}
