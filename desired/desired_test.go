package desired

import (
	"reflect"
	"testing"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
)

// A Config built in code leaves the replication's enums unset; Resolve
// gives the edge the defaults, so the planner never sees "".
func TestResolveEdgeDefaults(t *testing.T) {
	cfg := &hclspec.Config{
		Hosts: []*hclspec.Host{{Name: "a"}, {Name: "b"}},
		Replications: []*hclspec.Replication{{
			Name: "r", ID: "r", SourceHost: "a", SourceDatasets: hclspec.DatasetSelector{Include: []string{"tank/x"}},
			TargetHost: "b", TargetRoot: "backup", SendOptions: hclspec.SendOptions{Compressed: true},
		}, {
			Name: "s", ID: "s", SourceHost: "a", SourceDatasets: hclspec.DatasetSelector{Include: []string{"tank/x"}},
			TargetHost: "b", TargetRoot: "other", Initial: InitialAll, Raw: RawNever, AllowDecrypt: true, OnDivergence: DivergenceRollback,
		}},
	}
	st := &observe.State{Hosts: map[string]*observe.Host{
		"a": {Name: "a", Datasets: map[string]*observe.Dataset{"tank": {Name: "tank"}, "tank/x": {Name: "tank/x"}}},
		"b": {Name: "b", Datasets: map[string]*observe.Dataset{}},
	}}
	p, err := Resolve(cfg, st)
	if err != nil || len(p.Edges) != 2 {
		t.Fatalf("Resolve = %+v, %v", p, err)
	}
	want := []Edge{
		{Name: "r", ID: "r", SourceHost: "a", SourceDataset: "tank/x", TargetHost: "b", TargetDataset: "backup/x",
			Initial: InitialMostRecent, Raw: RawAuto, OnDivergence: DivergenceRefuse, Send: SendOptions{Compressed: true}},
		{Name: "s", ID: "s", SourceHost: "a", SourceDataset: "tank/x", TargetHost: "b", TargetDataset: "other/x",
			Initial: InitialAll, Raw: RawNever, AllowDecrypt: true, OnDivergence: DivergenceRollback},
	}
	for i, e := range p.Edges {
		if !reflect.DeepEqual(*e, want[i]) {
			t.Errorf("edge %d = %+v\nwant %+v", i, *e, want[i])
		}
	}
}
