package apply

import (
	"errors"
	"fmt"
	"strings"

	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

// StaleError is a refused action: Fact names what changed on a host
// since the plan was made. It matches ErrStale with errors.Is.
type StaleError struct{ Fact string }

func (e *StaleError) Error() string        { return ErrStale.Error() + ": " + e.Fact }
func (e *StaleError) Is(target error) bool { return target == ErrStale }

func stale(format string, args ...any) error {
	return &StaleError{Fact: fmt.Sprintf(format, args...)}
}

// alreadyDone recognises an action an earlier, interrupted apply of the
// same plan already carried out, so a saved plan can be applied again.
// It only says "done" when the hosts show exactly the result the action
// would have produced (same names and, where the plan knows them, the
// same GUIDs); a same-named object with another GUID is a stale plan,
// and anything in between falls through to the normal precondition check.
// Holds, releases and aborts need no hook: they are idempotent in do.
func (r *runner) alreadyDone(a *plan.Action) (bool, error) {
	switch a.Kind {
	case plan.KindSnapshot:
		var names []string
		for _, d := range a.Datasets {
			names = append(names, d+"@"+a.Snapshots[0].Name)
		}
		objs, err := r.lookup(r.ctx, a.Host, names)
		if err != nil {
			return false, err
		}
		// zfs snapshot is atomic per pool: all or none exist after it.
		return len(objs) == len(dedupe(names)), nil
	case plan.KindDestroy:
		names := snapNames(a.Dataset, a.Snapshots)
		objs, err := r.lookup(r.ctx, a.Host, append(names, a.Dataset))
		if err != nil {
			return false, err
		}
		if _, ok := objs[a.Dataset]; !ok {
			return false, nil // the dataset itself is gone: let the precondition say so
		}
		return len(objs) == 1, nil
	case plan.KindDestroyBookmark:
		bm := a.Dataset + "#" + a.Bookmark
		objs, err := r.lookup(r.ctx, a.Host, []string{bm, a.Dataset})
		if err != nil {
			return false, err
		}
		_, dsOK := objs[a.Dataset]
		_, bmOK := objs[bm]
		return dsOK && !bmOK, nil
	case plan.KindBookmark:
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
	case plan.KindCreatePlaceholder:
		return r.isPlaceholder(a.Host, a.Dataset)
	case plan.KindSendFull, plan.KindSendIncremental, plan.KindSendResume:
		_, done, err := r.sendDone(a)
		return done, err
	}
	return false, nil
}

// sendDone reports whether the target already has the snapshot the send
// delivers, with the source snapshot's GUID; guid is that GUID.
func (r *runner) sendDone(a *plan.Action) (guid uint64, done bool, err error) {
	s := a.Send
	to := s.SourceDataset + "@" + s.To
	received := s.TargetDataset + "@" + s.To
	guid = s.ToGUID
	if guid == 0 {
		// Created by this plan: the source knows its GUID now.
		objs, err := r.lookup(r.ctx, s.SourceHost, []string{to})
		if err != nil {
			return 0, false, err
		}
		o, ok := objs[to]
		if !ok {
			return 0, false, nil
		}
		guid = o.guid
	}
	objs, err := r.lookup(r.ctx, s.TargetHost, []string{received})
	if err != nil {
		return 0, false, err
	}
	o, ok := objs[received]
	switch {
	case !ok:
		return guid, false, nil
	case o.guid != guid:
		return guid, false, stale("%s: %s has guid %d, but the plan sends guid %d there (the target received something else)", s.TargetHost, received, o.guid, guid)
	}
	return guid, true, nil
}

// isPlaceholder reports whether dataset exists and is the placeholder
// zplan creates for it (marked with its own name, see zfs.PropPlaceholder).
func (r *runner) isPlaceholder(host, dataset string) (bool, error) {
	var out strings.Builder
	err := r.hosts[host].Run(r.ctx, remote.Cmd{Argv: zfs.PlaceholderArgv(dataset), Stdout: &out})
	if err != nil {
		var ee *remote.ExitError
		if errors.As(err, &ee) && onlyNotExist(ee.Stderr) {
			return false, nil
		}
		return false, fmt.Errorf("checking %s on %s: %w", dataset, host, err)
	}
	return zfs.IsPlaceholder([]byte(out.String()), dataset), nil
}
