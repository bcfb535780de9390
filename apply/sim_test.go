package apply_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/zfs/zfsfake"
)

// TestSimulateMonthWithFailures runs plan+apply every 15 minutes for 30
// virtual days while data changes and commands fail at random (broken
// streams, a controller dying between receive and bookkeeping, failing
// holds, releases and destroys), and checks the safety invariants after
// every run.
func TestSimulateMonthWithFailures(t *testing.T) {
	days := 30
	if testing.Short() {
		days = 3
	}
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(1, 2))
	e.src.Snapshot("tank/data@manual_keep_forever") // foreign: never destroyed
	type failure struct {
		host *zfsfake.Host
		argv []string
	}
	failures := []failure{
		{e.src, []string{"zfs", "bookmark"}},
		{e.dst, []string{"zfs", "hold"}},
		{e.src, []string{"zfs", "release"}},
		{e.src, []string{"zfs", "destroy"}},
		{e.dst, []string{"zfs", "destroy"}},
		{e.src, []string{"zfs", "snapshot"}},
		{e.src, []string{"zfs", "send"}},
		{e.dst, []string{"zfs", "recv"}},
	}
	var unsent map[uint64]string // source GUIDs the target lacked before a run
	failed := 0
	for step := 0; step < days*96; step++ {
		e.now = e.now.Add(15 * time.Minute)
		e.src.Write("tank/data/home", uint64(rng.IntN(256))<<10)
		switch r := rng.IntN(20); {
		case r == 0:
			e.src.InterruptSendAfter(int64(50 + rng.IntN(200)))
		case r == 1:
			f := failures[rng.IntN(len(failures))]
			f.host.FailNext(zfsfake.MatchPrefix(f.argv...), "simulated failure", 1)
		}
		p := e.plan()
		// apply FILE refuses what the configuration cannot produce: every
		// plan the planner makes must pass that check.
		if pol, err := planfile.PolicyFor(e.cfg, p); err != nil {
			t.Fatal(err)
		} else if errs := planfile.Validate(p, pol); len(errs) > 0 {
			t.Fatalf("step %d (%s): the plan fails saved-plan validation: %v", step, e.now, errors.Join(errs...))
		}
		if len(p.Conflicts) > 0 {
			t.Fatalf("step %d (%s): conflict %+v", step, e.now, *p.Conflicts[0])
		}
		for _, a := range p.Actions {
			if a.Kind == plan.KindDestroy {
				for _, s := range a.Snapshots {
					if !strings.HasPrefix(s.Name, "zplan_") {
						t.Fatalf("step %d: plan destroys foreign snapshot %s@%s", step, a.Dataset, s.Name)
					}
				}
			}
		}
		if _, err := e.apply(p); err != nil {
			failed++
		}
		src, dst := observeBoth(t, e)
		checkInvariants(t, step, src, dst, unsent)
		unsent = pendingGUIDs(src, dst)
	}
	// With the failures over, one more run converges.
	e.now = e.now.Add(15 * time.Minute)
	e.mustConverge()
	if failed == 0 {
		t.Error("no run failed: the simulation injected nothing")
	}
	t.Logf("%d runs, %d with a failed action", days*96, failed)
}

func observeBoth(t *testing.T, e *env) (*observe.Host, *observe.Host) {
	t.Helper()
	src, err := observe.ObserveHost(context.Background(), "src", e.src)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := observe.ObserveHost(context.Background(), "dst", e.dst)
	if err != nil {
		t.Fatal(err)
	}
	return src, dst
}

var pairs = [][2]string{{"tank/data", "backup/src/data"}, {"tank/data/home", "backup/src/data/home"}}

// pendingGUIDs lists, per edge, the managed source snapshots newer than
// the newest one the target has: what the edge still has to send.
func pendingGUIDs(src, dst *observe.Host) map[uint64]string {
	out := map[uint64]string{}
	for _, pr := range pairs {
		s, d := src.Datasets[pr[0]], dst.Datasets[pr[1]]
		if s == nil || d == nil || d.Newest() == nil {
			continue
		}
		base := s.SnapshotByGUID(d.Newest().GUID)
		for _, sn := range s.Snapshots {
			if strings.HasPrefix(sn.Name, "zplan_") && (base == nil || sn.CreateTXG > base.CreateTXG) {
				out[sn.GUID] = pr[0] + "@" + sn.Name
			}
		}
	}
	return out
}

func checkInvariants(t *testing.T, step int, src, dst *observe.Host, unsent map[uint64]string) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("step %d: %s", step, fmt.Sprintf(format, args...))
	}
	if src.Datasets["tank/data"].SnapshotByName("manual_keep_forever") == nil {
		fail("the foreign snapshot was destroyed")
	}
	for _, pr := range pairs {
		s, d := src.Datasets[pr[0]], dst.Datasets[pr[1]]
		if d == nil || (len(d.Snapshots) == 0 && d.ResumeToken != "") {
			continue // initial replication not done yet
		}
		// The incremental chain survives: the target's newest snapshot is
		// on the source, as a snapshot or as a cursor bookmark.
		newest := d.Newest()
		if newest == nil {
			fail("%s exists without snapshots or resume token", pr[1])
		}
		ok := s.SnapshotByGUID(newest.GUID) != nil
		for _, b := range s.Bookmarks {
			ok = ok || b.GUID == newest.GUID
		}
		if !ok {
			fail("%s@%s (guid %d) has neither a snapshot nor a bookmark on the source: the chain is broken", pr[1], newest.Name, newest.GUID)
		}
		// No target snapshot the source never had.
		for _, ts := range d.Snapshots {
			if !strings.HasPrefix(ts.Name, "zplan_") {
				fail("target has a snapshot zplan did not send: %s", ts.Name)
			}
		}
	}
	// Snapshots that were unsent before this run are on the source still,
	// or have reached the target (invariant 9).
	for guid, name := range unsent {
		onSrc, onDst := false, false
		for _, pr := range pairs {
			onSrc = onSrc || src.Datasets[pr[0]].SnapshotByGUID(guid) != nil
			if d := dst.Datasets[pr[1]]; d != nil {
				onDst = onDst || d.SnapshotByGUID(guid) != nil
			}
		}
		if !onSrc && !onDst {
			fail("%s was destroyed on the source before it was sent", name)
		}
	}
}
