package diff_test

import (
	"strings"
	"testing"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
)

// prune_unsent lets source retention destroy what a blocked edge has
// not sent (invariant 9 opted out of), but never the newest common
// snapshot of another edge (invariant 2). The blocked edge is planned
// first, so a first-reason-wins record of "not yet sent" would have let
// the other edge's base go.
func TestPruneUnsentKeepsAnotherEdgesBase(t *testing.T) {
	cfg := config(func(c *hclspec.Config) {
		c.Hosts = append(c.Hosts, &hclspec.Host{Name: "bak1"})
		c.Snapshots[0].Retention = &hclspec.Retention{KeepLast: 1, AdoptForeign: true, PruneUnsent: true}
		blocked := *c.Replications[0]
		blocked.Name, blocked.ID, blocked.TargetHost = "aaa", "aaa", "bak1"
		c.Replications = append(c.Replications, &blocked)
	})
	base := func() *observe.Snapshot { return snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00") }
	st := state(
		host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Snapshots: []*observe.Snapshot{
			snap("zplan_20261122T110000Z", 99, 40, "2026-11-22T11:00"),
			base(),
			snap("manual", 101, 60, "2026-11-22T12:05"),
		}, Bookmarks: []*observe.Bookmark{cursor(100)}}),
		host("dst", fs("backup"), fs("backup/src"), fs("backup/src/data",
			snap("zplan_20261122T120000Z", 100, 9, "2026-11-22T12:00", "zplan_last_offsite"))),
		// aaa's target diverged: the edge is blocked.
		host("bak1", fs("backup"), fs("backup/src"), fs("backup/src/data",
			snap("zplan_20261122T120000Z", 100, 9, "2026-11-22T12:00"),
			snap("theirs", 555, 10, "2026-11-22T12:03"))),
	)
	pol, err := desired.Resolve(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	p, err := diff.Plan(pol, st, now, diff.Options{Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conflicts) != 1 || p.Conflicts[0].Kind != plan.ConflictDiverged {
		t.Fatalf("conflicts %+v, want aaa's divergence", p.Conflicts)
	}
	var destroyed []string
	for _, a := range p.Actions {
		if a.Kind == plan.KindDestroy && a.Host == "src" {
			for _, s := range a.Snapshots {
				destroyed = append(destroyed, s.Name)
			}
		}
	}
	if len(destroyed) != 1 || destroyed[0] != "zplan_20261122T110000Z" {
		t.Errorf("src destroys %v, want only the unsent zplan_20261122T110000Z (prune_unsent)", destroyed)
	}
	for _, k := range p.Kept {
		if k.Host == "src" && k.Snapshot == "zplan_20261122T120000Z" && !strings.Contains(k.Reason, "newest common snapshot of replication offsite") {
			t.Errorf("base kept because %q, want offsite's common snapshot", k.Reason)
		}
	}
}
