package apply_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/zfs/zfsfake"
)

const (
	freeze = "/usr/local/bin/db-freeze"
	thaw   = "/usr/local/bin/db-thaw"
	flush  = "/usr/local/bin/flush"
	unlock = "/usr/local/bin/unlock"
)

// hookEnv is newEnv with two hooks on the data policy: freeze/thaw and
// flush/unlock, each program succeeding unless a test replaces it.
func hookEnv(t *testing.T, onFail hclspec.OnPreFailure) *env {
	e := newEnv(t)
	e.cfg.Snapshots[0].Hooks = []hclspec.Hook{
		{Name: "freeze", Pre: []string{freeze, "--wait"}, Post: []string{thaw}, Timeout: 30 * time.Second, OnPreFailure: onFail},
		{Name: "flush", Pre: []string{flush}, Post: []string{unlock}, Timeout: 30 * time.Second, OnPreFailure: onFail},
	}
	for _, p := range []string{freeze, thaw, flush, unlock} {
		e.src.AddProgram(p, zfsfake.ExitProgram(0, ""))
	}
	return e
}

// order is the programs and zfs snapshot commands src ran, in order.
func order(h *zfsfake.Host) string {
	var out []string
	for _, c := range h.Commands() {
		switch {
		case strings.HasPrefix(c[0], "/"):
			out = append(out, c[0][strings.LastIndex(c[0], "/")+1:])
		case len(c) > 1 && c[0] == "zfs" && c[1] == "snapshot":
			out = append(out, "snapshot")
		}
	}
	return strings.Join(out, " ")
}

// hookEvents records the EventHook events of an apply.
type hookEvents struct {
	mu  sync.Mutex
	evs []apply.Event
}

func (h *hookEvents) Report(e apply.Event) {
	if e.Kind == apply.EventHook {
		h.mu.Lock()
		h.evs = append(h.evs, e)
		h.mu.Unlock()
	}
}

func snapshotAction(t *testing.T, p *plan.Plan) *plan.Action {
	t.Helper()
	for _, a := range p.Actions {
		if a.Kind == plan.KindSnapshot {
			return a
		}
	}
	t.Fatal("no snapshot action")
	return nil
}

func TestHooksRunAroundSnapshot(t *testing.T) {
	e := hookEnv(t, hclspec.PreFailureSkip)
	p := e.plan()
	a := snapshotAction(t, p)
	if len(a.Hooks) != 2 || a.Hooks[0].Name != "freeze" || a.Hooks[0].Policy != "data" || strings.Join(a.Hooks[0].Datasets, ",") != "tank/data,tank/data/home" {
		t.Fatalf("plan hooks %+v", a.Hooks)
	}
	ev := &hookEvents{}
	if _, err := apply.Apply(context.Background(), p, e.hosts(), apply.Options{Reporter: ev}); err != nil {
		t.Fatal(err)
	}
	if got, want := order(e.src), "db-freeze flush snapshot unlock db-thaw"; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	calls := e.src.ProgramCalls()
	pre, post := calls[0], calls[3]
	snap := a.Snapshots[0].Name
	for k, v := range map[string]string{"ZPLAN_POLICY": "data", "ZPLAN_HOOK": "freeze", "ZPLAN_PHASE": "pre", "ZPLAN_HOST": "src",
		"ZPLAN_POOL": "tank", "ZPLAN_SNAPSHOT": snap, "ZPLAN_DATASETS": "tank/data\ntank/data/home", "ZPLAN_SNAPSHOT_STATUS": ""} {
		if got := pre.Getenv(k); got != v {
			t.Errorf("pre %s = %q, want %q", k, got, v)
		}
	}
	if strings.Join(pre.Argv, " ") != freeze+" --wait" {
		t.Errorf("pre argv %q", pre.Argv)
	}
	if post.Getenv("ZPLAN_PHASE") != "post" || post.Getenv("ZPLAN_SNAPSHOT_STATUS") != "created" || post.Argv[0] != thaw {
		t.Errorf("post %+v", post)
	}
	if len(ev.evs) != 4 || ev.evs[0].Hook.Phase != apply.HookPre || ev.evs[3].Hook.Hook.Name != "freeze" || ev.evs[3].Err != nil {
		t.Errorf("hook events %+v", ev.evs)
	}
	if !e.src.Exists("tank/data@" + snap) {
		t.Error("no snapshot")
	}
}

func TestHookPreFailureSkipsSnapshot(t *testing.T) {
	e := hookEnv(t, hclspec.PreFailureSkip)
	e.src.AddProgram(flush, zfsfake.ExitProgram(3, "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\n\x1b]0;owned\adatabase busy\n"))
	p := e.plan()
	snap := snapshotAction(t, p).Snapshots[0].Name
	res, err := e.apply(p)
	// freeze succeeded, so thaw runs; flush failed, so unlock does not.
	if got, want := order(e.src), "db-freeze flush db-thaw"; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	if e.src.Exists("tank/data@" + snap) {
		t.Fatal("snapshot taken despite a failed pre")
	}
	var he *apply.HookError
	if !errors.As(err, &he) || he.Code != 3 || he.Hook.Name != "flush" {
		t.Fatalf("error %v, want the flush hook's", err)
	}
	msg := err.Error()
	for _, want := range []string{"snapshot not taken", "hook flush (snapshots.data) pre on src", flush, "exit status 3", "database busy", "line 3"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.ContainsAny(msg, "\x1b\a") {
		t.Errorf("error %q passes the hook's terminal escapes on", msg)
	}
	if strings.Contains(msg, "line 2") {
		t.Errorf("error %q keeps more than the last lines of stderr", msg)
	}
	if res.Failed != 1 || res.Skipped == 0 {
		t.Errorf("result %+v: the snapshot fails and the sends of it are skipped", res)
	}
	if calls := e.src.ProgramCalls(); calls[2].Getenv("ZPLAN_SNAPSHOT_STATUS") != "skipped" {
		t.Errorf("thaw status %q", calls[2].Getenv("ZPLAN_SNAPSHOT_STATUS"))
	}
}

func TestHookPreFailureFirstRunsNoPost(t *testing.T) {
	e := hookEnv(t, hclspec.PreFailureSkip)
	e.src.AddProgram(freeze, zfsfake.ExitProgram(1, "cannot freeze"))
	if _, err := e.apply(e.plan()); err == nil {
		t.Fatal("apply succeeded")
	}
	if got, want := order(e.src), "db-freeze"; got != want {
		t.Fatalf("order %q, want %q: nothing after a failed first pre", got, want)
	}
}

func TestHookPreFailureContinue(t *testing.T) {
	e := hookEnv(t, hclspec.PreFailureContinue)
	e.src.AddProgram(freeze, zfsfake.ExitProgram(1, "cannot freeze"))
	p := e.plan()
	snap := snapshotAction(t, p).Snapshots[0].Name
	ev := &hookEvents{}
	if _, err := apply.Apply(context.Background(), p, e.hosts(), apply.Options{Reporter: ev}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	// The failed pre's post does not run; the other hook's does.
	if got, want := order(e.src), "db-freeze flush snapshot unlock"; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	if !e.src.Exists("tank/data@" + snap) {
		t.Fatal("no snapshot despite on_pre_failure = continue")
	}
	if first := ev.evs[0]; first.Err == nil || !first.Hook.Continued || !strings.Contains(first.Err.Error(), "cannot freeze") {
		t.Errorf("first hook event %+v", first)
	}
}

func TestHookPostRunsWhenSnapshotFails(t *testing.T) {
	e := hookEnv(t, hclspec.PreFailureSkip)
	e.src.FailNext(zfsfake.MatchPrefix("zfs", "snapshot"), "cannot create snapshot: out of space", 1)
	_, err := e.apply(e.plan())
	if err == nil || !strings.Contains(err.Error(), "out of space") {
		t.Fatalf("apply error %v", err)
	}
	if got, want := order(e.src), "db-freeze flush snapshot unlock db-thaw"; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	if calls := e.src.ProgramCalls(); calls[3].Getenv("ZPLAN_SNAPSHOT_STATUS") != "failed" {
		t.Errorf("thaw status %q", calls[3].Getenv("ZPLAN_SNAPSHOT_STATUS"))
	}
}

func TestHookPostFailureFailsAction(t *testing.T) {
	e := hookEnv(t, hclspec.PreFailureSkip)
	e.src.AddProgram(thaw, zfsfake.ExitProgram(2, "still frozen"))
	p := e.plan()
	snap := snapshotAction(t, p).Snapshots[0].Name
	_, err := e.apply(p)
	if err == nil || !strings.Contains(err.Error(), "hook freeze (snapshots.data) post on src") || !strings.Contains(err.Error(), "still frozen") {
		t.Fatalf("apply error %v", err)
	}
	if !e.src.Exists("tank/data@" + snap) {
		t.Fatal("the snapshot itself was taken")
	}
}

func TestHookTimeout(t *testing.T) {
	e := hookEnv(t, hclspec.PreFailureSkip)
	e.cfg.Snapshots[0].Hooks[1].Timeout = 50 * time.Millisecond
	e.src.AddProgram(flush, zfsfake.HangingProgram())
	p := e.plan()
	snap := snapshotAction(t, p).Snapshots[0].Name
	start := time.Now()
	_, err := e.apply(p)
	if time.Since(start) > 10*time.Second {
		t.Fatal("the hook was not stopped at its timeout")
	}
	var he *apply.HookError
	if !errors.As(err, &he) || !he.TimedOut || !strings.Contains(err.Error(), "no result within its timeout of 50ms") {
		t.Fatalf("error %v", err)
	}
	if e.src.Exists("tank/data@" + snap) {
		t.Fatal("snapshot taken after a pre timed out")
	}
	if got, want := order(e.src), "db-freeze flush db-thaw"; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
}

func TestHookCancelStopsPreAndStillThaws(t *testing.T) {
	e := hookEnv(t, hclspec.PreFailureContinue)
	ctx, cancel := context.WithCancel(context.Background())
	e.src.AddProgram(flush, func(c context.Context, _ zfsfake.ProgramCall) (int, string) {
		cancel() // apply is interrupted while the hook runs
		<-c.Done()
		return -1, ""
	})
	p := e.plan()
	snap := snapshotAction(t, p).Snapshots[0].Name
	if _, err := apply.Apply(ctx, p, e.hosts(), apply.Options{}); err == nil {
		t.Fatal("apply succeeded")
	}
	if e.src.Exists("tank/data@" + snap) {
		t.Fatal("snapshot taken after cancellation, despite on_pre_failure = continue")
	}
	if got, want := order(e.src), "db-freeze flush db-thaw"; got != want {
		t.Fatalf("order %q, want %q: thaw runs even when interrupted", got, want)
	}
}

func TestHookNotRerunWhenSnapshotAlreadyDone(t *testing.T) {
	e := hookEnv(t, hclspec.PreFailureSkip)
	p := e.plan()
	if _, err := e.apply(p); err != nil {
		t.Fatal(err)
	}
	n := len(e.src.ProgramCalls())
	if _, err := apply.Apply(context.Background(), p, e.hosts(), apply.Options{Resume: true}); err != nil {
		t.Fatal(err)
	}
	if len(e.src.ProgramCalls()) != n {
		t.Fatal("hooks ran again for a snapshot an earlier apply took")
	}
}

// Two policies on one pool share the atomic snapshot; each hook gets
// only its own policy's datasets, and -target keeps a hook only with
// datasets of its policy.
func TestHooksOfSharedSnapshot(t *testing.T) {
	e := hookEnv(t, hclspec.PreFailureSkip)
	e.src.Create("tank/misc", zfsfake.Opts{})
	e.cfg.Snapshots = append(e.cfg.Snapshots, &hclspec.SnapshotPolicy{
		Name: "misc", Host: "src", Prefix: "zplan_",
		Datasets: hclspec.DatasetSelector{Include: []string{"tank/misc"}},
		Schedule: hclspec.Schedule{Every: 15 * time.Minute},
		Hooks:    []hclspec.Hook{{Name: "note", Post: []string{"/usr/bin/logger"}, Timeout: time.Second, OnPreFailure: hclspec.PreFailureSkip}},
	})
	p := e.plan()
	a := snapshotAction(t, p)
	if strings.Join(a.Datasets, ",") != "tank/data,tank/data/home,tank/misc" || len(a.Hooks) != 3 {
		t.Fatalf("datasets %v hooks %+v", a.Datasets, a.Hooks)
	}
	if h := a.Hooks[2]; h.Policy != "misc" || strings.Join(h.Datasets, ",") != "tank/misc" || strings.Join(a.Hooks[0].Datasets, ",") != "tank/data,tank/data/home" {
		t.Fatalf("hooks %+v", a.Hooks)
	}
	sel := snapshotAction(t, p.Select([]string{"tank/misc"}))
	if len(sel.Hooks) != 1 || sel.Hooks[0].Name != "note" {
		t.Fatalf("-target tank/misc keeps hooks %+v", sel.Hooks)
	}
	sel = snapshotAction(t, p.Select([]string{"tank/data/home"}))
	// (tank/data stays: the send of tank/data/home needs its parent on the target first.)
	if len(sel.Hooks) != 2 || !slices.Equal(sel.Hooks[0].Datasets, sel.Datasets) || slices.Contains(sel.Datasets, "tank/misc") {
		t.Fatalf("-target tank/data/home: datasets %v, hooks %+v", sel.Datasets, sel.Hooks)
	}
}
