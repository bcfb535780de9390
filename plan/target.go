package plan

import (
	"sort"
	"strings"
)

// Select narrows p to the actions that -target selections name, plus
// every action they depend on (transitively), the way terraform includes
// dependencies: applying a send without the snapshot it sends would only
// fail later, so refusing would make -target useless for the common
// "replicate just this dataset now" case.
//
// A target matches an action when it is
//   - a prefix of the action's address (snapshot.src, send.offsite["tank/data@…"]),
//   - the host name, or HOST:DATASET, or a dataset (its subtree included)
//     the action works on (for sends: the source or the target side),
//   - a replication id, or replication.ID (sends, cursors, holds of that edge).
//
// A snapshot action that creates snapshots on several datasets of a pool
// at once is narrowed to the datasets the selection needs, unless the
// target names its address. Conflicts and kept-snapshot notes are kept
// when they concern a selected host, dataset or edge. p.Targets records
// the selection, so a saved partial plan says it is partial.
func (p *Plan) Select(targets []string) *Plan {
	if len(targets) == 0 {
		return p
	}
	out := *p
	out.Targets = append([]string(nil), targets...)
	byAddr := map[string]*Action{}
	for _, a := range p.Actions {
		byAddr[a.Address] = a
	}
	selected := map[string]bool{}
	byAddress := map[string]bool{} // matched through its address
	var visit func(a *Action)
	visit = func(a *Action) {
		if selected[a.Address] {
			return
		}
		selected[a.Address] = true
		for _, d := range a.DependsOn {
			if byAddr[d] != nil {
				visit(byAddr[d])
			}
		}
	}
	for _, a := range p.Actions {
		for _, t := range targets {
			if strings.HasPrefix(a.Address, t) {
				byAddress[a.Address] = true
			}
			if byAddress[a.Address] || matchAction(a, t) {
				visit(a)
				break
			}
		}
	}
	// Datasets each selected snapshot action must still cover.
	need := map[string]map[string]bool{}
	addNeed := func(addr, ds string) {
		if need[addr] == nil {
			need[addr] = map[string]bool{}
		}
		need[addr][ds] = true
	}
	for _, a := range p.Actions {
		if !selected[a.Address] {
			continue
		}
		if a.Kind == KindSnapshot {
			for _, d := range a.Datasets {
				for _, t := range targets {
					if matchDataset(a.Host, d, t) {
						addNeed(a.Address, d)
					}
				}
			}
		}
		if a.Send != nil {
			for _, d := range a.DependsOn {
				if dep := byAddr[d]; dep != nil && dep.Kind == KindSnapshot {
					addNeed(d, a.Send.SourceDataset)
				}
			}
		}
	}
	out.Actions = nil
	for _, a := range p.Actions {
		if !selected[a.Address] {
			continue
		}
		if a.Kind == KindSnapshot && !byAddress[a.Address] && len(need[a.Address]) > 0 && len(need[a.Address]) < len(a.Datasets) {
			a = narrowSnapshot(a, need[a.Address])
		}
		out.Actions = append(out.Actions, a)
	}
	out.Conflicts = nil
	for _, c := range p.Conflicts {
		if matchAny(targets, func(t string) bool {
			return c.Host == t || (c.Edge != "" && matchEdge(c.Edge, t)) || matchDataset(c.Host, c.Dataset, t)
		}) {
			out.Conflicts = append(out.Conflicts, c)
		}
	}
	out.Kept = nil
	for _, k := range p.Kept {
		if matchAny(targets, func(t string) bool { return k.Host == t || matchDataset(k.Host, k.Dataset, t) }) {
			out.Kept = append(out.Kept, k)
		}
	}
	out.Skipped = nil
	for _, k := range p.Skipped {
		if matchAny(targets, func(t string) bool { return k.Host == t || matchDataset(k.Host, k.Dataset, t) }) {
			out.Skipped = append(out.Skipped, k)
		}
	}
	out.Orphans = nil
	for _, o := range p.Orphans {
		if matchAny(targets, func(t string) bool { return o.Host == t || matchEdge(o.Edge, t) || matchDataset(o.Host, o.Dataset, t) }) {
			out.Orphans = append(out.Orphans, o)
		}
	}
	return &out
}

func matchAny(targets []string, f func(string) bool) bool {
	for _, t := range targets {
		if f(t) {
			return true
		}
	}
	return false
}

// narrowSnapshot returns a copy of a that snapshots only keep.
func narrowSnapshot(a *Action, keep map[string]bool) *Action {
	n := *a
	n.Datasets = nil
	for _, d := range a.Datasets {
		if keep[d] {
			n.Datasets = append(n.Datasets, d)
		}
	}
	sort.Strings(n.Datasets)
	// A hook stays with the datasets of its policy that remain.
	n.Hooks = nil
	for _, h := range a.Hooks {
		var ds []string
		for _, d := range h.Datasets {
			if keep[d] {
				ds = append(ds, d)
			}
		}
		if len(ds) > 0 {
			h.Datasets = ds
			n.Hooks = append(n.Hooks, h)
		}
	}
	n.Preconditions = nil
	for _, pc := range a.Preconditions {
		ds, _, _ := strings.Cut(pc.Object, "@")
		if keep[ds] {
			n.Preconditions = append(n.Preconditions, pc)
		}
	}
	return &n
}

func matchEdge(edge, t string) bool {
	return t == edge || t == "replication."+edge
}

// matchDataset: t is the dataset, an ancestor of it, or HOST:DATASET.
func matchDataset(host, ds, t string) bool {
	if ds == "" {
		return false
	}
	if h, d, ok := strings.Cut(t, ":"); ok {
		if h != host {
			return false
		}
		t = d
	}
	return ds == t || strings.HasPrefix(ds, t+"/")
}

func matchAction(a *Action, t string) bool {
	if a.Host == t || matchDataset(a.Host, a.Dataset, t) {
		return true
	}
	for _, d := range a.Datasets {
		if matchDataset(a.Host, d, t) {
			return true
		}
	}
	if s := a.Send; s != nil {
		if matchEdge(s.Edge, t) || s.TargetHost == t || matchDataset(s.SourceHost, s.SourceDataset, t) || matchDataset(s.TargetHost, s.TargetDataset, t) {
			return true
		}
	}
	if edge, _, ok := ParseCursor(a.Bookmark); ok && matchEdge(edge, t) {
		return true
	}
	edge, ok := ParseEdgeTag(a.Tag)
	return ok && matchEdge(edge, t)
}
