package drift_test

import (
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
)

// A blocked edge (its target away) warns from three quarters of
// keep_unsent_for on, measured from the oldest snapshot newer than the
// edge's cursor, and turns into an error past it.
func TestUnsentExpiring(t *testing.T) {
	cases := []struct {
		age      time.Duration // of the oldest unsent snapshot
		severity string        // "" for no finding
	}{
		{9 * 24 * time.Hour, ""},
		{11 * 24 * time.Hour, "warning"},
		{15 * 24 * time.Hour, "error"},
	}
	for _, c := range cases {
		t.Run(c.age.String(), func(t *testing.T) {
			cfg := config()
			cfg.Snapshots[0].Retention = &hclspec.Retention{KeepLast: 1, KeepUnsentFor: 14 * 24 * time.Hour}
			sent, unsent := t0.Add(-c.age-24*time.Hour), t0.Add(-c.age)
			name := func(at time.Time) string { return "zplan_" + at.Format(diff.SnapshotTimeFormat) }
			ds := &observe.Dataset{Name: "tank/data", Type: "filesystem", Written: 1,
				Snapshots: []*observe.Snapshot{
					{Name: name(sent), GUID: 1, CreateTXG: 10, Creation: sent, Written: 1},
					{Name: name(unsent), GUID: 2, CreateTXG: 11, Creation: unsent, Written: 1},
				},
				Bookmarks: []*observe.Bookmark{{Name: plan.CursorName("offsite", 1), GUID: 1, CreateTXG: 10, Creation: sent}},
			}
			st := &observe.State{Hosts: map[string]*observe.Host{ // dst is away
				"src": {Name: "src", Datasets: map[string]*observe.Dataset{"tank": {Name: "tank", Type: "filesystem"}, "tank/data": ds}},
			}}
			pol, err := desired.Resolve(cfg, st)
			if err != nil {
				t.Fatal(err)
			}
			p, err := diff.Plan(pol, st, t0, diff.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := drift.Detect(drift.Input{Policy: pol, State: st, Plan: p, Now: t0, Grace: 5 * time.Minute})
			var got []drift.Finding
			for _, f := range r.Findings {
				if f.Kind == drift.UnsentExpiring {
					got = append(got, f)
				}
			}
			if c.severity == "" {
				if len(got) != 0 {
					t.Fatalf("findings %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Severity != c.severity || got[0].Edge != "offsite" || got[0].Host != "src" ||
				!strings.Contains(got[0].Message, "keep_unsent_for = 2w") || got[0].Since == nil || !got[0].Since.Equal(unsent) {
				t.Fatalf("findings %+v, want one %s for offsite since %s", got, c.severity, unsent)
			}
			if len(r.Edges) != 1 || !r.Edges[0].OldestUnsent.Equal(unsent) || r.Edges[0].KeepUnsentFor != 14*24*time.Hour {
				t.Errorf("edge status %+v", r.Edges)
			}
		})
	}
}
