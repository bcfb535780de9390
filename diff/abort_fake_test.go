package diff_test

import (
	"context"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
	"github.com/zplan/zplan/zfs/zfsfake"
)

// On the fake: an incremental receive is interrupted, then its snapshot
// is pruned on the source. The plan discards the partial receive and
// sends afresh from the edge's base; one apply converges, and the next
// plan has nothing left to do about the edge.
func TestAbortStaleResumeOnFake(t *testing.T) {
	ctx := context.Background()
	w := zfsfake.NewWorld(func() time.Time { return now })
	src, dst := w.Host("src"), w.Host("dst")
	src.CreatePool("tank")
	src.Create("tank/data", zfsfake.Opts{})
	src.Write("tank/data", 1<<20)
	dst.CreatePool("backup")
	dst.Create("backup/src", zfsfake.Opts{Props: map[string]string{zfs.PropPlaceholder: "backup/src"}})
	hosts := map[string]remote.Host{"src": src, "dst": dst}
	const a, b = "tank/data@zplan_20261122T114500Z", "tank/data@zplan_20261122T120000Z"
	src.Snapshot(a)
	must(t, remote.Pipe(ctx, src, zfs.SendArgv(nil, "", a), dst, zfs.RecvArgv("backup/src/data", nil, nil), nil))
	if _, err := remote.Output(ctx, src, zfs.BookmarkArgv(a, "tank/data#"+plan.CursorName("offsite", src.GUID(a)))...); err != nil {
		t.Fatal(err)
	}
	dst.Hold(plan.LastTag("offsite"), "backup/src/data@zplan_20261122T114500Z")

	src.Write("tank/data", 1<<20)
	src.Snapshot(b)
	src.InterruptSendAfter(500)
	if err := remote.Pipe(ctx, src, zfs.SendArgv(nil, a, b), dst, zfs.RecvArgv("backup/src/data", nil, nil), nil); err == nil {
		t.Fatal("the interrupted send succeeded")
	}
	if dst.ResumeToken("backup/src/data") == "" {
		t.Fatal("no resume token after the interrupted receive")
	}
	if _, err := remote.Output(ctx, src, "zfs", "destroy", b); err != nil {
		t.Fatal(err)
	}

	planNow := func() *plan.Plan {
		t.Helper()
		st, err := observe.Observe(ctx, hosts)
		if err != nil {
			t.Fatal(err)
		}
		pol, err := desired.Resolve(config(), st)
		if err != nil {
			t.Fatal(err)
		}
		p, err := diff.Plan(pol, st, now, diff.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Conflicts) > 0 {
			t.Fatalf("conflicts: %+v", p.Conflicts)
		}
		return p
	}
	p := planNow()
	kinds := map[plan.Kind]int{}
	for _, a := range p.Actions {
		kinds[a.Kind]++
	}
	if kinds[plan.KindAbortResume] != 1 || kinds[plan.KindSendIncremental] != 1 || kinds[plan.KindSendResume] != 0 {
		t.Fatalf("plan kinds %v, want one abort_resume and one incremental send", kinds)
	}
	res, err := apply.Apply(ctx, p, hosts, apply.Options{})
	if err != nil || res.Failed+res.Refused+res.Skipped > 0 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if tok := dst.ResumeToken("backup/src/data"); tok != "" {
		t.Errorf("resume token left: %q", tok)
	}
	snaps := dst.Snapshots("backup/src/data")
	if len(snaps) == 0 || snaps[len(snaps)-1] != "zplan_20261122T120700Z" {
		t.Errorf("target snapshots %v, want the plan's new snapshot last", snaps)
	}
	for _, a := range planNow().Actions {
		if a.Kind.IsSend() || a.Kind == plan.KindAbortResume {
			t.Errorf("second plan still has %s", a.Address)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The same for an interrupted first (full) receive: recv -A destroys
// the incomplete filesystem, and the plan's full send recreates it.
func TestAbortStaleFullResumeOnFake(t *testing.T) {
	ctx := context.Background()
	w := zfsfake.NewWorld(func() time.Time { return now })
	src, dst := w.Host("src"), w.Host("dst")
	src.CreatePool("tank")
	src.Create("tank/data", zfsfake.Opts{})
	src.Write("tank/data", 1<<20)
	dst.CreatePool("backup")
	dst.Create("backup/src", zfsfake.Opts{Props: map[string]string{zfs.PropPlaceholder: "backup/src"}})
	hosts := map[string]remote.Host{"src": src, "dst": dst}
	const a = "tank/data@zplan_20261122T114500Z"
	src.Snapshot(a)
	src.InterruptSendAfter(500)
	if err := remote.Pipe(ctx, src, zfs.SendArgv(nil, "", a), dst, zfs.RecvArgv("backup/src/data", nil, nil), nil); err == nil {
		t.Fatal("the interrupted send succeeded")
	}
	if dst.ResumeToken("backup/src/data") == "" {
		t.Fatal("no resume token after the interrupted receive")
	}
	if _, err := remote.Output(ctx, src, "zfs", "destroy", a); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		st, err := observe.Observe(ctx, hosts)
		if err != nil {
			t.Fatal(err)
		}
		pol, err := desired.Resolve(config(), st)
		if err != nil {
			t.Fatal(err)
		}
		p, err := diff.Plan(pol, st, now, diff.Options{})
		if err != nil || len(p.Conflicts) > 0 {
			t.Fatalf("round %d: %v, conflicts %+v", round, err, p.Conflicts)
		}
		kinds := map[plan.Kind]int{}
		for _, a := range p.Actions {
			kinds[a.Kind]++
		}
		if round == 1 {
			if kinds[plan.KindAbortResume]+kinds[plan.KindSendFull]+kinds[plan.KindSendIncremental] > 0 {
				t.Errorf("second plan still has %v", kinds)
			}
			break
		}
		if kinds[plan.KindAbortResume] != 1 || kinds[plan.KindSendFull] != 1 {
			t.Fatalf("plan kinds %v, want one abort_resume and one full send", kinds)
		}
		res, err := apply.Apply(ctx, p, hosts, apply.Options{})
		if err != nil || res.Failed+res.Refused+res.Skipped > 0 {
			t.Fatalf("apply: %+v, %v", res, err)
		}
	}
	if tok := dst.ResumeToken("backup/src/data"); tok != "" {
		t.Errorf("resume token left: %q", tok)
	}
	if snaps := dst.Snapshots("backup/src/data"); len(snaps) != 1 || snaps[0] != "zplan_20261122T120700Z" {
		t.Errorf("target snapshots %v, want the plan's new snapshot", snaps)
	}
}

// A stale receive on an edge that is blocked otherwise is not discarded:
// without a declared rollback, the target whose newest snapshot the
// source lost has diverged, and the plan shows that conflict alone.
func TestStaleResumeOnBlockedEdgeIsKept(t *testing.T) {
	var sc *scenario
	for _, s := range scenarios() {
		if s.name == "resume_token_base_gone_rollback" {
			sc = &s
		}
	}
	if sc == nil {
		t.Fatal("no resume_token_base_gone_rollback scenario")
	}
	st := sc.st
	pol, err := desired.Resolve(config(), st) // on_divergence = "refuse"
	if err != nil {
		t.Fatal(err)
	}
	p, err := diff.Plan(pol, st, now, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conflicts) != 1 || p.Conflicts[0].Kind != plan.ConflictDiverged {
		t.Errorf("conflicts %+v, want the divergence", p.Conflicts)
	}
	for _, a := range p.Actions {
		if a.Kind == plan.KindAbortResume || a.Kind.IsSend() || a.Kind == plan.KindRollback {
			t.Errorf("blocked edge plans %s", a.Address)
		}
	}
}
