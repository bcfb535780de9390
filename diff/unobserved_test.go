package diff_test

import (
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
)

var errDown = errors.New("host dst: cannot reach dst.example:22: connection refused")

// A host that was not observed degrades what depends on it: its edges
// are host_unobserved conflicts that say why, the healthy hosts are
// planned, and source retention keeps what the unreachable target may
// still need: every unsent snapshot (invariant 9), and with prune_unsent
// still the snapshot the edge's cursor marks (invariant 2).
func TestPlanWithUnobservedHost(t *testing.T) {
	cases := []struct {
		name        string
		cfg         *hclspec.Config
		st          func() *observe.State
		conflicts   []string // kind host edge, sorted
		actions     []string // kind host dataset, sorted
		destroyedOn map[string][]string
	}{
		{
			name: "target unreachable: source snapshots, keeps everything unsent",
			cfg: config(func(c *hclspec.Config) {
				c.Snapshots[0].Retention = &hclspec.Retention{KeepLast: 1}
			}),
			st:        targetDown,
			conflicts: []string{"host_unobserved dst offsite"},
			actions:   []string{"snapshot src tank"},
		},
		{
			// The cursor bookmark carries the chain, as with an observed
			// target (invariant 2): no snapshot needs to stay for it.
			name: "target unreachable, prune_unsent: the cursor bookmark keeps the chain",
			cfg: config(func(c *hclspec.Config) {
				c.Snapshots[0].Retention = &hclspec.Retention{KeepLast: 1, PruneUnsent: true}
			}),
			st:          targetDown,
			conflicts:   []string{"host_unobserved dst offsite"},
			actions:     []string{"destroy src tank/data", "snapshot src tank"},
			destroyedOn: map[string][]string{"src": {"zplan_20261122T100000Z", "zplan_20261122T110000Z", "zplan_20261122T114500Z"}},
		},
		{
			name: "source unreachable: the replication is one conflict, the target's own policy runs",
			cfg: config(func(c *hclspec.Config) {
				c.Snapshots = append(c.Snapshots, &hclspec.SnapshotPolicy{
					Name: "local", Host: "dst", Prefix: "zplan_",
					Datasets: hclspec.DatasetSelector{Include: []string{"backup"}},
					Schedule: c.Snapshots[0].Schedule,
				})
			}),
			st: func() *observe.State {
				st := state(host("dst", fs("backup"), fs("backup/src"), fs("backup/src/data",
					snap("zplan_20261122T110000Z", 99, 9, "2026-11-22T11:00", "zplan_last_offsite"))))
				st.SetUnobserved("src", errDown)
				return st
			},
			conflicts: []string{"host_unobserved src ", "host_unobserved src offsite"},
			actions:   []string{"snapshot dst backup"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st()
			pol, err := desired.Resolve(tc.cfg, st)
			if err != nil {
				t.Fatal(err)
			}
			p, err := diff.Plan(pol, st, now, diff.Options{Explain: true})
			if err != nil {
				t.Fatal(err)
			}
			var conflicts, actions []string
			for _, c := range p.Conflicts {
				conflicts = append(conflicts, string(c.Kind)+" "+c.Host+" "+c.Edge)
				if c.Kind == plan.ConflictHostUnobserved && !strings.Contains(c.Message, "connection refused") {
					t.Errorf("conflict %q does not say why the host was not observed", c.Message)
				}
			}
			destroyed := map[string][]string{}
			for _, a := range p.Actions {
				actions = append(actions, string(a.Kind)+" "+a.Host+" "+a.Dataset)
				if a.Host != "src" && a.Host != "dst" {
					t.Errorf("action on %s: %s", a.Host, a.Address)
				}
				for _, pc := range a.Preconditions {
					if st.Hosts[pc.Host] == nil {
						t.Errorf("%s has a precondition on the unobserved host %s", a.Address, pc.Host)
					}
				}
				if a.Kind == plan.KindDestroy {
					for _, s := range a.Snapshots {
						destroyed[a.Host] = append(destroyed[a.Host], s.Name)
					}
				}
			}
			sort.Strings(conflicts)
			sort.Strings(actions)
			if strings.Join(conflicts, "|") != strings.Join(tc.conflicts, "|") {
				t.Errorf("conflicts %q, want %q", conflicts, tc.conflicts)
			}
			if strings.Join(actions, "|") != strings.Join(tc.actions, "|") {
				t.Errorf("actions %q, want %q", actions, tc.actions)
			}
			for h, want := range tc.destroyedOn {
				if strings.Join(destroyed[h], "|") != strings.Join(want, "|") {
					t.Errorf("destroys on %s: %q, want %q", h, destroyed[h], want)
				}
			}
			if len(tc.destroyedOn) == 0 && len(destroyed) > 0 {
				t.Errorf("destroys %v, want none", destroyed)
			}
		})
	}
}

// targetDown: src has three snapshots, the middle one marked by the
// edge's cursor (the last one dst received); dst cannot be reached.
func targetDown() *observe.State {
	st := state(host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Referenced: 10 << 20, Snapshots: []*observe.Snapshot{
		snap("zplan_20261122T100000Z", 98, 98, "2026-11-22T10:00"),
		snap("zplan_20261122T110000Z", 99, 99, "2026-11-22T11:00"),
		snap("zplan_20261122T114500Z", 100, 100, "2026-11-22T11:45"),
	}, Bookmarks: []*observe.Bookmark{cursor(99)}}))
	st.SetUnobserved("dst", errDown)
	return st
}
