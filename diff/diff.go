// Package diff computes the plan: a pure function of the desired policy,
// the observed state and the plan time. It reads no clock and does no
// I/O, so the same inputs always give the same plan, byte for byte.
package diff

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
)

// Options carries what the plan records about its making.
type Options struct {
	ZplanVersion string
	ConfigHash   string
	// Explain records why retention keeps each managed snapshot.
	Explain bool
}

// SnapshotTimeFormat names managed snapshots after the plan time.
const SnapshotTimeFormat = "20060102T150405Z"

// Plan computes the actions that bring the hosts to the policy, in three
// phases whose data walks one way: the scheduled snapshots (which the
// edges may send and retention counts), the replication edges (which
// decide what retention must keep and wait for), and retention.
func Plan(pol *desired.Policy, st *observe.State, now time.Time, opts Options) (*plan.Plan, error) {
	now = now.UTC().Truncate(time.Second)
	out := &plan.Plan{
		FormatVersion: plan.FormatVersion, ZplanVersion: opts.ZplanVersion,
		Time: now, ConfigHash: opts.ConfigHash,
	}
	out.Conflicts = problemConflicts(pol, st)
	virtual, snapshots, skipped := planSnapshots(pol, st, now)
	out.Conflicts = append(out.Conflicts, unsafeNames(pol, st)...)
	edges := planEdges(pol, st, now, virtual)
	kept, destroys := retention(pol, st, now, opts.Explain, virtual, edges)

	out.Orphans = Orphans(pol, st)
	out.Actions = append(append(append(out.Actions, snapshots...), edges.actions...), destroys...)
	out.Actions = append(out.Actions, releaseOrphans(pol, out.Orphans)...)
	out.Conflicts = append(out.Conflicts, edges.conflicts...)
	out.Kept = kept
	out.Skipped = skipped
	sort.SliceStable(out.Conflicts, func(i, j int) bool {
		a, b := out.Conflicts[i], out.Conflicts[j]
		return a.Host+"\x00"+a.Dataset+"\x00"+a.Edge < b.Host+"\x00"+b.Dataset+"\x00"+b.Edge
	})
	if err := out.Sort(); err != nil {
		return nil, fmt.Errorf("ordering plan: %w", err)
	}
	return out, nil
}

type dsKey struct{ host, dataset string }

// virtualSnap is a snapshot this plan creates; it has no GUID yet.
type virtualSnap struct {
	name    string
	address string
}

// edgePlan is what the edge phase decided, and all that retention reads
// of it.
type edgePlan struct {
	actions   []*plan.Action
	conflicts []*plan.Conflict
	// index: actions by address.
	index map[string]*plan.Action
	// needed: snapshots (by name) retention must keep, with the reason.
	needed map[dsKey]map[string]needReason
	// send action addresses reading from / writing into each dataset.
	sendsFrom, sendsInto map[dsKey][]string
	// incoming: snapshots sends in this plan bring to a target dataset;
	// target retention counts them so that one apply converges.
	incoming map[dsKey][]desired.Snap
	// released: hold tags (by snapshot name) that actions of this plan
	// release, and releasers the actions' addresses; destroys of such
	// snapshots wait for them.
	released  map[dsKey]map[string][]string
	releasers map[dsKey][]string
	// rolledBack: target snapshots a declared rollback destroys, which
	// retention leaves to it.
	rolledBack map[dsKey]map[string]bool
	// edgeBase: per dataset on a replication edge, the preconditions that
	// assert the edge's common base on both hosts as it will be when the
	// dataset's destroys run (see edgeBasePreconditions).
	edgeBase map[dsKey][]plan.Precondition
}

// planner plans the replication edges: it reads the policy, the state
// and the snapshots this plan creates, and fills in its edgePlan.
type planner struct {
	pol *desired.Policy
	st  *observe.State
	now time.Time
	// planned: the snapshots phase's virtual snapshots (read only).
	planned map[dsKey]*virtualSnap
	// firstSend: the first send creating a target dataset, for children.
	firstSend map[dsKey]string
	// edgeDeps: actions an edge's first send waits for (a rollback, an
	// abort of a stale receive).
	edgeDeps map[*desired.Edge][]string
	edgePlan
}

// planEdges plans every edge, a parent's edge before its children's so
// children can depend on the parent's first send.
func planEdges(pol *desired.Policy, st *observe.State, now time.Time, virtual map[dsKey]*virtualSnap) *edgePlan {
	p := &planner{
		pol: pol, st: st, now: now, planned: virtual,
		firstSend: map[dsKey]string{},
		edgeDeps:  map[*desired.Edge][]string{},
		edgePlan: edgePlan{
			index:      map[string]*plan.Action{},
			needed:     map[dsKey]map[string]needReason{},
			sendsFrom:  map[dsKey][]string{},
			sendsInto:  map[dsKey][]string{},
			incoming:   map[dsKey][]desired.Snap{},
			released:   map[dsKey]map[string][]string{},
			releasers:  map[dsKey][]string{},
			rolledBack: map[dsKey]map[string]bool{},
			edgeBase:   map[dsKey][]plan.Precondition{},
		},
	}
	edges := append([]*desired.Edge(nil), pol.Edges...)
	sort.SliceStable(edges, func(i, j int) bool {
		if edges[i].TargetHost != edges[j].TargetHost {
			return edges[i].TargetHost < edges[j].TargetHost
		}
		return edges[i].TargetDataset < edges[j].TargetDataset
	})
	for _, e := range edges {
		p.edge(e)
	}
	return &p.edgePlan
}

// willRelease records that action addr releases tag from snap.
func (p *planner) willRelease(k dsKey, snap, tag, addr string) {
	if p.released[k] == nil {
		p.released[k] = map[string][]string{}
	}
	p.released[k][snap] = append(p.released[k][snap], tag)
	if !contains(p.releasers[k], addr) {
		p.releasers[k] = append(p.releasers[k], addr)
	}
}

func (p *planner) add(a *plan.Action) *plan.Action {
	if old := p.index[a.Address]; old != nil {
		return old
	}
	p.index[a.Address] = a
	p.actions = append(p.actions, a)
	return a
}

func (p *planner) dataset(host, name string) *observe.Dataset { return datasetOf(p.st, host, name) }

func datasetOf(st *observe.State, host, name string) *observe.Dataset {
	h := st.Hosts[host]
	if h == nil {
		return nil
	}
	return h.Datasets[name]
}

// needKind is why a replication edge needs retention to keep a snapshot.
type needKind int

const (
	// needBase: the newest common snapshot of an edge, now or once this
	// plan's sends ran (invariant 2). Nothing lets retention destroy it.
	needBase needKind = iota + 1
	// needUnsent: a snapshot a blocked edge may still have to send
	// (invariant 9); prune_unsent lets retention destroy it.
	needUnsent
)

// needReason is a typed reason to keep a snapshot: retention decides on
// kind, and shows text.
type needReason struct {
	kind needKind
	text string
	// For needUnsent: the blocked edges that have not sent the snapshot,
	// and whether one of them has no cursor bookmark to continue from
	// without it (then keep_unsent_for does not give it up).
	edges    []string
	noCursor bool
	cursors  []plan.Precondition // the blocked edges' cursor bookmarks
}

// need records that snap must stay. The strongest reason wins: a
// snapshot one edge needs as its base stays even when another, blocked
// edge only needs it unsent and prune_unsent is set.
func (p *planner) need(k dsKey, snap string, kind needKind, text string) {
	if p.needed[k] == nil {
		p.needed[k] = map[string]needReason{}
	}
	if old, ok := p.needed[k][snap]; !ok || (old.kind == needUnsent && kind != needUnsent) {
		p.needed[k][snap] = needReason{kind: kind, text: text}
	}
}

// needUnsent records that blocked edge has not sent snap; several
// blocked edges add up.
func (p *planner) needUnsent(k dsKey, snap, edge string, noCursor bool, cursors []plan.Precondition) {
	if p.needed[k] == nil {
		p.needed[k] = map[string]needReason{}
	}
	old, ok := p.needed[k][snap]
	switch {
	case !ok:
		p.needed[k][snap] = needReason{kind: needUnsent, edges: []string{edge}, noCursor: noCursor, cursors: cursors,
			text: fmt.Sprintf("not yet sent by replication %s, which is blocked by a conflict", edge)}
	case old.kind == needUnsent:
		old.edges = append(old.edges, edge)
		old.noCursor = old.noCursor || noCursor
		old.cursors = append(append([]plan.Precondition(nil), old.cursors...), cursors...)
		old.text = fmt.Sprintf("not yet sent by replications %s, which are blocked by conflicts", strings.Join(old.edges, ", "))
		p.needed[k][snap] = old
	}
}

func pool(dataset string) string {
	p, _, _ := strings.Cut(dataset, "/")
	return p
}

// planSnapshots plans the scheduled snapshots, one atomic action per
// host, pool and name; it returns them, per dataset the snapshot each
// creates, and the due snapshots skip_unchanged leaves out.
func planSnapshots(pol *desired.Policy, st *observe.State, now time.Time) (map[dsKey]*virtualSnap, []*plan.Action, []*plan.Skipped) {
	var skipped []*plan.Skipped
	planned := map[dsKey]*virtualSnap{}
	type group struct {
		host, pool, name string
		datasets         []string
		reasons          []string
	}
	groups := map[string]*group{}
	for _, r := range pol.Snapshots {
		ds := datasetOf(st, r.Host, r.Dataset)
		if ds == nil {
			continue
		}
		k := dsKey{r.Host, r.Dataset}
		if planned[k] != nil {
			continue // two policies on one dataset: one snapshot is enough
		}
		var newest time.Time
		has, at := false, -1
		for i := len(ds.Snapshots) - 1; i >= 0 && !has; i-- {
			if s := ds.Snapshots[i]; strings.HasPrefix(s.Name, r.Prefix) {
				newest, has, at = SnapTime(s, r.Prefix), true, i
			}
		}
		due, slot := r.Schedule.Due(newest, has, now)
		if !due {
			continue
		}
		if r.SkipUnchanged && has && UnchangedSince(ds, at) {
			skipped = append(skipped, &plan.Skipped{Host: r.Host, Dataset: r.Dataset, Policy: r.Policy, Slot: slot, Since: ds.Snapshots[at].Name})
			continue
		}
		name := r.Prefix + now.Format(SnapshotTimeFormat)
		if ds.SnapshotByName(name) != nil {
			continue
		}
		gk := r.Host + "\x00" + pool(r.Dataset) + "\x00" + name
		g := groups[gk]
		if g == nil {
			g = &group{host: r.Host, pool: pool(r.Dataset), name: name}
			groups[gk] = g
		}
		g.datasets = append(g.datasets, r.Dataset)
		why := fmt.Sprintf("snapshots.%s: %s slot %s", r.Policy, r.Schedule, slot.Format(time.RFC3339))
		if has {
			why += fmt.Sprintf(", newest is %s", newest.Format(time.RFC3339))
		} else {
			why += ", none yet"
		}
		g.reasons = append(g.reasons, why)
		planned[k] = &virtualSnap{name: name, address: plan.KindSnapshot.Address(r.Host, g.pool+"@"+name)}
	}
	var actions []*plan.Action
	for _, g := range groups {
		a := &plan.Action{
			Address:   plan.KindSnapshot.Address(g.host, g.pool+"@"+g.name),
			Kind:      plan.KindSnapshot,
			Host:      g.host,
			Dataset:   g.pool,
			Snapshots: []plan.SnapRef{{Name: g.name}},
			Datasets:  g.datasets,
			Reason:    uniqueJoin(g.reasons),
			Hooks:     desired.SnapshotHooks(pol.Snapshots, g.host, g.name, now.Format(SnapshotTimeFormat), g.datasets),
		}
		for _, d := range g.datasets {
			a.Preconditions = append(a.Preconditions,
				plan.Precondition{Host: g.host, Kind: plan.PreExists, Object: d},
				plan.Precondition{Host: g.host, Kind: plan.PreAbsent, Object: d + "@" + g.name})
		}
		actions = append(actions, a)
	}
	sort.SliceStable(skipped, func(i, j int) bool {
		a, b := skipped[i], skipped[j]
		return a.Host+"\x00"+a.Dataset+"\x00"+a.Policy < b.Host+"\x00"+b.Dataset+"\x00"+b.Policy
	})
	return planned, actions, skipped
}

// UnchangedSince reports whether nothing was written to ds since its
// snapshot at index i. The dataset's written counts only since its newest
// snapshot of any kind, so each snapshot after i must also have written
// nothing since the one before it (a snapshot's written is what was
// written between it and the previous one); any byte in that chain
// answers false, and the policy snapshots.
func UnchangedSince(ds *observe.Dataset, i int) bool {
	if i < 0 || i >= len(ds.Snapshots) || ds.Written != 0 {
		return false
	}
	for _, s := range ds.Snapshots[i+1:] {
		if s.Written != 0 {
			return false
		}
	}
	return true
}

// SnapTime is when a snapshot was taken: the plan time in a managed
// snapshot's name when it has one, else its creation property. Names
// come from the controller's plan time, so schedules and retention do
// not drift with a host's clock.
func SnapTime(s *observe.Snapshot, prefix string) time.Time {
	if rest, ok := strings.CutPrefix(s.Name, prefix); ok {
		if t, ok := parseStamp(rest); ok {
			return t
		}
	}
	return s.Creation
}

// parseStamp parses SnapshotTimeFormat (20060102T150405Z) by hand:
// time.Parse was the largest cost of planning hosts with millions of
// snapshots.
func parseStamp(s string) (time.Time, bool) {
	if len(s) != 16 || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, mo, d, h, mi, se := num(0, 4), num(4, 6), num(6, 8), num(9, 11), num(11, 13), num(13, 15)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC)
	if t.Day() != d { // e.g. Feb 30 normalised into March
		return time.Time{}, false
	}
	return t, true
}

func uniqueJoin(ss []string) string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// conflict blocks edge e; every conflict has a kind.
func (p *planner) conflict(kind plan.ConflictKind, e *desired.Edge, host, dataset, msg, resolution string) {
	p.conflicts = append(p.conflicts, &plan.Conflict{Kind: kind, Edge: e.ID, Host: host, Dataset: dataset, Message: msg, Resolution: resolution})
}

// problemConflicts reports the policy's problems as conflicts.
func problemConflicts(pol *desired.Policy, st *observe.State) []*plan.Conflict {
	var out []*plan.Conflict
	for _, pr := range pol.Problems {
		out = append(out, &plan.Conflict{Kind: problemKind(st, pr), Edge: pr.Edge, Host: pr.Host, Dataset: pr.Dataset, Message: pr.Message, Resolution: pr.Resolution})
	}
	return out
}

// problemKind classifies a policy problem by the observed facts it is
// about (not by its message): a host that was not observed, a dataset
// observe set aside, or else a configuration that does not fit.
func problemKind(st *observe.State, pr desired.Problem) plan.ConflictKind {
	h := st.Hosts[pr.Host]
	switch {
	case h == nil:
		return plan.ConflictHostUnobserved
	case pr.Dataset != "":
		if _, odd := h.Unreadable[pr.Dataset]; odd {
			return plan.ConflictSetAside
		}
	}
	return plan.ConflictPolicy
}
