package apply_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
	"github.com/zplan/zplan/zfs/zfsfake"
)

// env is a source and a target host in a fake ZFS world with a virtual
// clock, and a configuration that snapshots src tank/data/** every 15
// minutes and replicates it to dst backup/src.
type env struct {
	t        *testing.T
	now      time.Time
	world    *zfsfake.World
	src, dst *zfsfake.Host
	cfg      *hclspec.Config
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	e.world = zfsfake.NewWorld(func() time.Time { return e.now })
	e.src, e.dst = e.world.Host("src"), e.world.Host("dst")
	e.src.CreatePool("tank")
	e.src.Create("tank/data", zfsfake.Opts{})
	e.src.Create("tank/data/home", zfsfake.Opts{})
	e.src.Write("tank/data", 4<<20)
	e.src.Write("tank/data/home", 4<<20)
	e.dst.CreatePool("backup")
	e.cfg = &hclspec.Config{
		Hosts: []*hclspec.Host{{Name: "src"}, {Name: "dst"}},
		Snapshots: []*hclspec.SnapshotPolicy{{
			Name: "data", Host: "src", Prefix: "zplan_",
			Datasets:  hclspec.DatasetSelector{Include: []string{"tank/data/**"}},
			Schedule:  hclspec.Schedule{Every: 15 * time.Minute},
			Retention: &hclspec.Retention{Grid: "1x1h(keep=all) | 24x1h | 7x1d"},
		}},
		Replications: []*hclspec.Replication{{
			Name: "offsite", ID: "offsite", SnapshotsPolicy: "data",
			TargetHost: "dst", TargetRoot: "backup/src", Initial: "most_recent", Raw: "auto", OnDivergence: "refuse",
			TargetRetention: &hclspec.Retention{Grid: "24x1h | 30x1d"},
		}},
	}
	return e
}

func (e *env) hosts() map[string]remote.Host {
	return map[string]remote.Host{"src": e.src, "dst": e.dst}
}

func (e *env) plan() *plan.Plan {
	e.t.Helper()
	st, err := observe.Observe(context.Background(), e.hosts())
	if err != nil {
		e.t.Fatal(err)
	}
	pol, err := desired.Resolve(e.cfg, st)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := diff.Plan(pol, st, e.now, diff.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) apply(p *plan.Plan) (apply.Result, error) {
	res, err := apply.Apply(context.Background(), p, e.hosts(), apply.Options{})
	return res, err
}

func (e *env) mustConverge() {
	e.t.Helper()
	p := e.plan()
	if len(p.Conflicts) > 0 {
		e.t.Fatalf("conflicts: %+v", p.Conflicts[0])
	}
	if _, err := e.apply(p); err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	if p2 := e.plan(); !p2.Empty() {
		e.t.Fatalf("second plan is not empty: %d actions, first %s (%s)", len(p2.Actions), p2.Actions[0].Address, p2.Actions[0].Reason)
	}
}

func kinds(p *plan.Plan) string {
	var ks []string
	for _, a := range p.Actions {
		ks = append(ks, string(a.Kind))
	}
	return strings.Join(ks, " ")
}

func TestApplyConvergesAndKeepsBookkeeping(t *testing.T) {
	e := newEnv(t)
	e.mustConverge()
	for _, ds := range []string{"tank/data", "tank/data/home"} {
		snaps := e.src.Snapshots(ds)
		if len(snaps) != 1 {
			t.Fatalf("%s snapshots %v", ds, snaps)
		}
		tgt := strings.Replace(ds, "tank", "backup/src", 1)
		full := ds + "@" + snaps[0]
		short := "@" + snaps[0]
		if e.dst.GUID(tgt+short) != e.src.GUID(full) {
			t.Errorf("%s%s not received with the same GUID", tgt, short)
		}
		if !e.src.Exists(ds + "#" + plan.CursorName("offsite", e.src.GUID(full))) {
			t.Errorf("no cursor bookmark on %s", ds)
		}
		if h := e.dst.Holds(tgt + short); len(h) != 1 || h[0] != plan.LastTag("offsite") {
			t.Errorf("target holds %v, want only the last-received hold", h)
		}
		if h := e.src.Holds(full); len(h) != 0 {
			t.Errorf("source step holds left behind: %v", h)
		}
	}
	// backup/src did not exist: created as a placeholder parent.
	for name, want := range map[string]bool{"backup/src": true, "backup/src/data": false} {
		out, err := remote.Output(context.Background(), e.dst, zfs.PlaceholderArgv(name)...)
		if err != nil || zfs.IsPlaceholder([]byte(out), name) != want {
			t.Errorf("placeholder %s: want %v, zfs says %q (%v)", name, want, out, err)
		}
	}

	// Time passes and data changes: the next run sends incrementally.
	e.now = e.now.Add(20 * time.Minute)
	e.src.Write("tank/data/home", 1<<20)
	p := e.plan()
	if got := kinds(p); !strings.Contains(got, "send_incremental") || strings.Contains(got, "send_full") {
		t.Fatalf("second run kinds: %s", got)
	}
	e.mustConverge()
}

func TestInterruptedSendIsResumedNotResent(t *testing.T) {
	e := newEnv(t)
	e.src.InterruptSendAfter(1000)
	p := e.plan()
	if _, err := e.apply(p); err == nil {
		t.Fatal("apply with an interrupted send succeeded")
	}
	p = e.plan()
	var resume *plan.Action
	for _, a := range p.Actions {
		if a.Kind == plan.KindSendResume {
			resume = a
		}
	}
	if resume == nil {
		t.Fatalf("no resume action after interruption: %s", kinds(p))
	}
	before := len(e.src.Commands())
	e.mustConverge()
	resumed := false
	for _, c := range e.src.Commands()[before:] {
		if len(c) > 2 && c[1] == "send" && c[2] == "-t" {
			resumed = true
		}
	}
	if !resumed {
		t.Error("the interrupted stream was not continued with zfs send -t")
	}
}

func TestStalePlanIsRefused(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		e.mustConverge()
		e.now = e.now.Add(15 * time.Minute)
	}
	// Three days on, the day bucket keeps only the oldest of the three.
	e.now = e.now.Add(72 * time.Hour)
	p := e.plan()
	var destroy *plan.Action
	for _, a := range p.Actions {
		if a.Kind == plan.KindDestroy && a.Host == "src" {
			destroy = a
		}
	}
	if destroy == nil {
		t.Fatalf("no source destroy planned: %s", kinds(p))
	}
	// Between plan and apply, someone replaces the snapshot the plan
	// destroys with another of the same name.
	name := destroy.Dataset + "@" + destroy.Snapshots[0].Name
	if _, err := remote.Output(context.Background(), e.src, "zfs", "destroy", name); err != nil {
		t.Fatal(err)
	}
	e.src.Snapshot(name)
	_, err := e.apply(p)
	if !errors.Is(err, apply.ErrStale) || !strings.Contains(err.Error(), "guid") {
		t.Fatalf("apply error %v, want a stale-plan refusal naming the guid", err)
	}
	if !e.src.Exists(name) {
		t.Error("the replaced snapshot was destroyed by a stale action")
	}
}

func TestCrashBeforeCursorIsRepaired(t *testing.T) {
	e := newEnv(t)
	e.mustConverge()
	e.now = e.now.Add(15 * time.Minute)
	e.src.FailNext(zfsfake.MatchPrefix("zfs", "bookmark"), "zplan test: controller died", 255)
	if _, err := e.apply(e.plan()); err == nil {
		t.Fatal("apply succeeded despite the injected failure")
	}
	p := e.plan()
	got := kinds(p)
	for _, want := range []string{"bookmark", "hold", "release"} {
		if !strings.Contains(got, want) {
			t.Errorf("repair plan lacks %s: %s", want, got)
		}
	}
	if strings.Contains(got, "send") {
		t.Errorf("repair plan resends: %s", got)
	}
	e.mustConverge()
}

func TestFailedActionSkipsDependents(t *testing.T) {
	e := newEnv(t)
	e.src.FailNext(zfsfake.MatchPrefix("zfs", "snapshot"), "cannot create snapshot: out of space", 1)
	res, err := e.apply(e.plan())
	if err == nil || res.Failed != 1 || res.Skipped == 0 || res.Done == 0 {
		t.Fatalf("result %+v, err %v: want the snapshot failed, its sends skipped, placeholders done", res, err)
	}
	if len(e.dst.Snapshots("backup/src/data")) != 0 {
		t.Error("something was received although its snapshot failed")
	}
}

func TestDeclaredRollbackResolvesDivergence(t *testing.T) {
	e := newEnv(t)
	e.mustConverge()
	// Someone writes to the target and snapshots it.
	e.dst.Write("backup/src/data/home", 1<<20)
	e.dst.Snapshot("backup/src/data/home@local")
	e.dst.Write("backup/src/data/home", 1<<20)
	e.now = e.now.Add(15 * time.Minute)
	if p := e.plan(); len(p.Conflicts) != 1 || !strings.Contains(p.Conflicts[0].Message, "@local") {
		t.Fatalf("want one divergence conflict naming @local, got %+v", p.Conflicts)
	}
	e.cfg.Replications[0].OnDivergence = "rollback"
	p := e.plan()
	if got := kinds(p); len(p.Conflicts) != 0 || !strings.Contains(got, "rollback") {
		t.Fatalf("kinds %s, conflicts %+v", got, p.Conflicts)
	}
	e.mustConverge()
	for _, s := range e.dst.Snapshots("backup/src/data/home") {
		if s == "local" {
			t.Error("the diverging snapshot survived the declared rollback")
		}
	}
}
