package diff

import (
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
)

// Base is the newest snapshot an edge's source and target share, found
// by GUID (names are for humans): the newest target snapshot whose GUID
// the source has, as a snapshot or, once that is pruned, as a bookmark
// (the edge's replication cursor). The planner sends the next
// incremental from it and drift measures lag against it; both use
// FindBase, so they cannot disagree about an edge.
type Base struct {
	// From is the incremental source on the source dataset: "@snap", or
	// "#bookmark" when only a bookmark of the snapshot is left.
	From string
	GUID uint64
	// TXG is the createtxg of From on the source.
	TXG uint64
	// Target is the target's snapshot with GUID, at TargetIndex in the
	// target's Snapshots: those after it are the target's own.
	Target      *observe.Snapshot
	TargetIndex int
}

// SourceVersion finds guid on an edge's source dataset as an
// incremental source: the snapshot if it is still there (as zrepl's
// diff prefers a snapshot to a bookmark of the same GUID), else the
// edge's own cursor bookmark (the one retention and bookkeeping keep),
// else the first other bookmark of it in listing order.
func SourceVersion(src *observe.Dataset, edge string, guid uint64) (from string, txg uint64, ok bool) {
	if s := src.SnapshotByGUID(guid); s != nil {
		return "@" + s.Name, s.CreateTXG, true
	}
	var other *observe.Bookmark
	cursor := plan.CursorName(edge, guid)
	for _, bm := range src.Bookmarks {
		if bm.GUID != guid {
			continue
		}
		if bm.Name == cursor {
			return "#" + bm.Name, bm.CreateTXG, true
		}
		if other == nil {
			other = bm
		}
	}
	if other != nil {
		return "#" + other.Name, other.CreateTXG, true
	}
	return "", 0, false
}

// FindBase returns the newest target snapshot the source also has (see
// SourceVersion); ok is false when they share none. Whether the target
// diverged after it is the caller's question: the snapshots after
// TargetIndex, and the target's written bytes.
func FindBase(src, tgt *observe.Dataset, edge string) (b Base, ok bool) {
	if src == nil || tgt == nil {
		return Base{}, false
	}
	for i := len(tgt.Snapshots) - 1; i >= 0; i-- {
		t := tgt.Snapshots[i]
		if from, txg, found := SourceVersion(src, edge, t.GUID); found {
			return Base{From: from, GUID: t.GUID, TXG: txg, Target: t, TargetIndex: i}, true
		}
	}
	return Base{}, false
}

// base converts b to the planner's form.
func (b Base) base() *base {
	return &base{from: b.From, guid: b.GUID, txg: b.TXG, targetName: b.Target.Name}
}
