package views

import (
	"fmt"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/render"
)

// Plan is the view of zplan plan.
type Plan interface {
	// Plan shows the plan.
	Plan(p *plan.Plan, explain bool) error
	// Saved says the plan was saved to file (plan -out).
	Saved(file string)
	// Done ends the output.
	Done(p *plan.Plan)
}

// NewPlan is the plan view in format f.
func NewPlan(f Format, v *View) Plan {
	switch f {
	case JSON:
		return &planJSON{v, render.NewStream(v.IO.Out)}
	case Markdown:
		return &planMarkdown{v}
	}
	return &planHuman{v}
}

type planHuman struct{ *View }

func (v *planHuman) Plan(p *plan.Plan, explain bool) error {
	v.PartialWarning(v.IO.Out, p)
	v.Styles.Human(v.IO.Out, p, explain)
	return nil
}

func (v *planHuman) Saved(file string) {
	fmt.Fprintf(v.IO.Out, "\nSaved the plan to: %s\n\nTo perform exactly these actions, run:\n    zplan apply %q\n", file, file)
}

func (v *planHuman) Done(p *plan.Plan) { v.PartialWarning(v.IO.Out, p) }

type planJSON struct {
	*View
	s *render.Stream
}

func (v *planJSON) Plan(p *plan.Plan, _ bool) error {
	v.s.Version(v.Version)
	v.s.Plan(p, "plan")
	return nil
}

func (v *planJSON) Saved(string)    {}
func (v *planJSON) Done(*plan.Plan) {}

type planMarkdown struct{ *View }

func (v *planMarkdown) Plan(p *plan.Plan, _ bool) error { return render.Markdown(v.IO.Out, p) }

func (v *planMarkdown) Saved(file string) {
	fmt.Fprintf(v.IO.Out, "\nSaved the plan to `%s`; `zplan apply %s` performs exactly these actions.\n", file, file)
}

func (v *planMarkdown) Done(*plan.Plan) {}

func (v *planMarkdown) Fleet(pol *desired.Policy, r *drift.Report) error {
	return render.GraphMarkdownBlock(v.IO.Out, pol, r)
}
