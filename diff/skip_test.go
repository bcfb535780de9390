package diff_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
	"github.com/zplan/zplan/zfs/zfsfake"
)

func written(s *observe.Snapshot, n uint64) *observe.Snapshot { s.Written = n; return s }

func planOf(t *testing.T, cfg *hclspec.Config, st *observe.State, at time.Time) (*desired.Policy, *plan.Plan) {
	t.Helper()
	pol, err := desired.Resolve(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	p, err := diff.Plan(pol, st, at, diff.Options{Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	return pol, p
}

// skip_unchanged leaves a due snapshot out only when nothing was written
// since the policy's newest snapshot: the dataset's written (since its
// newest snapshot of any kind) and the written of every snapshot after
// the policy's newest must all be zero.
func TestSkipUnchanged(t *testing.T) {
	const mine = "zplan_20261122T114500Z"
	cases := []struct {
		name  string
		skip  bool
		ds    uint64 // the dataset's written
		snaps []*observe.Snapshot
		want  bool // skipped
	}{
		{"unchanged", true, 0, []*observe.Snapshot{snap(mine, 1, 10, "2026-11-22T11:45")}, true},
		{"written since", true, 4096, []*observe.Snapshot{snap(mine, 1, 10, "2026-11-22T11:45")}, false},
		{"option off", false, 0, []*observe.Snapshot{snap(mine, 1, 10, "2026-11-22T11:45")}, false},
		{"no snapshot of the policy yet", true, 0, []*observe.Snapshot{snap("manual", 1, 10, "2026-11-22T11:45")}, false},
		{"unchanged foreign snapshot after", true, 0, []*observe.Snapshot{
			snap(mine, 1, 10, "2026-11-22T11:45"), written(snap("manual", 2, 11, "2026-11-22T11:50"), 0)}, true},
		// written counts only since @manual: what changed before it is in
		// @manual's own written.
		{"changed before a foreign snapshot", true, 0, []*observe.Snapshot{
			snap(mine, 1, 10, "2026-11-22T11:45"), written(snap("manual", 2, 11, "2026-11-22T11:50"), 8192)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := config(func(c2 *hclspec.Config) {
				c2.Replications = nil
				c2.Snapshots[0].SkipUnchanged = c.skip
			})
			d := fs("tank/data", c.snaps...)
			d.Written = c.ds
			st := state(host("src", fs("tank"), d))
			pol, p := planOf(t, cfg, st, now)
			snapshots := 0
			for _, a := range p.Actions {
				if a.Kind == plan.KindSnapshot {
					snapshots++
				}
			}
			if c.want {
				if snapshots != 0 || len(p.Skipped) != 1 {
					t.Fatalf("%d snapshot action(s), skipped %+v; want none and one skip", snapshots, p.Skipped)
				}
				k := p.Skipped[0]
				if k.Host != "src" || k.Dataset != "tank/data" || k.Policy != "data" || k.Since != mine || !k.Slot.Equal(ts("2026-11-22T12:00")) {
					t.Errorf("skipped %+v", k)
				}
				// drift: the dataset is up to date, not late.
				r := drift.Detect(drift.Input{Policy: pol, State: st, Plan: p, Now: now.Add(time.Hour), Grace: time.Minute})
				if n := r.Counts()[drift.MissingSnapshot]; n != 0 {
					t.Errorf("drift reports %d missing snapshot(s) for an unchanged dataset: %+v", n, r.Findings)
				}
			} else if snapshots != 1 || len(p.Skipped) != 0 {
				t.Fatalf("%d snapshot action(s), skipped %+v; want one snapshot", snapshots, p.Skipped)
			}
		})
	}
}

// On the fake, whose written matches real zfs (since the newest
// snapshot): a tick with nothing written takes no snapshot and destroys
// nothing; a write makes the next plan take one; keep_last still counts
// snapshots.
func TestSkipUnchangedOnFake(t *testing.T) {
	ctx := context.Background()
	w := zfsfake.NewWorld(func() time.Time { return now })
	src := w.Host("src")
	src.CreatePool("tank")
	src.Create("tank/data", zfsfake.Opts{})
	src.Write("tank/data", 1<<20)
	hosts := map[string]remote.Host{"src": src}
	cfg := config(func(c *hclspec.Config) {
		c.Replications = nil
		c.Snapshots[0].SkipUnchanged = true
		c.Snapshots[0].Retention = &hclspec.Retention{KeepLast: 2}
	})
	round := func(at time.Time) *plan.Plan {
		t.Helper()
		st, err := observe.Observe(ctx, hosts)
		if err != nil {
			t.Fatal(err)
		}
		_, p := planOf(t, cfg, st, at)
		res, err := apply.Apply(ctx, p, hosts, apply.Options{})
		if err != nil || res.Failed+res.Refused+res.Skipped > 0 {
			t.Fatalf("apply: %+v, %v", res, err)
		}
		return p
	}
	round(now)
	for i := 1; i <= 3; i++ {
		p := round(now.Add(time.Duration(i) * 15 * time.Minute))
		if !p.Empty() || len(p.Skipped) != 1 || p.Skipped[0].Since != "zplan_20261122T120700Z" {
			t.Fatalf("tick %d: actions %d, skipped %+v; want nothing but a skip", i, len(p.Actions), p.Skipped)
		}
	}
	// A saved skip-only plan, applied after a write, runs nothing and
	// refuses nothing: the skip is display data, not an action.
	st, err := observe.Observe(ctx, hosts)
	if err != nil {
		t.Fatal(err)
	}
	_, saved := planOf(t, cfg, st, now.Add(time.Hour))
	var buf bytes.Buffer
	must(t, planfile.Encode(&buf, saved, now))
	f, err := planfile.Decode(&buf)
	if err != nil || len(f.Plan.Skipped) != 1 {
		t.Fatalf("saved plan: %v, %+v", err, f)
	}
	src.Write("tank/data", 4096)
	res, err := apply.Apply(ctx, f.Plan, hosts, apply.Options{Resume: true})
	if err != nil || res.Failed+res.Refused+res.Skipped > 0 || len(src.Snapshots("tank/data")) != 1 {
		t.Fatalf("apply of the saved skip: %+v, %v, snapshots %v", res, err, src.Snapshots("tank/data"))
	}
	p := round(now.Add(time.Hour + 15*time.Minute))
	if len(p.Skipped) != 0 || p.Summarize().Create != 1 {
		t.Fatalf("after a write: %d created, skipped %+v; want a snapshot", p.Summarize().Create, p.Skipped)
	}
	if got := src.Snapshots("tank/data"); len(got) != 2 {
		t.Errorf("snapshots %v, want both (keep_last 2)", got)
	}
}

// keep_unsent_for gives up unsent snapshots of a blocked edge once they
// are older than the limit and retention would not keep them, only
// while the edge has a cursor bookmark; the destroy says so as data.
func TestKeepUnsentFor(t *testing.T) {
	type want struct{ destroyed, keptBecause string }
	cases := []struct {
		name   string
		ret    hclspec.Retention
		cursor bool
		want   want
	}{
		{"gives up the old ones", hclspec.Retention{KeepLast: 1, KeepUnsentFor: 14 * 24 * time.Hour}, true,
			want{destroyed: "zplan_20261102T120000Z zplan_20261106T120000Z"}},
		{"without the option keeps all", hclspec.Retention{KeepLast: 1}, true,
			want{keptBecause: "blocked by a conflict"}},
		{"no cursor: keeps all", hclspec.Retention{KeepLast: 1, KeepUnsentFor: 14 * 24 * time.Hour}, false,
			want{keptBecause: "no cursor bookmark"}},
		{"retention keeps them anyway", hclspec.Retention{Grid: "30x1d", KeepUnsentFor: 14 * 24 * time.Hour}, true,
			want{}},
		{"prune_unsent gives up all", hclspec.Retention{KeepLast: 1, PruneUnsent: true}, false,
			want{destroyed: "zplan_20261102T120000Z zplan_20261106T120000Z zplan_20261112T120000Z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := config(func(cf *hclspec.Config) { r := c.ret; cf.Snapshots[0].Retention = &r })
			d := fs("tank/data",
				snap("zplan_20261102T120000Z", 1, 10, "2026-11-02T12:00"),
				snap("zplan_20261106T120000Z", 2, 11, "2026-11-06T12:00"),
				snap("zplan_20261112T120000Z", 3, 12, "2026-11-12T12:00"),
				snap("zplan_20261122T120000Z", 4, 13, "2026-11-22T12:00"))
			if c.cursor {
				d.Bookmarks = []*observe.Bookmark{cursor(1)}
			}
			st := state(host("src", fs("tank"), d)) // dst is away
			_, p := planOf(t, cfg, st, now)
			var destroyed []string
			for _, a := range p.Actions {
				if a.Kind == plan.KindDestroyBookmark {
					t.Errorf("destroys a bookmark: %s", a.Address)
				}
				if a.Kind != plan.KindDestroy || a.Host != "src" {
					continue
				}
				if c.ret.KeepUnsentFor > 0 {
					// Apply re-checks the cursor the give-up relies on.
					want := plan.Precondition{Host: "src", Kind: plan.PreExists, Object: "tank/data#" + plan.CursorName("offsite", 1), GUID: 1}
					if !slices.Contains(a.Preconditions, want) {
						t.Errorf("destroy does not assert the cursor %+v: %+v", want, a.Preconditions)
					}
				}
				for _, s := range a.Snapshots {
					destroyed = append(destroyed, s.Name)
					if s.Unsent == nil || len(s.Unsent.Edges) != 1 || s.Unsent.Edges[0] != "offsite" {
						t.Errorf("%s: unsent %+v, want given up for offsite", s.Name, s.Unsent)
					} else if c.ret.KeepUnsentFor > 0 && (s.Unsent.KeepUnsentFor != "2w" || !strings.Contains(s.Reason, "keep_unsent_for = 2w")) {
						t.Errorf("%s: unsent %+v, reason %q; want keep_unsent_for 2w (14d) in both", s.Name, s.Unsent, s.Reason)
					}
				}
			}
			if got := strings.Join(destroyed, " "); got != c.want.destroyed {
				t.Errorf("destroyed %q, want %q", got, c.want.destroyed)
			}
			if c.want.keptBecause != "" {
				for _, k := range p.Kept {
					if k.Snapshot == "zplan_20261102T120000Z" && !strings.Contains(k.Reason, c.want.keptBecause) {
						t.Errorf("kept because %q, want %q", k.Reason, c.want.keptBecause)
					}
				}
			}
		})
	}
}

// A blocked edge whose observed target shares a snapshot that no cursor
// of the edge marks keeps that snapshot: keep_unsent_for never gives up
// the only incremental source (invariant 2).
func TestKeepUnsentForKeepsUncursoredBase(t *testing.T) {
	cfg := config(func(c *hclspec.Config) {
		c.Snapshots[0].Retention = &hclspec.Retention{KeepLast: 1, KeepUnsentFor: 14 * 24 * time.Hour}
	})
	src := fs("tank/data",
		snap("zplan_20261102T120000Z", 1, 10, "2026-11-02T12:00"),
		snap("zplan_20261106T120000Z", 2, 11, "2026-11-06T12:00"),
		snap("zplan_20261122T120000Z", 4, 13, "2026-11-22T12:00"))
	src.Bookmarks = []*observe.Bookmark{cursor(1)} // outdated: the target has @…1106 too
	tgt := fs("backup/src/data",
		snap("zplan_20261102T120000Z", 1, 5, "2026-11-02T12:00"),
		snap("zplan_20261106T120000Z", 2, 6, "2026-11-06T12:00"),
		snap("theirs", 99, 7, "2026-11-07T12:00"))
	st := state(host("src", fs("tank"), src), host("dst", fs("backup"), fs("backup/src"), tgt))
	_, p := planOf(t, cfg, st, now)
	if len(p.Conflicts) != 1 || p.Conflicts[0].Kind != plan.ConflictDiverged {
		t.Fatalf("conflicts %+v, want the divergence", p.Conflicts)
	}
	for _, a := range p.Actions {
		if a.Kind == plan.KindDestroy && a.Host == "src" {
			for _, s := range a.Snapshots {
				if s.Name == "zplan_20261106T120000Z" {
					t.Errorf("destroys the edge's uncursored base @%s", s.Name)
				}
			}
		}
	}
}

// On the fake: the target is away for three weeks; keep_unsent_for
// gives up the old unsent snapshots, keeps the cursor bookmark, and when
// the target is back the next incremental goes from the cursor.
func TestKeepUnsentForOnFake(t *testing.T) {
	ctx := context.Background()
	w := zfsfake.NewWorld(func() time.Time { return now })
	src, dst := w.Host("src"), w.Host("dst")
	src.CreatePool("tank")
	src.Create("tank/data", zfsfake.Opts{})
	dst.CreatePool("backup")
	dst.Create("backup/src", zfsfake.Opts{Props: map[string]string{zfs.PropPlaceholder: "backup/src"}})
	const a = "tank/data@zplan_20261101T120000Z"
	src.Write("tank/data", 1<<20)
	src.Snapshot(a)
	must(t, remote.Pipe(ctx, src, zfs.SendArgv(nil, "", a), dst, zfs.RecvArgv("backup/src/data", nil, nil), nil))
	cursorName := plan.CursorName("offsite", src.GUID(a))
	if _, err := remote.Output(ctx, src, zfs.BookmarkArgv(a, "tank/data#"+cursorName)...); err != nil {
		t.Fatal(err)
	}
	dst.Hold(plan.LastTag("offsite"), "backup/src/data@zplan_20261101T120000Z")
	for _, day := range []string{"20261105", "20261115", "20261121"} {
		src.Write("tank/data", 1<<20)
		src.Snapshot("tank/data@zplan_" + day + "T120000Z")
	}
	cfg := config(func(c *hclspec.Config) {
		c.Snapshots[0].Retention = &hclspec.Retention{KeepLast: 1, KeepUnsentFor: 14 * 24 * time.Hour}
	})
	run := func(hosts map[string]remote.Host) *plan.Plan {
		t.Helper()
		st, err := observe.Observe(ctx, hosts)
		if err != nil {
			t.Fatal(err)
		}
		_, p := planOf(t, cfg, st, now)
		res, err := apply.Apply(ctx, p, hosts, apply.Options{})
		if err != nil || res.Failed+res.Refused+res.Skipped > 0 {
			t.Fatalf("apply: %+v, %v", res, err)
		}
		return p
	}
	run(map[string]remote.Host{"src": src}) // dst is away
	got := strings.Join(src.Snapshots("tank/data"), " ")
	if want := "zplan_20261115T120000Z zplan_20261121T120000Z zplan_20261122T120700Z"; got != want {
		t.Fatalf("source snapshots %q, want %q", got, want)
	}
	both := map[string]remote.Host{"src": src, "dst": dst}
	p := run(both)
	var from []string
	for _, a := range p.Actions {
		if a.Kind == plan.KindSendIncremental {
			from = append(from, a.Send.From)
		}
	}
	if len(from) == 0 || from[0] != "#"+cursorName {
		t.Fatalf("incremental sends from %v, want the first from the cursor #%s", from, cursorName)
	}
	snaps := dst.Snapshots("backup/src/data")
	if snaps[len(snaps)-1] != "zplan_20261122T120700Z" {
		t.Errorf("target snapshots %v, want the newest last", snaps)
	}
}
