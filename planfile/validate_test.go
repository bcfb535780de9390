package planfile

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/zfs"
)

// testConfig snapshots src tank/data/** (but not tank/data/tmp) and
// replicates it to dst backup/src, rolling back diverged targets.
func testConfig(mod ...func(*hclspec.Config)) *hclspec.Config {
	cfg := &hclspec.Config{
		Hosts: []*hclspec.Host{{Name: "src"}, {Name: "dst"}, {Name: "idle"}},
		Snapshots: []*hclspec.SnapshotPolicy{{
			Name: "data", Host: "src", Prefix: "zplan_",
			Datasets:  hclspec.DatasetSelector{Include: []string{"tank/data/**"}, Exclude: []string{"tank/data/tmp"}},
			Schedule:  hclspec.Schedule{Every: 15 * time.Minute},
			Retention: &hclspec.Retention{Grid: "1x1h(keep=all) | 24x1h"},
		}},
		Replications: []*hclspec.Replication{{
			Name: "offsite", ID: "offsite", SnapshotsPolicy: "data",
			TargetHost: "dst", TargetRoot: "backup/src", Initial: "most_recent", Raw: "auto", OnDivergence: "rollback",
			SendOptions:     hclspec.SendOptions{LargeBlocks: true, Compressed: true},
			Receive:         hclspec.ReceiveOptions{Set: maps.Clone(hclspec.DefaultReceiveSet)},
			TargetRetention: &hclspec.Retention{Grid: "24x1h | 7x1d"},
		}},
		Hash: "test",
	}
	for _, m := range mod {
		m(cfg)
	}
	return cfg
}

const (
	snapN = "zplan_20261122T120000Z"
	old1  = "zplan_20261122T113000Z"
	old2  = "zplan_20261122T114500Z"
)

// validPlan has one action of every kind in the forms diff gives them.
func validPlan() *plan.Plan {
	snapAddr := `snapshot.src["tank@` + snapN + `"]`
	send := func(ds, to string, toGUID uint64) *plan.Send {
		s := &plan.Send{Edge: "offsite", SourceHost: "src", SourceDataset: ds, To: to, ToGUID: toGUID,
			TargetHost: "dst", TargetDataset: "backup/src/" + strings.TrimPrefix(ds, "tank/"), Flags: []string{"-L", "-c"},
			StepTag: plan.StepTag("offsite"), LastTag: plan.LastTag("offsite"),
			Receive: &plan.Receive{Set: map[string]string{"readonly": "on", "canmount": "noauto"}}}
		if toGUID != 0 {
			s.Cursor = plan.CursorName("offsite", toGUID)
		}
		return s
	}
	inc := send("tank/data/home", old2, 6)
	inc.From, inc.FromGUID = "@"+old1, 5
	inc.OldCursors, inc.OldLast = []string{plan.CursorName("offsite", 5)}, []string{old1}
	resume := send("tank/data/vm", old2, 9)
	tok, err := zfs.EncodeResumeToken(zfs.ResumeToken{ToGUID: 9, ToName: "tank/data/vm@" + old2, Bytes: 1 << 20})
	if err != nil {
		panic(err)
	}
	resume.Token = tok
	return &plan.Plan{FormatVersion: plan.FormatVersion, ZplanVersion: "1.0", ConfigHash: "test", Time: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC),
		Actions: []*plan.Action{
			{Address: snapAddr, Kind: plan.KindSnapshot, Host: "src", Dataset: "tank", Snapshots: []plan.SnapRef{{Name: snapN}},
				Datasets: []string{"tank/data", "tank/data/home"}, Preconditions: []plan.Precondition{
					{Host: "src", Kind: plan.PreExists, Object: "tank/data"}, {Host: "src", Kind: plan.PreAbsent, Object: "tank/data@" + snapN}}},
			{Address: `create_placeholder.dst["backup/src"]`, Kind: plan.KindCreatePlaceholder, Host: "dst", Dataset: "backup/src",
				Preconditions: []plan.Precondition{{Host: "dst", Kind: plan.PreAbsent, Object: "backup/src"}}},
			{Address: `send.offsite["tank/data@` + snapN + `"]`, Kind: plan.KindSendFull, Host: "src", Dataset: "tank/data",
				DependsOn: []string{`create_placeholder.dst["backup/src"]`, snapAddr}, Send: send("tank/data", snapN, 0),
				Preconditions: []plan.Precondition{{Host: "src", Kind: plan.PreExists, Object: "tank/data@" + snapN}, {Host: "dst", Kind: plan.PreAbsent, Object: "backup/src/data"}}},
			{Address: `send.offsite["tank/data/home@` + old2 + `"]`, Kind: plan.KindSendIncremental, Host: "src", Dataset: "tank/data/home", Send: inc},
			{Address: `send.offsite["tank/data/vm@` + old2 + `"]`, Kind: plan.KindSendResume, Host: "src", Dataset: "tank/data/vm", Send: resume,
				Preconditions: []plan.Precondition{{Host: "dst", Kind: plan.PreResumeToken, Object: "backup/src/data/vm", Value: resume.Token}}},
			{Address: `destroy.src["tank/data"]`, Kind: plan.KindDestroy, Host: "src", Dataset: "tank/data", Snapshots: []plan.SnapRef{{Name: "zplan_20261120T090000Z", GUID: 3}},
				DependsOn: []string{`send.offsite["tank/data@` + snapN + `"]`}},
			{Address: `destroy.dst["backup/src/data/home"]`, Kind: plan.KindDestroy, Host: "dst", Dataset: "backup/src/data/home", Snapshots: []plan.SnapRef{{Name: "zplan_20261120T090000Z", GUID: 4}}},
			{Address: `destroy_bookmark.src["tank/data/home#` + plan.CursorName("offsite", 4) + `"]`, Kind: plan.KindDestroyBookmark, Host: "src", Dataset: "tank/data/home", Bookmark: plan.CursorName("offsite", 4)},
			{Address: `bookmark.src["tank/data#` + plan.CursorName("offsite", 100) + `"]`, Kind: plan.KindBookmark, Host: "src", Dataset: "tank/data",
				Bookmark: plan.CursorName("offsite", 100), Snapshots: []plan.SnapRef{{Name: old2, GUID: 100}}},
			{Address: `hold.dst["backup/src/data/home@zplan_last_offsite"]`, Kind: plan.KindHold, Host: "dst", Dataset: "backup/src/data/home", Tag: "zplan_last_offsite", Snapshots: []plan.SnapRef{{Name: old1, GUID: 5}}},
			{Address: `release.dst["backup/src/data/home@zplan_last_offsite"]`, Kind: plan.KindRelease, Host: "dst", Dataset: "backup/src/data/home", Tag: "zplan_last_offsite", Snapshots: []plan.SnapRef{{Name: "zplan_20261120T090000Z"}}},
			{Address: `release.src["tank/data@zplan_step_offsite"]`, Kind: plan.KindRelease, Host: "src", Dataset: "tank/data", Tag: "zplan_step_offsite", Snapshots: []plan.SnapRef{{Name: old1}}},
			{Address: `rollback.dst["backup/src/data/vm"]`, Kind: plan.KindRollback, Host: "dst", Dataset: "backup/src/data/vm", Bookmark: old1, Snapshots: []plan.SnapRef{{Name: "local_change", GUID: 555}}},
			{Address: `abort_resume.dst["backup/src/data/vm"]`, Kind: plan.KindAbortResume, Host: "dst", Dataset: "backup/src/data/vm"},
		}}
}

// find returns the action of p whose address starts with prefix.
func find(p *plan.Plan, prefix string) *plan.Action {
	for _, a := range p.Actions {
		if strings.HasPrefix(a.Address, prefix) {
			return a
		}
	}
	panic("no action " + prefix)
}

func validate(t *testing.T, cfg *hclspec.Config, p *plan.Plan) []error {
	t.Helper()
	pol, err := PolicyFor(cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	return Validate(p, pol)
}

func TestValidPlanValidates(t *testing.T) {
	if errs := validate(t, testConfig(), validPlan()); len(errs) > 0 {
		t.Fatalf("a plan of the configuration's forms is refused:\n%v", errors.Join(errs...))
	}
	// A policy from the datasets the plan names: a plan that names only a
	// target (a hold on backup/src/data/home) still finds its edge.
	p := validPlan()
	p.Actions = []*plan.Action{find(p, "hold.dst")}
	if errs := validate(t, testConfig(), p); len(errs) > 0 {
		t.Fatalf("a lone hold on an edge target is refused: %v", errors.Join(errs...))
	}
	// adopt_foreign lets a destroy name snapshots without the prefix.
	p = validPlan()
	find(p, `destroy.src`).Snapshots[0].Name = "manual"
	adopt := testConfig(func(c *hclspec.Config) { c.Snapshots[0].Retention.AdoptForeign = true })
	if errs := validate(t, adopt, p); len(errs) > 0 {
		t.Fatalf("destroy of a foreign snapshot refused despite adopt_foreign: %v", errors.Join(errs...))
	}
}

func TestValidateRefusesCraftedPlans(t *testing.T) {
	type mut = func(p *plan.Plan)
	action := func(prefix string, f func(a *plan.Action)) mut {
		return func(p *plan.Plan) { f(find(p, prefix)) }
	}
	add := func(a *plan.Action) mut { return func(p *plan.Plan) { p.Actions = append(p.Actions, a) } }
	cases := []struct {
		name string
		cfg  func(*hclspec.Config)
		mut  mut
		rule Rule
		addr string // address named in the message
	}{
		{"unknown kind", nil, action(`abort_resume.`, func(a *plan.Action) { a.Kind = "exec" }), RuleKind, "abort_resume.dst"},
		{"undeclared host", nil, add(&plan.Action{Address: `destroy.evil["tank/data"]`, Kind: plan.KindDestroy, Host: "evil", Dataset: "tank/data", Snapshots: []plan.SnapRef{{Name: "zplan_x"}}}), RuleHost, "destroy.evil"},
		{"host no block works on", nil, add(&plan.Action{Address: `destroy.idle["tank/data"]`, Kind: plan.KindDestroy, Host: "idle", Dataset: "tank/data", Snapshots: []plan.SnapRef{{Name: "zplan_x"}}}), RuleHost, "destroy.idle"},
		{"destroy on unmanaged dataset", nil, add(&plan.Action{Address: `destroy.src["tank/other"]`, Kind: plan.KindDestroy, Host: "src", Dataset: "tank/other", Snapshots: []plan.SnapRef{{Name: "zplan_x"}}}), RuleManaged, `destroy.src["tank/other"]`},
		{"destroy on excluded dataset", nil, add(&plan.Action{Address: `destroy.src["tank/data/tmp"]`, Kind: plan.KindDestroy, Host: "src", Dataset: "tank/data/tmp", Snapshots: []plan.SnapRef{{Name: "zplan_x"}}}), RuleManaged, "tank/data/tmp"},
		{"rollback on unmanaged dataset", nil, add(&plan.Action{Address: `rollback.src["tank/other"]`, Kind: plan.KindRollback, Host: "src", Dataset: "tank/other", Bookmark: "x"}), RuleManaged, `rollback.src["tank/other"]`},
		{"rollback of a source", nil, add(&plan.Action{Address: `rollback.src["tank/data"]`, Kind: plan.KindRollback, Host: "src", Dataset: "tank/data", Bookmark: old1}), RuleManaged, `rollback.src["tank/data"]`},
		{"rollback not declared", func(c *hclspec.Config) { c.Replications[0].OnDivergence = "refuse" }, nil, RuleRollback, "rollback.dst"},
		{"foreign snapshot destroyed", nil, action(`destroy.src`, func(a *plan.Action) { a.Snapshots[0].Name = "manual" }), RulePrefix, "destroy.src"},
		{"foreign snapshot on target", nil, action(`destroy.dst`, func(a *plan.Action) { a.Snapshots = append(a.Snapshots, plan.SnapRef{Name: "theirs"}) }), RulePrefix, "destroy.dst"},
		{"range in destroy", nil, action(`destroy.src`, func(a *plan.Action) { a.Snapshots[0].Name = "zplan_a%zplan_z" }), RuleUnsafeName, "destroy.src"},
		{"list in destroy", nil, action(`destroy.dst`, func(a *plan.Action) { a.Snapshots[0].Name = "zplan_a,zplan_z" }), RuleUnsafeName, "destroy.dst"},
		{"range in rollback", nil, action(`rollback.`, func(a *plan.Action) { a.Snapshots[0].Name = "a%b" }), RuleUnsafeName, "rollback.dst"},
		{"range in old cursor", nil, action(`send.offsite["tank/data/home`, func(a *plan.Action) { a.Send.OldCursors = []string{"zplan_cursor_a%b"} }), RuleUnsafeName, "send.offsite"},
		{"receive that mounts over /etc", nil, action(`send.offsite["tank/data@`, func(a *plan.Action) {
			a.Send.Receive = &plan.Receive{Set: map[string]string{"mountpoint": "/etc", "canmount": "on"}}
		}), RuleProperties, `send.offsite["tank/data@`},
		{"receive without readonly", nil, action(`send.offsite["tank/data@`, func(a *plan.Action) { a.Send.Receive = nil }), RuleProperties, "send.offsite"},
		{"set canmount=on on a replica", nil, add(&plan.Action{Address: `set_properties.dst["backup/src/data"]`, Kind: plan.KindSetProperties, Host: "dst",
			Dataset: "backup/src/data", Properties: map[string]string{"canmount": "on"}}), RuleProperties, "set_properties.dst"},
		{"set a property no receive declares", nil, add(&plan.Action{Address: `set_properties.dst["backup/src/data"]`, Kind: plan.KindSetProperties, Host: "dst",
			Dataset: "backup/src/data", Properties: map[string]string{"sharenfs": "on"}}), RuleProperties, "set_properties.dst"},
		{"replicate flag", nil, action(`send.offsite["tank/data@`, func(a *plan.Action) { a.Send.Flags = []string{"-R", "-L", "-c"} }), RuleFlags, `send.offsite["tank/data@`},
		{"raw flag on raw = never", func(c *hclspec.Config) { c.Replications[0].Raw = "never" }, action(`send.offsite["tank/data@`, func(a *plan.Action) { a.Send.Flags = []string{"-w", "-L", "-c"} }), RuleFlags, "send.offsite"},
		{"decrypted send on raw = always", func(c *hclspec.Config) { c.Replications[0].Raw = "always" }, action(`send.offsite["tank/data/home`, func(a *plan.Action) { a.Send.Flags = []string{"-L", "-c"} }), RuleFlags, "send.offsite"},
		{"send to undeclared target dataset", nil, action(`send.offsite["tank/data@`, func(a *plan.Action) { a.Send.TargetDataset = "backup/evil" }), RuleEdge, "send.offsite"},
		{"send to another host", nil, action(`send.offsite["tank/data/home`, func(a *plan.Action) { a.Send.TargetHost = "idle" }), RuleEdge, "send.offsite"},
		{"send of an unknown edge", nil, action(`send.offsite["tank/data@`, func(a *plan.Action) { a.Send.Edge = "nope" }), RuleEdge, "send.offsite"},
		{"send from an unmanaged source", nil, action(`send.offsite["tank/data/home`, func(a *plan.Action) {
			a.Send.SourceDataset, a.Dataset, a.Address = "tank/other", "tank/other", `send.offsite["tank/other@`+old2+`"]`
		}), RuleEdge, "tank/other"},
		{"send of a foreign snapshot", nil, action(`send.offsite["tank/data/home`, func(a *plan.Action) {
			a.Send.To, a.Address, a.Send.ToGUID, a.Send.Cursor = "manual", `send.offsite["tank/data/home@manual"]`, 0, ""
		}), RulePrefix, `send.offsite["tank/data/home@manual"]`},
		{"resume token of another dataset", nil, action(`send.offsite["tank/data/vm`, func(a *plan.Action) {
			a.Send.Token, _ = zfs.EncodeResumeToken(zfs.ResumeToken{ToGUID: 9, ToName: "tank/other@" + old2})
		}), RuleEdge, "continues tank/other@"},
		{"resume token of another snapshot", nil, action(`send.offsite["tank/data/vm`, func(a *plan.Action) {
			a.Send.Token, _ = zfs.EncodeResumeToken(zfs.ResumeToken{ToGUID: 10, ToName: "tank/data/vm@" + old2})
		}), RuleEdge, "guid 10"},
		{"raw resume token, plain flags", nil, action(`send.offsite["tank/data/vm`, func(a *plan.Action) {
			a.Send.Token, _ = zfs.EncodeResumeToken(zfs.ResumeToken{ToGUID: 9, ToName: "tank/data/vm@" + old2, Raw: true})
		}), RuleFlags, "raw=true"},
		{"undecodable resume token", nil, action(`send.offsite["tank/data/vm`, func(a *plan.Action) { a.Send.Token = "1-abc-def-0123" }), RuleEdge, "resume token"},
		{"send with another step tag", nil, action(`send.offsite["tank/data@`, func(a *plan.Action) { a.Send.StepTag = "mine" }), RuleNames, "send.offsite"},
		{"send with a forged cursor", nil, action(`send.offsite["tank/data/home`, func(a *plan.Action) { a.Send.Cursor = plan.CursorName("other", 6) }), RuleNames, "send.offsite"},
		{"send destroying a foreign bookmark", nil, action(`send.offsite["tank/data/home`, func(a *plan.Action) { a.Send.OldCursors = []string{"precious"} }), RuleNames, "send.offsite"},
		{"hold with a foreign tag", nil, action(`hold.dst`, func(a *plan.Action) {
			a.Tag, a.Address = "mine", `hold.dst["backup/src/data/home@mine"]`
		}), RuleNames, "hold.dst"},
		{"step tag held on target", nil, action(`hold.dst`, func(a *plan.Action) {
			a.Tag, a.Address = "zplan_step_offsite", `hold.dst["backup/src/data/home@zplan_step_offsite"]`
		}), RuleNames, "hold.dst"},
		{"release of a foreign hold", nil, action(`release.src`, func(a *plan.Action) {
			a.Tag, a.Address = "backup_tool", `release.src["tank/data@backup_tool"]`
		}), RuleNames, "release.src"},
		{"bookmark not a cursor", nil, action(`bookmark.`, func(a *plan.Action) {
			a.Bookmark, a.Address = "mine", `bookmark.src["tank/data#mine"]`
		}), RuleNames, "bookmark.src"},
		{"destroy of a foreign bookmark", nil, action(`destroy_bookmark.`, func(a *plan.Action) {
			a.Bookmark, a.Address = "precious", `destroy_bookmark.src["tank/data/home#precious"]`
		}), RuleNames, "destroy_bookmark.src"},
		{"abort_resume on a source", nil, add(&plan.Action{Address: `abort_resume.src["tank/data"]`, Kind: plan.KindAbortResume, Host: "src", Dataset: "tank/data"}), RuleAbortResume, `abort_resume.src["tank/data"]`},
		{"placeholder outside the targets", nil, add(&plan.Action{Address: `create_placeholder.dst["backup/evil"]`, Kind: plan.KindCreatePlaceholder, Host: "dst", Dataset: "backup/evil"}), RuleManaged, "create_placeholder.dst"},
		{"snapshot of an unmanaged dataset", nil, action(`snapshot.`, func(a *plan.Action) { a.Datasets = append(a.Datasets, "tank/other") }), RuleManaged, "snapshot.src"},
		{"snapshot named other than the plan time", nil, func(p *plan.Plan) { p.Time = p.Time.Add(time.Hour) }, RulePrefix, "snapshot.src"},
		{"empty snapshots", nil, action(`snapshot.`, func(a *plan.Action) { a.Snapshots = nil }), RuleStructure, "snapshot.src"},
		{"bookmark without snapshot", nil, action(`bookmark.`, func(a *plan.Action) { a.Snapshots = nil }), RuleStructure, "bookmark.src"},
		{"nil send", nil, action(`send.offsite["tank/data@`, func(a *plan.Action) { a.Send = nil }), RuleStructure, "send.offsite"},
		{"unknown depends_on", nil, action(`destroy.dst`, func(a *plan.Action) { a.DependsOn = []string{"nowhere"} }), RuleGraph, "nowhere"},
		{"dependency cycle", nil, func(p *plan.Plan) {
			find(p, "abort_resume.").DependsOn = []string{`rollback.dst["backup/src/data/vm"]`}
			find(p, "rollback.").DependsOn = []string{`abort_resume.dst["backup/src/data/vm"]`}
		}, RuleGraph, "cycle"},
		{"forged address", nil, action(`destroy.dst`, func(a *plan.Action) { a.Address = `destroy.dst["backup/src/data"]` }), RuleAddress, `destroy.dst["backup/src/data"]`},
		{"precondition on another host", nil, action(`destroy.dst`, func(a *plan.Action) {
			a.Preconditions = []plan.Precondition{{Host: "src", Kind: plan.PreExists, Object: "tank/data"}}
		}), RulePrecondition, "destroy.dst"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := validPlan()
			if c.mut != nil {
				c.mut(p)
			}
			var mods []func(*hclspec.Config)
			if c.cfg != nil {
				mods = append(mods, c.cfg)
			}
			errs := validate(t, testConfig(mods...), p)
			if len(errs) == 0 {
				t.Fatal("crafted plan validates")
			}
			for _, err := range errs {
				var v *Violation
				if !errors.As(err, &v) || v.Rule != c.rule {
					t.Errorf("want only rule %s, got: %v", c.rule, err)
				}
			}
			if msg := errs[0].Error(); !strings.Contains(msg, c.addr) || !strings.Contains(msg, "rule "+string(c.rule)) {
				t.Errorf("message %q does not name %s and the rule", msg, c.addr)
			}
		})
	}
}
