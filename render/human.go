// Package render shows plans to people and machines. All views render
// the same plan data.
package render

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fatih/color"

	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/zfs"
)

// Human writes the plan without colour (see Styles.Human).
func Human(w io.Writer, p *plan.Plan, explain bool) { Plain.Human(w, p, explain) }

// Human writes the plan in terraform's style: actions in execution order
// under a header per host and dataset, each with its reason, then the
// conflicts and a summary line.
func (st *Styles) Human(w io.Writer, p *plan.Plan, explain bool) {
	st = st.orPlain()
	bold, red, faint := st.Bold, st.Red, st.Faint
	if p.Empty() && len(p.Conflicts) == 0 {
		bold.Fprintln(w, "No changes. The hosts match the configuration.")
		showSkipped(w, p)
		showOrphans(w, p)
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
			st.action(w, a)
		}
		fmt.Fprintln(w)
	}
	if len(p.Conflicts) > 0 {
		red.Fprintf(w, "Conflicts: %d edge(s) or dataset(s) blocked until resolved:\n", len(p.Conflicts))
		for _, c := range p.Conflicts {
			where := c.Where()
			red.Fprintf(w, "  ! %s\n", where)
			fmt.Fprintf(w, "      %s\n", c.Message)
			if c.Resolution != "" {
				fmt.Fprintf(w, "      to resolve: %s\n", c.Resolution)
			}
		}
		fmt.Fprintln(w)
	}
	showSkipped(w, p)
	showOrphans(w, p)
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
		line += fmt.Sprintf(", %d hold/bookmark/property change(s)", s.Other)
	}
	return line + "."
}

// mark is the symbol and colour of a kind's lines: + create, - delete,
// ~ update, from its change action; a send is ~ (data moves into an
// existing dataset) though it creates a snapshot on the target.
func (st *Styles) mark(k plan.Kind) (string, *color.Color) {
	info, _ := k.Info()
	switch {
	case info.Class == plan.ClassSend || info.Change == plan.ChangeUpdate:
		return "~", st.Yellow
	case info.Change == plan.ChangeDelete:
		return "-", st.Red
	}
	return "+", st.Green
}

// action writes a's lines. Each kind of plan.Kinds() has its wording
// here; TestEveryKindRenders fails for one that falls to the default.
func (st *Styles) action(w io.Writer, a *plan.Action) {
	sym, c := st.mark(a.Kind)
	faint := st.Faint
	switch a.Kind {
	case plan.KindSnapshot:
		for _, d := range a.Datasets {
			c.Fprintf(w, "  %s snapshot %s@%s\n", sym, d, a.Snapshots[0].Name)
		}
		if len(a.Datasets) > 1 {
			faint.Fprintf(w, "      (one atomic zfs snapshot for all %d datasets)\n", len(a.Datasets))
		}
		hookLines(w, a.Hooks)
	case plan.KindCreatePlaceholder:
		c.Fprintf(w, "  %s create %s (placeholder)\n", sym, a.Dataset)
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
		c.Fprintf(w, "  %s send %s@%s -> %s:%s (%s, ~%s)\n", sym, s.SourceDataset, s.To, s.TargetHost, s.TargetDataset, how, plan.HumanBytes(a.Estimate))
	case plan.KindDestroy:
		for _, s := range a.Snapshots {
			c.Fprintf(w, "  %s destroy %s@%s", sym, a.Dataset, s.Name)
			faint.Fprintf(w, " (frees ~%s)\n", plan.HumanBytes(s.Bytes))
			fmt.Fprintf(w, "      %s\n", s.Reason)
		}
		return
	case plan.KindRollback:
		for _, s := range a.Snapshots {
			c.Fprintf(w, "  %s destroy %s@%s", sym, a.Dataset, s.Name)
			faint.Fprintf(w, " (frees ~%s)\n", plan.HumanBytes(s.Bytes))
		}
		c.Fprintf(w, "  ~ rollback %s to @%s (discards what was written since)\n", a.Dataset, a.Bookmark)
	case plan.KindDestroyBookmark:
		c.Fprintf(w, "  %s destroy bookmark %s#%s\n", sym, a.Dataset, a.Bookmark)
	case plan.KindBookmark:
		c.Fprintf(w, "  %s bookmark %s@%s as #%s\n", sym, a.Dataset, a.Snapshots[0].Name, a.Bookmark)
	case plan.KindHold:
		for _, s := range a.Snapshots {
			c.Fprintf(w, "  %s hold %s on %s@%s\n", sym, a.Tag, a.Dataset, s.Name)
		}
	case plan.KindRelease:
		for _, s := range a.Snapshots {
			c.Fprintf(w, "  %s release %s on %s@%s\n", sym, a.Tag, a.Dataset, s.Name)
		}
	case plan.KindAbortResume:
		c.Fprintf(w, "  %s abort interrupted receive on %s\n", sym, a.Dataset)
	case plan.KindSetProperties:
		c.Fprintf(w, "  %s set %s on %s\n", sym, strings.Join(zfs.SetArgv("", a.Properties)[2:2+len(a.Properties)], " "), a.Dataset)
	default:
		fmt.Fprintf(w, "  ? %s %s\n", a.Kind, a.Address)
	}
	fmt.Fprintf(w, "      %s\n", a.Reason)
}

// showSkipped lists the due snapshots skip_unchanged left out.
func showSkipped(w io.Writer, p *plan.Plan) {
	if len(p.Skipped) == 0 {
		return
	}
	fmt.Fprintln(w, "Not snapshotted (skip_unchanged):")
	for _, k := range p.Skipped {
		fmt.Fprintf(w, "  = %s:%s: skipped: unchanged since @%s (snapshots.%s, slot %s)\n", k.Host, k.Dataset, k.Since, k.Policy, k.Slot.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
}

// showOrphans lists zplan's holds and cursors no configured edge owns.
func showOrphans(w io.Writer, p *plan.Plan) {
	if len(p.Orphans) == 0 {
		return
	}
	fmt.Fprintf(w, "Orphans: %d zplan hold(s) or cursor(s) of no configured edge:\n", len(p.Orphans))
	for _, o := range p.Orphans {
		fmt.Fprintf(w, "  ? %s:%s (%s): %s%s\n", o.Host, o.Object(), o.Kind, o.Why, kept(o))
	}
	if !releasesOrphans(p) {
		fmt.Fprintf(w, "      %s\n", plan.OrphansHint)
	}
	fmt.Fprintln(w)
}

func kept(o *plan.Orphan) string {
	if o.Kept == "" {
		return ""
	}
	return "; " + o.Kept
}

// releasesOrphans: the plan has the actions orphans = "release" plans.
func releasesOrphans(p *plan.Plan) bool {
	for _, a := range p.Actions {
		if strings.HasPrefix(a.Reason, "orphan: ") {
			return true
		}
	}
	return false
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

// hookLines shows the commands a snapshot action runs around it, in the
// order their pre commands run; the policy is named when the hooks come
// from more than one.
func hookLines(w io.Writer, hooks []plan.Hook) {
	several := false
	for _, h := range hooks {
		several = several || h.Policy != hooks[0].Policy
	}
	for _, h := range hooks {
		line := "      hook " + h.String()
		if several {
			line += " [snapshots." + h.Policy + "]"
		}
		fmt.Fprintln(w, line)
	}
}
