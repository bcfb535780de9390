package lock

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs/zfsfake"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

const (
	mid  = "0123456789abcdef0123456789abcdef"
	boot = "fedcba9876543210fedcba9876543210"
	ns   = 4026531836
)

// fakeSys is a controller "ctl" whose processes are procs (pid → start).
type fakeSys struct {
	self  Owner
	procs map[int]uint64
	boot  time.Time
}

func (s *fakeSys) Self() Owner { return s.self }
func (s *fakeSys) ProcStart(pid int) (uint64, bool, error) {
	st, ok := s.procs[pid]
	return st, ok, nil
}
func (s *fakeSys) BootTime() (time.Time, error) { return s.boot, nil }

func newSys() *fakeSys {
	me := Owner{Host: "ctl", MachineID: mid, BootID: boot, PIDNS: ns, PID: 500, Start: 9000, User: "ci"}
	return &fakeSys{self: me, procs: map[int]uint64{500: 9000}, boot: t0.Add(-time.Hour)}
}

// ownerOn is a process of the same controller and boot as sys.
func ownerOn(sys *fakeSys, pid int, start uint64) Owner {
	o := sys.self
	o.PID, o.Start, o.Since = pid, start, t0
	return o
}

func fakeHost() *zfsfake.Host {
	w := zfsfake.NewWorld(func() time.Time { return t0 })
	h := w.Host("nas")
	h.CreatePool("tank")
	h.CreatePool("backup")
	return h
}

func opts(sys *fakeSys) Options {
	return Options{Now: func() time.Time { return t0.Add(time.Minute) }, Sys: sys}
}

// plant leaves the lock of o on tank, as an apply killed at that point
// would: the snapshot with o's record, held by o unless unheld.
func plant(t *testing.T, h *zfsfake.Host, o Owner, held bool) {
	t.Helper()
	if err := h.Run(context.Background(), remote.Cmd{Argv: snapshotArgv("tank", o)}); err != nil {
		t.Fatal(err)
	}
	if held {
		h.Hold(o.Tag(), "tank@"+SnapName)
	}
}

func record(t *testing.T, h *zfsfake.Host) string {
	t.Helper()
	st, found, err := inspectPool(context.Background(), h, "nas", "tank")
	if err != nil || !found || st.Owner == nil {
		t.Fatalf("lock of tank: %+v found=%v err=%v", st, found, err)
	}
	return st.Owner.Record()
}

func TestSecondAcquireFailsUntilReleased(t *testing.T) {
	ctx := context.Background()
	h := fakeHost()
	sys := newSys()
	a := ownerOn(sys, 500, 9000)
	other := &fakeSys{self: Owner{Host: "ci-2", MachineID: strings.Repeat("1", 32), BootID: boot, PIDNS: ns, PID: 200, Start: 1, User: "ci"}}
	b := Me(other, t0)
	la, err := Acquire(ctx, h, "nas", "tank", a, opts(sys))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Holds("tank@" + SnapName); !slices.Equal(got, []string{a.Tag()}) {
		t.Fatalf("holds on the lock snapshot: %v, want only the owner's %s", got, a.Tag())
	}
	if got := record(t, h); got != a.Record() {
		t.Fatalf("record %q, want %q", got, a.Record())
	}
	_, err = Acquire(ctx, h, "nas", "tank", b, Options{Now: opts(sys).Now, Sys: other})
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.Status.Owner == nil || le.Status.Owner.PID != 500 ||
		!strings.Contains(err.Error(), "ctl") || !strings.Contains(err.Error(), "zplan force-unlock nas:tank") {
		t.Fatalf("second acquire: %v, want locked by pid 500 on ctl, naming force-unlock", err)
	}
	lo, err := Acquire(ctx, h, "nas", "backup", b, Options{Sys: other})
	if err != nil {
		t.Fatalf("other pool: %v", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if h.Exists("tank@" + SnapName) {
		t.Error("lock snapshot left behind after release")
	}
	lb, err := Acquire(ctx, h, "nas", "tank", b, Options{Sys: other})
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lo.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWaitsUntilTimeout(t *testing.T) {
	ctx := context.Background()
	h := fakeHost()
	sys := newSys()
	sys.procs[1] = 11
	la, err := Acquire(ctx, h, "nas", "tank", ownerOn(sys, 1, 11), opts(sys))
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	waits := 0
	o := Options{
		Timeout: 10 * time.Second, Retry: 2 * time.Second, Sys: sys,
		Now: func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error {
			now = now.Add(d)
			if waits++; waits == 3 {
				if err := la.Release(ctx); err != nil {
					t.Error(err)
				}
			}
			return nil
		},
	}
	lb, err := Acquire(ctx, h, "nas", "tank", ownerOn(sys, 500, 9000), o)
	if err != nil || waits != 3 {
		t.Fatalf("acquire after waiting: %v after %d waits", err, waits)
	}
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// Held for good by a live process: gives up at the deadline.
	if _, err := Acquire(ctx, h, "nas", "tank", ownerOn(sys, 1, 11), opts(sys)); err != nil {
		t.Fatal(err)
	}
	waits = 0
	o.Sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); waits++; return nil }
	if _, err := Acquire(ctx, h, "nas", "tank", ownerOn(sys, 500, 9000), o); !errors.Is(err, ErrLocked) || waits != 5 {
		t.Fatalf("err %v after %d waits, want locked after 5 (10s / 2s)", err, waits)
	}
}

func TestJudge(t *testing.T) {
	sys := newSys()
	me := sys.self
	sys.procs[77] = 1234
	with := func(f func(*Owner)) Owner { o := ownerOn(sys, 77, 1234); f(&o); return o }
	for _, tc := range []struct {
		name string
		o    Owner
		want Verdict
		why  string
	}{
		{"alive", with(func(*Owner) {}), Alive, "still runs"},
		{"pid gone", with(func(o *Owner) { o.PID = 78 }), Dead, "process 78 is gone"},
		{"pid reused", with(func(o *Owner) { o.Start = 1000 }), Dead, "started later"},
		{"rebooted since", with(func(o *Owner) { o.BootID = strings.Repeat("2", 32); o.Since = sys.boot.Add(-time.Minute) }), Dead, "rebooted"},
		{"other boot, taken after this boot (a clone?)", with(func(o *Owner) { o.BootID = strings.Repeat("2", 32) }), Unknown, "clone"},
		{"other machine id", with(func(o *Owner) { o.MachineID = strings.Repeat("3", 32); o.PID = 78 }), Unknown, "another controller"},
		{"other hostname", with(func(o *Owner) { o.Host = "ctl2"; o.PID = 78 }), Unknown, "another controller"},
		{"no machine id recorded", with(func(o *Owner) { o.MachineID = ""; o.PID = 78 }), Unknown, "no machine or boot id"},
		{"other pid namespace", with(func(o *Owner) { o.PIDNS = 1; o.PID = 78 }), Unknown, "PID namespace"},
		{"running, no start time recorded", with(func(o *Owner) { o.Start = 0 }), Unknown, "no start time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, why := Judge(tc.o, me, sys)
			if v != tc.want || !strings.Contains(why, tc.why) {
				t.Fatalf("Judge = %v %q, want %v containing %q", v, why, tc.want, tc.why)
			}
		})
	}
	// This controller without ids proves nothing either.
	if v, _ := Judge(ownerOn(sys, 78, 1), Owner{Host: "ctl"}, sys); v != Unknown {
		t.Fatalf("Judge by a controller without ids = %v, want Unknown", v)
	}
}

func TestDeadOwnerIsBroken(t *testing.T) {
	for _, tc := range []struct {
		name  string
		owner func(*fakeSys) Owner
		held  bool
		extra func(*fakeSys) []Owner // other dead contenders' holds
	}{
		{"pid gone", func(s *fakeSys) Owner { return ownerOn(s, 42, 7) }, true, nil},
		{"pid reused by another process", func(s *fakeSys) Owner { s.procs[42] = 8; return ownerOn(s, 42, 7) }, true, nil},
		{"killed between snapshot and hold", func(s *fakeSys) Owner { return ownerOn(s, 42, 7) }, false, nil},
		{"controller rebooted since", func(s *fakeSys) Owner {
			o := ownerOn(s, 500, 9000) // even our own pid, in the old boot
			o.BootID, o.Since = strings.Repeat("4", 32), s.boot.Add(-time.Hour)
			return o
		}, true, nil},
		{"with a dead contender's hold", func(s *fakeSys) Owner { return ownerOn(s, 42, 7) }, true,
			func(s *fakeSys) []Owner { return []Owner{ownerOn(s, 43, 9)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h := fakeHost()
			sys := newSys()
			dead := tc.owner(sys)
			plant(t, h, dead, tc.held)
			if tc.extra != nil {
				for _, o := range tc.extra(sys) {
					h.Hold(o.Tag(), "tank@"+SnapName)
				}
			}
			oldGUID := h.GUID("tank@" + SnapName)
			var broke []Status
			o := opts(sys)
			o.Broke = func(st Status) { broke = append(broke, st) }
			me := ownerOn(sys, 500, 9000)
			me.Since = t0.Add(time.Minute)
			l, err := Acquire(ctx, h, "nas", "tank", me, o)
			if err != nil {
				t.Fatalf("acquire over a dead lock: %v", err)
			}
			if len(broke) != 1 || broke[0].Owner == nil || broke[0].Owner.Record() != dead.Record() || broke[0].Why == "" {
				t.Fatalf("broke %+v, want one report naming the dead owner", broke)
			}
			if h.GUID("tank@"+SnapName) == oldGUID || record(t, h) != me.Record() {
				t.Fatal("the lock snapshot is still the dead owner's")
			}
			if got := h.Holds("tank@" + SnapName); !slices.Equal(got, []string{me.Tag()}) {
				t.Fatalf("holds %v, want only ours", got)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLiveOrUnknownOwnerIsNotBroken(t *testing.T) {
	for _, tc := range []struct {
		name  string
		owner func(*fakeSys) Owner
		extra func(*fakeSys) string // another hold on the dead lock
		want  string
	}{
		{"live process here", func(s *fakeSys) Owner { s.procs[42] = 7; return ownerOn(s, 42, 7) }, nil, "still runs"},
		{"another controller", func(s *fakeSys) Owner {
			o := ownerOn(s, 42, 7)
			o.Host, o.MachineID = "ctl-b", strings.Repeat("5", 32)
			return o
		}, nil, "another controller"},
		{"dead owner, live contender hold", func(s *fakeSys) Owner { return ownerOn(s, 42, 7) },
			func(s *fakeSys) string { s.procs[43] = 9; return ownerOn(s, 43, 9).Tag() }, "still runs"},
		{"dead owner, a user's hold", func(s *fakeSys) Owner { return ownerOn(s, 42, 7) },
			func(*fakeSys) string { return "keep" }, "not zplan's lock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h := fakeHost()
			sys := newSys()
			o := tc.owner(sys)
			plant(t, h, o, true)
			var holds []string
			if tc.extra != nil {
				tag := tc.extra(sys)
				h.Hold(tag, "tank@"+SnapName)
			}
			holds = h.Holds("tank@" + SnapName)
			guid := h.GUID("tank@" + SnapName)
			opt := opts(sys)
			opt.Broke = func(st Status) { t.Errorf("broke %v", st) }
			_, err := Acquire(ctx, h, "nas", "tank", ownerOn(sys, 500, 9000), opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "force-unlock nas:tank") {
				t.Fatalf("acquire: %v, want a refusal saying %q and naming force-unlock", err, tc.want)
			}
			if h.GUID("tank@"+SnapName) != guid || record(t, h) != o.Record() || !slices.Equal(h.Holds("tank@"+SnapName), holds) {
				t.Fatal("the lock was changed")
			}
		})
	}
}

func TestForeignSnapshotIsNeverTouched(t *testing.T) {
	snap := "tank@" + SnapName
	for _, tc := range []struct {
		name   string
		setup  func(*zfsfake.Host)
		holds  []string // holds that must survive force-unlock
		reason string
	}{
		{"user snapshot", func(h *zfsfake.Host) { h.Snapshot(snap) }, nil, "no zplan:lock property"},
		{"user snapshot with a hold", func(h *zfsfake.Host) { h.Snapshot(snap); h.Hold("mine", snap) }, []string{"mine"}, "no zplan:lock property"},
		{"record inherited from the pool root", func(h *zfsfake.Host) {
			sys := newSys()
			h.SetProp("tank", Property, ownerOn(sys, 42, 7).Record())
			h.Snapshot(snap)
		}, nil, "every snapshot inherits"},
		{"malformed record", func(h *zfsfake.Host) {
			mustRun(h, "zfs", "snapshot", "-o", Property+"=v1:ctl:x", snap)
		}, nil, "not a v1 record"},
		{"older zplan's lock", func(h *zfsfake.Host) {
			h.Snapshot(snap)
			h.Hold(oldMutex, snap)
			h.Hold(oldOwnerPrefix+"ctl:42:1:ci", snap)
		}, nil, "older zplan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h := fakeHost()
			tc.setup(h)
			guid := h.GUID(snap)
			holds := h.Holds(snap)
			sys := newSys()
			before := len(h.Commands())
			_, err := Acquire(ctx, h, "nas", "tank", ownerOn(sys, 500, 9000), opts(sys))
			if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "zfs rename") && !strings.Contains(err.Error(), "force-unlock") {
				t.Fatalf("acquire: %v, want a foreign-object refusal saying %q", err, tc.reason)
			}
			for _, c := range h.Commands()[before:] {
				if c[1] == "hold" || c[1] == "release" || c[1] == "destroy" {
					t.Fatalf("acquire ran %v on a snapshot it did not create", c)
				}
			}
			if !h.Exists(snap) || h.GUID(snap) != guid || !slices.Equal(h.Holds(snap), holds) {
				t.Fatal("acquire changed the foreign snapshot")
			}
			removed, err := ForceUnlock(ctx, h, "nas", nil)
			if len(tc.holds) > 0 {
				if err == nil || !strings.Contains(err.Error(), "left tank@zplan-lock in place") {
					t.Fatalf("force-unlock: %v, want it to say it left the snapshot", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(removed) != 1 || removed[0].Foreign == "" {
				t.Fatalf("force-unlock reported %+v, want the foreign snapshot", removed)
			}
			if !h.Exists(snap) || h.GUID(snap) != guid {
				t.Fatal("force-unlock destroyed a snapshot zplan did not create")
			}
			if got := h.Holds(snap); !slices.Equal(got, tc.holds) {
				t.Fatalf("holds after force-unlock %v, want %v (zplan's released, the user's kept)", got, tc.holds)
			}
		})
	}
}

func mustRun(h *zfsfake.Host, argv ...string) {
	if err := h.Run(context.Background(), remote.Cmd{Argv: argv}); err != nil {
		panic(err)
	}
}

func TestForceUnlockRemovesAnyZplanLock(t *testing.T) {
	ctx := context.Background()
	h := fakeHost()
	sys := newSys()
	sys.procs[42] = 7
	live := ownerOn(sys, 42, 7)
	l, err := Acquire(ctx, h, "nas", "tank", live, opts(sys))
	if err != nil {
		t.Fatal(err)
	}
	removed, err := ForceUnlock(ctx, h, "nas", []string{"tank"})
	if err != nil || len(removed) != 1 || removed[0].Owner == nil || removed[0].Owner.PID != 42 {
		t.Fatalf("force-unlock: %+v %v", removed, err)
	}
	if h.Exists("tank@" + SnapName) {
		t.Fatal("force-unlock left the lock snapshot")
	}
	// Another apply takes the lock; the first one's release must leave it alone.
	me := ownerOn(sys, 500, 9000)
	l2, err := Acquire(ctx, h, "nas", "tank", me, opts(sys))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err == nil || !strings.Contains(err.Error(), "no longer ours") {
		t.Fatalf("release of a force-unlocked lock: %v, want it to say so", err)
	}
	if record(t, h) != me.Record() || !slices.Equal(h.Holds("tank@"+SnapName), []string{me.Tag()}) {
		t.Fatal("the stale release touched the new owner's lock")
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if sts, err := ForceUnlock(ctx, h, "nas", nil); err != nil || len(sts) != 0 {
		t.Fatalf("force-unlock with no lock: %+v %v", sts, err)
	}
}

// racer runs hook before the first command matching match.
type racer struct {
	*zfsfake.Host
	match func([]string) bool
	hook  func()
}

func (r *racer) Run(ctx context.Context, c remote.Cmd) error {
	if r.hook != nil && r.match(c.Argv) {
		hook := r.hook
		r.hook = nil
		hook()
	}
	return r.Host.Run(ctx, c)
}

// A breaker that judged the old lock dead destroys the new lock before
// its creator holds it, and creates its own: the creator must notice
// when it reads the snapshot back, drop its hold and not claim the lock.
func TestCreatorNoticesLockReplacedBeforeItsHold(t *testing.T) {
	ctx := context.Background()
	h := fakeHost()
	sys := newSys()
	sys.procs[600] = 1
	other := ownerOn(sys, 600, 1)
	me := ownerOn(sys, 500, 9000)
	r := &racer{Host: h, match: zfsfake.MatchPrefix("zfs", "hold"), hook: func() {
		mustRun(h, "zfs", "destroy", "tank@"+SnapName)
		mustRun(h, snapshotArgv("tank", other)...)
		h.Hold(other.Tag(), "tank@"+SnapName)
	}}
	_, err := Acquire(ctx, r, "nas", "tank", me, opts(sys))
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid 600") {
		t.Fatalf("acquire: %v, want locked by the racing pid 600", err)
	}
	if record(t, h) != other.Record() || !slices.Equal(h.Holds("tank@"+SnapName), []string{other.Tag()}) {
		t.Fatalf("holds %v: the racing owner's lock was changed", h.Holds("tank@"+SnapName))
	}
}

// Two takers both judged a lock dead; the one that breaks second must
// not remove the lock the first has taken meanwhile.
func TestLateBreakerLeavesTheNewLock(t *testing.T) {
	ctx := context.Background()
	h := fakeHost()
	sys := newSys()
	dead := ownerOn(sys, 42, 7)
	plant(t, h, dead, true)
	st, _, err := inspectPool(ctx, h, "nas", "tank")
	if err != nil {
		t.Fatal(err)
	}
	sys.procs[600] = 1
	first := ownerOn(sys, 600, 1)
	l, err := Acquire(ctx, h, "nas", "tank", first, opts(sys))
	if err != nil {
		t.Fatal(err)
	}
	// The late breaker acts on what it read before.
	if err := breakLock(ctx, h, st, ownerOn(sys, 500, 9000), sys); err != nil {
		t.Fatalf("late break: %v", err)
	}
	if record(t, h) != first.Record() || !slices.Equal(h.Holds("tank@"+SnapName), []string{first.Tag()}) {
		t.Fatal("the late breaker removed the new lock")
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	o := Owner{Host: "ci runner/1", MachineID: mid, BootID: boot, PIDNS: ns, PID: 42, Start: 123456, Since: t0, User: "bob smith"}
	got, err := ParseRecord(o.Record())
	if err != nil || got.Host != "ci_runner_1" || got.User != "bob_smith" || got.PID != 42 || got.Start != 123456 ||
		got.PIDNS != ns || got.MachineID != mid || got.BootID != boot || !got.Since.Equal(t0) {
		t.Fatalf("%q parsed as %+v %v", o.Record(), got, err)
	}
	if len(o.Tag()) > 255 {
		t.Fatalf("tag %d bytes", len(o.Tag()))
	}
	long := Owner{Host: strings.Repeat("h", 300), MachineID: mid, BootID: boot, PIDNS: 1<<32 - 1, PID: 1 << 22, Start: 1<<64 - 1,
		Since: time.Unix(1<<40-1, 0), User: strings.Repeat("u", 300)}
	if _, err := ParseRecord(long.Record()); err != nil || len(long.Tag()) > 255 {
		t.Fatalf("longest record: %v, tag %d bytes (zfs allows 255)", err, len(long.Tag()))
	}
	unknown := Owner{Host: "x", PID: 1, Since: t0, User: "u"}
	if got, err := ParseRecord(unknown.Record()); err != nil || got.MachineID != "" || got.BootID != "" {
		t.Fatalf("unknown ids: %+v %v", got, err)
	}
}

func TestParseRecordIsStrict(t *testing.T) {
	good := Owner{Host: "ctl", MachineID: mid, BootID: boot, PIDNS: ns, PID: 42, Start: 7, Since: t0, User: "ci"}.Record()
	f := strings.Split(good, ":")
	with := func(i int, v string) string {
		g := slices.Clone(f)
		g[i] = v
		return strings.Join(g, ":")
	}
	for _, bad := range []string{
		"",
		"v2" + good[2:],
		good + ":extra",
		strings.Join(f[:8], ":"),
		with(1, "c\tl"),
		with(1, "c\nl"),
		with(1, "c/l"),
		with(1, strings.Repeat("h", 49)),
		with(2, strings.ToUpper(mid)),
		with(2, mid[:31]),
		with(3, "xyz"),
		with(4, "-1"),
		with(5, "0"),
		with(5, "042"),
		with(5, "+42"),
		with(5, "99999999999"),
		with(6, "18446744073709551616"),
		with(7, " 1"),
		with(8, ""),
		with(8, "c i"),
		good + strings.Repeat("x", 300),
	} {
		if o, err := ParseRecord(bad); err == nil {
			t.Errorf("ParseRecord(%q) = %+v, want an error", bad, o)
		}
	}
}

func TestParseStatStart(t *testing.T) {
	line := func(comm string) []byte {
		return []byte(fmt.Sprintf("1234 (%s) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 10000 100\n", comm))
	}
	for _, comm := range []string{"zplan", "a b) c", "))"} {
		st, ok, err := parseStatStart(line(comm))
		if err != nil || !ok || st != 987654 {
			t.Errorf("comm %q: %d %v %v, want 987654", comm, st, ok, err)
		}
	}
	if _, _, err := parseStatStart([]byte("1234 (x) S 1")); err == nil {
		t.Error("short stat line accepted")
	}
}

// The real controller: this test process is alive, a child that exited
// is dead.
func TestLinuxSystemJudgesRealProcesses(t *testing.T) {
	sys := linux{}
	me := Me(sys, time.Now())
	if me.BootID == "" || me.MachineID == "" || me.PIDNS == 0 || me.Start == 0 {
		t.Skipf("this controller has no full identity (%+v)", me)
	}
	if v, why := Judge(me, me, sys); v != Alive {
		t.Fatalf("Judge(self) = %v %s", v, why)
	}
	gone := me
	gone.PID = 1<<22 - 1 // above the kernel's pid_max
	if v, why := Judge(gone, me, sys); v != Dead {
		t.Fatalf("Judge(gone pid) = %v %s", v, why)
	}
	reused := me
	reused.Start++
	if v, why := Judge(reused, me, sys); v != Dead {
		t.Fatalf("Judge(other start time) = %v %s", v, why)
	}
}

func TestHide(t *testing.T) {
	snaps := func(names ...string) []*observe.Snapshot {
		var out []*observe.Snapshot
		for _, n := range names {
			out = append(out, &observe.Snapshot{Name: n})
		}
		return out
	}
	st := &observe.State{Hosts: map[string]*observe.Host{"nas": {Datasets: map[string]*observe.Dataset{
		"tank":      {Name: "tank", Snapshots: snaps("zplan_1", SnapName, "zplan_2")},
		"tank/data": {Name: "tank/data", Snapshots: snaps(SnapName)},
	}}}}
	Hide(st)
	var got []string
	for _, n := range []string{"tank", "tank/data"} {
		for _, s := range st.Hosts["nas"].Datasets[n].Snapshots {
			got = append(got, n+"@"+s.Name)
		}
	}
	if want := []string{"tank@zplan_1", "tank@zplan_2", "tank/data@" + SnapName}; !slices.Equal(got, want) {
		t.Fatalf("after Hide: %v, want %v", got, want)
	}
	Hide(nil)
}
