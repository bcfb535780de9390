// Package drift compares the hosts with the declared policy without
// planning anything new: it reads the plan diff.Plan made for the same
// state and time, and the observed state, and says how far the hosts are
// from what the configuration promises (missed snapshots, replication
// lag, conflicts, interrupted receives, stale holds, cursors, new
// datasets, snapshots kept past retention). It is pure: no I/O, no clock.
package drift

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/hclspec/timespec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
)

// Kind is what sort of drift a finding is.
type Kind string

const (
	MissingSnapshot    Kind = "missing_snapshot"    // a scheduled snapshot is overdue
	NewDataset         Kind = "new_dataset"         // a selected dataset has no snapshots yet
	ReplicationLag     Kind = "replication_lag"     // the target lacks the source's newest snapshot
	Conflict           Kind = "conflict"            // diverged target or another blocked edge/dataset
	InterruptedReceive Kind = "interrupted_receive" // a resume token is waiting on a target
	StaleHold          Kind = "stale_hold"          // a step hold with no send in flight
	ForeignHold        Kind = "foreign_hold"        // a zplan step or last-received hold of no configured edge
	CursorMismatch     Kind = "cursor_mismatch"     // cursor bookmark missing or outdated
	RetentionOverdue   Kind = "retention_overdue"   // snapshots kept past retention
	// UnsentExpiring: a blocked edge's oldest unsent snapshot is within
	// the last quarter of keep_unsent_for (warning) or past it (error:
	// retention gives up unsent snapshots it would not otherwise keep).
	UnsentExpiring Kind = "unsent_expiring"
	// Orphan: a zplan hold or cursor bookmark of no configured edge (the
	// plan's Orphans); it supersedes foreign_hold for the same hold.
	Orphan Kind = "orphan"
)

// Finding is one piece of drift.
type Finding struct {
	Kind     Kind   `json:"kind"`
	Severity string `json:"severity"` // "warning" or "error"
	Host     string `json:"host"`
	Dataset  string `json:"dataset,omitempty"`
	Edge     string `json:"edge,omitempty"`
	// Object is the snapshot, bookmark or hold concerned, when one is.
	Object  string `json:"object,omitempty"`
	Message string `json:"message"`
	// Since is when the drift began (the missed slot, the newest
	// replicated snapshot's time); Age is Now-Since in seconds.
	Since *time.Time `json:"since,omitempty"`
	Age   int64      `json:"age_seconds,omitempty"`
	// Fix says what a zplan apply would do about it, or what the user must.
	Fix string `json:"fix,omitempty"`
	// ConflictKind is the plan conflict's kind, for Conflict findings.
	ConflictKind plan.ConflictKind `json:"conflict_kind,omitempty"`
	// OrphanKind is hold or cursor, for Orphan findings.
	OrphanKind plan.OrphanKind `json:"orphan_kind,omitempty"`
}

// Input is what drift compares.
type Input struct {
	Policy *desired.Policy
	State  *observe.State
	// Plan is diff.Plan(Policy, State, Now): drift reuses its verdicts
	// (conflicts, retention destroys) instead of deciding them again.
	Plan *plan.Plan
	Now  time.Time
	// Grace is how long after a schedule slot a missing snapshot is not
	// yet drift (the scheduled apply may still be running).
	Grace time.Duration
}

// Report is the result: findings sorted by host, dataset, kind, object.
type Report struct {
	Time     time.Time `json:"time"`
	Findings []Finding `json:"findings"`
	// PendingActions is how many actions an apply would run now.
	PendingActions int `json:"pending_actions"`

	// Edges is the replication status of every configured edge whose
	// source dataset was observed, sorted by edge id, target host and
	// dataset; Datasets the newest managed snapshot of every snapshots
	// rule's dataset, sorted by host, dataset and policy. They are the
	// measurements behind the findings (metrics and the graph read them)
	// and are not part of the JSON events.
	Edges    []EdgeStatus    `json:"-"`
	Datasets []DatasetStatus `json:"-"`
	// LastApply is the newest trace a successful apply leaves in ZFS: the
	// newest name time of a managed snapshot (the plan time of the apply
	// that took it) or creation time of an edge's current cursor bookmark
	// (made after a verified receive). Zero when there is none. An apply
	// that had nothing to do leaves no trace, so this is the last apply
	// that changed something; zplan keeps no state file to know more.
	LastApply time.Time `json:"-"`
}

// EdgeStatus is one replication edge as observed.
type EdgeStatus struct {
	Edge                      string
	SourceHost, SourceDataset string
	TargetHost, TargetDataset string
	// InSync: the target has the source's newest snapshot of the edge's
	// prefix (or the source has none).
	InSync bool
	// LagKnown: Lag is measured. It is not for an edge with no common
	// snapshot (or cursor) to send from.
	LagKnown bool
	// Lag is 0 in sync; else Now minus the time of the newest common
	// snapshot (its name time), or of the source's newest snapshot's
	// creation when the target was never replicated into (as the
	// replication_lag finding's age).
	Lag time.Duration
	// Behind is how many source snapshots of the prefix are newer than
	// the common base (all of them when never replicated).
	Behind int
	// UnsentBytes is the planner's estimate of the sends of snapshots the
	// source already has (resumes included); snapshots the plan would take
	// first are not counted.
	UnsentBytes int64
	// Blocked: a plan conflict names this edge, or there is no base.
	Blocked bool
	// Conflicts is the number of plan conflicts naming this edge.
	Conflicts int
	// CursorCreation is the creation time of the edge's current cursor
	// bookmark (made by the last successful send step); zero if none.
	CursorCreation time.Time
	// OldestUnsent is the name time of the oldest source snapshot of the
	// prefix newer than the edge's newest cursor bookmark; zero when
	// there is none, or no cursor to measure from.
	OldestUnsent time.Time
	// KeepUnsentFor is the source retention's keep_unsent_for; 0 if unset.
	KeepUnsentFor time.Duration
}

// DatasetStatus is one snapshots rule's dataset as observed.
type DatasetStatus struct {
	Policy, Host, Dataset, Prefix string
	// Newest is the name time of the newest snapshot with the prefix;
	// zero when it has none.
	Newest time.Time
	// Overdue: a missing_snapshot finding was reported for it.
	Overdue bool
	// Unchanged: a snapshot was due but skip_unchanged left it out,
	// since nothing was written after Newest; it is not overdue.
	Unchanged bool
}

// Detect computes the drift.
func Detect(in Input) *Report {
	d := &detector{in: in, now: in.Now.UTC()}
	d.schedules()
	d.edges()
	d.conflicts()
	d.tokensAndHolds()
	d.orphans()
	d.retention()
	d.status()
	d.unsent()
	sort.SliceStable(d.out, func(i, j int) bool {
		a, b := d.out[i], d.out[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Dataset != b.Dataset {
			return a.Dataset < b.Dataset
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Object < b.Object
	})
	r := &Report{Time: d.now, Findings: d.out, Edges: d.edgeStatus, Datasets: d.dsStatus, LastApply: d.lastApply}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if in.Plan != nil {
		r.PendingActions = len(in.Plan.Actions)
	}
	return r
}

type detector struct {
	in  Input
	now time.Time
	out []Finding

	edgeStatus []EdgeStatus
	dsStatus   []DatasetStatus
	lastApply  time.Time
}

func (d *detector) seen(t time.Time) {
	if t.After(d.lastApply) {
		d.lastApply = t.UTC()
	}
}

func (d *detector) add(f Finding, since time.Time) {
	if !since.IsZero() {
		s := since.UTC()
		f.Since = &s
		f.Age = int64(d.now.Sub(s) / time.Second)
	}
	if f.Severity == "" {
		f.Severity = "warning"
	}
	d.out = append(d.out, f)
}

func (d *detector) dataset(host, name string) *observe.Dataset {
	if d.in.State == nil || d.in.State.Hosts[host] == nil {
		return nil
	}
	return d.in.State.Hosts[host].Datasets[name]
}

// unobserved reports whether host was not observed (nothing about its
// datasets is known).
func (d *detector) unobserved(host string) bool {
	return d.in.State == nil || d.in.State.Hosts[host] == nil
}

func age(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return d.String()
}

func (d *detector) schedules() {
	seen := map[string]bool{}
	for _, r := range d.in.Policy.Snapshots {
		ds := d.dataset(r.Host, r.Dataset)
		key := r.Host + "\x00" + r.Dataset
		if ds == nil || seen[key] {
			continue
		}
		seen[key] = true
		var newest time.Time
		has := false
		for _, s := range ds.Snapshots {
			if strings.HasPrefix(s.Name, r.Prefix) {
				if t := diff.SnapTime(s, r.Prefix); !has || t.After(newest) {
					newest, has = t, true
				}
			}
		}
		st := DatasetStatus{Policy: r.Policy, Host: r.Host, Dataset: r.Dataset, Prefix: r.Prefix}
		if has {
			st.Newest = newest.UTC()
			d.seen(newest)
		}
		if !has {
			d.dsStatus = append(d.dsStatus, st)
			d.add(Finding{Kind: NewDataset, Host: r.Host, Dataset: r.Dataset,
				Message: fmt.Sprintf("selected by snapshots.%s but has no %s snapshots yet", r.Policy, r.Prefix),
				Fix:     "zplan apply takes its first snapshot"}, time.Time{})
			continue
		}
		if d.skipped(r) {
			st.Unchanged = true
			d.dsStatus = append(d.dsStatus, st)
			continue
		}
		due, _ := r.Schedule.Due(newest, true, d.now)
		// The first slot after the newest snapshot is when it went missing.
		missed := r.Schedule.Next(newest)
		if !due || d.now.Sub(missed) < d.in.Grace {
			d.dsStatus = append(d.dsStatus, st)
			continue
		}
		st.Overdue = true
		d.dsStatus = append(d.dsStatus, st)
		d.add(Finding{Kind: MissingSnapshot, Host: r.Host, Dataset: r.Dataset,
			Message: fmt.Sprintf("newest %s snapshot is %s old; snapshots.%s (%s) expected one at %s",
				r.Prefix, age(d.now.Sub(newest)), r.Policy, r.Schedule, missed.Format(time.RFC3339)),
			Fix: "zplan apply takes it; check that the scheduled apply runs"}, missed)
	}
}

// skipped reports whether the plan left r's due snapshot out because
// nothing changed (skip_unchanged): the dataset is up to date, not late.
func (d *detector) skipped(r *desired.SnapshotRule) bool {
	if d.in.Plan == nil {
		return false
	}
	for _, k := range d.in.Plan.Skipped {
		if k.Host == r.Host && k.Dataset == r.Dataset && k.Policy == r.Policy {
			return true
		}
	}
	return false
}

// unsent warns about blocked edges whose unsent snapshots approach the
// source retention's keep_unsent_for: from three quarters of the limit
// on (a warning), and past it (an error: the plan now gives up those
// retention would not otherwise keep).
func (d *detector) unsent() {
	for _, es := range d.edgeStatus {
		if es.KeepUnsentFor <= 0 || es.OldestUnsent.IsZero() || es.Conflicts == 0 {
			continue
		}
		a, limit := d.now.Sub(es.OldestUnsent), es.KeepUnsentFor
		if 4*a < 3*limit {
			continue
		}
		f := Finding{Kind: UnsentExpiring, Host: es.SourceHost, Dataset: es.SourceDataset, Edge: es.Edge,
			Message: fmt.Sprintf("replication %s to %s:%s is blocked; its oldest unsent snapshot is %s old, keep_unsent_for = %s lets retention give up unsent snapshots from %s",
				es.Edge, es.TargetHost, es.TargetDataset, age(a), timespec.FormatDuration(limit), es.OldestUnsent.Add(limit).Format(time.RFC3339)),
			Fix: "resolve the edge's conflict (bring the target back) so zplan apply sends them, or raise keep_unsent_for"}
		if a > limit {
			f.Severity = "error"
		}
		d.add(f, es.OldestUnsent)
	}
}

func (d *detector) edges() {
	for _, e := range d.in.Policy.Edges {
		src := d.dataset(e.SourceHost, e.SourceDataset)
		if src == nil {
			continue
		}
		var newestSrc *observe.Snapshot
		for _, s := range src.Snapshots {
			if strings.HasPrefix(s.Name, e.Prefix) {
				newestSrc = s
			}
		}
		if d.unobserved(e.TargetHost) {
			continue // not "never replicated": the plan's conflict says why
		}
		tgt := d.dataset(e.TargetHost, e.TargetDataset)
		f := Finding{Kind: ReplicationLag, Host: e.TargetHost, Dataset: e.TargetDataset, Edge: e.ID}
		if tgt == nil || len(tgt.Snapshots) == 0 {
			if newestSrc != nil {
				f.Object = e.SourceDataset + "@" + newestSrc.Name
				f.Message = fmt.Sprintf("never replicated from %s:%s", e.SourceHost, e.SourceDataset)
				f.Fix = "zplan apply sends it in full"
				d.add(f, newestSrc.Creation)
			}
			continue
		}
		// The common base the planner sends from: by GUID, a source
		// snapshot or the cursor bookmark left of a pruned one.
		b, ok := diff.FindBase(src, tgt, e.ID)
		if ok {
			d.cursor(e, src, tgt, b)
		}
		if newestSrc == nil || tgt.SnapshotByGUID(newestSrc.GUID) != nil {
			continue
		}
		f.Object = e.SourceDataset + "@" + newestSrc.Name
		if !ok {
			f.Message = fmt.Sprintf("has no snapshot in common with %s:%s", e.SourceHost, e.SourceDataset)
			f.Severity = "error"
			d.add(f, time.Time{})
			continue
		}
		behind := 0
		for _, s := range src.Snapshots {
			if s.CreateTXG > b.TXG && strings.HasPrefix(s.Name, e.Prefix) {
				behind++
			}
		}
		common := b.Target
		since := diff.SnapTime(common, e.Prefix)
		f.Message = fmt.Sprintf("%d snapshot(s) behind %s:%s; newest received @%s is %s old",
			behind, e.SourceHost, e.SourceDataset, common.Name, age(d.now.Sub(since)))
		f.Fix = "zplan apply sends the missing snapshots"
		d.add(f, since)
	}
}

// cursor checks the edge's replication-cursor bookmarks on the source:
// exactly one, marking the newest common snapshot.
func (d *detector) cursor(e *desired.Edge, src, tgt *observe.Dataset, b diff.Base) {
	common := b.Target
	want := plan.CursorName(e.ID, common.GUID)
	found := false
	for _, b := range src.Bookmarks {
		id, guid, ok := plan.ParseCursor(b.Name)
		if !ok || id != e.ID {
			continue
		}
		if b.Name == want {
			found = true
			continue
		}
		if guid != common.GUID {
			d.add(Finding{Kind: CursorMismatch, Host: e.SourceHost, Dataset: e.SourceDataset, Edge: e.ID, Object: "#" + b.Name,
				Message: fmt.Sprintf("outdated cursor of %s: it marks guid %d, the newest snapshot %s:%s has is @%s", e.ID, guid, e.TargetHost, tgt.Name, common.Name),
				Fix:     "zplan apply destroys it once the current cursor exists"}, time.Time{})
		}
	}
	if !found {
		d.add(Finding{Kind: CursorMismatch, Host: e.SourceHost, Dataset: e.SourceDataset, Edge: e.ID, Object: "#" + want,
			Message: fmt.Sprintf("no cursor of %s marks @%s, the newest snapshot %s:%s has", e.ID, common.Name, e.TargetHost, tgt.Name),
			Fix:     "zplan apply bookmarks it (a crash after a receive leaves this)"}, time.Time{})
	}
}

func (d *detector) conflicts() {
	if d.in.Plan == nil {
		return
	}
	for _, c := range d.in.Plan.Conflicts {
		d.add(Finding{Kind: Conflict, Severity: "error", Host: c.Host, Dataset: c.Dataset, Edge: c.Edge,
			Message: c.Message, Fix: c.Resolution, ConflictKind: c.Kind}, time.Time{})
	}
}

// orphans reports the plan's orphans, with what to do about them.
func (d *detector) orphans() {
	if d.in.Plan == nil {
		return
	}
	fix := "zplan apply releases it (orphans = \"release\")"
	if d.in.Policy.Orphans != hclspec.OrphansRelease {
		fix = plan.OrphansHint
	}
	for _, o := range d.in.Plan.Orphans {
		d.add(Finding{Kind: Orphan, OrphanKind: o.Kind, Host: o.Host, Dataset: o.Dataset, Edge: o.Edge, Object: o.Object(),
			Message: strings.TrimSuffix(fmt.Sprintf("orphaned %s %s: %s; %s", o.Kind, o.Name, o.Why, o.Kept), "; "), Fix: fix}, time.Time{})
	}
}

// orphaned reports whether the plan lists obj (fs@snap TAG) as an orphan.
func (d *detector) orphaned(host, obj string) bool {
	if d.in.Plan == nil {
		return false
	}
	for _, o := range d.in.Plan.Orphans {
		if o.Host == host && o.Object() == obj {
			return true
		}
	}
	return false
}

func (d *detector) tokensAndHolds() {
	if d.in.State == nil {
		return
	}
	edges := map[string]bool{}
	inFlight := map[string]bool{} // edge ids whose target has a resume token
	for _, e := range d.in.Policy.Edges {
		edges[e.ID] = true
		if t := d.dataset(e.TargetHost, e.TargetDataset); t != nil && t.ResumeToken != "" {
			inFlight[e.ID] = true
		}
	}
	hosts := make([]string, 0, len(d.in.State.Hosts))
	for h := range d.in.State.Hosts {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, hn := range hosts {
		h := d.in.State.Hosts[hn]
		for _, ds := range h.Datasets {
			if ds.ResumeToken != "" {
				msg := "an interrupted receive left a resume token"
				if ds.Token != nil {
					msg += fmt.Sprintf(" (from guid %d to guid %d, %s)", ds.Token.FromGUID, ds.Token.ToGUID, ds.Token.ToName)
				}
				d.add(Finding{Kind: InterruptedReceive, Host: hn, Dataset: ds.Name, Message: msg,
					Fix: "zplan apply resumes it if it is the stream the plan sends, aborts it (zfs recv -A) if the source can no longer send it, else the plan shows a conflict"}, time.Time{})
			}
			for _, s := range ds.Snapshots {
				for _, tag := range s.Holds {
					obj := ds.Name + "@" + s.Name + " " + tag
					if d.orphaned(hn, obj) {
						continue
					}
					if edge, ok := plan.ParseStepTag(tag); ok {
						switch {
						case !edges[edge]:
							d.add(Finding{Kind: ForeignHold, Host: hn, Dataset: ds.Name, Edge: edge, Object: obj,
								Message: fmt.Sprintf("step hold %s of no configured replication", tag),
								Fix:     fmt.Sprintf("zfs release %s %s@%s, if no other zplan configuration uses it", tag, ds.Name, s.Name)}, time.Time{})
						case !inFlight[edge]:
							d.add(Finding{Kind: StaleHold, Host: hn, Dataset: ds.Name, Edge: edge, Object: obj,
								Message: fmt.Sprintf("step hold %s with no send in flight (no resume token on the target)", tag),
								Fix:     "zplan apply releases it when the edge is planned"}, time.Time{})
						}
						continue
					}
					if edge, ok := plan.ParseLastTag(tag); ok && !edges[edge] {
						d.add(Finding{Kind: ForeignHold, Host: hn, Dataset: ds.Name, Edge: edge, Object: obj,
							Message: fmt.Sprintf("last-received hold %s of no configured replication", tag),
							Fix:     fmt.Sprintf("zfs release %s %s@%s, if no other zplan configuration uses it", tag, ds.Name, s.Name)}, time.Time{})
					}
				}
			}
		}
	}
}

func (d *detector) retention() {
	if d.in.Plan == nil {
		return
	}
	for _, a := range d.in.Plan.Actions {
		if a.Kind != plan.KindDestroy {
			continue
		}
		for _, s := range a.Snapshots {
			d.add(Finding{Kind: RetentionOverdue, Host: a.Host, Dataset: a.Dataset, Object: a.Dataset + "@" + s.Name,
				Message: "kept past retention: " + s.Reason, Fix: "zplan apply destroys it"}, time.Time{})
		}
	}
}

// keepUnsentFor is the longest keep_unsent_for of the source retention
// rules of host:dataset, as the planner uses it.
func (d *detector) keepUnsentFor(host, dataset string) time.Duration {
	var out time.Duration
	for _, r := range d.in.Policy.Retention {
		if r.Host == host && r.Dataset == dataset && r.KeepUnsentFor > out {
			out = r.KeepUnsentFor
		}
	}
	return out
}

// Counts tallies findings by kind.
func (r *Report) Counts() map[Kind]int {
	c := map[Kind]int{}
	for _, f := range r.Findings {
		c[f.Kind]++
	}
	return c
}

// status measures every edge for Report.Edges, from the same base the
// planner sends from, and finishes LastApply with the cursors.
func (d *detector) status() {
	for _, e := range d.in.Policy.Edges {
		src := d.dataset(e.SourceHost, e.SourceDataset)
		if src == nil {
			continue
		}
		es := EdgeStatus{Edge: e.ID, SourceHost: e.SourceHost, SourceDataset: e.SourceDataset,
			TargetHost: e.TargetHost, TargetDataset: e.TargetDataset}
		var newestSrc *observe.Snapshot
		prefixed := 0
		for _, s := range src.Snapshots {
			if strings.HasPrefix(s.Name, e.Prefix) {
				newestSrc = s
				prefixed++
			}
		}
		es.KeepUnsentFor = d.keepUnsentFor(e.SourceHost, e.SourceDataset)
		var cursorTXG uint64
		for _, bm := range src.Bookmarks {
			if id, _, ok := plan.ParseCursor(bm.Name); ok && id == e.ID && bm.CreateTXG > cursorTXG {
				cursorTXG = bm.CreateTXG
			}
		}
		for _, s := range src.Snapshots {
			if cursorTXG > 0 && s.CreateTXG > cursorTXG && strings.HasPrefix(s.Name, e.Prefix) {
				es.OldestUnsent = diff.SnapTime(s, e.Prefix).UTC()
				break
			}
		}
		tgt := d.dataset(e.TargetHost, e.TargetDataset)
		switch b, ok := diff.FindBase(src, tgt, e.ID); {
		case d.unobserved(e.TargetHost):
			// Lag unknown; the host_unobserved conflict blocks the edge.
			es.Blocked = true
		case tgt == nil || len(tgt.Snapshots) == 0:
			es.InSync, es.LagKnown = newestSrc == nil, true
			if newestSrc != nil {
				es.Lag, es.Behind = d.now.Sub(newestSrc.Creation), prefixed
			}
		default:
			if ok {
				want := plan.CursorName(e.ID, b.Target.GUID)
				for _, bm := range src.Bookmarks {
					if bm.Name == want {
						es.CursorCreation = bm.Creation.UTC()
						d.seen(bm.Creation)
					}
				}
			}
			switch {
			case newestSrc == nil || tgt.SnapshotByGUID(newestSrc.GUID) != nil:
				es.InSync, es.LagKnown = true, true
			case !ok:
				es.Blocked = true
			default:
				es.LagKnown = true
				es.Lag = d.now.Sub(diff.SnapTime(b.Target, e.Prefix))
				for _, s := range src.Snapshots {
					if s.CreateTXG > b.TXG && strings.HasPrefix(s.Name, e.Prefix) {
						es.Behind++
					}
				}
			}
		}
		if es.Lag < 0 {
			es.Lag = 0
		}
		if d.in.Plan != nil {
			for _, c := range d.in.Plan.Conflicts {
				if c.Edge == e.ID && (c.Host == e.TargetHost && c.Dataset == e.TargetDataset ||
					c.Host == e.SourceHost && c.Dataset == e.SourceDataset) {
					es.Conflicts++
					es.Blocked = true
				}
			}
			for _, a := range d.in.Plan.Actions {
				if s := a.Send; s != nil && s.Edge == e.ID && s.SourceHost == e.SourceHost && s.SourceDataset == e.SourceDataset &&
					s.TargetHost == e.TargetHost && s.TargetDataset == e.TargetDataset && s.ToGUID != 0 {
					es.UnsentBytes += a.Estimate
				}
			}
		}
		d.edgeStatus = append(d.edgeStatus, es)
	}
	sort.SliceStable(d.edgeStatus, func(i, j int) bool {
		a, b := d.edgeStatus[i], d.edgeStatus[j]
		if a.Edge != b.Edge {
			return a.Edge < b.Edge
		}
		if a.TargetHost != b.TargetHost {
			return a.TargetHost < b.TargetHost
		}
		return a.TargetDataset < b.TargetDataset
	})
	sort.SliceStable(d.dsStatus, func(i, j int) bool {
		a, b := d.dsStatus[i], d.dsStatus[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Dataset != b.Dataset {
			return a.Dataset < b.Dataset
		}
		return a.Policy < b.Policy
	})
}
