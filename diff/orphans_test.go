package diff_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
	"github.com/zplan/zplan/zfs/zfsfake"
)

func bookmark(name string, guid uint64) *observe.Bookmark {
	return &observe.Bookmark{Name: name, GUID: guid, CreateTXG: 1}
}

// orphanState: tank/data and tank/data/x replicated to dst, with the
// given extra holds on each end's snapshot and bookmarks on the sources.
func orphanState(srcHolds, dstHolds []string, bms ...*observe.Bookmark) *observe.State {
	data := fs("tank/data", snap("zplan_20261122T114500Z", 100, 10, "2026-11-22T11:45", srcHolds...))
	data.Bookmarks = append([]*observe.Bookmark{cursor(100)}, bms...)
	x := fs("tank/data/x", snap("zplan_20261122T114500Z", 200, 10, "2026-11-22T11:45"))
	x.Bookmarks = []*observe.Bookmark{bookmark(plan.CursorName("offsite", 200), 200)}
	return state(
		host("src", fs("tank"), data, x),
		host("dst", fs("backup"), fs("backup/src"),
			fs("backup/src/data", snap("zplan_20261122T114500Z", 100, 9, "2026-11-22T11:45", append([]string{"zplan_last_offsite"}, dstHolds...)...)),
			fs("backup/src/data/x", snap("zplan_20261122T114500Z", 200, 9, "2026-11-22T11:45", "zplan_last_offsite"))),
	)
}

func TestOrphans(t *testing.T) {
	notConfigured := "replication id old is not configured"
	tests := []struct {
		name string
		cfg  *hclspec.Config
		st   *observe.State
		want []string // host:object why
	}{
		{
			name: "configured live edge is not an orphan",
			cfg:  config(),
			st:   orphanState([]string{"zplan_step_offsite"}, nil),
		},
		{
			name: "removed id",
			cfg:  config(),
			st:   orphanState([]string{"zplan_step_old"}, []string{"zplan_last_old"}, bookmark(plan.CursorName("old", 100), 100)),
			want: []string{
				"dst:backup/src/data@zplan_20261122T114500Z zplan_last_old " + notConfigured,
				"src:tank/data#" + plan.CursorName("old", 100) + " " + notConfigured,
				"src:tank/data@zplan_20261122T114500Z zplan_step_old " + notConfigured,
			},
		},
		{
			// Another configuration's datasets on the same hosts (outside
			// tank/data and backup/src) are not this one's orphans, even
			// with an id this configuration does not know.
			name: "outside the configuration's subtrees",
			cfg: config(func(c *hclspec.Config) {
				c.Snapshots[0].Datasets.Include = []string{"tank/other/**"}
				c.Replications[0].TargetRoot = "backup/elsewhere"
			}),
			st: orphanState([]string{"zplan_step_old"}, []string{"zplan_last_old"}, bookmark(plan.CursorName("old", 100), 100)),
		},
		{
			name: "renamed id",
			cfg:  config(func(c *hclspec.Config) { c.Replications[0].ID = "r2" }),
			st:   orphanState(nil, nil),
			want: []string{
				"dst:backup/src/data/x@zplan_20261122T114500Z zplan_last_offsite replication id offsite is not configured",
				"dst:backup/src/data@zplan_20261122T114500Z zplan_last_offsite replication id offsite is not configured",
				"src:tank/data#" + plan.CursorName("offsite", 100) + " replication id offsite is not configured",
				"src:tank/data/x#" + plan.CursorName("offsite", 200) + " replication id offsite is not configured",
			},
		},
		{
			name: "dataset excluded",
			cfg:  config(func(c *hclspec.Config) { c.Snapshots[0].Datasets.Exclude = []string{"tank/data/x"} }),
			st:   orphanState(nil, nil),
			want: []string{
				"dst:backup/src/data/x@zplan_20261122T114500Z zplan_last_offsite dataset no longer replicated by offsite",
				"src:tank/data/x#" + plan.CursorName("offsite", 200) + " dataset no longer replicated by offsite",
			},
		},
		{
			name: "other tools' look-alikes are not orphans",
			cfg:  config(),
			st: orphanState([]string{"zplan_lastold", "zplan_step_", "syncoid_old"}, []string{"zplan_last_not an id", "zplan-lock"},
				bookmark("zplan_cursor_00000000000000AA_old", 100), // not the hex zplan writes
				bookmark("zplan_cursor_xyz_old", 100),
				bookmark("syncoid_cursor_old", 100)),
		},
		{
			name: "unobserved source: only ids not configured",
			cfg:  config(),
			st: func() *observe.State {
				st := orphanState(nil, []string{"zplan_last_old"})
				delete(st.Hosts, "src")
				return st
			}(),
			want: []string{"dst:backup/src/data@zplan_20261122T114500Z zplan_last_old " + notConfigured},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := desired.Resolve(tc.cfg, tc.st)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range diff.Orphans(pol, tc.st) {
				got = append(got, o.Host+":"+o.Object()+" "+o.Why)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("orphans:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			// keep (the default) plans nothing for them.
			p, err := diff.Plan(pol, tc.st, now, diff.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range p.Actions {
				if strings.HasPrefix(a.Reason, "orphan") {
					t.Errorf("orphans = keep planned %s", a.Address)
				}
			}
		})
	}
}

// On the fake: a dataset replicated by id "old", the configuration now
// says "offsite" with orphans = "release". The plan releases old's holds
// and destroys its cursor, replicates as offsite incrementally (the
// common snapshot is found by GUID), and the next plan has no orphans.
func TestReleaseOrphansOnFake(t *testing.T) {
	ctx := context.Background()
	w := zfsfake.NewWorld(func() time.Time { return now })
	src, dst := w.Host("src"), w.Host("dst")
	src.CreatePool("tank")
	src.Create("tank/data", zfsfake.Opts{})
	src.Write("tank/data", 1<<20)
	dst.CreatePool("backup")
	dst.Create("backup/src", zfsfake.Opts{Props: map[string]string{zfs.PropPlaceholder: "backup/src"}})
	hosts := map[string]remote.Host{"src": src, "dst": dst}
	const a = "tank/data@zplan_20261122T114500Z"
	src.Snapshot(a)
	must(t, remote.Pipe(ctx, src, zfs.SendArgv(nil, "", a), dst, zfs.RecvArgv("backup/src/data", nil, nil), nil))
	oldCursor := "tank/data#" + plan.CursorName("old", src.GUID(a))
	if _, err := remote.Output(ctx, src, zfs.BookmarkArgv(a, oldCursor)...); err != nil {
		t.Fatal(err)
	}
	dst.Hold(plan.LastTag("old"), "backup/src/data@zplan_20261122T114500Z")
	src.Write("tank/data", 1<<20)

	cfg := config(func(c *hclspec.Config) { c.Orphans = hclspec.OrphansRelease })
	planNow := func() *plan.Plan {
		t.Helper()
		st, err := observe.Observe(ctx, hosts)
		if err != nil {
			t.Fatal(err)
		}
		pol, err := desired.Resolve(cfg, st)
		if err != nil {
			t.Fatal(err)
		}
		p, err := diff.Plan(pol, st, now, diff.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := planNow()
	if len(p.Orphans) != 2 {
		t.Fatalf("orphans %+v, want old's hold and cursor", p.Orphans)
	}
	kinds := map[plan.Kind]int{}
	for _, a := range p.Actions {
		kinds[a.Kind]++
	}
	if kinds[plan.KindSendFull] != 0 || kinds[plan.KindSendIncremental] != 1 {
		t.Errorf("plan kinds %v, want one incremental send from the common snapshot", kinds)
	}
	res, err := apply.Apply(ctx, p, hosts, apply.Options{})
	if err != nil || res.Failed+res.Refused+res.Skipped > 0 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if slices.Contains(dst.Holds("backup/src/data@zplan_20261122T114500Z"), plan.LastTag("old")) {
		t.Error("old's last-received hold is still there")
	}
	if src.Exists(oldCursor) {
		t.Error("old's cursor is still there")
	}
	p = planNow()
	if len(p.Orphans) != 0 || len(p.Actions) != 0 {
		t.Errorf("second plan: orphans %+v, actions %d, want none", p.Orphans, len(p.Actions))
	}
}

// A renamed edge whose source pruned the common snapshot sends from the
// old id's cursor: with orphans = "release" that cursor still stays (it
// is the edge's base, invariant 2), and the plan says why.
func TestOrphanCursorKeptWhileAnEdgeSendsFromIt(t *testing.T) {
	data := fs("tank/data", snap("zplan_20261122T120000Z", 101, 11, "2026-11-22T12:00"))
	old := plan.CursorName("old", 100)
	data.Bookmarks = []*observe.Bookmark{bookmark(old, 100)}
	st := state(
		host("src", fs("tank"), data),
		host("dst", fs("backup"), fs("backup/src"),
			fs("backup/src/data", snap("zplan_20261122T114500Z", 100, 9, "2026-11-22T11:45", "zplan_last_old"))),
	)
	cfg := config(func(c *hclspec.Config) { c.Orphans = hclspec.OrphansRelease })
	pol, err := desired.Resolve(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	p, err := diff.Plan(pol, st, now, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sendsFromOld, released := false, false
	for _, a := range p.Actions {
		switch {
		case a.Kind == plan.KindDestroyBookmark && a.Bookmark == old:
			t.Errorf("the edge's only base is destroyed: %s", a.Address)
		case a.Send != nil && a.Send.From == "#"+old:
			sendsFromOld = true
		case a.Kind == plan.KindRelease && a.Tag == "zplan_last_old":
			released = true
		}
	}
	if !sendsFromOld || !released {
		t.Errorf("want a send from #%s and old's hold released; actions %d, orphans %+v", old, len(p.Actions), p.Orphans)
	}
	for _, o := range p.Orphans {
		if o.Kind == plan.OrphanCursor && !strings.Contains(o.Kept, "replication offsite sends from it") {
			t.Errorf("orphan cursor %s: kept %q", o.Name, o.Kept)
		}
	}
}
