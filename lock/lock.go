// Package lock keeps two applies from working on the same pool at once
// (safety invariant 8), and lets a lock whose owner provably died be
// broken without a human.
//
// The lock is the snapshot POOL@zplan-lock of the pool's root dataset,
// created with its owner record as the user property zplan:lock
// (`zfs snapshot -o zplan:lock=RECORD`). Creating a snapshot fails
// atomically when the name exists, so of two controllers exactly one
// creates it: a compare-and-set done by the kernel, and the record is
// part of the same transaction, so no crash can leave a lock without an
// owner. The owner then holds the snapshot with the tag
// zplan_lock:RECORD and reads the snapshot back: only when the property
// is its own record is the lock taken. A held snapshot cannot be
// destroyed, so a confirmed lock can only be removed by releasing that
// exact tag (see breaking below).
//
// The property is also what tells zplan's lock from a user's snapshot
// of the same name: zplan never holds, releases or destroys a
// POOL@zplan-lock without a local zplan:lock record, and refuses to
// run on that pool instead.
//
// Breaking: a lock whose owner ran on this controller (same hostname
// and machine id) and provably died (see Judge) is broken: the dead
// owner's zplan_lock: holds are released and the snapshot destroyed,
// then the taker tries again. Two breakers may race; the loser's destroy
// fails on the winner's hold ("busy"), or destroys the winner's snapshot
// before it is held, which the winner notices when it reads it back.
// A live owner, or one on another controller, is waited for up to the
// timeout and then reported with how to force-unlock.
//
// Releasing: release the hold, destroy the snapshot, so it exists only
// while an apply runs. Apply takes the lock before observing the hosts,
// so the plan is made under it; the planner hides the lock snapshot.
package lock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

const (
	// SnapName is the lock snapshot's name on a pool's root dataset.
	SnapName = "zplan-lock"
	// Property is the user property holding the owner record.
	Property = "zplan:lock"
	// oldMutex and oldOwnerPrefix are the hold tags of zplan's first
	// lock format (no property); force-unlock still releases them.
	oldMutex       = "zplan_lock"
	oldOwnerPrefix = "zplan_lock_owner:"
)

// zplanTag reports whether a hold tag is one of the lock's, of either format.
func zplanTag(tag string) bool {
	return strings.HasPrefix(tag, tagPrefix) || tag == oldMutex || strings.HasPrefix(tag, oldOwnerPrefix)
}

// Options tune Acquire.
type Options struct {
	// Timeout is how long to wait for a held lock (0: do not wait).
	Timeout time.Duration
	// Retry is the wait between attempts (default 2s).
	Retry time.Duration
	// Now and Sleep are the clock (tests replace them).
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
	// Sys is this controller (default: Linux /proc).
	Sys System
	// Waiting is called once per attempt that found the lock held.
	Waiting func(Status)
	// Broke is called for each lock broken because its owner died.
	Broke func(Status)
}

func (o *Options) defaults() {
	if o.Retry <= 0 {
		o.Retry = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Sys == nil {
		o.Sys = linux{}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Status is what a host says about one pool's lock snapshot.
type Status struct {
	Host, Pool string
	GUID       uint64
	Owner      *Owner   // the record of the zplan:lock property; nil if Foreign
	Holds      []string // every hold tag on the snapshot
	// Foreign says why the snapshot is not zplan's lock ("" if it is).
	Foreign string
	// Verdict and Why are Judge's opinion of Owner (set by Acquire and Inspect).
	Verdict Verdict
	Why     string
}

func (s Status) String() string {
	if s.Foreign != "" {
		return fmt.Sprintf("%s:%s: %s@%s is not zplan's lock: %s", s.Host, s.Pool, s.Pool, SnapName, s.Foreign)
	}
	msg := fmt.Sprintf("%s:%s is locked by %s", s.Host, s.Pool, s.Owner)
	if s.Why != "" {
		msg += " (" + s.Why + ")"
	}
	return msg
}

// ErrLocked is returned when a lock stays held past the timeout.
var ErrLocked = errors.New("locked")

// LockedError says who holds the lock.
type LockedError struct{ Status Status }

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s; wait for it with -lock-timeout, or, only if no zplan runs against it, remove it with: zplan force-unlock %s:%s",
		e.Status, e.Status.Host, e.Status.Pool)
}
func (e *LockedError) Is(t error) bool { return t == ErrLocked }

// ErrForeign is returned when something that is not zplan's lock sits at
// the lock's name.
var ErrForeign = errors.New("foreign object at the lock's name")

// ForeignError names it.
type ForeignError struct{ Status Status }

func (e *ForeignError) Error() string {
	for _, t := range e.Status.Holds {
		if zplanTag(t) {
			return fmt.Sprintf("%s. It carries the hold %s of zplan's lock (an older zplan's lock?): zplan force-unlock %s:%s releases zplan's holds and leaves the snapshot; destroy it yourself if it is a leftover",
				e.Status, t, e.Status.Host, e.Status.Pool)
		}
	}
	return fmt.Sprintf("%s. zplan locks the pool with that name and never touches a snapshot it did not create; rename it (zfs rename %s@%s %s@OTHER) and apply again",
		e.Status, e.Status.Pool, SnapName, e.Status.Pool)
}
func (e *ForeignError) Is(t error) bool { return t == ErrForeign }

// Lock is a lock this process holds.
type Lock struct {
	host  remote.Host
	name  string
	pool  string
	owner Owner
	guid  uint64
}

// maxRaces bounds the attempts that lost a race without waiting.
const maxRaces = 20

// Acquire takes the lock of pool on host, breaking it if its owner
// provably died (reported through opts.Broke) and waiting up to
// opts.Timeout for a live or unknown one.
func Acquire(ctx context.Context, h remote.Host, hostName, pool string, me Owner, opts Options) (*Lock, error) {
	opts.defaults()
	where := hostName + ":" + pool
	deadline := opts.Now().Add(opts.Timeout)
	races := 0
	for {
		if races++; races > maxRaces {
			return nil, fmt.Errorf("lock %s: lost the race for %s@%s %d times in a row", where, pool, SnapName, maxRaces)
		}
		err := h.Run(ctx, remote.Cmd{Argv: snapshotArgv(pool, me)})
		if err == nil {
			l, again, err := confirm(ctx, h, hostName, pool, me)
			if err != nil || !again {
				return l, err
			}
			continue
		}
		if zfs.Classify(err) != zfs.ErrExists {
			return nil, fmt.Errorf("lock %s: creating %s@%s: %w", where, pool, SnapName, err)
		}
		st, found, err := inspectPool(ctx, h, hostName, pool)
		if err != nil {
			return nil, err
		}
		if !found {
			continue // released between our two commands
		}
		if st.Foreign != "" {
			return nil, &ForeignError{Status: st}
		}
		st.Verdict, st.Why = Judge(*st.Owner, me, opts.Sys)
		if st.Verdict == Dead {
			if err := breakLock(ctx, h, st, me, opts.Sys); err != nil {
				return nil, err
			}
			if opts.Broke != nil {
				opts.Broke(st)
			}
			continue
		}
		if !opts.Now().Before(deadline) {
			return nil, &LockedError{Status: st}
		}
		if opts.Waiting != nil {
			opts.Waiting(st)
		}
		if err := opts.Sleep(ctx, opts.Retry); err != nil {
			return nil, fmt.Errorf("waiting for lock %s: %w", where, err)
		}
		races = 0
	}
}

// confirm holds the snapshot this process just created and reads it
// back. again is true when a racing breaker destroyed it meanwhile.
func confirm(ctx context.Context, h remote.Host, hostName, pool string, me Owner) (l *Lock, again bool, err error) {
	where := hostName + ":" + pool
	herr := h.Run(ctx, remote.Cmd{Argv: holdArgv(pool, me.Tag())})
	if zfs.Classify(herr) == zfs.ErrNotExist {
		return nil, true, nil
	}
	st, found, err := inspectPool(ctx, h, hostName, pool)
	if err != nil {
		return nil, false, err
	}
	mine := found && st.Owner != nil && st.Foreign == "" && st.Owner.Record() == me.Record()
	if herr != nil {
		if mine {
			// Our own snapshot, unheld: take it back.
			if err := destroy(ctx, h, pool); err != nil {
				return nil, false, fmt.Errorf("lock %s: holding %s@%s: %w (and removing it again: %v)", where, pool, SnapName, herr, err)
			}
		}
		return nil, false, fmt.Errorf("lock %s: holding %s@%s: %w", where, pool, SnapName, herr)
	}
	if !mine {
		// Someone else's snapshot now sits at the name: our hold is ours to drop.
		if err := run(ctx, h, releaseArgv(pool, me.Tag()), zfs.ErrNoSuchHold, zfs.ErrNotExist); err != nil {
			return nil, false, fmt.Errorf("lock %s: releasing a hold on another's lock: %w", where, err)
		}
		return nil, true, nil
	}
	return &Lock{host: h, name: hostName, pool: pool, owner: me, guid: st.GUID}, false, nil
}

// breakLock removes a lock whose owner Judge found dead: the dead
// owners' holds, then the snapshot. Holds that are not the lock's, or
// of owners not provably dead, make it refuse.
func breakLock(ctx context.Context, h remote.Host, st Status, me Owner, sys System) error {
	where := st.Host + ":" + st.Pool
	for _, tag := range st.Holds {
		rec, ok := strings.CutPrefix(tag, tagPrefix)
		if !ok {
			return fmt.Errorf("lock %s: the dead lock has a hold %q that is not zplan's lock; release it (zfs release) or remove the lock with zplan force-unlock %s", where, tag, where)
		}
		o, err := ParseRecord(rec)
		if err != nil {
			return fmt.Errorf("lock %s: the dead lock has an unreadable hold: %w; remove the lock with zplan force-unlock %s", where, err, where)
		}
		if v, why := Judge(o, me, sys); v != Dead {
			return &LockedError{Status: Status{Host: st.Host, Pool: st.Pool, Owner: &o, Why: why}}
		}
	}
	// Only once every hold is known dead is any released.
	for _, tag := range st.Holds {
		if err := run(ctx, h, releaseArgv(st.Pool, tag), zfs.ErrNoSuchHold, zfs.ErrNotExist); err != nil {
			return fmt.Errorf("lock %s: breaking the lock of %s: %w", where, st.Owner, err)
		}
	}
	// Busy: a racing taker already holds a new lock; the caller retries.
	if err := run(ctx, h, destroyArgv(st.Pool), zfs.ErrBusy, zfs.ErrNotExist); err != nil {
		return fmt.Errorf("lock %s: breaking the lock of %s: %w", where, st.Owner, err)
	}
	return nil
}

func run(ctx context.Context, h remote.Host, argv []string, ok ...zfs.ErrorKind) error {
	return zfs.Tolerate(h.Run(ctx, remote.Cmd{Argv: argv}), ok...)
}

func destroy(ctx context.Context, h remote.Host, pool string) error {
	return run(ctx, h, destroyArgv(pool), zfs.ErrNotExist)
}

// Release gives the lock up: our hold, then the snapshot, but only while
// it still is ours (same GUID and record); a lock force-unlocked and
// taken by another meanwhile is left to its new owner.
func (l *Lock) Release(ctx context.Context) error {
	st, found, err := inspectPool(ctx, l.host, l.name, l.pool)
	if err != nil {
		return fmt.Errorf("releasing lock %s: %w", l, err)
	}
	if !found || st.Owner == nil || st.Owner.Record() != l.owner.Record() || st.GUID != l.guid {
		err := run(ctx, l.host, releaseArgv(l.pool, l.owner.Tag()), zfs.ErrNoSuchHold, zfs.ErrNotExist)
		return errors.Join(fmt.Errorf("releasing lock %s: it is no longer ours (removed with force-unlock?)", l), err)
	}
	if err := run(ctx, l.host, releaseArgv(l.pool, l.owner.Tag()), zfs.ErrNoSuchHold); err != nil {
		return fmt.Errorf("releasing lock %s: %w", l, err)
	}
	// Busy is a racing taker's hold on our snapshot, dropped right
	// after; if it stays, the next apply breaks the lock we left.
	for i := 0; ; i++ {
		err := run(ctx, l.host, destroyArgv(l.pool), zfs.ErrNotExist)
		if err == nil || zfs.Classify(err) != zfs.ErrBusy || i == 4 {
			if err != nil {
				return fmt.Errorf("releasing lock %s: %w", l, err)
			}
			return nil
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("releasing lock %s: %w", l, err)
		}
	}
}

// String names the lock.
func (l *Lock) String() string { return l.name + ":" + l.pool }

// Argv builders for the commands the lock uses.

func snapshotArgv(pool string, me Owner) []string {
	return []string{"zfs", "snapshot", "-o", Property + "=" + me.Record(), pool + "@" + SnapName}
}
func holdArgv(pool, tag string) []string    { return zfs.HoldArgv(tag, pool+"@"+SnapName) }
func releaseArgv(pool, tag string) []string { return zfs.ReleaseArgv(tag, pool+"@"+SnapName) }
func destroyArgv(pool string) []string      { return zfs.DestroySnapshotsArgv(pool, SnapName) }

// inspectPool reads pool's lock snapshot: found is false when there is
// none. The pool root is listed too: a zplan:lock set on it would be
// inherited by every snapshot, so a user's POOL@zplan-lock would carry
// a record without anyone setting it there; zplan then trusts no record.
func inspectPool(ctx context.Context, h remote.Host, hostName, pool string) (Status, bool, error) {
	st := Status{Host: hostName, Pool: pool}
	snap := pool + "@" + SnapName
	var out strings.Builder
	err := h.Run(ctx, remote.Cmd{Argv: []string{"zfs", "list", "-H", "-p", "-t", "filesystem,snapshot",
		"-o", "name,guid,userrefs," + Property, pool, snap}, Stdout: &out})
	if err != nil && zfs.Classify(err) != zfs.ErrNotExist {
		return st, false, fmt.Errorf("reading the lock of %s:%s: %w", hostName, pool, err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	rootVal, snapFields := "", []string(nil)
	for _, line := range lines {
		f := strings.Split(line, "\t")
		switch {
		case len(f) == 4 && f[0] == pool && rootVal == "":
			rootVal = f[3]
		case len(f) >= 1 && f[0] == snap && snapFields == nil:
			snapFields = f
		default:
			// A property value with a tab or newline, or anything else
			// we did not ask for: nothing here can be trusted.
			if err == nil {
				return st, true, fmt.Errorf("reading the lock of %s:%s: unexpected zfs list line %q", hostName, pool, line)
			}
		}
	}
	if rootVal == "" {
		return st, false, fmt.Errorf("reading the lock of %s:%s: pool root %s not listed", hostName, pool, pool)
	}
	if snapFields == nil {
		if err == nil {
			return st, false, fmt.Errorf("reading the lock of %s:%s: %s not listed", hostName, pool, snap)
		}
		return st, false, nil
	}
	if len(snapFields) != 4 {
		st.Foreign = fmt.Sprintf("its %s property is unreadable", Property)
		return st, true, nil
	}
	guid, err1 := strconv.ParseUint(snapFields[1], 10, 64)
	refs, err2 := strconv.ParseUint(snapFields[2], 10, 64)
	if err1 != nil || err2 != nil {
		return st, true, fmt.Errorf("reading the lock of %s:%s: bad guid or userrefs in %q", hostName, pool, strings.Join(snapFields, "\t"))
	}
	st.GUID = guid
	if refs > 0 {
		if st.Holds, err = holds(ctx, h, hostName, snap, refs); err != nil {
			return st, true, err
		}
	}
	switch {
	case rootVal != "-":
		st.Foreign = fmt.Sprintf("the pool root %s has a %s property, which every snapshot inherits (zfs inherit %s %s)", pool, Property, Property, pool)
	case snapFields[3] == "-":
		st.Foreign = fmt.Sprintf("it has no %s property, so zplan did not create it", Property)
	default:
		o, err := ParseRecord(snapFields[3])
		if err != nil {
			st.Foreign = err.Error()
		} else {
			st.Owner = &o
		}
	}
	return st, true, nil
}

// holds lists the tags on snap. zfs prints tags raw (a tag may hold a
// tab or newline), so they are read with zfs.ParseHolds, which checks
// the count against userrefs.
func holds(ctx context.Context, h remote.Host, hostName, snap string, refs uint64) ([]string, error) {
	var out bytes.Buffer
	if err := h.Run(ctx, remote.Cmd{Argv: []string{"zfs", "holds", "-H", snap}, Stdout: &out}); err != nil {
		if zfs.Classify(err) == zfs.ErrNotExist {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the holds of %s on %s: %w", snap, hostName, err)
	}
	hs, err := zfs.ParseHolds(out.Bytes(), map[string]uint64{snap: refs})
	if err != nil {
		return nil, fmt.Errorf("reading the holds of %s on %s: %w", snap, hostName, err)
	}
	if why := hs.Bad[snap]; why != "" {
		return nil, fmt.Errorf("reading the holds of %s on %s: %s", snap, hostName, why)
	}
	tags := hs.Tags[snap]
	sort.Strings(tags)
	return tags, nil
}

// Inspect reports the lock snapshots of pools on host (all pools when
// pools is empty), each judged from this process.
func Inspect(ctx context.Context, h remote.Host, hostName string, pools []string, sys System) ([]Status, error) {
	if sys == nil {
		sys = linux{}
	}
	if len(pools) == 0 {
		out, err := remote.Output(ctx, h, "zfs", "list", "-H", "-p", "-t", "filesystem", "-o", "name")
		if err != nil {
			return nil, fmt.Errorf("listing pools on %s: %w", hostName, err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" && !strings.ContainsAny(l, "/@#\t") {
				pools = append(pools, l)
			}
		}
	}
	me := Me(sys, time.Now())
	var res []Status
	for _, p := range pools {
		st, found, err := inspectPool(ctx, h, hostName, p)
		if err != nil {
			return res, err
		}
		if !found {
			continue
		}
		if st.Owner != nil {
			st.Verdict, st.Why = Judge(*st.Owner, me, sys)
		}
		res = append(res, st)
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Pool < res[j].Pool })
	return res, nil
}

// ForceUnlock removes the locks of pools on host (all pools if none are
// given), whoever holds them: it releases the lock's hold tags and
// destroys the snapshot if zplan created it. A snapshot without zplan's
// record is left in place (with its other holds) and reported in Foreign.
func ForceUnlock(ctx context.Context, h remote.Host, hostName string, pools []string) ([]Status, error) {
	sts, err := Inspect(ctx, h, hostName, pools, nil)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, st := range sts {
		other := false
		for _, tag := range st.Holds {
			if !zplanTag(tag) {
				other = true
				continue
			}
			if err := run(ctx, h, releaseArgv(st.Pool, tag), zfs.ErrNoSuchHold, zfs.ErrNotExist); err != nil {
				errs = append(errs, fmt.Errorf("%s:%s: releasing %s: %w", hostName, st.Pool, tag, err))
			}
		}
		if other {
			errs = append(errs, fmt.Errorf("%s:%s: left %s@%s in place: it has holds that are not zplan's (%s)", hostName, st.Pool, st.Pool, SnapName, strings.Join(st.Holds, ", ")))
			continue
		}
		if st.Foreign != "" {
			continue // not ours to destroy; reported through Foreign
		}
		if err := destroy(ctx, h, st.Pool); err != nil {
			errs = append(errs, fmt.Errorf("%s:%s: destroying %s@%s: %w", hostName, st.Pool, st.Pool, SnapName, err))
		}
	}
	return sts, errors.Join(errs...)
}

// Hide removes every pool root's POOL@zplan-lock from an observed state:
// apply observes under its own lock, and no plan may send, adopt or
// otherwise act on the lock (or on a user snapshot at its name, which
// zplan refuses to lock over).
func Hide(st *observe.State) {
	if st == nil {
		return
	}
	for _, h := range st.Hosts {
		for name, ds := range h.Datasets {
			if !strings.Contains(name, "/") {
				ds.Snapshots = slices.DeleteFunc(ds.Snapshots, func(s *observe.Snapshot) bool { return s.Name == SnapName })
			}
		}
	}
}
