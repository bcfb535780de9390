package views

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/render"
)

// Apply is the view of zplan apply: the plan, the confirmation, the
// progress of each action and the result.
type Apply interface {
	// Plan shows the plan about to be applied.
	Plan(p *plan.Plan, explain bool) error
	// Refused reports a saved plan that cannot be applied.
	Refused(file string, err error) error
	// Confirm asks for "yes". Views that cannot ask (JSON, Markdown)
	// return an error: they need -auto-approve or a saved plan.
	Confirm() (bool, error)
	// Cancelled says the user did not confirm.
	Cancelled()
	// Start begins the apply and returns the progress reporter.
	Start() apply.Reporter
	// LockBroke and LockWaiting report on the pool locks.
	LockBroke(msg string)
	LockWaiting(status string)
	// Warn reports a problem that does not fail the apply.
	Warn(err error)
	// Result reports what the apply did; err is apply's. It returns the
	// error the command ends with (nil when err is).
	Result(p *plan.Plan, res apply.Result, err error, saved bool) error
}

// NewApply is the apply view in format f.
func NewApply(f Format, v *View) Apply {
	switch f {
	case JSON:
		return &applyJSON{View: v, s: render.NewStream(v.IO.Out)}
	case Markdown:
		return &applyMarkdown{applyHuman{View: v}}
	}
	return &applyHuman{View: v}
}

// ApplySummary is the line that ends an apply.
func ApplySummary(res apply.Result) string {
	s := fmt.Sprintf("Apply complete: %d done, %d failed, %d refused, %d skipped.", res.Done, res.Failed, res.Refused, res.Skipped)
	if res.AlreadyDone > 0 {
		s += fmt.Sprintf(" (%d already done by an earlier apply)", res.AlreadyDone)
	}
	return s
}

// StaleMessage puts "Saved plan is stale" up front when preconditions
// failed, naming each fact that changed, with the address apply's
// typed error carries.
func StaleMessage(err error, saved bool) error {
	if !errors.Is(err, apply.ErrStale) {
		return err
	}
	what := "The plan is stale"
	if saved {
		what = "Saved plan is stale"
	}
	var facts []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var ae *apply.ActionError
		var se *apply.StaleError
		if errors.As(e, &ae) && errors.As(ae.Err, &se) {
			facts = append(facts, ae.Address+": "+se.Fact)
		}
	}
	walk(err)
	return fmt.Errorf("%s: %s. The hosts changed since the plan was made; make a new plan", what, strings.Join(facts, "; "))
}

type applyHuman struct {
	*View
	progress *Progress
}

func (v *applyHuman) Plan(p *plan.Plan, explain bool) error {
	v.PartialWarning(v.IO.Out, p)
	v.Styles.Human(v.IO.Out, p, explain)
	return nil
}

func (v *applyHuman) Refused(file string, err error) error {
	return fmt.Errorf("saved plan %s cannot be applied: %w", file, err)
}

func (v *applyHuman) Confirm() (bool, error) {
	fmt.Fprint(v.IO.Out, "\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	line, _ := bufio.NewReader(v.IO.In).ReadString('\n')
	return strings.TrimSpace(line) == "yes", nil
}

func (v *applyHuman) Cancelled() { fmt.Fprintln(v.IO.Out, "Apply cancelled.") }

func (v *applyHuman) Start() apply.Reporter {
	fmt.Fprintln(v.IO.Out)
	v.progress = NewProgress(v.IO.Out, v.IO.ErrOut, v.IO.IsStdoutTTY())
	v.progress.ErrorsOnTerminal(v.IO.IsStdoutTTY() && v.IO.IsStderrTTY())
	return v.progress
}

func (v *applyHuman) LockBroke(msg string) { fmt.Fprintln(v.IO.ErrOut, msg) }

func (v *applyHuman) LockWaiting(status string) {
	fmt.Fprintf(v.IO.ErrOut, "Waiting for lock: %s\n", status)
}

func (v *applyHuman) Warn(err error) { fmt.Fprintln(v.IO.ErrOut, "Warning:", err) }

func (v *applyHuman) Result(p *plan.Plan, res apply.Result, err error, saved bool) error {
	if v.progress != nil {
		v.progress.Close()
	}
	fmt.Fprintf(v.IO.Out, "\n%s\n", ApplySummary(res))
	if err != nil {
		return StaleMessage(err, saved)
	}
	v.PartialWarning(v.IO.Out, p)
	return nil
}

// applyMarkdown writes the plan as for a PR comment, the progress lines
// (never redrawn) in a code block, and the result in bold.
type applyMarkdown struct{ applyHuman }

func (v *applyMarkdown) Plan(p *plan.Plan, _ bool) error { return render.Markdown(v.IO.Out, p) }

func (v *applyMarkdown) Confirm() (bool, error) {
	return false, errors.New("-format markdown needs -auto-approve or a saved plan: zplan cannot ask for confirmation while it writes Markdown")
}

func (v *applyMarkdown) Start() apply.Reporter {
	fmt.Fprint(v.IO.Out, "\n```\n")
	v.progress = NewProgress(v.IO.Out, v.IO.ErrOut, false)
	return v.progress
}

func (v *applyMarkdown) Result(p *plan.Plan, res apply.Result, err error, saved bool) error {
	fmt.Fprintf(v.IO.Out, "```\n\n**%s**\n", ApplySummary(res))
	if err != nil {
		return StaleMessage(err, saved)
	}
	return nil
}

type applyJSON struct {
	*View
	s *render.Stream
}

func (v *applyJSON) Plan(p *plan.Plan, _ bool) error {
	v.s.Version(v.Version)
	v.s.Plan(p, "apply")
	return nil
}

func (v *applyJSON) Refused(_ string, err error) error {
	v.s.Version(v.Version)
	v.s.Diagnostic("error", "Saved plan cannot be applied", err.Error())
	return ErrReported
}

func (v *applyJSON) Confirm() (bool, error) {
	v.s.Diagnostic("error", "-json needs -auto-approve or a saved plan", "zplan cannot ask for confirmation while it writes JSON.")
	return false, ErrReported
}

func (v *applyJSON) Cancelled() {}

func (v *applyJSON) Start() apply.Reporter { return NewJSONProgress(v.s) }

func (v *applyJSON) LockBroke(msg string) { v.s.Diagnostic("warning", "Broke a dead lock", msg) }

func (v *applyJSON) LockWaiting(status string) { v.s.Diagnostic("warning", "Waiting for lock", status) }

func (v *applyJSON) Warn(err error) { v.s.Diagnostic("warning", "Warning", err.Error()) }

func (v *applyJSON) Result(_ *plan.Plan, res apply.Result, err error, _ bool) error {
	level := "info"
	if err != nil {
		level = "error"
	}
	v.s.Emit(level, "change_summary", ApplySummary(res), map[string]any{"changes": map[string]any{
		"done": res.Done, "already_done": res.AlreadyDone, "failed": res.Failed, "refused": res.Refused,
		"skipped": res.Skipped, "operation": "apply"}})
	if err != nil {
		return ErrReported
	}
	return nil
}
