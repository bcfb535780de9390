package lock

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/zfs/zfsfake"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func fakeHost() *zfsfake.Host {
	w := zfsfake.NewWorld(func() time.Time { return t0 })
	h := w.Host("nas")
	h.CreatePool("tank")
	h.CreatePool("backup")
	return h
}

func opts(alive bool) Options {
	return Options{Now: func() time.Time { return t0.Add(time.Minute) }, Alive: func(int) bool { return alive }}
}

func TestSecondAcquireFailsUntilReleased(t *testing.T) {
	ctx := context.Background()
	h := fakeHost()
	a := Owner{Controller: "ci-1", PID: 100, User: "ci", Since: t0}
	b := Owner{Controller: "ci-2", PID: 200, User: "ci", Since: t0}
	la, err := Acquire(ctx, h, "nas", "tank", a, opts(true))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Holds("tank@" + SnapName); len(got) != 2 {
		t.Fatalf("holds on the lock snapshot: %v, want the mutex and the owner", got)
	}
	_, err = Acquire(ctx, h, "nas", "tank", b, opts(true))
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.Status.Owner == nil || le.Status.Owner.PID != 100 || !strings.Contains(err.Error(), "ci-1") {
		t.Fatalf("second acquire: %v, want locked by pid 100 on ci-1", err)
	}
	// Another pool is independent.
	lo, err := Acquire(ctx, h, "nas", "backup", b, opts(true))
	if err != nil {
		t.Fatalf("other pool: %v", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if h.Exists("tank@" + SnapName) {
		t.Error("lock snapshot left behind after release")
	}
	lb, err := Acquire(ctx, h, "nas", "tank", b, opts(true))
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	lb.Release(ctx)
	lo.Release(ctx)
}

func TestWaitsUntilTimeout(t *testing.T) {
	ctx := context.Background()
	h := fakeHost()
	la, err := Acquire(ctx, h, "nas", "tank", Owner{Controller: "x", PID: 1, Since: t0}, opts(true))
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	waits := 0
	o := Options{
		Timeout: 10 * time.Second, Retry: 2 * time.Second, Alive: func(int) bool { return true },
		Now: func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error {
			now = now.Add(d)
			if waits++; waits == 3 {
				la.Release(ctx)
			}
			return nil
		},
	}
	lb, err := Acquire(ctx, h, "nas", "tank", Owner{Controller: "y", PID: 2, Since: t0}, o)
	if err != nil || waits != 3 {
		t.Fatalf("acquire after waiting: %v after %d waits", err, waits)
	}
	lb.Release(ctx)

	// Held for good: gives up at the deadline.
	if _, err := Acquire(ctx, h, "nas", "tank", Owner{Controller: "x", PID: 1, Since: t0}, opts(true)); err != nil {
		t.Fatal(err)
	}
	waits = 0
	o.Sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); waits++; return nil }
	if _, err := Acquire(ctx, h, "nas", "tank", Owner{Controller: "y", PID: 2, Since: t0}, o); !errors.Is(err, ErrLocked) || waits != 5 {
		t.Fatalf("err %v after %d waits, want locked after 5 (10s / 2s)", err, waits)
	}
}

func TestStaleLockIsReportedNotBroken(t *testing.T) {
	ctx := context.Background()
	h := fakeHost()
	me := Me(t0)
	dead := Owner{Controller: me.Controller, PID: 999999, User: "ci", Since: t0}
	if _, err := Acquire(ctx, h, "nas", "tank", dead, opts(true)); err != nil {
		t.Fatal(err)
	}
	_, err := Acquire(ctx, h, "nas", "tank", me, opts(false))
	var le *LockedError
	if !errors.As(err, &le) || le.Status.Stale == "" || !strings.Contains(err.Error(), "zplan force-unlock nas:tank") {
		t.Fatalf("err %v, want a stale lock naming force-unlock", err)
	}
	if !h.Exists("tank@" + SnapName) {
		t.Fatal("stale lock was broken silently")
	}
	// Too old is stale too, whatever the controller.
	old := Options{Now: func() time.Time { return t0.Add(25 * time.Hour) }, Alive: func(int) bool { return true }}
	sts, err := Inspect(ctx, h, "nas", nil, old)
	if err != nil || len(sts) != 1 || !strings.Contains(sts[0].Stale, "ago") {
		t.Fatalf("inspect: %+v %v", sts, err)
	}
	removed, err := ForceUnlock(ctx, h, "nas", nil)
	if err != nil || len(removed) != 1 || removed[0].Pool != "tank" {
		t.Fatalf("force-unlock: %+v %v", removed, err)
	}
	if h.Exists("tank@" + SnapName) {
		t.Fatal("force-unlock left the lock snapshot")
	}
	l, err := Acquire(ctx, h, "nas", "tank", me, opts(true))
	if err != nil {
		t.Fatalf("acquire after force-unlock: %v", err)
	}
	l.Release(ctx)
}

func TestOwnerTagRoundTrip(t *testing.T) {
	o := Owner{Controller: "ci runner/1", PID: 42, User: "bob", Since: t0}
	got, ok := parseOwner(o.tag())
	if !ok || got.PID != 42 || got.Controller != "ci_runner_1" || !got.Since.Equal(t0) || got.User != "bob" {
		t.Fatalf("%q parsed as %+v %v", o.tag(), got, ok)
	}
	if _, ok := parseOwner("zplan_last_offsite"); ok {
		t.Error("a last-received hold parsed as a lock owner")
	}
}
