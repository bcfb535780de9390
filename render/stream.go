package render

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/zplan/zplan/plan"
)

// StreamUIVersion is the version of the -json line stream.
const StreamUIVersion = "1.0"

// Stream writes machine-readable events, one JSON object per line, in
// the manner of `terraform plan -json`: every line has @level, @message,
// @module ("zplan"), @timestamp (RFC 3339, UTC) and type, which is one
// of version, diagnostic, planned_change, change_summary, apply_start,
// apply_progress, apply_complete, apply_errored, drift, drift_summary;
// the rest of the fields depend on the type.
type Stream struct {
	mu  sync.Mutex
	w   io.Writer
	Now func() time.Time // the clock for @timestamp (tests fix it)
}

// NewStream writes events to w.
func NewStream(w io.Writer) *Stream { return &Stream{w: w, Now: time.Now} }

// Emit writes one event. fields are merged into the line.
func (s *Stream) Emit(level, typ, msg string, fields map[string]any) {
	line := map[string]any{
		"@level": level, "@message": msg, "@module": "zplan",
		"@timestamp": s.Now().UTC().Format(time.RFC3339Nano), "type": typ,
	}
	for k, v := range fields {
		line[k] = v
	}
	b, err := json.Marshal(line)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"@level": "error", "@message": "encoding event: " + err.Error(), "type": "diagnostic"})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.Write(append(b, '\n'))
}

// Version is the first line of every stream.
func (s *Stream) Version(zplanVersion string) {
	s.Emit("info", "version", "zplan "+zplanVersion, map[string]any{"zplan": zplanVersion, "ui": StreamUIVersion})
}

// Diagnostic reports an error or warning (severity "error"/"warning").
func (s *Stream) Diagnostic(severity, summary, detail string) {
	level := severity
	if level == "warning" {
		level = "warn" // terraform's @level spelling
	}
	s.Emit(level, "diagnostic", summary, map[string]any{"diagnostic": map[string]any{"severity": severity, "summary": summary, "detail": detail}})
}

// ChangeAction is the terraform-style change action of a kind (create,
// update, delete), from the kinds table.
func ChangeAction(k plan.Kind) string {
	info, _ := k.Info()
	return string(info.Change)
}

// Resource identifies an action in stream events.
func Resource(a *plan.Action) map[string]any {
	r := map[string]any{"addr": a.Address, "kind": string(a.Kind), "host": a.Host, "dataset": a.Dataset}
	if a.Send != nil {
		r["edge"] = a.Send.Edge
		r["target_host"] = a.Send.TargetHost
		r["target_dataset"] = a.Send.TargetDataset
	}
	return r
}

// Plan writes a planned_change per action, a diagnostic per conflict
// (and one warning for a partial plan), then the change_summary.
func (s *Stream) Plan(p *plan.Plan, operation string) {
	if len(p.Targets) > 0 {
		s.Diagnostic("warning", "Partial plan (-target)", "This plan only covers "+joinTargets(p.Targets)+" and what they depend on; the rest of the configuration is not planned.")
	}
	for _, a := range p.Actions {
		ch := map[string]any{"resource": Resource(a), "action": ChangeAction(a.Kind), "reason": a.Reason}
		if a.Estimate > 0 {
			ch["bytes"] = a.Estimate
		}
		if len(a.Hooks) > 0 {
			ch["hooks"] = a.Hooks
		}
		if a.Kind.DestroysSnapshots() {
			var freed int64
			for _, sn := range a.Snapshots {
				freed += sn.Bytes
			}
			ch["snapshots"] = a.Snapshots
			ch["bytes_freed"] = freed
		}
		s.Emit("info", "planned_change", a.Address+": plan to "+ChangeAction(a.Kind), map[string]any{"change": ch})
	}
	for _, k := range p.Skipped {
		s.Emit("info", "skipped_snapshot", fmt.Sprintf("%s:%s: skipped: unchanged since @%s", k.Host, k.Dataset, k.Since), map[string]any{"skipped": k})
	}
	for _, o := range p.Orphans {
		s.Emit("info", "orphan", fmt.Sprintf("%s:%s: orphan %s: %s", o.Host, o.Object(), o.Kind, o.Why), map[string]any{"orphan": o})
	}
	for _, c := range p.Conflicts {
		// A diagnostic, as terraform's; conflict carries the kind (and
		// host, edge) for pipelines, as in show -json.
		summary := "Conflict: " + c.Where()
		s.Emit("error", "diagnostic", summary, map[string]any{
			"diagnostic": map[string]any{"severity": "error", "summary": summary, "detail": c.Message + resolution(c.Resolution)},
			"conflict":   c,
		})
	}
	sum := p.Summarize()
	s.Emit("info", "change_summary", SummaryLine(p), map[string]any{"changes": map[string]any{
		"create": sum.Create, "send": sum.Send, "send_bytes": sum.SendBytes, "destroy": sum.Destroy,
		"other": sum.Other, "conflicts": len(p.Conflicts), "operation": operation,
	}})
}

func resolution(r string) string {
	if r == "" {
		return ""
	}
	return " (to resolve: " + r + ")"
}

func joinTargets(ts []string) string {
	out := ""
	for i, t := range ts {
		if i > 0 {
			out += ", "
		}
		out += t
	}
	return out
}
