package render

import (
	"fmt"
	"io"

	"github.com/zplan/zplan/drift"
)

// DriftHuman writes a drift report without colour (see Styles.DriftHuman).
func DriftHuman(w io.Writer, r *drift.Report) { Plain.DriftHuman(w, r) }

// DriftHuman writes a drift report for a terminal or a job log.
func (st *Styles) DriftHuman(w io.Writer, r *drift.Report) {
	st = st.orPlain()
	bold, faint, yellow, red := st.Bold, st.Faint, st.Yellow, st.Red
	if len(r.Findings) == 0 {
		bold.Fprintf(w, "No drift. The hosts match the configuration (checked %s).\n", r.Time.Format("2006-01-02T15:04:05Z"))
		return
	}
	last := ""
	for _, f := range r.Findings {
		if hdr := f.Host + ": " + f.Dataset; hdr != last {
			fmt.Fprintln(w)
			faint.Fprintf(w, "  # %s\n", hdr)
			last = hdr
		}
		c := yellow
		if f.Severity == "error" {
			c = red
		}
		c.Fprintf(w, "  ! %s", f.Kind)
		if f.Object != "" {
			fmt.Fprintf(w, " %s", f.Object)
		}
		if f.Since != nil {
			faint.Fprintf(w, " (since %s, %s)", f.Since.Format("2006-01-02T15:04:05Z"), age(f.Age))
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "      %s\n", f.Message)
		if f.Fix != "" {
			faint.Fprintf(w, "      fix: %s\n", f.Fix)
		}
	}
	fmt.Fprintln(w)
	bold.Fprintf(w, "Drift: %s. An apply now would run %d action(s).\n", driftCounts(r), r.PendingActions)
}

// Drift writes one drift event per finding and a drift_summary.
func (s *Stream) Drift(r *drift.Report) {
	for _, f := range r.Findings {
		level := "warn"
		if f.Severity == "error" {
			level = "error"
		}
		s.Emit(level, "drift", fmt.Sprintf("%s %s:%s: %s", f.Kind, f.Host, f.Dataset, f.Message), map[string]any{"drift": f})
	}
	counts := map[string]int{}
	for k, v := range r.Counts() {
		counts[string(k)] = v
	}
	msg := "No drift"
	if len(r.Findings) > 0 {
		msg = "Drift: " + driftCounts(r)
	}
	s.Emit("info", "drift_summary", msg, map[string]any{"drift_summary": map[string]any{
		"findings": len(r.Findings), "by_kind": counts, "pending_actions": r.PendingActions}})
}
