package drift_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs/zfsfake"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func config() *hclspec.Config {
	return &hclspec.Config{
		Hosts: []*hclspec.Host{{Name: "src"}, {Name: "dst"}},
		Snapshots: []*hclspec.SnapshotPolicy{{
			Name: "data", Host: "src", Prefix: "zplan_",
			Datasets:  hclspec.DatasetSelector{Include: []string{"tank/data/**"}},
			Schedule:  hclspec.Schedule{Every: 15 * time.Minute},
			Retention: &hclspec.Retention{Grid: "1x1h(keep=all) | 24x1h"},
		}},
		Replications: []*hclspec.Replication{{
			Name: "offsite", ID: "offsite", SnapshotsPolicy: "data",
			TargetHost: "dst", TargetRoot: "backup/src", Initial: "most_recent", Raw: "auto", OnDivergence: "refuse",
		}},
	}
}

// state is observed from a fake world set up by a case.
func detect(t *testing.T, w *zfsfake.World, now time.Time) *drift.Report {
	t.Helper()
	hosts := map[string]remote.Host{"src": w.Host("src"), "dst": w.Host("dst")}
	st, err := observe.Observe(context.Background(), hosts)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := desired.Resolve(config(), st)
	if err != nil {
		t.Fatal(err)
	}
	p, err := diff.Plan(pol, st, now, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return drift.Detect(drift.Input{Policy: pol, State: st, Plan: p, Now: now, Grace: 5 * time.Minute})
}

// replicated is a world where src tank/data has @zplan_20261122T120000Z,
// received by dst with its hold and cursor, as an apply leaves it.
func replicated() *zfsfake.World {
	w := zfsfake.NewWorld(func() time.Time { return t0 })
	src, dst := w.Host("src"), w.Host("dst")
	src.CreatePool("tank")
	src.Create("tank/data", zfsfake.Opts{})
	src.Write("tank/data", 1<<20)
	dst.CreatePool("backup")
	dst.Create("backup/src", zfsfake.Opts{Props: map[string]string{"zplan:placeholder": "backup/src"}})
	src.Snapshot("tank/data@zplan_20261122T120000Z")
	ctx := context.Background()
	if err := remote.Pipe(ctx, src, []string{"zfs", "send", "tank/data@zplan_20261122T120000Z"}, dst, []string{"zfs", "recv", "-s", "-u", "backup/src/data"}, nil); err != nil {
		panic(err)
	}
	guid := src.GUID("tank/data@zplan_20261122T120000Z")
	run(src, "zfs", "bookmark", "tank/data@zplan_20261122T120000Z", "tank/data#"+cursor(guid))
	run(dst, "zfs", "hold", "zplan_last_offsite", "backup/src/data@zplan_20261122T120000Z")
	return w
}

func cursor(guid uint64) string {
	return "zplan_cursor_" + hex16(guid) + "_offsite"
}

func hex16(v uint64) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b)
}

func run(h *zfsfake.Host, argv ...string) {
	if _, err := remote.Output(context.Background(), h, argv...); err != nil {
		panic(err)
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		name  string
		setup func(w *zfsfake.World)
		now   time.Time
		want  map[drift.Kind]int
	}{
		{name: "in sync", now: t0.Add(2 * time.Minute), want: map[drift.Kind]int{}},
		{name: "within grace", now: t0.Add(18 * time.Minute), want: map[drift.Kind]int{}},
		{name: "missed snapshot", now: t0.Add(40 * time.Minute), want: map[drift.Kind]int{drift.MissingSnapshot: 1}},
		{
			name: "replication lag", now: t0.Add(16 * time.Minute),
			setup: func(w *zfsfake.World) { w.Host("src").Snapshot("tank/data@zplan_20261122T121500Z") },
			want:  map[drift.Kind]int{drift.ReplicationLag: 1},
		},
		{
			name: "new dataset under a /** pattern", now: t0.Add(2 * time.Minute),
			setup: func(w *zfsfake.World) { w.Host("src").Create("tank/data/new", zfsfake.Opts{}) },
			// It is also not replicated yet: nothing to send, no lag.
			want: map[drift.Kind]int{drift.NewDataset: 1},
		},
		{
			// The hold of an id no longer configured is an orphan (the
			// plan lists it), not also a foreign hold.
			name: "stale step hold and orphaned hold", now: t0.Add(2 * time.Minute),
			setup: func(w *zfsfake.World) {
				run(w.Host("src"), "zfs", "hold", "zplan_step_offsite", "tank/data@zplan_20261122T120000Z")
				run(w.Host("dst"), "zfs", "hold", "zplan_last_gone", "backup/src/data@zplan_20261122T120000Z")
			},
			want: map[drift.Kind]int{drift.StaleHold: 1, drift.Orphan: 1},
		},
		{
			// An orphaned cursor, and a hold that only looks like zplan's
			// (an id no configuration accepts) stays a foreign hold.
			name: "orphaned cursor and odd foreign hold", now: t0.Add(2 * time.Minute),
			setup: func(w *zfsfake.World) {
				run(w.Host("src"), "zfs", "bookmark", "tank/data@zplan_20261122T120000Z", "tank/data#zplan_cursor_00000000000000aa_gone")
				run(w.Host("dst"), "zfs", "hold", "zplan_last_not an id", "backup/src/data@zplan_20261122T120000Z")
			},
			want: map[drift.Kind]int{drift.Orphan: 1, drift.ForeignHold: 1},
		},
		{
			name: "cursor missing", now: t0.Add(2 * time.Minute),
			setup: func(w *zfsfake.World) {
				src := w.Host("src")
				run(src, "zfs", "destroy", "tank/data#"+cursor(src.GUID("tank/data@zplan_20261122T120000Z")))
			},
			want: map[drift.Kind]int{drift.CursorMismatch: 1},
		},
		{
			name: "diverged target", now: t0.Add(2 * time.Minute),
			setup: func(w *zfsfake.World) {
				w.Host("dst").Write("backup/src/data", 1<<20)
				w.Host("dst").Snapshot("backup/src/data@theirs")
			},
			want: map[drift.Kind]int{drift.Conflict: 1},
		},
		{
			name: "retention overdue", now: t0.Add(26*time.Hour + 2*time.Minute),
			setup: func(w *zfsfake.World) {
				w.Host("src").Snapshot("tank/data@zplan_20261123T140000Z")
			},
			// The cursor bookmark is the next incremental's base, so the
			// old source snapshot may go: kept past retention.
			want: map[drift.Kind]int{drift.ReplicationLag: 1, drift.RetentionOverdue: 1},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := replicated()
			if c.setup != nil {
				c.setup(w)
			}
			r := detect(t, w, c.now)
			got := r.Counts()
			if len(got) != len(c.want) {
				t.Fatalf("findings %v, want %v: %+v", got, c.want, r.Findings)
			}
			for k, n := range c.want {
				if got[k] != n {
					t.Fatalf("findings %v, want %v: %+v", got, c.want, r.Findings)
				}
			}
			for _, f := range r.Findings {
				if (f.Kind == drift.Conflict) != (f.ConflictKind != "") {
					t.Errorf("%s finding with conflict kind %q", f.Kind, f.ConflictKind)
				}
				if c.name == "diverged target" && f.Kind == drift.Conflict && f.ConflictKind != plan.ConflictDiverged {
					t.Errorf("diverged target: conflict kind %q, want %q", f.ConflictKind, plan.ConflictDiverged)
				}
			}
		})
	}
}

// An edge whose only common base is the source's cursor bookmark (the
// source pruned the snapshot after sending it) is behind, not without a
// common snapshot: the planner sends incrementally from the bookmark,
// and drift finds the base the same way (diff.FindBase).
func TestLagFromCursorBookmark(t *testing.T) {
	w := replicated()
	src := w.Host("src")
	src.Snapshot("tank/data@zplan_20261122T121500Z")
	run(src, "zfs", "destroy", "tank/data@zplan_20261122T120000Z")
	r := detect(t, w, t0.Add(16*time.Minute))
	if got := r.Counts(); len(got) != 1 || got[drift.ReplicationLag] != 1 {
		t.Fatalf("findings %v, want one replication lag: %+v", got, r.Findings)
	}
	f := r.Findings[0]
	if f.Severity != "warning" || !strings.Contains(f.Message, "1 snapshot(s) behind") || f.Since == nil || !f.Since.Equal(t0) {
		t.Errorf("lag finding %+v: want a warning, 1 snapshot behind since %v (the bookmarked base)", f, t0)
	}
	if r.PendingActions == 0 {
		t.Error("no pending actions: the planner should send @zplan_20261122T121500Z from the cursor")
	}
}

// Report.Edges and Datasets measure what the findings summarise: an
// in-sync edge lags 0; one snapshot behind lags from the common base and
// counts the planner's estimate of the snapshot still to send; LastApply
// is the newest managed snapshot's name time or current cursor's creation.
func TestStatus(t *testing.T) {
	r := detect(t, replicated(), t0.Add(2*time.Minute))
	if len(r.Edges) != 1 || !r.Edges[0].InSync || !r.Edges[0].LagKnown || r.Edges[0].Lag != 0 || r.Edges[0].Blocked {
		t.Fatalf("in sync: edges %+v", r.Edges)
	}
	if r.Edges[0].CursorCreation.IsZero() {
		t.Errorf("in sync: no cursor creation in %+v", r.Edges[0])
	}
	if len(r.Datasets) != 1 || !r.Datasets[0].Newest.Equal(t0) || r.Datasets[0].Overdue {
		t.Fatalf("in sync: datasets %+v", r.Datasets)
	}
	if !r.LastApply.Equal(t0) {
		t.Errorf("last apply %v, want %v", r.LastApply, t0)
	}

	w := replicated()
	w.Host("src").Write("tank/data", 3<<20)
	w.Host("src").Snapshot("tank/data@zplan_20261122T121500Z")
	r = detect(t, w, t0.Add(16*time.Minute))
	e := r.Edges[0]
	if e.InSync || !e.LagKnown || e.Lag != 16*time.Minute || e.Behind != 1 || e.UnsentBytes <= 0 {
		t.Fatalf("behind: %+v", e)
	}
	if want := t0.Add(15 * time.Minute); !r.LastApply.Equal(want) {
		t.Errorf("last apply %v, want %v", r.LastApply, want)
	}

	w = replicated()
	w.Host("dst").Write("backup/src/data", 1<<20)
	w.Host("dst").Snapshot("backup/src/data@theirs")
	w.Host("src").Snapshot("tank/data@zplan_20261122T121500Z")
	r = detect(t, w, t0.Add(16*time.Minute))
	if e := r.Edges[0]; !e.Blocked || e.Conflicts != 1 || e.UnsentBytes != 0 {
		t.Fatalf("diverged: %+v", e)
	}
	if r = detect(t, replicated(), t0.Add(40*time.Minute)); !r.Datasets[0].Overdue {
		t.Errorf("missed: datasets %+v", r.Datasets)
	}
}
