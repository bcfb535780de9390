package diff_test

import (
	"testing"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
)

// conflictScenarios are, beyond the golden plans, one state per conflict
// kind the goldens do not reach.
func conflictScenarios() []scenario {
	src := func() *observe.Host {
		return host("src", fs("tank"), fs("tank/data", snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00")))
	}
	return []scenario{
		{name: "policy: dataset does not exist", cfg: config(func(c *hclspec.Config) {
			c.Snapshots[0].Datasets.Include = append(c.Snapshots[0].Datasets.Include, "tank/nope")
		}), st: state(src(), host("dst", fs("backup")))},
		{name: "target host not observed", cfg: config(), st: state(src())},
		{name: "target pool missing", cfg: config(), st: state(src(), host("dst", fs("other")))},
		{name: "target without snapshots", cfg: config(), st: state(src(), host("dst", fs("backup"), fs("backup/src"), fs("backup/src/data")))},
		{name: "decrypted send without key", cfg: config(func(c *hclspec.Config) {
			c.Replications[0].Raw, c.Replications[0].AllowDecrypt = "never", true
		}), st: state(host("src", fs("tank"), &observe.Dataset{Name: "tank/data", Encryption: "aes-256-gcm", KeyStatus: "unavailable",
			Snapshots: []*observe.Snapshot{snap("zplan_20261122T120000Z", 100, 50, "2026-11-22T12:00")}}), host("dst", fs("backup")))},
		{name: "undecodable resume token", cfg: config(), st: state(src(), host("dst", fs("backup"), fs("backup/src"),
			&observe.Dataset{Name: "backup/src/data", ResumeToken: "1-zzz", TokenErr: "bad checksum",
				Snapshots: []*observe.Snapshot{snap("zplan_20261122T120000Z", 100, 9, "2026-11-22T12:00")}}))},
	}
}

// Every conflict diff makes carries a kind zplan knows; together the
// scenarios reach every kind, so a new kind comes with a scenario.
func TestConflictsHaveKinds(t *testing.T) {
	seen := map[plan.ConflictKind]bool{}
	for _, tc := range append(scenarios(), conflictScenarios()...) {
		pol, err := desired.Resolve(tc.cfg, tc.st)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p, err := diff.Plan(pol, tc.st, now, diff.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, c := range p.Conflicts {
			if c.Kind == "" || !c.Kind.Known() {
				t.Errorf("%s: conflict with kind %q: %+v", tc.name, c.Kind, c)
			}
			seen[c.Kind] = true
		}
	}
	for _, k := range plan.ConflictKinds() {
		if !seen[k] {
			t.Errorf("no scenario produces a %s conflict", k)
		}
	}
}

// The golden scenarios' conflicts, by kind: what a policy gate reads.
func TestConflictKinds(t *testing.T) {
	want := map[string][]plan.ConflictKind{
		"diverged_target":                 {plan.ConflictDiverged},
		"no_common_snapshot":              {plan.ConflictNoCommonAncestor},
		"encrypted_never_raw_refused":     {plan.ConflictEncryption},
		"resume_token_for_another_stream": {plan.ConflictResumeToken},
		"unsafe_snapshot_names":           {plan.ConflictUnsafeName},
		"set_aside_datasets":              {plan.ConflictSetAside, plan.ConflictSetAside},
		"target host not observed":        {plan.ConflictHostUnobserved},
		"target pool missing":             {plan.ConflictNoTargetPool},
		"target without snapshots":        {plan.ConflictTargetNoSnapshots},
	}
	for _, tc := range append(scenarios(), conflictScenarios()...) {
		w, ok := want[tc.name]
		if !ok {
			continue
		}
		pol, err := desired.Resolve(tc.cfg, tc.st)
		if err != nil {
			t.Fatal(err)
		}
		p, err := diff.Plan(pol, tc.st, now, diff.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []plan.ConflictKind
		for _, c := range p.Conflicts {
			got = append(got, c.Kind)
		}
		if len(got) != len(w) {
			t.Errorf("%s: conflict kinds %v, want %v: %+v", tc.name, got, w, p.Conflicts)
			continue
		}
		for i := range w {
			if got[i] != w[i] {
				t.Errorf("%s: conflict kinds %v, want %v", tc.name, got, w)
				break
			}
		}
	}
}
