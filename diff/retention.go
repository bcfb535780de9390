package diff

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/hclspec/timespec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/zfs"
)

// retainer is the retention phase's input: the state, the snapshots
// this plan creates, and what the edge phase decided.
type retainer struct {
	st      *observe.State
	now     time.Time
	explain bool
	planned map[dsKey]*virtualSnap
	*edgePlan
}

func (p *retainer) dataset(host, name string) *observe.Dataset { return datasetOf(p.st, host, name) }

// retention plans destroys and returns them, with why each managed
// snapshot stays when explain is set. Several rules on one dataset
// combine as a union: a snapshot goes only if every rule that covers it
// lets it go, and nothing an edge still needs or that carries a hold
// goes at all.
func retention(pol *desired.Policy, st *observe.State, now time.Time, explain bool, virtual map[dsKey]*virtualSnap, edges *edgePlan) (kept []*plan.Kept, destroys []*plan.Action) {
	p := &retainer{st: st, now: now, explain: explain, planned: virtual, edgePlan: edges}
	rules := map[dsKey][]*desired.RetentionRule{}
	var keys []dsKey
	for _, r := range pol.Retention {
		k := dsKey{r.Host, r.Dataset}
		if rules[k] == nil {
			keys = append(keys, k)
		}
		rules[k] = append(rules[k], r)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].host != keys[j].host {
			return keys[i].host < keys[j].host
		}
		return keys[i].dataset < keys[j].dataset
	})
	// Datasets are independent and retention is most of a large plan's
	// work: evaluate them in parallel (reading the inputs, writing only
	// results), then add the results in key order, so the plan stays the
	// same byte for byte.
	type result struct {
		kept   []*plan.Kept
		action *plan.Action
	}
	results := make([]result, len(keys))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i].kept, results[i].action = p.retainDataset(keys[i], rules[keys[i]])
			}
		}()
	}
	for i := range keys {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, r := range results {
		kept = append(kept, r.kept...)
		if r.action != nil {
			destroys = append(destroys, r.action)
		}
	}
	return kept, destroys
}

// verdict is the combined verdict of a dataset's rules on a snapshot;
// source names the rule set, joined to reason only when shown, because
// building millions of strings nobody reads is what made large plans slow.
type verdict struct {
	covered, keep        bool
	rule, reason, source string
}

func (v verdict) text() string {
	if v.source == "" {
		return v.reason
	}
	return v.source + ": " + v.reason
}

// retainDataset decides one dataset's destroys. It only reads the
// retainer (retention runs it in parallel).
func (p *retainer) retainDataset(k dsKey, rules []*desired.RetentionRule) (kept []*plan.Kept, destroyAction *plan.Action) {
	ds := p.dataset(k.host, k.dataset)
	if ds == nil {
		return nil, nil
	}
	v := make([]verdict, len(ds.Snapshots))
	virtual := p.planned[k]
	var named namedKeepers // per snapshot a rule lets go: the keepers it names
	for _, r := range rules {
		if r.Retention == nil {
			for i, s := range ds.Snapshots {
				if strings.HasPrefix(s.Name, r.Prefix) {
					v[i] = verdict{covered: true, keep: true, source: r.Source, reason: "no retention configured"}
				}
			}
			continue
		}
		idx := make([]int, 0, len(ds.Snapshots))
		snaps := make([]desired.Snap, 0, len(ds.Snapshots)+1+len(p.incoming[k]))
		for i, s := range ds.Snapshots {
			if strings.HasPrefix(s.Name, r.Prefix) || r.AdoptForeign {
				idx = append(idx, i)
				snaps = append(snaps, desired.Snap{Name: s.Name, Created: SnapTime(s, r.Prefix), CreateTXG: s.CreateTXG})
			}
		}
		// Snapshots this plan creates or receives count too, so that one
		// apply converges; destroys wait for them to exist.
		if virtual != nil && strings.HasPrefix(virtual.name, r.Prefix) {
			snaps = append(snaps, desired.Snap{Name: virtual.name, Created: p.now, CreateTXG: ^uint64(0)})
		}
		for _, in := range p.incoming[k] {
			if strings.HasPrefix(in.Name, r.Prefix) || r.AdoptForeign {
				snaps = append(snaps, in)
			}
		}
		verdicts := r.Retention.Decide(snaps, p.now, p.explain)
		for j, i := range idx {
			w := verdicts[j]
			if !w.Keep && w.Keepers != nil {
				named.add(i, len(ds.Snapshots), ruleKeepers{idx: idx, k: w.Keepers})
			}
			switch {
			case !v[i].covered || (v[i].keep == false && w.Keep):
				v[i] = verdict{covered: true, keep: w.Keep, rule: w.Rule, source: r.Source, reason: w.Reason}
			}
		}
	}
	var destroy []plan.SnapRef
	var victims []int
	var cursors []plan.Precondition // what given-up snapshots rely on
	for i, s := range ds.Snapshots {
		vd := v[i]
		if !vd.covered || p.rolledBack[k][s.Name] {
			continue
		}
		if !vd.keep && !zfs.DestroySafe(s.Name) {
			// zfs destroy fs@a%b destroys the range a..b: never pass it.
			vd = verdict{covered: true, keep: true, reason: unsafeNameReason}
		}
		var unsent *plan.GivenUp
		if !vd.keep {
			why, needed := p.needed[k][s.Name]
			if needed {
				unsent = p.giveUp(rules, why, s)
			}
			if needed && unsent == nil {
				vd = verdict{covered: true, keep: true, reason: unsentKeepReason(rules, why)}
			} else if holds := without(s.Holds, p.released[k][s.Name]); len(holds) > 0 {
				reason := "held by " + strings.Join(holds, ", ")
				if !anyZplan(holds) {
					reason += " (not zplan's hold: release it to let retention destroy the snapshot)"
				}
				vd = verdict{covered: true, keep: true, reason: reason}
			}
		}
		if vd.keep {
			if p.explain {
				kept = append(kept, &plan.Kept{Host: k.host, Dataset: k.dataset, Snapshot: s.Name, Reason: vd.text()})
			}
			continue
		}
		ref := plan.SnapRef{Name: s.Name, GUID: s.GUID, Rule: vd.rule, Reason: vd.text(), Bytes: int64(s.Used), Unsent: unsent}
		if unsent != nil {
			ref.Reason += "; " + unsent.String()
			for _, pc := range p.needed[k][s.Name].cursors {
				if !slices.Contains(cursors, pc) {
					cursors = append(cursors, pc)
				}
			}
		}
		destroy = append(destroy, ref)
		victims = append(victims, i)
	}
	if len(destroy) == 0 {
		return kept, nil
	}
	a := &plan.Action{
		Address: plan.KindDestroy.Address(k.host, k.dataset), Kind: plan.KindDestroy,
		Host: k.host, Dataset: k.dataset, Snapshots: destroy,
		Reason: fmt.Sprintf("retention: %d snapshot(s) no rule keeps", len(destroy)),
	}
	a.DependsOn = append(a.DependsOn, p.sendsFrom[k]...)
	a.DependsOn = append(a.DependsOn, p.sendsInto[k]...)
	if addr := plan.KindRollback.Address(k.host, k.dataset); p.index[addr] != nil {
		a.DependsOn = append(a.DependsOn, addr)
	}
	for _, r := range p.releasers[k] {
		if !contains(a.DependsOn, r) {
			a.DependsOn = append(a.DependsOn, r)
		}
	}
	if virtual != nil {
		a.DependsOn = append(a.DependsOn, virtual.address)
	}
	sort.Strings(a.DependsOn)
	just := p.justification(k, ds, victims, &named)
	a.Preconditions = make([]plan.Precondition, 0, len(destroy)+len(just))
	for _, d := range destroy {
		a.Preconditions = append(a.Preconditions, plan.Precondition{Host: k.host, Kind: plan.PreExists, Object: k.dataset + "@" + d.Name, GUID: d.GUID})
	}
	a.Preconditions = append(a.Preconditions, just...)
	a.Preconditions = append(a.Preconditions, cursors...)
	return kept, a
}

// ruleKeepers are the keepers one rule names for a snapshot it lets go;
// idx maps the rule's snapshot indices to the dataset's.
type ruleKeepers struct {
	idx []int
	k   *desired.Keepers
}

// namedKeepers records which keepers the rules name for each snapshot
// they let go, compactly: a prune of millions of snapshots must not
// cost an allocation each. Verdicts share their Keepers, so tab holds
// one entry per dropping grid bucket and rule; first[i] is 1 + the index
// of snapshot i's entry, more the rare entries of a second rule.
type namedKeepers struct {
	tab   []ruleKeepers
	ix    map[*desired.Keepers]int32
	first []int32
	more  map[int][]int32
}

func (n *namedKeepers) add(i, count int, rk ruleKeepers) {
	if n.first == nil {
		n.first = make([]int32, count)
		n.ix = map[*desired.Keepers]int32{}
	}
	e, ok := n.ix[rk.k]
	if !ok {
		e = int32(len(n.tab))
		n.tab = append(n.tab, rk)
		n.ix[rk.k] = e
	}
	switch {
	case n.first[i] == 0:
		n.first[i] = e + 1
	case n.first[i] != e+1:
		if n.more == nil {
			n.more = map[int][]int32{}
		}
		n.more[i] = append(n.more[i], e)
	}
}

// maxWindowPreconditions bounds how much of a keep_last window a destroy
// asserts. A window of thousands would put thousands of names on one
// zfs list; its oldest members are the ones another tool's pruning
// removes first, and the newest snapshot is asserted anyway.
const maxWindowPreconditions = 32

// justification asserts, by GUID, the snapshots that make a destroy's
// victims redundant, so that a saved plan applied after someone else
// pruned cannot empty the dataset or leave an edge without its base
// (design section 6). Asserting every kept snapshot would not scale;
// what the victims' verdicts name is the point: the keepers of their
// grid buckets, the keep_last window (bounded, see above), the newest
// snapshot that stays, and the common base of each replication edge on
// both hosts (a destroy that gives up unsent snapshots also asserts the
// blocked edges' cursor bookmarks, see giveUp). Snapshots this plan
// creates or receives are not asserted: the destroy waits for the
// actions that make them. Order: the
// dataset's listing order, then the edges' bases in edge order, so the
// plan stays byte-identical for identical input.
func (p *retainer) justification(k dsKey, ds *observe.Dataset, victims []int, named *namedKeepers) []plan.Precondition {
	gone := make([]bool, len(ds.Snapshots))
	for _, i := range victims {
		gone[i] = true
	}
	keep := map[int]bool{}
	add := func(rk ruleKeepers, js []int) {
		for _, j := range js {
			// Indices past idx are snapshots this plan creates or receives.
			if j < len(rk.idx) {
				keep[rk.idx[j]] = true
			}
		}
	}
	seen := make([]bool, len(named.tab)) // verdicts share Keepers: read each once
	use := func(e int32) {
		if seen[e] {
			return
		}
		seen[e] = true
		rk := named.tab[e]
		add(rk, rk.k.Bucket)
		w := rk.k.Window
		if len(w) > maxWindowPreconditions {
			w = w[len(w)-maxWindowPreconditions:]
		}
		add(rk, w)
	}
	for _, i := range victims {
		if named.first == nil || named.first[i] == 0 {
			continue
		}
		use(named.first[i] - 1)
		for _, e := range named.more[i] {
			use(e)
		}
	}
	newest := -1
	for i, s := range ds.Snapshots {
		if !gone[i] && !p.rolledBack[k][s.Name] && (newest < 0 || s.CreateTXG > ds.Snapshots[newest].CreateTXG) {
			newest = i
		}
	}
	if newest >= 0 {
		keep[newest] = true
	}
	var out []plan.Precondition
	have := map[plan.Precondition]bool{}
	for i, s := range ds.Snapshots {
		// A snapshot a declared rollback destroys first cannot be asserted.
		if keep[i] && !gone[i] && !p.rolledBack[k][s.Name] {
			pc := plan.Precondition{Host: k.host, Kind: plan.PreExists, Object: k.dataset + "@" + s.Name, GUID: s.GUID}
			have[pc] = true
			out = append(out, pc)
		}
	}
	for _, pc := range p.edgeBase[k] {
		if !have[pc] {
			have[pc] = true
			out = append(out, pc)
		}
	}
	return out
}

// without returns tags minus drop.
func without(tags, drop []string) []string {
	var out []string
	for _, t := range tags {
		if !contains(drop, t) {
			out = append(out, t)
		}
	}
	return out
}

// giveUp decides whether retention may destroy snapshot s although
// why says an edge still needs it: never for an edge's base; for unsent
// snapshots with prune_unsent, or with keep_unsent_for once s is older
// than the limit and every blocked edge has a cursor bookmark to send
// the next incremental from (invariant 9's exception). nil keeps it.
func (p *retainer) giveUp(rules []*desired.RetentionRule, why needReason, s *observe.Snapshot) *plan.GivenUp {
	if why.kind != needUnsent {
		return nil
	}
	if pruneUnsent(rules) {
		return &plan.GivenUp{Edges: why.edges}
	}
	r := keepUnsentFor(rules)
	if r == nil || why.noCursor || p.now.Sub(SnapTime(s, r.Prefix)) <= r.KeepUnsentFor {
		return nil
	}
	return &plan.GivenUp{Edges: why.edges, KeepUnsentFor: timespec.FormatDuration(r.KeepUnsentFor)}
}

// unsentKeepReason is why a needed snapshot stays, saying when
// keep_unsent_for cannot give it up for want of a cursor.
func unsentKeepReason(rules []*desired.RetentionRule, why needReason) string {
	if why.kind == needUnsent && why.noCursor && keepUnsentFor(rules) != nil {
		return why.text + " (keep_unsent_for does not give it up: a blocked edge has no cursor bookmark to send incrementally from without this snapshot)"
	}
	return why.text
}

// keepUnsentFor is the rule with the longest keep_unsent_for of a
// dataset's rules (the union keeps what any rule keeps), or nil.
func keepUnsentFor(rules []*desired.RetentionRule) *desired.RetentionRule {
	var out *desired.RetentionRule
	for _, r := range rules {
		if r.KeepUnsentFor > 0 && (out == nil || r.KeepUnsentFor > out.KeepUnsentFor) {
			out = r
		}
	}
	return out
}

func pruneUnsent(rules []*desired.RetentionRule) bool {
	for _, r := range rules {
		if r.PruneUnsent {
			return true
		}
	}
	return false
}

func anyZplan(tags []string) bool {
	for _, t := range tags {
		if plan.ZplanTag(t) {
			return true
		}
	}
	return false
}
