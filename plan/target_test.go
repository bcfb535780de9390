package plan

import (
	"strings"
	"testing"
	"time"
)

func twoDatasets() *Plan {
	snap := `snapshot.src["tank@s"]`
	return &Plan{FormatVersion: FormatVersion, ZplanVersion: "1.0", ConfigHash: "abc", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Actions: []*Action{
			{Address: snap, Kind: KindSnapshot, Host: "src", Dataset: "tank", Snapshots: []SnapRef{{Name: "s"}},
				Datasets: []string{"tank/a", "tank/b"}, Preconditions: []Precondition{
					{Host: "src", Kind: PreAbsent, Object: "tank/a@s"}, {Host: "src", Kind: PreAbsent, Object: "tank/b@s"}}},
			{Address: `send.e["tank/a@s"]`, Kind: KindSendFull, Host: "src", Dataset: "tank/a", DependsOn: []string{snap},
				Send: &Send{Edge: "e", SourceHost: "src", SourceDataset: "tank/a", To: "s", TargetHost: "dst", TargetDataset: "bk/a"}},
			{Address: `send.e["tank/b@s"]`, Kind: KindSendFull, Host: "src", Dataset: "tank/b", DependsOn: []string{snap},
				Send: &Send{Edge: "e", SourceHost: "src", SourceDataset: "tank/b", To: "s", TargetHost: "dst", TargetDataset: "bk/b"}},
			{Address: `destroy.src["tank/b"]`, Kind: KindDestroy, Host: "src", Dataset: "tank/b", Snapshots: []SnapRef{{Name: "old"}}},
		},
		Conflicts: []*Conflict{{Host: "dst", Dataset: "bk/b", Edge: "e", Message: "diverged"}},
	}
}

func addrs(p *Plan) string {
	var s []string
	for _, a := range p.Actions {
		s = append(s, a.Address)
	}
	return strings.Join(s, " ")
}

func TestSelect(t *testing.T) {
	cases := []struct {
		targets  []string
		want     string
		datasets string // of the snapshot action, if selected
	}{
		{[]string{"tank/a"}, `snapshot.src["tank@s"] send.e["tank/a@s"]`, "tank/a"},
		{[]string{"dst:bk/a"}, `snapshot.src["tank@s"] send.e["tank/a@s"]`, "tank/a"},
		{[]string{"destroy."}, `destroy.src["tank/b"]`, ""},
		{[]string{"e"}, `snapshot.src["tank@s"] send.e["tank/a@s"] send.e["tank/b@s"]`, "tank/a tank/b"},
		{[]string{`snapshot.src`}, `snapshot.src["tank@s"]`, "tank/a tank/b"},
		{[]string{"nothing"}, ``, ""},
	}
	for _, c := range cases {
		p := twoDatasets().Select(c.targets)
		if got := addrs(p); got != c.want {
			t.Errorf("%v: %s, want %s", c.targets, got, c.want)
			continue
		}
		if len(p.Actions) > 0 && p.Actions[0].Kind == KindSnapshot {
			a := p.Actions[0]
			if got := strings.Join(a.Datasets, " "); got != c.datasets || len(a.Preconditions) != len(a.Datasets) {
				t.Errorf("%v: snapshot of %q with %d preconditions, want %q", c.targets, got, len(a.Preconditions), c.datasets)
			}
		}
		if len(p.Targets) != len(c.targets) {
			t.Errorf("%v: plan records targets %v", c.targets, p.Targets)
		}
	}
	if p := twoDatasets().Select([]string{"tank/b"}); len(p.Conflicts) != 0 {
		t.Errorf("conflict of dst:bk/b kept for target tank/b (src side): %+v", p.Conflicts)
	}
	if p := twoDatasets().Select([]string{"e"}); len(p.Conflicts) != 1 {
		t.Error("conflict of edge e dropped for target e")
	}
}
