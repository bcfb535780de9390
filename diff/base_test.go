package diff_test

import (
	"testing"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/zfs"
)

// With the base snapshot pruned and two bookmarks of it on the source
// (another edge's cursor listed first), the incremental send and a
// resume of it start from the same bookmark: the edge's own cursor.
// findBase used to take the last match and resume the first.
func TestBaseBookmarkChoiceIsShared(t *testing.T) {
	other := &observe.Bookmark{Name: plan.CursorName("another", 99), GUID: 99, CreateTXG: 45}
	own := &observe.Bookmark{Name: plan.CursorName("offsite", 99), GUID: 99, CreateTXG: 45}
	manual := &observe.Bookmark{Name: "manual", GUID: 99, CreateTXG: 45}
	srcDS := func() *observe.Dataset {
		return &observe.Dataset{Name: "tank/data", Snapshots: []*observe.Snapshot{
			snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00"),
		}, Bookmarks: []*observe.Bookmark{other, own, manual}}
	}
	tgtSnaps := func() []*observe.Snapshot {
		return []*observe.Snapshot{snap("zplan_20261122T103000Z", 99, 9, "2026-11-22T10:30", "zplan_last_offsite")}
	}
	want := "#" + own.Name
	for _, tc := range []struct {
		name string
		tgt  *observe.Dataset
		kind plan.Kind
	}{
		{"incremental", &observe.Dataset{Name: "backup/src/data", Snapshots: tgtSnaps()}, plan.KindSendIncremental},
		{"resume", &observe.Dataset{Name: "backup/src/data", Snapshots: tgtSnaps(),
			ResumeToken: "1-abc-def", Token: &zfs.ResumeToken{FromGUID: 99, ToGUID: 100, ToName: "tank/data@zplan_20261122T120000Z"}}, plan.KindSendResume},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := srcDS()
			st := state(host("src", fs("tank"), src), host("dst", fs("backup"), fs("backup/src"), tc.tgt))
			pol, err := desired.Resolve(config(), st)
			if err != nil {
				t.Fatal(err)
			}
			p, err := diff.Plan(pol, st, now, diff.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var sends []*plan.Action
			for _, a := range p.Actions {
				if a.Send != nil && a.Dataset == "tank/data" {
					sends = append(sends, a)
				}
			}
			if len(sends) == 0 || sends[0].Kind != tc.kind || sends[0].Send.From != want {
				t.Fatalf("first send of tank/data: %+v, want %s from %s (conflicts %+v)", sends, tc.kind, want, p.Conflicts)
			}
			b, ok := diff.FindBase(src, tc.tgt, "offsite")
			if !ok || b.From != want || b.GUID != 99 || b.Target.Name != "zplan_20261122T103000Z" {
				t.Errorf("FindBase = %+v, %v; want %s", b, ok, want)
			}
		})
	}
}

// FindBase prefers the snapshot to a bookmark of the same GUID, and
// finds nothing when the target's snapshots are all foreign.
func TestFindBase(t *testing.T) {
	src := &observe.Dataset{Name: "tank/data", Snapshots: []*observe.Snapshot{
		snap("a", 1, 10, "2026-11-22T10:00"), snap("b", 2, 20, "2026-11-22T11:00"),
	}, Bookmarks: []*observe.Bookmark{cursor(2), cursor(3)}}
	tgt := fs("backup/data", snap("a", 1, 5, "2026-11-22T10:00"), snap("b", 2, 6, "2026-11-22T11:00"), snap("mine", 77, 7, "2026-11-22T11:30"))
	b, ok := diff.FindBase(src, tgt, "offsite")
	if !ok || b.From != "@b" || b.TXG != 20 || b.TargetIndex != 1 {
		t.Errorf("FindBase = %+v, %v; want @b at target index 1", b, ok)
	}
	if _, ok := diff.FindBase(src, fs("backup/data", snap("x", 9, 1, "2026-11-22T10:00")), "offsite"); ok {
		t.Error("FindBase found a base for a target with no source GUID")
	}
}
