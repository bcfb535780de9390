package apply_test

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs/zfsfake"
)

// kindStage is one action of the every-kind fixture and what the fake
// hosts must show after apply carried it out.
type kindStage struct {
	action *plan.Action
	setup  func(src, dst *zfsfake.Host) // before applying, e.g. a fault
	check  func(t *testing.T, src, dst *zfsfake.Host)
}

func edgeSend(kind plan.Kind, address, ds, from, to, token string) *plan.Action {
	return &plan.Action{
		Address: address, Kind: kind, Host: "dst", Dataset: "backup/p/" + ds,
		Reason: "fixture: replicate " + ds,
		Send: &plan.Send{
			Edge: "e", SourceHost: "src", SourceDataset: "tank/" + ds, From: from, To: to, Token: token,
			TargetHost: "dst", TargetDataset: "backup/p/" + ds, Flags: []string{"-L"},
			StepTag: plan.StepTag("e"), Cursor: "zplan_cursor_fixture_" + to, LastTag: plan.LastTag("e"),
		},
	}
}

// everyKindStages is one action of every kind, in an order that lets
// each run on the fake hosts everyKindWorld builds: tank/a replicates in
// full then incrementally and is bookmarked, held, released, destroyed
// and rolled back on the target; tank/b's send is interrupted, resumed,
// interrupted again and aborted.
func everyKindStages() []kindStage {
	snap := func(ds, name string) func(t *testing.T, src, dst *zfsfake.Host) {
		return func(t *testing.T, src, dst *zfsfake.Host) {
			t.Helper()
			h := src
			if ds[:6] == "backup" {
				h = dst
			}
			if !h.Exists(ds + "@" + name) {
				t.Errorf("%s@%s does not exist", ds, name)
			}
		}
	}
	interrupt := func(src, _ *zfsfake.Host) { src.InterruptSendAfter(1000) }
	hasToken := func(t *testing.T, _, dst *zfsfake.Host) {
		t.Helper()
		if dst.ResumeToken("backup/p/b") == "" {
			t.Error("the interrupted send left no resume token")
		}
	}
	return []kindStage{
		{action: &plan.Action{Address: "snapshot.src.tank", Kind: plan.KindSnapshot, Host: "src", Dataset: "tank",
			Datasets: []string{"tank/a", "tank/b"}, Snapshots: []plan.SnapRef{{Name: "s2"}}, Reason: "fixture: schedule"},
			check: func(t *testing.T, src, dst *zfsfake.Host) {
				snap("tank/a", "s2")(t, src, dst)
				snap("tank/b", "s2")(t, src, dst)
			}},
		{action: &plan.Action{Address: "placeholder.dst.backup/p", Kind: plan.KindCreatePlaceholder, Host: "dst", Dataset: "backup/p", Reason: "fixture: parent"},
			check: func(t *testing.T, _, dst *zfsfake.Host) {
				if !dst.Exists("backup/p") {
					t.Error("backup/p not created")
				}
			}},
		{action: edgeSend(plan.KindSendFull, "send.e.a.s1", "a", "", "s1", ""), check: snap("backup/p/a", "s1")},
		{action: edgeSend(plan.KindSendIncremental, "send.e.a.s2", "a", "@s1", "s2", ""), check: snap("backup/p/a", "s2")},
		{action: &plan.Action{Address: "set_properties.dst.backup/p/a", Kind: plan.KindSetProperties, Host: "dst", Dataset: "backup/p/a",
			Properties: map[string]string{"readonly": "on", "canmount": "noauto"}, Reason: "fixture: replica made writable"},
			check: func(t *testing.T, _, dst *zfsfake.Host) {
				if dst.Prop("backup/p/a", "readonly") != "on" || dst.Prop("backup/p/a", "canmount") != "noauto" {
					t.Errorf("backup/p/a: readonly=%q canmount=%q", dst.Prop("backup/p/a", "readonly"), dst.Prop("backup/p/a", "canmount"))
				}
			}},
		{action: &plan.Action{Address: "bookmark.src.tank/a", Kind: plan.KindBookmark, Host: "src", Dataset: "tank/a",
			Snapshots: []plan.SnapRef{{Name: "s1"}}, Bookmark: "bm1", Reason: "fixture: bookmark"},
			check: func(t *testing.T, src, _ *zfsfake.Host) {
				if !src.Exists("tank/a#bm1") {
					t.Error("tank/a#bm1 not created")
				}
			}},
		{action: &plan.Action{Address: "destroy_bookmark.src.tank/a#bm1", Kind: plan.KindDestroyBookmark, Host: "src", Dataset: "tank/a",
			Bookmark: "bm1", Reason: "fixture: old bookmark"},
			check: func(t *testing.T, src, _ *zfsfake.Host) {
				if src.Exists("tank/a#bm1") {
					t.Error("tank/a#bm1 still exists")
				}
			}},
		{action: &plan.Action{Address: "hold.src.tank/a@keep", Kind: plan.KindHold, Host: "src", Dataset: "tank/a",
			Snapshots: []plan.SnapRef{{Name: "s1"}}, Tag: "zplan_fixture", Reason: "fixture: hold"},
			check: func(t *testing.T, src, _ *zfsfake.Host) {
				if !slices.Contains(src.Holds("tank/a@s1"), "zplan_fixture") {
					t.Errorf("holds on tank/a@s1: %v", src.Holds("tank/a@s1"))
				}
			}},
		{action: &plan.Action{Address: "release.src.tank/a@keep", Kind: plan.KindRelease, Host: "src", Dataset: "tank/a",
			Snapshots: []plan.SnapRef{{Name: "s1"}}, Tag: "zplan_fixture", Reason: "fixture: release"},
			check: func(t *testing.T, src, _ *zfsfake.Host) {
				if slices.Contains(src.Holds("tank/a@s1"), "zplan_fixture") {
					t.Errorf("hold still on tank/a@s1: %v", src.Holds("tank/a@s1"))
				}
			}},
		{action: &plan.Action{Address: "destroy.src.tank/a", Kind: plan.KindDestroy, Host: "src", Dataset: "tank/a",
			Snapshots: []plan.SnapRef{{Name: "s1", Rule: "fixture", Reason: "fixture: expired", Bytes: 1024}}, Reason: "fixture: retention"},
			check: func(t *testing.T, src, _ *zfsfake.Host) {
				if src.Exists("tank/a@s1") {
					t.Error("tank/a@s1 still exists")
				}
			}},
		{action: &plan.Action{Address: "rollback.dst.backup/p/a", Kind: plan.KindRollback, Host: "dst", Dataset: "backup/p/a",
			Snapshots: []plan.SnapRef{{Name: "own", Reason: "fixture: diverged", Bytes: 2048}}, Bookmark: "s2", Reason: "fixture: on_divergence"},
			setup: func(_, dst *zfsfake.Host) { dst.Write("backup/p/a", 4096); dst.Snapshot("backup/p/a@own") },
			check: func(t *testing.T, _, dst *zfsfake.Host) {
				if dst.Exists("backup/p/a@own") {
					t.Error("backup/p/a@own survived the rollback")
				}
			}},
		{action: edgeSend(plan.KindSendFull, "send.e.b.s1", "b", "", "s1", ""), setup: interrupt, check: hasToken},
		// The resume stage's token is read from the target when it runs.
		{action: edgeSend(plan.KindSendResume, "send.e.b.s1.resume", "b", "", "s1", "TOKEN"), check: snap("backup/p/b", "s1")},
		{action: edgeSend(plan.KindSendIncremental, "send.e.b.s2", "b", "@s1", "s2", ""), setup: interrupt, check: hasToken},
		{action: &plan.Action{Address: "abort_resume.dst.backup/p/b", Kind: plan.KindAbortResume, Host: "dst", Dataset: "backup/p/b", Reason: "fixture: stale receive"},
			check: func(t *testing.T, _, dst *zfsfake.Host) {
				if dst.ResumeToken("backup/p/b") != "" {
					t.Error("resume state not aborted")
				}
			}},
	}
}

func everyKindWorld() (src, dst *zfsfake.Host) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	w := zfsfake.NewWorld(func() time.Time { return now })
	src, dst = w.Host("src"), w.Host("dst")
	src.CreatePool("tank")
	dst.CreatePool("backup")
	for _, ds := range []string{"tank/a", "tank/b"} {
		src.Create(ds, zfsfake.Opts{})
		src.Write(ds, 64<<20)
		src.Snapshot(ds + "@s1")
		src.Write(ds, 16<<20)
	}
	return src, dst
}

// TestEveryKindApplies carries out one action of every kind on the fake
// and checks its effect: a kind added to plan's table without an
// executor, or one this fixture forgets, fails here.
func TestEveryKindApplies(t *testing.T) {
	stages := everyKindStages()
	var covered []plan.Kind
	for _, s := range stages {
		if !slices.Contains(covered, s.action.Kind) {
			covered = append(covered, s.action.Kind)
		}
	}
	for _, k := range plan.Kinds() {
		if !slices.Contains(covered, k) {
			t.Errorf("kind %s has no stage in the every-kind fixture", k)
		}
	}
	src, dst := everyKindWorld()
	hosts := map[string]remote.Host{"src": src, "dst": dst}
	for _, s := range stages {
		a := s.action
		if a.Kind == plan.KindSendResume {
			a.Send.Token = dst.ResumeToken(a.Send.TargetDataset)
		}
		if err := a.CheckShape(); err != nil {
			t.Fatalf("fixture: %v", err)
		}
		if s.setup != nil {
			s.setup(src, dst)
		}
		var events []apply.Event
		_, err := apply.Apply(context.Background(), &plan.Plan{Actions: []*plan.Action{a}}, hosts, apply.Options{
			Reporter: apply.ReporterFunc(func(e apply.Event) { events = append(events, e) }),
		})
		last := events[len(events)-1]
		interrupted := s.setup != nil && a.Kind.IsSend()
		switch {
		case interrupted && (err == nil || last.Kind != apply.EventFailed):
			t.Fatalf("%s: the interrupted send did not fail: %v", a.Address, err)
		case !interrupted && (err != nil || last.Kind != apply.EventDone):
			t.Fatalf("%s (%s): %v (last event %s %v)", a.Address, a.Kind, err, last.Kind, last.Err)
		}
		if s.check != nil {
			t.Run(a.Address, func(t *testing.T) { s.check(t, src, dst) })
		}
	}
}

// everyKindPlan is the fixture's actions as one plan.
func everyKindPlan() *plan.Plan {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, ZplanVersion: "test", ConfigHash: "h",
		Time: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	for _, s := range everyKindStages() {
		p.Actions = append(p.Actions, s.action)
	}
	return p
}

// TestEveryKindRoundTripsAndCounts saves and reads back a plan with one
// action of every kind, and checks that the summary puts each kind in
// its table class.
func TestEveryKindRoundTripsAndCounts(t *testing.T) {
	p := everyKindPlan()
	var b bytes.Buffer
	if err := planfile.Encode(&b, p, p.Time); err != nil {
		t.Fatal(err)
	}
	f, err := planfile.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	want := everyKindPlan()
	if err := want.Sort(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Plan.Actions, want.Actions) {
		t.Error("actions changed in the plan-file round trip")
	}
	for _, k := range plan.Kinds() {
		one := &plan.Plan{}
		for _, a := range p.Actions {
			if a.Kind == k {
				one.Actions = append(one.Actions, a)
			}
		}
		s := one.Summarize()
		info, _ := k.Info()
		got := map[plan.Class]int{plan.ClassCreate: s.Create, plan.ClassSend: s.Send, plan.ClassDestroy: s.Destroy, plan.ClassBookkeeping: s.Other}
		for class, n := range got {
			if (n > 0) != (class == info.Class) {
				t.Errorf("%s: summary %+v, want only class %d counted", k, s, info.Class)
			}
		}
		if info.DestroysSnapshots && s.Destroy == 0 {
			t.Errorf("%s destroys snapshots but the summary counts no destroy", k)
		}
	}
}
