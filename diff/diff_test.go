package diff_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/render"
	"github.com/zplan/zplan/zfs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// now is the plan time of every scenario: 12:07 on 2026-11-22 UTC.
var now = time.Date(2026, 11, 22, 12, 7, 0, 0, time.UTC)

func ts(s string) time.Time {
	t, err := time.Parse("2006-01-02T15:04", s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// snap builds a snapshot; created is "2006-01-02T15:04".
func snap(name string, guid, txg uint64, created string, holds ...string) *observe.Snapshot {
	return &observe.Snapshot{Name: name, GUID: guid, CreateTXG: txg, Creation: ts(created),
		Used: 1 << 20, Referenced: 10 << 20, Written: 2 << 20, Holds: holds}
}

func fs(name string, snaps ...*observe.Snapshot) *observe.Dataset {
	return &observe.Dataset{Name: name, Type: "filesystem", Referenced: 10 << 20, Snapshots: snaps}
}

func host(name string, dss ...*observe.Dataset) *observe.Host {
	h := &observe.Host{Name: name, Datasets: map[string]*observe.Dataset{}}
	for _, d := range dss {
		h.Datasets[d.Name] = d
	}
	return h
}

func state(hosts ...*observe.Host) *observe.State {
	st := &observe.State{Hosts: map[string]*observe.Host{}}
	for _, h := range hosts {
		st.Hosts[h.Name] = h
	}
	return st
}

// config: a snapshot policy every 15m on src tank/data/** keeping
// 1x1h(keep=all) | 24x1h, replicated to dst backup/src keeping 24x1h | 7x1d.
func config(mod ...func(*hclspec.Config)) *hclspec.Config {
	cfg := &hclspec.Config{
		Hosts: []*hclspec.Host{{Name: "src"}, {Name: "dst", Address: "dst.example"}},
		Snapshots: []*hclspec.SnapshotPolicy{{
			Name: "data", Host: "src", Prefix: "zplan_",
			Datasets:  hclspec.DatasetSelector{Include: []string{"tank/data/**"}},
			Schedule:  hclspec.Schedule{Every: 15 * time.Minute},
			Retention: &hclspec.Retention{Grid: "1x1h(keep=all) | 24x1h"},
		}},
		Replications: []*hclspec.Replication{{
			Name: "offsite", ID: "offsite", SnapshotsPolicy: "data",
			TargetHost: "dst", TargetRoot: "backup/src", Initial: "most_recent", Raw: "auto", OnDivergence: "refuse",
			TargetRetention: &hclspec.Retention{Grid: "24x1h | 7x1d"},
		}},
		Hash: "test",
	}
	for _, m := range mod {
		m(cfg)
	}
	return cfg
}

func cursor(guid uint64) *observe.Bookmark {
	return &observe.Bookmark{Name: plan.CursorName("offsite", guid), GUID: guid, CreateTXG: 1}
}

// scenario is one golden plan: testdata/NAME.golden.
type scenario struct {
	name string
	cfg  *hclspec.Config
	st   *observe.State
}

// scenarios are the golden plans (fresh values on every call).
func scenarios() []scenario {
	return []scenario{
		{
			name: "first_run",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), fs("tank/data"), fs("tank/data/home", snap("manual", 7, 5, "2026-11-01T00:00"))),
				host("dst", fs("backup")),
			),
		},
		{
			// '%' (from a channel program) makes zfs destroy take a range:
			// the old snapshot that carries it is kept, not sent, and
			// reported; its neighbours are planned as usual.
			name: "unsafe_snapshot_names",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Snapshots: []*observe.Snapshot{
					snap("zplan_20261120T090000Z", 90, 10, "2026-11-20T09:00"),
					snap("zplan_20261120T090000Z%zplan_20261122T114500Z", 91, 11, "2026-11-20T09:10"),
					snap("zplan_20261122T114500Z", 100, 50, "2026-11-22T11:45"),
					snap("zplan_20261122T120000Z", 101, 51, "2026-11-22T12:00"),
				}, Bookmarks: []*observe.Bookmark{cursor(100)}}),
				host("dst", fs("backup"), fs("backup/src"), fs("backup/src/data",
					snap("zplan_20261122T114500Z", 100, 9, "2026-11-22T11:45", "zplan_last_offsite"))),
			),
		},
		{
			// Datasets observe set aside (odd output) get nothing planned
			// and are reported; an edge into a set-aside target is blocked
			// rather than planned as a full send; the others go ahead.
			name: "set_aside_datasets",
			cfg:  config(),
			st: func() *observe.State {
				st := state(
					host("src", fs("tank"), fs("tank/data", snap("zplan_20261122T114500Z", 100, 50, "2026-11-22T11:45")),
						fs("tank/data/home", snap("zplan_20261122T114500Z", 200, 50, "2026-11-22T11:45"))),
					host("dst", fs("backup"), fs("backup/src"), fs("backup/src/data", snap("zplan_20261122T114500Z", 100, 9, "2026-11-22T11:45", "zplan_last_offsite"))),
				)
				st.Hosts["src"].Unreadable = map[string]string{"tank/data/odd": "tank/data/odd@x: zfs holds printed 2 hold(s) where userrefs is 1"}
				st.Hosts["dst"].Unreadable = map[string]string{"backup/src/data/home": "zfs list output line 9: name is not a ZFS name"}
				return st
			}(),
		},
		{
			name: "in_sync",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Snapshots: []*observe.Snapshot{snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00")},
					Bookmarks: []*observe.Bookmark{cursor(100)}}),
				host("dst", fs("backup"), fs("backup/src"), fs("backup/src/data", snap("zplan_20261122T120000Z", 100, 9, "2026-11-22T12:00", "zplan_last_offsite"))),
			),
		},
		{
			name: "incremental_and_retention",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Written: 4096, Snapshots: []*observe.Snapshot{
					snap("zplan_20261120T090000Z", 90, 10, "2026-11-20T09:00"),
					snap("zplan_20261122T100000Z", 98, 40, "2026-11-22T10:00"),
					snap("zplan_20261122T103000Z", 99, 45, "2026-11-22T10:30"),
					snap("zplan_20261122T114500Z", 100, 50, "2026-11-22T11:45"),
				}, Bookmarks: []*observe.Bookmark{cursor(99)}}),
				host("dst", fs("backup"), fs("backup/src"), fs("backup/src/data",
					snap("zplan_20261120T090000Z", 90, 3, "2026-11-20T09:00"),
					snap("zplan_20261122T103000Z", 99, 9, "2026-11-22T10:30", "zplan_last_offsite"))),
			),
		},
		{
			name: "diverged_target",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), fs("tank/data", snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00"))),
				host("dst", fs("backup"), fs("backup/src"), fs("backup/src/data",
					snap("zplan_20261122T120000Z", 100, 9, "2026-11-22T12:00", "zplan_last_offsite"),
					snap("local_change", 555, 12, "2026-11-22T12:03"))),
			),
		},
		{
			name: "diverged_target_rollback_declared",
			cfg:  config(func(c *hclspec.Config) { c.Replications[0].OnDivergence = "rollback" }),
			st: state(
				host("src", fs("tank"), fs("tank/data",
					snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00"),
					snap("zplan_20261122T120500Z", 101, 51, "2026-11-22T12:05"))),
				host("dst", fs("backup"), fs("backup/src"), &observe.Dataset{Name: "backup/src/data", Written: 8192, Snapshots: []*observe.Snapshot{
					snap("zplan_20261122T120000Z", 100, 9, "2026-11-22T12:00", "zplan_last_offsite"),
					snap("local_change", 555, 12, "2026-11-22T12:03")}}),
			),
		},
		{
			name: "no_common_snapshot",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), fs("tank/data", snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00"))),
				host("dst", fs("backup"), fs("backup/src"), fs("backup/src/data", snap("other", 1234, 9, "2026-11-21T12:00"))),
			),
		},
		{
			name: "bookmark_base_after_source_pruned",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Snapshots: []*observe.Snapshot{
					snap("zplan_20261122T114500Z", 100, 50, "2026-11-22T11:45"),
				}, Bookmarks: []*observe.Bookmark{cursor(99)}}),
				host("dst", fs("backup"), fs("backup/src"), fs("backup/src/data",
					snap("zplan_20261122T103000Z", 99, 9, "2026-11-22T10:30", "zplan_last_offsite"))),
			),
		},
		{
			name: "resume_matching_token",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Snapshots: []*observe.Snapshot{
					snap("zplan_20261122T103000Z", 99, 45, "2026-11-22T10:30"),
					snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00", "zplan_step_offsite"),
				}, Bookmarks: []*observe.Bookmark{cursor(99)}}),
				host("dst", fs("backup"), fs("backup/src"), &observe.Dataset{Name: "backup/src/data",
					ResumeToken: "1-abc-def", Token: &zfs.ResumeToken{FromGUID: 99, ToGUID: 100, ToName: "tank/data@zplan_20261122T120000Z", Bytes: 1 << 20},
					Snapshots: []*observe.Snapshot{snap("zplan_20261122T103000Z", 99, 9, "2026-11-22T10:30", "zplan_last_offsite")}}),
			),
		},
		{
			name: "resume_token_for_another_stream",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Snapshots: []*observe.Snapshot{
					snap("zplan_20261122T103000Z", 99, 45, "2026-11-22T10:30"),
					snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00"),
				}, Bookmarks: []*observe.Bookmark{cursor(99)}}),
				host("dst", fs("backup"), fs("backup/src"), &observe.Dataset{Name: "backup/src/data",
					ResumeToken: "1-abc-def", Token: &zfs.ResumeToken{FromGUID: 99, ToGUID: 4242, ToName: "tank/other@x"},
					Snapshots: []*observe.Snapshot{snap("zplan_20261122T103000Z", 99, 9, "2026-11-22T10:30", "zplan_last_offsite")}}),
			),
		},
		{
			// The interrupted receive's snapshot was pruned on the source:
			// the stream can never finish, so it is discarded (recv -A) and
			// the edge sends incrementally from its base as usual.
			name: "resume_token_snapshot_gone",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Snapshots: []*observe.Snapshot{
					snap("zplan_20261122T103000Z", 99, 45, "2026-11-22T10:30", "zplan_step_offsite"),
					snap("zplan_20261122T120000Z", 101, 52, "2026-11-22T12:00"),
				}, Bookmarks: []*observe.Bookmark{cursor(99)}}),
				host("dst", fs("backup"), fs("backup/src"), &observe.Dataset{Name: "backup/src/data",
					ResumeToken: "1-abc-def", Token: &zfs.ResumeToken{FromGUID: 99, ToGUID: 100, ToName: "tank/data@zplan_20261122T114500Z", Bytes: 1 << 20},
					Snapshots: []*observe.Snapshot{snap("zplan_20261122T103000Z", 99, 9, "2026-11-22T10:30", "zplan_last_offsite")}}),
			),
		},
		{
			// An interrupted first (full) receive whose snapshot is gone:
			// recv -A destroys the incomplete filesystem, and a full send
			// of the newest snapshot follows.
			name: "resume_token_full_snapshot_gone",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), fs("tank/data", snap("zplan_20261122T120000Z", 101, 52, "2026-11-22T12:00"))),
				host("dst", fs("backup"), fs("backup/src"), &observe.Dataset{Name: "backup/src/data",
					ResumeToken: "1-abc-def", Token: &zfs.ResumeToken{ToGUID: 100, ToName: "tank/data@zplan_20261122T114500Z", Bytes: 1 << 20}}),
			),
		},
		{
			// The token's base is gone from the source (no snapshot, no
			// bookmark): it cannot resume, and without it the target has a
			// snapshot the source lacks. Declared rollback: abort, roll
			// back to the older common snapshot, send from there.
			name: "resume_token_base_gone_rollback",
			cfg:  config(func(c *hclspec.Config) { c.Replications[0].OnDivergence = "rollback" }),
			st: state(
				host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Snapshots: []*observe.Snapshot{
					snap("zplan_20261122T100000Z", 98, 40, "2026-11-22T10:00"),
					snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00"),
				}}),
				host("dst", fs("backup"), fs("backup/src"), &observe.Dataset{Name: "backup/src/data",
					ResumeToken: "1-abc-def", Token: &zfs.ResumeToken{FromGUID: 99, ToGUID: 100, ToName: "tank/data@zplan_20261122T120000Z", Bytes: 1 << 20},
					Snapshots: []*observe.Snapshot{
						snap("zplan_20261122T100000Z", 98, 8, "2026-11-22T10:00"),
						snap("zplan_20261122T103000Z", 99, 9, "2026-11-22T10:30", "zplan_last_offsite")}}),
			),
		},
		{
			name: "repair_after_crash_before_cursor",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Snapshots: []*observe.Snapshot{
					snap("zplan_20261122T114500Z", 99, 45, "2026-11-22T11:45", "zplan_step_offsite"),
					snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00", "zplan_step_offsite"),
				}, Bookmarks: []*observe.Bookmark{cursor(99)}}),
				host("dst", fs("backup"), fs("backup/src"), fs("backup/src/data",
					snap("zplan_20261122T114500Z", 99, 9, "2026-11-22T11:45", "zplan_last_offsite"),
					snap("zplan_20261122T120000Z", 100, 10, "2026-11-22T12:00"))),
			),
		},
		{
			name: "encrypted_never_raw_refused",
			cfg: config(func(c *hclspec.Config) {
				c.Replications[0].Raw = "never"
			}),
			st: state(
				host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Encryption: "aes-256-gcm", KeyStatus: "available",
					Snapshots: []*observe.Snapshot{snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00")}}),
				host("dst", fs("backup")),
			),
		},
		{
			name: "retention_protects_held_and_foreign",
			cfg: config(func(c *hclspec.Config) {
				c.Replications = nil
				c.Snapshots[0].Retention = &hclspec.Retention{KeepLast: 1}
			}),
			st: state(
				host("src", fs("tank"), fs("tank/data",
					snap("manual_before_upgrade", 1, 5, "2026-11-01T00:00"),
					snap("zplan_20261121T000000Z", 2, 6, "2026-11-21T00:00", "backup-tool"),
					snap("zplan_20261121T060000Z", 3, 7, "2026-11-21T06:00"),
					snap("zplan_20261122T120000Z", 4, 8, "2026-11-22T12:00"))),
			),
		},
		{
			// tank/data/a has nothing written since its newest snapshot;
			// tank/data/b does.
			name: "skip_unchanged",
			cfg: config(func(c *hclspec.Config) {
				c.Replications = nil
				c.Snapshots[0].SkipUnchanged = true
			}),
			st: state(
				host("src", fs("tank"), fs("tank/data"),
					fs("tank/data/a", snap("zplan_20261122T114500Z", 1, 5, "2026-11-22T11:45")),
					func() *observe.Dataset {
						d := fs("tank/data/b", snap("zplan_20261122T114500Z", 2, 5, "2026-11-22T11:45"))
						d.Written = 4096
						return d
					}()),
			),
		},
		{
			// dst is away; the cursor marks @…1101.
			name: "keep_unsent_for_gives_up",
			cfg: config(func(c *hclspec.Config) {
				c.Snapshots[0].Retention = &hclspec.Retention{KeepLast: 1, KeepUnsentFor: 14 * 24 * time.Hour}
			}),
			st: state(
				host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Type: "filesystem", Written: 4096, Snapshots: []*observe.Snapshot{
					snap("zplan_20261101T120000Z", 1, 10, "2026-11-01T12:00"),
					snap("zplan_20261105T120000Z", 2, 11, "2026-11-05T12:00"),
					snap("zplan_20261115T120000Z", 3, 12, "2026-11-15T12:00"),
					snap("zplan_20261122T120000Z", 4, 13, "2026-11-22T12:00"),
				}, Bookmarks: []*observe.Bookmark{cursor(1)}}),
			),
		},
		{
			// A removed replication's hold and cursor, and an excluded
			// dataset's: listed, nothing planned for them (orphans = keep).
			name: "orphans_listed",
			cfg:  config(func(c *hclspec.Config) { c.Snapshots[0].Datasets.Exclude = []string{"tank/data/x"} }),
			st:   orphanState(nil, []string{"zplan_last_old"}, bookmark(plan.CursorName("old", 100), 100)),
		},
		{
			// The same with orphans = "release": released and destroyed.
			name: "orphans_released",
			cfg: config(func(c *hclspec.Config) {
				c.Snapshots[0].Datasets.Exclude = []string{"tank/data/x"}
				c.Orphans = hclspec.OrphansRelease
			}),
			st: orphanState(nil, []string{"zplan_last_old"}, bookmark(plan.CursorName("old", 100), 100)),
		},
	}
}

func TestPlanGolden(t *testing.T) {
	tests := scenarios()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := desired.Resolve(tc.cfg, tc.st)
			if err != nil {
				t.Fatal(err)
			}
			p, err := diff.Plan(pol, tc.st, now, diff.Options{ZplanVersion: "test", ConfigHash: tc.cfg.Hash, Explain: true})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			render.Human(&buf, p, true)
			buf.WriteString("\n---- plan data ----\n")
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			if err := enc.Encode(p.Actions); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", tc.name+".golden"), buf.Bytes())
			// apply FILE refuses what the configuration cannot produce:
			// every plan the planner makes must pass that check.
			if fp, err := planfile.PolicyFor(tc.cfg, p); err != nil {
				t.Fatal(err)
			} else if errs := append(planfile.Validate(p, pol), planfile.Validate(p, fp)...); len(errs) > 0 {
				// The resume scenarios' token strings are placeholders next
				// to a hand-made decode; observe decodes real ones.
				var real []error
				for _, err := range errs {
					var v *planfile.Violation
					if !errors.As(err, &v) || !strings.HasPrefix(v.Detail, "resume token \"1-abc-def\"") {
						real = append(real, err)
					}
				}
				if len(real) > 0 {
					t.Errorf("the plan fails saved-plan validation: %v", errors.Join(real...))
				}
			}

			// Same inputs, same plan: byte for byte.
			p2, _ := diff.Plan(pol, tc.st, now, diff.Options{ZplanVersion: "test", ConfigHash: tc.cfg.Hash, Explain: true})
			if d := cmp.Diff(p, p2); d != "" {
				t.Errorf("plan is not deterministic (-first +second):\n%s", d)
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./diff -update to create it)", err)
	}
	if d := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); d != "" {
		t.Errorf("%s differs (-want +got); run go test ./diff -update if the change is intended:\n%s", path, d)
	}
}

// A host whose clock is two hours behind must not make zplan snapshot
// again: the plan time in the name says when the snapshot was taken.
func TestScheduleUsesNameTimeNotHostClock(t *testing.T) {
	cfg := config(func(c *hclspec.Config) { c.Replications = nil })
	s := snap("zplan_20261122T120000Z", 1, 5, "2026-11-22T10:00")
	st := state(host("src", fs("tank"), fs("tank/data", s)))
	pol, err := desired.Resolve(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	p, err := diff.Plan(pol, st, now, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Errorf("plan with a slow host clock: %d actions, first %s", len(p.Actions), p.Actions[0].Address)
	}
	// A foreign-named snapshot falls back to its creation time.
	s.Name = "zplan_manual"
	if p, _ = diff.Plan(pol, st, now, diff.Options{}); p.Empty() {
		t.Error("a snapshot without a timestamp in its name should count by its creation time (10:00) and leave a snapshot due")
	}
}

func TestParseStampMatchesTimeParse(t *testing.T) {
	for _, s := range []string{"20261122T120700Z", "20240229T235959Z", "20230229T000000Z", "20261322T000000Z", "2026112XT120700Z", "20261122T120700", "20261122T246000Z", "19700101T000000Z"} {
		want, werr := time.Parse(diff.SnapshotTimeFormat, s)
		got := diff.SnapTime(&observe.Snapshot{Name: "p_" + s, Creation: time.Unix(7, 0)}, "p_")
		if werr != nil {
			want = time.Unix(7, 0)
		}
		if !got.Equal(want) {
			t.Errorf("%s: got %v, want %v", s, got, want)
		}
	}
}
