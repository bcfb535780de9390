package diff

import (
	"fmt"
	"sort"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
)

// Orphans lists zplan's holds and cursor bookmarks, in the subtrees the
// configuration manages (Policy.Scope) on every observed host, that no
// configured edge owns: their replication id is not
// configured, or the id's edges no longer name the dataset. Only names
// of zplan's own forms count, so other tools' holds and bookmarks are
// never listed. A configured edge's own datasets are not looked at here
// (a stale step hold there is the edge's business), nor the datasets of
// a replication whose edges are not all known (its source host was not
// observed, or one of its datasets was set aside).
func Orphans(pol *desired.Policy, st *observe.State) []*plan.Orphan {
	if pol.Replications == nil {
		return nil // a policy made by hand knows no replications: claim nothing
	}
	covered := map[string]map[dsKey]bool{}
	for _, e := range pol.Edges {
		if covered[e.ID] == nil {
			covered[e.ID] = map[dsKey]bool{}
		}
		covered[e.ID][dsKey{e.SourceHost, e.SourceDataset}] = true
		covered[e.ID][dsKey{e.TargetHost, e.TargetDataset}] = true
	}
	why := func(id string, k dsKey) string {
		complete, configured := pol.Replications[id]
		switch {
		case !configured:
			return fmt.Sprintf("replication id %s is not configured", id)
		case !complete || covered[id][k]:
			return ""
		}
		return fmt.Sprintf("dataset no longer replicated by %s", id)
	}
	var out []*plan.Orphan
	for hn, h := range st.Hosts {
		for _, ds := range h.Datasets {
			if !pol.InScope(hn, ds.Name) {
				continue
			}
			k := dsKey{hn, ds.Name}
			for _, s := range ds.Snapshots {
				for _, tag := range s.Holds {
					id, ok := plan.ParseEdgeTag(tag)
					if !ok || !plan.PlausibleEdge(id) {
						continue
					}
					if w := why(id, k); w != "" {
						out = append(out, &plan.Orphan{Host: hn, Dataset: ds.Name, Kind: plan.OrphanHold, Name: tag, Snapshot: s.Name, Edge: id, Why: w})
					}
				}
			}
			for _, b := range ds.Bookmarks {
				id, guid, ok := plan.ParseCursor(b.Name)
				if !ok || !plan.PlausibleEdge(id) || plan.CursorName(id, guid) != b.Name {
					continue
				}
				if w := why(id, k); w != "" {
					out = append(out, &plan.Orphan{Host: hn, Dataset: ds.Name, Kind: plan.OrphanCursor, Name: b.Name, Edge: id, Why: w,
						Kept: cursorInUse(pol, st, ds, b.Name)})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Host+"\x00"+a.Dataset+"\x00"+string(a.Kind)+"\x00"+a.Name+"\x00"+a.Snapshot <
			b.Host+"\x00"+b.Dataset+"\x00"+string(b.Kind)+"\x00"+b.Name+"\x00"+b.Snapshot
	})
	return out
}

// cursorInUse says which configured edge from ds may send from bookmark
// name (its base, when the snapshot is gone: SourceVersion takes any
// bookmark of the GUID), or whose target was not observed, so its base
// is unknown; "" when none. Such a cursor stays (invariant 2) until the
// edge has its own.
func cursorInUse(pol *desired.Policy, st *observe.State, ds *observe.Dataset, name string) string {
	for _, e := range pol.Edges {
		if e.SourceDataset != ds.Name || datasetOf(st, e.SourceHost, e.SourceDataset) != ds {
			continue
		}
		if st.Hosts[e.TargetHost] == nil {
			return fmt.Sprintf("kept: the target of replication %s was not observed, which may send from it", e.ID)
		}
		if b, ok := FindBase(ds, datasetOf(st, e.TargetHost, e.TargetDataset), e.ID); ok && b.From == "#"+name {
			return fmt.Sprintf("kept: replication %s sends from it until it has its own cursor", e.ID)
		}
	}
	return ""
}

// releaseOrphans plans, with orphans = "release", one release per
// dataset and tag and one destroy per cursor bookmark. Retention does not
// count these releases: a snapshot they free goes in a later plan, if a
// rule lets it.
func releaseOrphans(pol *desired.Policy, orphans []*plan.Orphan) []*plan.Action {
	if pol.Orphans != hclspec.OrphansRelease {
		return nil
	}
	var out []*plan.Action
	byTag := map[string]*plan.Action{}
	for _, o := range orphans {
		switch o.Kind {
		case plan.OrphanHold:
			addr := plan.KindRelease.Address(o.Host, o.Dataset+"@"+o.Name)
			a := byTag[addr]
			if a == nil {
				reason := "orphan: " + o.Why
				if _, last := plan.ParseLastTag(o.Name); last {
					reason += "; once released, retention or a user may destroy the snapshot"
				}
				a = &plan.Action{Address: addr, Kind: plan.KindRelease, Host: o.Host, Dataset: o.Dataset, Tag: o.Name,
					Reason: reason + ` (orphans = "release")`}
				byTag[addr] = a
				out = append(out, a)
			}
			a.Snapshots = append(a.Snapshots, plan.SnapRef{Name: o.Snapshot})
		case plan.OrphanCursor:
			if o.Kept != "" {
				continue
			}
			out = append(out, &plan.Action{
				Address: plan.KindDestroyBookmark.Address(o.Host, o.Dataset+"#"+o.Name), Kind: plan.KindDestroyBookmark,
				Host: o.Host, Dataset: o.Dataset, Bookmark: o.Name,
				Reason:        "orphan: " + o.Why + ` (orphans = "release")`,
				Preconditions: []plan.Precondition{{Host: o.Host, Kind: plan.PreExists, Object: o.Dataset + "#" + o.Name}},
			})
		}
	}
	return out
}
