package apply_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
)

// applyEvents applies p and returns the final event of each action.
func (e *env) applyEvents(p *plan.Plan) map[string]apply.Event {
	e.t.Helper()
	events := map[string]apply.Event{}
	var mu sync.Mutex // reports arrive from apply's workers at once
	_, _ = apply.Apply(context.Background(), p, e.hosts(), apply.Options{
		Reporter: apply.ReporterFunc(func(ev apply.Event) {
			mu.Lock()
			defer mu.Unlock()
			if ev.Action != nil && ev.Kind != apply.EventStart && ev.Kind != apply.EventProgress {
				events[ev.Action.Address] = ev
			}
		}),
	})
	return events
}

// TestDestroyRefusedWhenItsJustificationVanished: a saved plan's destroy
// is refused when what made its victims redundant is gone by apply time
// (another tool pruned), and nothing of it is destroyed.
func TestDestroyRefusedWhenItsJustificationVanished(t *testing.T) {
	cases := []struct {
		name string
		// prune removes one of the destroy's justifying snapshots and
		// returns the fact the refusal must name.
		prune func(e *env, destroy *plan.Action) string
	}{
		{
			name: "bucket keeper on the source",
			prune: func(e *env, d *plan.Action) string {
				victims := map[string]bool{}
				for _, s := range d.Snapshots {
					victims[d.Dataset+"@"+s.Name] = true
				}
				for _, pc := range d.Preconditions {
					if pc.Host == "src" && !victims[pc.Object] {
						mustRun(e, e.src, "zfs", "destroy", pc.Object)
						return "src no longer has " + pc.Object
					}
				}
				e.t.Fatalf("the destroy asserts no keeper: %+v", d.Preconditions)
				return ""
			},
		},
		{
			name: "the edge's common snapshot on the target",
			prune: func(e *env, d *plan.Action) string {
				for _, pc := range d.Preconditions {
					if pc.Host == "dst" {
						mustRun(e, e.dst, "zfs", "release", "zplan_last_offsite", pc.Object)
						mustRun(e, e.dst, "zfs", "destroy", pc.Object)
						return "dst no longer has " + pc.Object
					}
				}
				e.t.Fatalf("the destroy asserts nothing on the target: %+v", d.Preconditions)
				return ""
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			for i := 0; i < 3; i++ {
				e.mustConverge()
				e.now = e.now.Add(15 * time.Minute)
			}
			// Three days on, the day bucket keeps only the oldest of the
			// three; no new snapshot is due, so nothing is sent and the
			// edge's base is the common snapshot both hosts have now.
			e.now = e.now.Add(72 * time.Hour)
			e.cfg.Snapshots[0].Schedule.Every = 7 * 24 * time.Hour
			p := e.plan()
			var destroy *plan.Action
			for _, a := range p.Actions {
				if a.Kind == plan.KindDestroy && a.Host == "src" && a.Dataset == "tank/data" {
					destroy = a
				}
			}
			if destroy == nil {
				t.Fatalf("no source destroy planned: %s", kinds(p))
			}
			fact := tc.prune(e, destroy)
			ev := e.applyEvents(p)[destroy.Address]
			if ev.Kind != apply.EventRefused || !strings.Contains(ev.Err.Error(), "saved plan is stale: "+fact) {
				t.Fatalf("destroy event %v (%v), want refused as stale naming %q", ev.Kind, ev.Err, fact)
			}
			for _, s := range destroy.Snapshots {
				if !e.src.Exists(destroy.Dataset + "@" + s.Name) {
					t.Errorf("%s@%s was destroyed by a refused action", destroy.Dataset, s.Name)
				}
			}
		})
	}
}

// TestRollbackRefusedWhenWrittenAfterPlanning: a declared rollback
// discards what the plan showed, not what was written since.
func TestRollbackRefusedWhenWrittenAfterPlanning(t *testing.T) {
	e := newEnv(t)
	e.mustConverge()
	e.dst.Write("backup/src/data/home", 1<<20)
	e.dst.Snapshot("backup/src/data/home@local")
	e.dst.Write("backup/src/data/home", 1<<20)
	e.now = e.now.Add(15 * time.Minute)
	e.cfg.Replications[0].OnDivergence = "rollback"
	p := e.plan()
	var rb *plan.Action
	for _, a := range p.Actions {
		if a.Kind == plan.KindRollback {
			rb = a
		}
	}
	if rb == nil {
		t.Fatalf("no rollback planned: %s", kinds(p))
	}
	// The plan saw 1 MiB written since @local; someone writes more.
	e.dst.Write("backup/src/data/home", 64<<10)
	ev := e.applyEvents(p)[rb.Address]
	if ev.Kind != apply.EventRefused || !strings.Contains(ev.Err.Error(), "saved plan is stale: dst: backup/src/data/home has ") ||
		!strings.Contains(ev.Err.Error(), "written since its newest snapshot, the plan saw 1048576") {
		t.Fatalf("rollback event %v (%v), want refused as stale naming written", ev.Kind, ev.Err)
	}
	if !e.dst.Exists("backup/src/data/home@local") {
		t.Error("the rollback ran although the target was written after planning")
	}
	// Unchanged since planning, the same kind of plan goes through.
	e.mustConverge()
}

func mustRun(e *env, h remote.Host, argv ...string) {
	e.t.Helper()
	if _, err := remote.Output(context.Background(), h, argv...); err != nil {
		e.t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
}
