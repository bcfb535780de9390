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
