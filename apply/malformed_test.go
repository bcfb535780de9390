package apply_test

import (
	"context"
	"strings"
	"testing"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/plan"
)

// Apply refuses a plan whose actions lack fields the workers index, or
// whose dependencies cannot be waited for, before running anything: a
// panic in a worker goroutine would kill the process past main's recover
// and a missing dependency would hang it.
func TestApplyRefusesMalformedPlans(t *testing.T) {
	snapshot := func(mod func(a *plan.Action)) *plan.Plan {
		a := &plan.Action{Address: `snapshot.src["tank@zplan_x"]`, Kind: plan.KindSnapshot, Host: "src", Dataset: "tank",
			Snapshots: []plan.SnapRef{{Name: "zplan_x"}}, Datasets: []string{"tank/data"}}
		ok := &plan.Action{Address: `create_placeholder.dst["backup/src"]`, Kind: plan.KindCreatePlaceholder, Host: "dst", Dataset: "backup/src"}
		mod(a)
		return &plan.Plan{Actions: []*plan.Action{ok, a}}
	}
	cases := []struct {
		name string
		p    *plan.Plan
		want string
	}{
		{"snapshot without name", snapshot(func(a *plan.Action) { a.Snapshots = nil }), "exactly one snapshot name"},
		{"bookmark without snapshot", snapshot(func(a *plan.Action) { a.Kind, a.Snapshots, a.Bookmark = plan.KindBookmark, nil, "b" }), "exactly one snapshot"},
		{"send without send", snapshot(func(a *plan.Action) { a.Kind = plan.KindSendFull }), "no send"},
		{"destroy without snapshots", snapshot(func(a *plan.Action) { a.Kind, a.Snapshots = plan.KindDestroy, nil }), "no snapshots"},
		{"unknown kind", snapshot(func(a *plan.Action) { a.Kind = "exec" }), "unknown kind"},
		{"unknown dependency", snapshot(func(a *plan.Action) { a.DependsOn = []string{"nowhere"} }), "depends on unknown nowhere"},
		{"cycle", snapshot(func(a *plan.Action) { a.DependsOn = []string{a.Address} }), "dependency cycle"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			before := len(e.src.Commands()) + len(e.dst.Commands())
			res, err := apply.Apply(context.Background(), c.p, e.hosts(), apply.Options{})
			if err == nil || !strings.Contains(err.Error(), "malformed plan") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want malformed plan: %s", err, c.want)
			}
			if n := len(e.src.Commands()) + len(e.dst.Commands()); n != before || res.Done != 0 {
				t.Fatalf("%d commands ran, %d actions done", n-before, res.Done)
			}
		})
	}
}
