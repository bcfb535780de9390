// Package lock keeps two applies from working on the same pool at once
// (safety invariant 8).
//
// The primitive is a user hold on a lock snapshot of the pool's root
// dataset, POOL@zplan-lock. `zfs hold TAG snap` fails atomically with
// "tag already exists" when the tag is already there, so of two
// controllers holding the same tag exactly one succeeds: a real
// compare-and-set done by the kernel, unlike `zfs set` of a property
// (read, then write, with a race between). Who holds the lock is
// recorded as a second hold whose tag encodes the owner
// ("zplan_lock_owner:CONTROLLER:PID:UNIXTIME:USER"); a user property
// beside the snapshot would need `zfs set`, and `zfs holds` shows both
// tags with their times in one command.
//
// Taking: zfs snapshot POOL@zplan-lock (an existing one is fine), zfs
// hold zplan_lock (the mutex), zfs hold OWNER. Releasing: release OWNER,
// release zplan_lock, destroy the snapshot (it fails harmlessly while a
// new owner holds it, and a taker that finds it gone retries), so the
// snapshot exists only while an apply runs and never pins pool-root data
// or shows up in plans. The lock is taken after planning, around the
// execution: apply re-checks every action's preconditions anyway.
//
// Limitation: while the lock is held, the pool root has one more
// snapshot; a replication that receives into a pool's root dataset on
// that host would find it there (zplan never does recv -F, so that
// receive fails instead of damaging anything).
package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

const (
	// SnapName is the lock snapshot's name on a pool's root dataset.
	SnapName = "zplan-lock"
	// Tag is the mutex hold.
	Tag = "zplan_lock"
	// ownerPrefix starts the hold tag that records the owner.
	ownerPrefix = "zplan_lock_owner:"
)

// Owner is who holds a lock.
type Owner struct {
	Controller string    // hostname of the machine running zplan
	PID        int       // zplan's process id there
	User       string    // login name, informative
	Since      time.Time // when it was taken
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func clean(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

// Me describes this process.
func Me(now time.Time) Owner {
	host, _ := os.Hostname()
	user := os.Getenv("USER")
	if user == "" {
		user = strconv.Itoa(os.Getuid())
	}
	return Owner{Controller: host, PID: os.Getpid(), User: user, Since: now.UTC().Truncate(time.Second)}
}

func (o Owner) tag() string {
	return fmt.Sprintf("%s%s:%d:%d:%s", ownerPrefix, clean(o.Controller), o.PID, o.Since.Unix(), clean(o.User))
}

func parseOwner(tag string) (Owner, bool) {
	rest, ok := strings.CutPrefix(tag, ownerPrefix)
	if !ok {
		return Owner{}, false
	}
	f := strings.Split(rest, ":")
	if len(f) != 4 {
		return Owner{}, false
	}
	pid, err1 := strconv.Atoi(f[1])
	ts, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return Owner{}, false
	}
	return Owner{Controller: f[0], PID: pid, Since: time.Unix(ts, 0).UTC(), User: f[3]}, true
}

func (o Owner) String() string {
	return fmt.Sprintf("zplan pid %d on %s (user %s) since %s", o.PID, o.Controller, o.User, o.Since.Format(time.RFC3339))
}

// Argv builders for the commands the lock uses.

func snapshotArgv(pool string) []string { return zfs.SnapshotArgv(pool + "@" + SnapName) }
func holdArgv(pool, tag string) []string {
	return zfs.HoldArgv(tag, pool+"@"+SnapName)
}
func releaseArgv(pool, tag string) []string {
	return zfs.ReleaseArgv(tag, pool+"@"+SnapName)
}
func holdsArgv(pools ...string) []string {
	argv := []string{"zfs", "holds", "-H"}
	for _, p := range pools {
		argv = append(argv, p+"@"+SnapName)
	}
	return argv
}
func destroyArgv(pool string) []string { return zfs.DestroySnapshotsArgv(pool, SnapName) }
func poolsArgv() []string {
	return []string{"zfs", "list", "-H", "-p", "-t", "filesystem", "-o", "name"}
}

// Options tune Acquire.
type Options struct {
	// Timeout is how long to wait for a held lock (0: do not wait).
	Timeout time.Duration
	// Retry is the wait between attempts (default 2s).
	Retry time.Duration
	// StaleAfter: a lock older than this is reported as stale (default 24h).
	StaleAfter time.Duration
	// Now and Sleep are the clock (tests replace them).
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
	// Alive reports whether pid runs on this controller (default: kill 0).
	Alive func(pid int) bool
	// Waiting is called once per attempt that found the lock held.
	Waiting func(Status)
}

func (o *Options) defaults() {
	if o.Retry <= 0 {
		o.Retry = 2 * time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if o.Alive == nil {
		o.Alive = pidAlive
	}
}

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Status is what a host says about one pool's lock.
type Status struct {
	Host, Pool string
	Held       bool
	Owner      *Owner // nil while being taken, or for a lock without owner record
	HeldSince  time.Time
	// Stale says why the lock looks abandoned ("" if it does not).
	Stale string
}

func (s Status) String() string {
	who := "an unrecorded owner (being taken, or left by a crash)"
	if s.Owner != nil {
		who = s.Owner.String()
	}
	msg := fmt.Sprintf("%s:%s is locked by %s", s.Host, s.Pool, who)
	if s.Stale != "" {
		msg += "; the lock looks stale: " + s.Stale
	}
	return msg
}

// ErrLocked is returned when a lock stays held past the timeout.
var ErrLocked = errors.New("locked")

// LockedError says who holds the lock.
type LockedError struct{ Status Status }

func (e *LockedError) Error() string {
	msg := e.Status.String()
	if e.Status.Stale != "" {
		return msg + fmt.Sprintf(". If no zplan is running against it, remove the lock with: zplan force-unlock %s:%s", e.Status.Host, e.Status.Pool)
	}
	return msg + " (use -lock-timeout to wait for it)"
}
func (e *LockedError) Is(t error) bool { return t == ErrLocked }

// Lock is a lock this process holds.
type Lock struct {
	host  remote.Host
	name  string
	pool  string
	owner Owner
}

// Acquire takes the lock of pool on host, waiting up to opts.Timeout.
// A stale lock (its owner's process is gone from this controller, or it
// is older than StaleAfter) is reported and not broken.
func Acquire(ctx context.Context, h remote.Host, hostName, pool string, me Owner, opts Options) (*Lock, error) {
	opts.defaults()
	deadline := opts.Now().Add(opts.Timeout)
	for {
		if err := run(ctx, h, snapshotArgv(pool), zfs.ErrExists); err != nil {
			return nil, fmt.Errorf("lock %s:%s: creating lock snapshot: %w", hostName, pool, err)
		}
		err := h.Run(ctx, remote.Cmd{Argv: holdArgv(pool, Tag)})
		switch zfs.Classify(err) {
		case zfs.ErrOther:
			if err == nil {
				l := &Lock{host: h, name: hostName, pool: pool, owner: me}
				if err := run(ctx, h, holdArgv(pool, me.tag()), zfs.ErrHoldExists); err != nil {
					l.Release(context.WithoutCancel(ctx))
					return nil, fmt.Errorf("lock %s:%s: recording owner: %w", hostName, pool, err)
				}
				return l, nil
			}
			return nil, fmt.Errorf("lock %s:%s: %w", hostName, pool, err)
		case zfs.ErrNotExist:
			continue // released and destroyed between our two commands: try again
		case zfs.ErrHoldExists:
		default:
			return nil, fmt.Errorf("lock %s:%s: %w", hostName, pool, err)
		}
		sts, err := Inspect(ctx, h, hostName, []string{pool}, opts)
		if err != nil {
			return nil, err
		}
		st := Status{Host: hostName, Pool: pool, Held: true}
		if len(sts) == 1 {
			st = sts[0]
		}
		if st.Stale != "" || !opts.Now().Before(deadline) {
			return nil, &LockedError{Status: st}
		}
		if opts.Waiting != nil {
			opts.Waiting(st)
		}
		if err := opts.Sleep(ctx, opts.Retry); err != nil {
			return nil, fmt.Errorf("waiting for lock %s:%s: %w", hostName, pool, err)
		}
	}
}

func run(ctx context.Context, h remote.Host, argv []string, ok ...zfs.ErrorKind) error {
	return zfs.Tolerate(h.Run(ctx, remote.Cmd{Argv: argv}), ok...)
}

// Release gives the lock up: owner record, mutex, then the snapshot.
func (l *Lock) Release(ctx context.Context) error {
	var errs []error
	if err := run(ctx, l.host, releaseArgv(l.pool, l.owner.tag()), zfs.ErrNoSuchHold, zfs.ErrNotExist); err != nil {
		errs = append(errs, err)
	}
	if err := run(ctx, l.host, releaseArgv(l.pool, Tag), zfs.ErrNoSuchHold, zfs.ErrNotExist); err != nil {
		errs = append(errs, err)
	}
	// Busy: another zplan took the lock meanwhile and keeps the snapshot.
	if err := run(ctx, l.host, destroyArgv(l.pool), zfs.ErrBusy, zfs.ErrNotExist); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("releasing lock %s:%s: %w", l.name, l.pool, errors.Join(errs...))
	}
	return nil
}

// String names the lock.
func (l *Lock) String() string { return l.name + ":" + l.pool }

// Inspect reports the locks of pools on host (all pools when pools is
// empty) that exist, held or not.
func Inspect(ctx context.Context, h remote.Host, hostName string, pools []string, opts Options) ([]Status, error) {
	opts.defaults()
	if len(pools) == 0 {
		out, err := remote.Output(ctx, h, poolsArgv()...)
		if err != nil {
			return nil, fmt.Errorf("listing pools on %s: %w", hostName, err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" && !strings.Contains(l, "/") {
				pools = append(pools, l)
			}
		}
	}
	if len(pools) == 0 {
		return nil, nil
	}
	var out strings.Builder
	err := h.Run(ctx, remote.Cmd{Argv: holdsArgv(pools...), Stdout: &out})
	if err != nil && zfs.Classify(err) != zfs.ErrNotExist {
		return nil, fmt.Errorf("reading locks on %s: %w", hostName, err)
	}
	byPool := map[string]*Status{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 2 {
			continue
		}
		pool, _, _ := strings.Cut(f[0], "@")
		st := byPool[pool]
		if st == nil {
			st = &Status{Host: hostName, Pool: pool}
			byPool[pool] = st
		}
		if f[1] == Tag {
			st.Held = true
			if len(f) > 2 {
				if t, err := time.ParseInLocation("Mon Jan _2 15:04 2006", strings.TrimSpace(f[2]), time.Local); err == nil {
					st.HeldSince = t
				}
			}
		}
		if o, ok := parseOwner(f[1]); ok {
			st.Owner = &o
		}
	}
	me, _ := os.Hostname()
	var res []Status
	for _, p := range pools {
		st := byPool[p]
		if st == nil {
			continue
		}
		switch {
		case st.Owner != nil && st.Owner.Controller == clean(me) && !opts.Alive(st.Owner.PID):
			st.Stale = fmt.Sprintf("process %d no longer runs on this controller", st.Owner.PID)
		case st.Owner != nil && opts.Now().Sub(st.Owner.Since) > opts.StaleAfter:
			st.Stale = fmt.Sprintf("taken %s ago, more than %s", opts.Now().Sub(st.Owner.Since).Round(time.Second), opts.StaleAfter)
		case st.Owner == nil && !st.HeldSince.IsZero() && opts.Now().Sub(st.HeldSince) > opts.StaleAfter:
			st.Stale = fmt.Sprintf("held without an owner record since %s", st.HeldSince.Format(time.RFC3339))
		}
		res = append(res, *st)
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Pool < res[j].Pool })
	return res, nil
}

// ForceUnlock removes the locks of pools on host (all pools if none are
// given), whoever holds them, and returns what it removed.
func ForceUnlock(ctx context.Context, h remote.Host, hostName string, pools []string) ([]Status, error) {
	sts, err := Inspect(ctx, h, hostName, pools, Options{Alive: func(int) bool { return true }})
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, st := range sts {
		if st.Owner != nil {
			if err := run(ctx, h, releaseArgv(st.Pool, st.Owner.tag()), zfs.ErrNoSuchHold, zfs.ErrNotExist); err != nil {
				errs = append(errs, err)
			}
		}
		if err := run(ctx, h, releaseArgv(st.Pool, Tag), zfs.ErrNoSuchHold, zfs.ErrNotExist); err != nil {
			errs = append(errs, err)
		}
		if err := run(ctx, h, destroyArgv(st.Pool), zfs.ErrNotExist); err != nil {
			errs = append(errs, fmt.Errorf("destroying %s@%s: %w", st.Pool, SnapName, err))
		}
	}
	return sts, errors.Join(errs...)
}
