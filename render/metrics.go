package render

import (
	"fmt"
	"io"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/plan"
)

// driftKinds is every drift finding kind, so zplan_drift_findings has a
// zero for each kind that was not found.
var driftKinds = []drift.Kind{drift.MissingSnapshot, drift.NewDataset, drift.ReplicationLag, drift.Conflict,
	drift.InterruptedReceive, drift.StaleHold, drift.ForeignHold, drift.CursorMismatch, drift.RetentionOverdue, drift.UnsentExpiring, drift.Orphan}

// DriftMetrics writes r as Prometheus text exposition (format 0.0.4, what
// node_exporter's textfile collector reads), through a private registry
// of client_golang gauges and expfmt's encoder: families sorted by name,
// series by label values, no timestamps (the textfile collector refuses
// them). Durations are seconds, times Unix seconds.
func DriftMetrics(w io.Writer, r *drift.Report) error {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zplan_" + name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	edgeLabels := []string{"edge", "host", "dataset", "source_host", "source_dataset"}
	var (
		checked   = gauge("drift_time_seconds", "When zplan drift checked the hosts (its -now), as a Unix time.")
		pending   = gauge("pending_actions", "Actions a zplan apply would run now.")
		findings  = gauge("drift_findings", "Drift findings by kind.", "kind")
		lag       = gauge("replication_lag_seconds", "Replication lag of an edge (host, dataset: the target): 0 when the target has the source's newest snapshot, else the age of the newest common snapshot (of the source's newest, if never replicated). Absent while the edge has no common base.", edgeLabels...)
		behind    = gauge("replication_snapshots_behind", "Source snapshots of the edge newer than the target's newest common one.", edgeLabels...)
		unsent    = gauge("replication_unsent_bytes", "Planner's estimate of the bytes of existing source snapshots not yet sent to the target.", edgeLabels...)
		blocked   = gauge("replication_blocked", "1 when a conflict blocks the edge (or it has no common base), else 0.", edgeLabels...)
		cursor    = gauge("replication_last_success_timestamp_seconds", "Creation time of the edge's current cursor bookmark, made after the last verified send step (host clock).", edgeLabels...)
		snapAge   = gauge("snapshot_newest_age_seconds", "Age of the newest snapshot a snapshots policy took of the dataset (from its name time).", "host", "dataset", "policy")
		snapTime  = gauge("snapshot_newest_timestamp_seconds", "Name time of the newest snapshot a snapshots policy took of the dataset.", "host", "dataset", "policy")
		oldest    = gauge("replication_oldest_unsent_age_seconds", "Age of the oldest source snapshot of the edge newer than its cursor bookmark (not yet sent). Absent when there is none, or no cursor.", edgeLabels...)
		unsentFor = gauge("replication_keep_unsent_for_seconds", "The source retention's keep_unsent_for: unsent snapshots older than this may be given up while the edge is blocked. Absent when unset.", edgeLabels...)
		unchanged = gauge("snapshot_unchanged", "1 when a snapshot was due but skip_unchanged left it out because nothing was written since the newest one (its age then grows without the dataset being late), else 0.", "host", "dataset", "policy")
		overdue   = gauge("snapshot_overdue", "1 when the dataset's scheduled snapshot is overdue past -grace, else 0.", "host", "dataset", "policy")
		confl     = gauge("conflicts", "Plan conflicts by host and conflict kind.", "host", "kind")
		tokens    = gauge("interrupted_receives", "Resume tokens of interrupted receives waiting on the host.", "host")
		stale     = gauge("stale_holds", "zplan step holds with no send in flight.", "host")
		foreign   = gauge("foreign_holds", "zplan step or last-received holds of no configured replication (orphaned holds).", "host")
		orphans   = gauge("orphans", "zplan holds and cursor bookmarks of no configured edge, by host and kind (hold, cursor).", "host", "kind")
		newDS     = gauge("new_datasets", "Datasets a snapshots policy selects that have no snapshot of it yet.", "host")
		lastAp    = gauge("last_apply_timestamp_seconds", "Newest trace of an apply that changed something: the newest managed snapshot's name time or cursor bookmark's creation. Absent when there is none.")
	)
	checked.WithLabelValues().Set(unix(r.Time.Unix()))
	pending.WithLabelValues().Set(float64(r.PendingActions))
	if !r.LastApply.IsZero() {
		lastAp.WithLabelValues().Set(unix(r.LastApply.Unix()))
	}
	counts := r.Counts()
	for _, k := range driftKinds {
		findings.WithLabelValues(string(k)).Set(float64(counts[k]))
	}
	// Every host the report names gets a zero for each per-host count.
	hosts := map[string]bool{}
	for _, e := range r.Edges {
		hosts[e.SourceHost], hosts[e.TargetHost] = true, true
	}
	for _, d := range r.Datasets {
		hosts[d.Host] = true
	}
	for _, f := range r.Findings {
		if f.Host != "" {
			hosts[f.Host] = true
		}
	}
	names := make([]string, 0, len(hosts))
	for h := range hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	for _, h := range names {
		for _, k := range plan.ConflictKinds() {
			confl.WithLabelValues(h, string(k)).Set(0)
		}
		for _, g := range []*prometheus.GaugeVec{tokens, stale, foreign, newDS} {
			g.WithLabelValues(h).Set(0)
		}
		for _, k := range []plan.OrphanKind{plan.OrphanHold, plan.OrphanCursor} {
			orphans.WithLabelValues(h, string(k)).Set(0)
		}
	}
	for _, f := range r.Findings {
		switch f.Kind {
		case drift.Conflict:
			k := string(f.ConflictKind)
			if k == "" {
				k = "unknown"
			}
			confl.WithLabelValues(f.Host, k).Inc()
		case drift.InterruptedReceive:
			tokens.WithLabelValues(f.Host).Inc()
		case drift.StaleHold:
			stale.WithLabelValues(f.Host).Inc()
		case drift.ForeignHold:
			foreign.WithLabelValues(f.Host).Inc()
		case drift.NewDataset:
			newDS.WithLabelValues(f.Host).Inc()
		case drift.Orphan:
			orphans.WithLabelValues(f.Host, string(f.OrphanKind)).Inc()
		}
	}
	for _, e := range r.Edges {
		l := []string{e.Edge, e.TargetHost, e.TargetDataset, e.SourceHost, e.SourceDataset}
		if e.LagKnown {
			lag.WithLabelValues(l...).Set(e.Lag.Seconds())
		}
		behind.WithLabelValues(l...).Set(float64(e.Behind))
		unsent.WithLabelValues(l...).Set(float64(e.UnsentBytes))
		blocked.WithLabelValues(l...).Set(bool01(e.Blocked))
		if !e.OldestUnsent.IsZero() {
			oldest.WithLabelValues(l...).Set(r.Time.Sub(e.OldestUnsent).Seconds())
		}
		if e.KeepUnsentFor > 0 {
			unsentFor.WithLabelValues(l...).Set(e.KeepUnsentFor.Seconds())
		}
		if !e.CursorCreation.IsZero() {
			cursor.WithLabelValues(l...).Set(unix(e.CursorCreation.Unix()))
		}
	}
	for _, d := range r.Datasets {
		l := []string{d.Host, d.Dataset, d.Policy}
		overdue.WithLabelValues(l...).Set(bool01(d.Overdue))
		unchanged.WithLabelValues(l...).Set(bool01(d.Unchanged))
		if !d.Newest.IsZero() {
			snapAge.WithLabelValues(l...).Set(r.Time.Sub(d.Newest).Seconds())
			snapTime.WithLabelValues(l...).Set(unix(d.Newest.Unix()))
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

func unix(s int64) float64 { return float64(s) }

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
