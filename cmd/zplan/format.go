package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/zplan/zplan/views"
)

// formatFlags are -format and its alias -json, shared by plan, apply,
// show and drift.
type formatFlags struct {
	format string
	json   bool
}

func (o *formatFlags) register(cmd *cobra.Command, jsonHelp string) {
	cmd.Flags().StringVar(&o.format, "format", "human", "output format: human, json or markdown")
	cmd.Flags().BoolVar(&o.json, "json", false, jsonHelp+" (same as -format json)")
}

// resolve is the chosen format; -json with another -format is a usage
// error.
func (o *formatFlags) resolve(cmd *cobra.Command) (views.Format, error) {
	f, err := views.ParseFormat(o.format)
	if err != nil {
		return f, usageError{err.Error()}
	}
	if o.json {
		if cmd.Flags().Changed("format") && f != views.JSON {
			return f, usageError{fmt.Sprintf("-json and -format %s conflict: give one of them", o.format)}
		}
		return views.JSON, nil
	}
	return f, nil
}
