package desired

import (
	"testing"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/plan"
)

func TestDefaultHookTimeoutsAgree(t *testing.T) {
	if hclspec.DefaultHookTimeout != plan.DefaultHookTimeout {
		t.Fatalf("hclspec says %s, plan %s", hclspec.DefaultHookTimeout, plan.DefaultHookTimeout)
	}
}

func TestSnapshotHooks(t *testing.T) {
	freeze := []plan.Hook{{Policy: "db", Name: "freeze", Pre: []string{"/bin/freeze"}, Timeout: "30s", OnPreFailure: plan.PreFailureSkip}}
	note := []plan.Hook{{Policy: "logs", Name: "note", Post: []string{"/bin/note"}, Timeout: "1m0s", OnPreFailure: plan.PreFailureSkip}}
	rules := []*SnapshotRule{
		{Policy: "db", Host: "h", Dataset: "tank/db/b", Prefix: "zplan_", Hooks: freeze},
		{Policy: "db", Host: "h", Dataset: "tank/db/a", Prefix: "zplan_", Hooks: freeze},
		{Policy: "logs", Host: "h", Dataset: "tank/logs", Prefix: "zplan_", Hooks: note},
		{Policy: "other", Host: "h", Dataset: "tank/other", Prefix: "other_", Hooks: note}, // another name
		{Policy: "far", Host: "g", Dataset: "tank/db/a", Prefix: "zplan_", Hooks: note},    // another host
		{Policy: "plain", Host: "h", Dataset: "tank/plain", Prefix: "zplan_"},
	}
	const stamp = "20261122T120000Z"
	got := SnapshotHooks(rules, "h", "zplan_"+stamp, stamp, []string{"tank/db/a", "tank/db/b", "tank/logs", "tank/other", "tank/plain"})
	if len(got) != 2 || got[0].Name != "freeze" || got[1].Name != "note" ||
		len(got[0].Datasets) != 2 || got[0].Datasets[0] != "tank/db/a" || len(got[1].Datasets) != 1 || got[1].Datasets[0] != "tank/logs" {
		t.Fatalf("hooks %+v", got)
	}
	if got := SnapshotHooks(rules, "h", "zplan_"+stamp, stamp, []string{"tank/plain"}); got != nil {
		t.Fatalf("hooks of a dataset without any: %+v", got)
	}
}
