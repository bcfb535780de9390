package apply

import (
	"fmt"

	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/zfs"
)

// executor is how apply carries out one kind of action; everything else
// about a kind is its row in plan's kind table. TestExecutors fails when
// a kind has no executor.
type executor struct {
	// do gets what the precondition check read (only sends use it).
	do func(r *runner, a *plan.Action, f facts) error
	// done recognises an action an earlier, interrupted apply of the same
	// plan already carried out, so a saved plan can be applied again. It
	// only says "done" when the hosts show exactly the result the action
	// would have produced (same names and, where the plan knows them, the
	// same GUIDs); a same-named object with another GUID is a stale plan,
	// and anything in between falls through to the precondition check.
	// nil: the action is idempotent in do (holds, releases, aborts).
	done func(r *runner, a *plan.Action) (bool, error)
}

var executors = map[plan.Kind]executor{
	plan.KindSnapshot:        {do: plain((*runner).doSnapshot), done: (*runner).snapshotDone},
	plan.KindDestroy:         {do: plain((*runner).doDestroy), done: (*runner).destroyDone},
	plan.KindDestroyBookmark: {do: plain((*runner).doDestroyBookmark), done: (*runner).destroyBookmarkDone},
	plan.KindHold: {do: func(r *runner, a *plan.Action, _ facts) error {
		return r.hold(a.Host, a.Tag, snapNames(a.Dataset, a.Snapshots))
	}},
	plan.KindRelease: {do: func(r *runner, a *plan.Action, _ facts) error {
		return r.release(a.Host, a.Tag, snapNames(a.Dataset, a.Snapshots))
	}},
	plan.KindBookmark: {do: plain((*runner).doBookmark), done: (*runner).bookmarkDone},
	plan.KindRollback: {do: plain((*runner).doRollback)},
	plan.KindAbortResume: {do: func(r *runner, a *plan.Action, _ facts) error {
		return r.zfs(a.Host, zfs.RecvAbortArgv(a.Dataset), zfs.ErrNoResumeState)
	}},
	plan.KindCreatePlaceholder: {do: func(r *runner, a *plan.Action, _ facts) error {
		return r.zfs(a.Host, zfs.CreatePlaceholderArgv(a.Dataset))
	}, done: (*runner).placeholderDone},
	plan.KindSetProperties: {do: func(r *runner, a *plan.Action, _ facts) error {
		return r.zfs(a.Host, zfs.SetArgv(a.Dataset, a.Properties))
	}},
	plan.KindSendFull:        {do: (*runner).send, done: (*runner).sendDoneOnly},
	plan.KindSendIncremental: {do: (*runner).send, done: (*runner).sendDoneOnly},
	plan.KindSendResume:      {do: (*runner).send, done: (*runner).sendDoneOnly},
}

// plain adapts an executor that needs nothing the precondition check read.
func plain(do func(r *runner, a *plan.Action) error) func(*runner, *plan.Action, facts) error {
	return func(r *runner, a *plan.Action, _ facts) error { return do(r, a) }
}

func (r *runner) do(a *plan.Action, f facts) error {
	x, ok := executors[a.Kind]
	if !ok {
		return fmt.Errorf("unknown action kind %q", a.Kind)
	}
	return x.do(r, a, f)
}

func (r *runner) alreadyDone(a *plan.Action) (bool, error) {
	if x := executors[a.Kind]; x.done != nil {
		return x.done(r, a)
	}
	return false, nil
}

func newSnapshots(a *plan.Action) []string {
	names := make([]string, len(a.Datasets))
	for i, d := range a.Datasets {
		names[i] = d + "@" + a.Snapshots[0].Name
	}
	return names
}

func (r *runner) snapshotDone(a *plan.Action) (bool, error) {
	names := newSnapshots(a)
	objs, err := r.lookup(r.ctx, a.Host, names)
	if err != nil {
		return false, err
	}
	// zfs snapshot is atomic per pool: all or none exist after it.
	return len(objs) == len(dedupe(names)), nil
}

func (r *runner) doDestroy(a *plan.Action) error {
	snaps, err := destroyNames(a)
	if err != nil {
		return err
	}
	return r.zfs(a.Host, zfs.DestroySnapshotsArgv(a.Dataset, snaps...))
}

func (r *runner) destroyDone(a *plan.Action) (bool, error) {
	names := snapNames(a.Dataset, a.Snapshots)
	objs, err := r.lookup(r.ctx, a.Host, append(names, a.Dataset))
	if err != nil {
		return false, err
	}
	if _, ok := objs[a.Dataset]; !ok {
		return false, nil // the dataset itself is gone: let the precondition say so
	}
	return len(objs) == 1, nil
}

func (r *runner) doDestroyBookmark(a *plan.Action) error {
	return r.zfs(a.Host, zfs.DestroyBookmarkArgv(a.Dataset+"#"+a.Bookmark), zfs.ErrNotExist)
}

func (r *runner) destroyBookmarkDone(a *plan.Action) (bool, error) {
	bm := a.Dataset + "#" + a.Bookmark
	objs, err := r.lookup(r.ctx, a.Host, []string{bm, a.Dataset})
	if err != nil {
		return false, err
	}
	_, dsOK := objs[a.Dataset]
	_, bmOK := objs[bm]
	return dsOK && !bmOK, nil
}

func (r *runner) doBookmark(a *plan.Action) error {
	return r.zfs(a.Host, zfs.BookmarkArgv(a.Dataset+"@"+a.Snapshots[0].Name, a.Dataset+"#"+a.Bookmark), zfs.ErrExists)
}

func (r *runner) bookmarkDone(a *plan.Action) (bool, error) {
	bm := a.Dataset + "#" + a.Bookmark
	objs, err := r.lookup(r.ctx, a.Host, []string{bm})
	if err != nil {
		return false, err
	}
	o, ok := objs[bm]
	if !ok {
		return false, nil
	}
	if want := a.Snapshots[0].GUID; want != 0 && o.guid != want {
		return false, stale("%s: %s has guid %d, the plan bookmarks guid %d", a.Host, bm, o.guid, want)
	}
	return true, nil
}

// doRollback destroys the target's own snapshots, then rolls back.
func (r *runner) doRollback(a *plan.Action) error {
	if len(a.Snapshots) > 0 {
		if err := r.doDestroy(a); err != nil {
			return err
		}
	}
	return r.zfs(a.Host, zfs.RollbackArgv(a.Dataset, a.Bookmark))
}

func (r *runner) placeholderDone(a *plan.Action) (bool, error) {
	return r.isPlaceholder(a.Host, a.Dataset)
}

func (r *runner) sendDoneOnly(a *plan.Action) (bool, error) {
	_, done, err := r.sendDone(a)
	return done, err
}
