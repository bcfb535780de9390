package views

import (
	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/render"
)

// Drift is the view of zplan drift.
type Drift interface {
	Drift(r *drift.Report) error
}

// NewDrift is the drift view in format f.
func NewDrift(f Format, v *View) Drift {
	switch f {
	case JSON:
		return driftJSON{v}
	case Markdown:
		return driftMarkdown{v}
	case OpenMetrics:
		return driftMetrics{v}
	}
	return driftHuman{v}
}

type driftHuman struct{ *View }

func (v driftHuman) Drift(r *drift.Report) error {
	v.Styles.DriftHuman(v.IO.Out, r)
	return nil
}

type driftJSON struct{ *View }

func (v driftJSON) Drift(r *drift.Report) error {
	s := render.NewStream(v.IO.Out)
	s.Version(v.Version)
	s.Drift(r)
	return nil
}

type driftMarkdown struct{ *View }

func (v driftMarkdown) Drift(r *drift.Report) error { return render.DriftMarkdown(v.IO.Out, r) }

type driftMetrics struct{ *View }

func (v driftMetrics) Drift(r *drift.Report) error { return render.DriftMetrics(v.IO.Out, r) }

func (v driftMarkdown) Fleet(pol *desired.Policy, r *drift.Report) error {
	return render.GraphMarkdownBlock(v.IO.Out, pol, r)
}
