package diff_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/planfile"
)

// TestDestroyAssertsItsJustification checks that a destroy's
// preconditions assert, by GUID, not only its victims but what made them
// redundant: the bucket keepers, the keep_last window (bounded), the
// newest snapshot that stays and an edge's common base on both hosts.
func TestDestroyAssertsItsJustification(t *testing.T) {
	noRepl := func(r *hclspec.Retention) func(*hclspec.Config) {
		return func(c *hclspec.Config) {
			c.Replications = nil
			c.Snapshots[0].Retention = r
		}
	}
	// series: n snapshots an hour apart ending at 12:00, txg and guid 1..n.
	series := func(n int) []*observe.Snapshot {
		var out []*observe.Snapshot
		for i := 1; i <= n; i++ {
			at := now.Add(-7*time.Minute - time.Duration(n-i)*time.Hour)
			out = append(out, snap("zplan_"+at.Format(diff.SnapshotTimeFormat), uint64(i), uint64(i), at.Format("2006-01-02T15:04")))
		}
		return out
	}
	names := func(pre string, snaps []*observe.Snapshot, idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, fmt.Sprintf("%s@%s#%d", pre, snaps[i-1].Name, snaps[i-1].GUID))
		}
		return out
	}
	s45 := series(45)
	var window32 []int
	for i := 45 - 40 + 1; i <= 45-40+32; i++ {
		window32 = append(window32, i)
	}
	cases := []struct {
		name    string
		cfg     *hclspec.Config
		st      *observe.State
		address string
		// victims and then the justification, as host:object#guid.
		want []string
	}{
		{
			name: "grid bucket keeper and the newest",
			cfg:  config(noRepl(&hclspec.Retention{Grid: "1x1h(keep=all) | 24x1h"})),
			st: state(host("src", fs("tank"), fs("tank/data",
				snap("zplan_20261122T101500Z", 1, 1, "2026-11-22T10:15"),
				snap("zplan_20261122T103000Z", 2, 2, "2026-11-22T10:30"),
				snap("zplan_20261122T120000Z", 3, 3, "2026-11-22T12:00")))),
			address: `destroy.src["tank/data"]`,
			want:    []string{"src:tank/data@zplan_20261122T103000Z#2", "src:tank/data@zplan_20261122T101500Z#1", "src:tank/data@zplan_20261122T120000Z#3"},
		},
		{
			name:    "keep_last window",
			cfg:     config(noRepl(&hclspec.Retention{KeepLast: 3})),
			st:      state(host("src", fs("tank"), fs("tank/data", series(6)...))),
			address: `destroy.src["tank/data"]`,
			want:    append(prefix("src:", names("tank/data", series(6), 1, 2, 3)), prefix("src:", names("tank/data", series(6), 4, 5, 6))...),
		},
		{
			// keep_last 40 of 45: 5 victims, the window's 32 oldest and the newest.
			name:    "large keep_last window is bounded",
			cfg:     config(noRepl(&hclspec.Retention{KeepLast: 40})),
			st:      state(host("src", fs("tank"), fs("tank/data", s45...))),
			address: `destroy.src["tank/data"]`,
			want: append(append(prefix("src:", names("tank/data", s45, 1, 2, 3, 4, 5)),
				prefix("src:", names("tank/data", s45, window32...))...), prefix("src:", names("tank/data", s45, 45))...),
		},
		{
			// In sync, no send: the target's destroy asserts the common
			// snapshot on the target and on the source.
			name: "edge base on both hosts",
			cfg:  config(),
			st: state(
				host("src", fs("tank"), fs("tank/data", snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00"))),
				host("dst", fs("backup"), fs("backup/src"), fs("backup/src/data",
					snap("zplan_20261101T000000Z", 90, 5, "2026-11-01T00:00"),
					snap("zplan_20261122T120000Z", 100, 9, "2026-11-22T12:00", "zplan_last_offsite")))),
			address: `destroy.dst["backup/src/data"]`,
			want: []string{
				"dst:backup/src/data@zplan_20261101T000000Z#90",
				"dst:backup/src/data@zplan_20261122T120000Z#100",
				"src:tank/data@zplan_20261122T120000Z#100",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := desired.Resolve(tc.cfg, tc.st)
			if err != nil {
				t.Fatal(err)
			}
			p, err := diff.Plan(pol, tc.st, now, diff.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var a *plan.Action
			for _, x := range p.Actions {
				if x.Address == tc.address {
					a = x
				}
			}
			if a == nil {
				t.Fatalf("no %s in the plan", tc.address)
			}
			var got []string
			for _, pc := range a.Preconditions {
				if pc.Kind != plan.PreExists || pc.GUID == 0 {
					t.Errorf("precondition %v: want exists with a guid", pc)
				}
				got = append(got, fmt.Sprintf("%s:%s#%d", pc.Host, pc.Object, pc.GUID))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("preconditions (-want +got):\n%s", cmp.Diff(tc.want, got))
			}
			if errs := planfile.Validate(p, pol); len(errs) > 0 {
				t.Errorf("the plan fails saved-plan validation: %v", errs)
			}
			if p2, _ := diff.Plan(pol, tc.st, now, diff.Options{}); !reflect.DeepEqual(p, p2) {
				t.Error("same input, different plan")
			}
		})
	}
}

func prefix(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}
