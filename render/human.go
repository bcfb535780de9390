// Package render shows plans to people and machines. All views render
// the same plan data.
package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"

	"github.com/zplan/zplan/plan"
)

var (
	green  = color.New(color.FgGreen)
	red    = color.New(color.FgRed)
	yellow = color.New(color.FgYellow)
	bold   = color.New(color.Bold)
	faint  = color.New(color.Faint)
)

// Human writes the plan in terraform's style: actions in execution order
// under a header per host and dataset, each with its reason, then the
// conflicts and a summary line.
func Human(w io.Writer, p *plan.Plan, explain bool) {
	if p.Empty() && len(p.Conflicts) == 0 {
		bold.Fprintln(w, "No changes. The hosts match the configuration.")
		explainKept(w, p, explain)
		return
	}
	if !p.Empty() {
		fmt.Fprintf(w, "zplan will perform the following actions (plan time %s):\n", p.Time.Format("2006-01-02T15:04:05Z"))
		last := ""
		for _, a := range p.Actions {
			if hdr := a.Host + ": " + a.Dataset; hdr != last {
				fmt.Fprintln(w)
				faint.Fprintf(w, "  # %s\n", hdr)
				last = hdr
			}
			action(w, a)
		}
		fmt.Fprintln(w)
	}
	if len(p.Conflicts) > 0 {
		red.Fprintf(w, "Conflicts: %d edge(s) or dataset(s) blocked until resolved:\n", len(p.Conflicts))
		for _, c := range p.Conflicts {
			where := c.Host + ":" + c.Dataset
			if c.Edge != "" {
				where = "replication " + c.Edge + ", " + where
			}
			red.Fprintf(w, "  ! %s\n", where)
			fmt.Fprintf(w, "      %s\n", c.Message)
			if c.Resolution != "" {
				fmt.Fprintf(w, "      to resolve: %s\n", c.Resolution)
			}
		}
		fmt.Fprintln(w)
	}
	explainKept(w, p, explain)
	if p.Empty() {
		bold.Fprintln(w, "No changes to make; see the conflicts above.")
		return
	}
	bold.Fprintln(w, SummaryLine(p))
}

// SummaryLine is "Plan: N to create, N to send (SIZE), N to destroy."
func SummaryLine(p *plan.Plan) string {
	s := p.Summarize()
	line := fmt.Sprintf("Plan: %d to create, %d to send (%s), %d to destroy", s.Create, s.Send, plan.HumanBytes(s.SendBytes), s.Destroy)
	if s.Other > 0 {
		line += fmt.Sprintf(", %d hold/bookmark change(s)", s.Other)
	}
	return line + "."
}

func action(w io.Writer, a *plan.Action) {
	switch a.Kind {
	case plan.KindSnapshot:
		for _, d := range a.Datasets {
			green.Fprintf(w, "  + snapshot %s@%s\n", d, a.Snapshots[0].Name)
		}
		if len(a.Datasets) > 1 {
			faint.Fprintf(w, "      (one atomic zfs snapshot for all %d datasets)\n", len(a.Datasets))
		}
	case plan.KindCreatePlaceholder:
		green.Fprintf(w, "  + create %s (placeholder)\n", a.Dataset)
	case plan.KindSendFull, plan.KindSendIncremental, plan.KindSendResume:
		s := a.Send
		var how string
		switch {
		case a.Kind == plan.KindSendResume:
			how = "resume"
		case s.From == "":
			how = "full"
		default:
			how = "incremental from " + s.From
		}
		if len(s.Flags) > 0 {
			how += ", " + strings.Join(s.Flags, " ")
		}
		yellow.Fprintf(w, "  ~ send %s@%s -> %s:%s (%s, ~%s)\n", s.SourceDataset, s.To, s.TargetHost, s.TargetDataset, how, plan.HumanBytes(a.Estimate))
	case plan.KindDestroy:
		for _, s := range a.Snapshots {
			red.Fprintf(w, "  - destroy %s@%s", a.Dataset, s.Name)
			faint.Fprintf(w, " (frees ~%s)\n", plan.HumanBytes(s.Bytes))
			fmt.Fprintf(w, "      %s\n", s.Reason)
		}
		return
	case plan.KindRollback:
		for _, s := range a.Snapshots {
			red.Fprintf(w, "  - destroy %s@%s", a.Dataset, s.Name)
			faint.Fprintf(w, " (frees ~%s)\n", plan.HumanBytes(s.Bytes))
		}
		red.Fprintf(w, "  ~ rollback %s to @%s (discards what was written since)\n", a.Dataset, a.Bookmark)
	case plan.KindDestroyBookmark:
		red.Fprintf(w, "  - destroy bookmark %s#%s\n", a.Dataset, a.Bookmark)
	case plan.KindBookmark:
		green.Fprintf(w, "  + bookmark %s@%s as #%s\n", a.Dataset, a.Snapshots[0].Name, a.Bookmark)
	case plan.KindHold:
		for _, s := range a.Snapshots {
			green.Fprintf(w, "  + hold %s on %s@%s\n", a.Tag, a.Dataset, s.Name)
		}
	case plan.KindRelease:
		for _, s := range a.Snapshots {
			red.Fprintf(w, "  - release %s on %s@%s\n", a.Tag, a.Dataset, s.Name)
		}
	case plan.KindAbortResume:
		red.Fprintf(w, "  - abort interrupted receive on %s\n", a.Dataset)
	default:
		fmt.Fprintf(w, "  ? %s %s\n", a.Kind, a.Address)
	}
	fmt.Fprintf(w, "      %s\n", a.Reason)
}

func explainKept(w io.Writer, p *plan.Plan, explain bool) {
	if !explain || len(p.Kept) == 0 {
		return
	}
	fmt.Fprintln(w, "Retention keeps:")
	for _, k := range p.Kept {
		fmt.Fprintf(w, "  = %s:%s@%s: %s\n", k.Host, k.Dataset, k.Snapshot, k.Reason)
	}
	fmt.Fprintln(w)
}
