// Package views is what each command shows, in each output format: one
// view per command (plan, apply, show, drift) with a human, a JSON and a
// Markdown implementation, in the manner of terraform's
// internal/command/views. Commands decide; views write. The apply
// progress reporters live here too.
package views

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/iostreams"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/render"
)

// Format is an output format (-format).
type Format int

const (
	Human Format = iota
	JSON
	Markdown
	// OpenMetrics is Prometheus text exposition; only drift writes it
	// (ParseFormat does not accept it: see ParseDriftFormat).
	OpenMetrics
)

func (f Format) String() string {
	switch f {
	case JSON:
		return "json"
	case Markdown:
		return "markdown"
	case OpenMetrics:
		return "openmetrics"
	}
	return "human"
}

// ParseFormat reads a -format value: human, json or markdown (md).
func ParseFormat(s string) (Format, error) {
	switch s {
	case "human", "":
		return Human, nil
	case "json":
		return JSON, nil
	case "markdown", "md":
		return Markdown, nil
	}
	return Human, fmt.Errorf("-format %q: want human, json or markdown", s)
}

// ErrReported is returned by a view that has already reported the error
// in its own format (a JSON diagnostic): the command exits 1 without
// printing it again.
var ErrReported = errors.New("error already reported")

// View is what every view shares: the streams, the colours they allow
// and the zplan version the JSON views name.
type View struct {
	IO      *iostreams.IOStreams
	Version string
	Styles  *render.Styles
}

// New is the base view for streams s; build it after -no-color is read.
func New(s *iostreams.IOStreams, version string) *View {
	return &View{IO: s, Version: version, Styles: render.NewStyles(s.ColorEnabled())}
}

// PartialWarning is printed before and after a -target plan, loudly.
func (v *View) PartialWarning(w io.Writer, p *plan.Plan) {
	if len(p.Targets) == 0 {
		return
	}
	v.IO.Color(color.FgYellow, color.Bold).Fprintf(w, `
Warning: Partial plan (-target %s)

This plan covers only the selected actions and what they depend on. The
rest of the configuration is neither planned nor applied; run zplan plan
without -target to see everything before you rely on the hosts' state.

`, strings.Join(p.Targets, ", -target "))
}

// Fleet is implemented by the Markdown plan and drift views: after the
// report they append the fleet's Mermaid graph, collapsed. Commands call
// it when the view has it.
type Fleet interface {
	Fleet(pol *desired.Policy, r *drift.Report) error
}
