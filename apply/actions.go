package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

// object is what a host says about one name right now.
type object struct {
	guid  uint64
	token string
	// written is the bytes written since the newest snapshot (a
	// filesystem's or volume's); hasWritten is false for "-" (bookmarks).
	written    uint64
	hasWritten bool
	// encryption is "off" or a cipher, "" for bookmarks.
	encryption string
}

// facts is what the precondition check read, by host and name; a name
// it asked about and did not find is present with ok false. The action
// reuses it instead of asking again (issue 13: fewer commands).
type facts map[string]map[string]seen

type seen struct {
	object
	ok bool
}

// get returns what f says about name on host, or asks host if f never
// asked about it.
func (r *runner) get(f facts, host, name string) (object, bool, error) {
	if s, asked := f[host][name]; asked {
		return s.object, s.ok, nil
	}
	objs, err := r.lookup(r.ctx, host, []string{name})
	if err != nil {
		return object{}, false, err
	}
	o, ok := objs[name]
	return o, ok, nil
}

// lookup asks host for the guid, written and resume token of names, in
// one command. Names that do not exist are absent from the result.
func (r *runner) lookup(ctx context.Context, host string, names []string) (map[string]object, error) {
	var out strings.Builder
	err := r.hosts[host].Run(ctx, remote.Cmd{Argv: zfs.GUIDsArgv(names...), Stdout: &out})
	if err != nil {
		// zfs prints what exists and complains about the rest; only a
		// complaint other than "does not exist" is a real failure.
		var ee *remote.ExitError
		if !errors.As(err, &ee) || !onlyNotExist(ee.Stderr) {
			return nil, fmt.Errorf("checking %s on %s: %w", strings.Join(names, " "), host, err)
		}
	}
	facts, err := zfs.ParseGUIDs([]byte(out.String()))
	if err != nil {
		return nil, fmt.Errorf("checking %s on %s: %w", strings.Join(names, " "), host, err)
	}
	objs := make(map[string]object, len(facts))
	for name, f := range facts {
		objs[name] = object{guid: f.GUID, token: f.ResumeToken, written: f.Written, hasWritten: f.HasWritten, encryption: f.Encryption}
	}
	return objs, nil
}

// onlyNotExist reports whether every complaint in stderr, and there is
// at least one, is zfs saying a name does not exist (see
// zfs.ClassifyStderr: "dataset does not exist" for a missing dataset or
// snapshot, "no such pool or dataset" for a missing bookmark).
func onlyNotExist(stderr string) bool {
	return zfs.ClassifyStderr(stderr) == zfs.ErrNotExist
}

// checkPreconditions re-reads the facts the plan assumed, one command
// per host involved, and names the first that changed (invariant 4).
// It also reads what the action itself will ask (sendReads), in the same
// command, and returns all it read.
func (r *runner) checkPreconditions(a *plan.Action) (facts, error) {
	byHost := map[string][]string{}
	var hostOrder []string
	add := func(host, name string) {
		if byHost[host] == nil {
			hostOrder = append(hostOrder, host)
		}
		byHost[host] = append(byHost[host], name)
	}
	for _, pc := range a.Preconditions {
		add(pc.Host, pc.Object)
	}
	for _, n := range sendReads(a) {
		add(a.Host, n)
	}
	f := facts{}
	for _, h := range hostOrder {
		names := dedupe(byHost[h])
		objs, err := r.lookup(r.ctx, h, names)
		if err != nil {
			return nil, err
		}
		f[h] = make(map[string]seen, len(names))
		for _, n := range names {
			o, ok := objs[n]
			f[h][n] = seen{o, ok}
		}
	}
	for _, pc := range a.Preconditions {
		s := f[pc.Host][pc.Object]
		o, exists := s.object, s.ok
		var bad string
		switch pc.Kind {
		case plan.PreExists:
			switch {
			case !exists:
				bad = fmt.Sprintf("%s no longer has %s", pc.Host, pc.Object)
			case pc.GUID != 0 && o.guid != pc.GUID:
				bad = fmt.Sprintf("%s: %s has guid %d, the plan expected %d", pc.Host, pc.Object, o.guid, pc.GUID)
			}
		case plan.PreAbsent:
			if exists {
				bad = fmt.Sprintf("%s now has %s", pc.Host, pc.Object)
			}
		case plan.PreResumeToken:
			if exists && o.token != pc.Value {
				if pc.Value == "" {
					bad = fmt.Sprintf("%s: %s now has an interrupted receive (resume token)", pc.Host, pc.Object)
				} else {
					bad = fmt.Sprintf("%s: %s's resume token changed", pc.Host, pc.Object)
				}
			}
			if !exists && pc.Value != "" {
				bad = fmt.Sprintf("%s no longer has %s", pc.Host, pc.Object)
			}
		case plan.PreWritten:
			// More written than the plan saw is data the plan never showed
			// a rollback would discard.
			limit, err := strconv.ParseUint(pc.Value, 10, 64)
			switch {
			case err != nil:
				bad = fmt.Sprintf("precondition on %s: written %q is not a number", pc.Object, pc.Value)
			case !exists:
				bad = fmt.Sprintf("%s no longer has %s", pc.Host, pc.Object)
			case !o.hasWritten:
				bad = fmt.Sprintf("%s: %s has no written property", pc.Host, pc.Object)
			case o.written > limit:
				bad = fmt.Sprintf("%s: %s has %d bytes written since its newest snapshot, the plan saw %d", pc.Host, pc.Object, o.written, limit)
			}
		default:
			bad = fmt.Sprintf("unknown precondition kind %q", pc.Kind)
		}
		if bad != "" {
			return nil, &StaleError{Fact: bad}
		}
	}
	return f, nil
}

// sendReads names what an action reads on its own host besides its
// preconditions: a send's source dataset (its encryption) and snapshot
// (its GUID, when the plan created it).
func sendReads(a *plan.Action) []string {
	if a.Send == nil || a.Host != a.Send.SourceHost {
		return nil
	}
	return []string{a.Send.SourceDataset, a.Send.SourceDataset + "@" + a.Send.To}
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// zfs runs argv on host; failures of the kinds in ok count as success.
func (r *runner) zfs(host string, argv []string, ok ...zfs.ErrorKind) error {
	return zfs.Tolerate(r.hosts[host].Run(r.ctx, remote.Cmd{Argv: argv}), ok...)
}

// hold puts tag on every snapshot in one command; if some already carry
// it, zfs fails for those (not atomically), so it retries one by one,
// accepting "tag already exists".
func (r *runner) hold(host, tag string, snaps []string) error {
	return r.eachTolerant(host, snaps, func(s ...string) []string { return zfs.HoldArgv(tag, s...) }, zfs.ErrHoldExists)
}

// release is hold's counterpart, accepting holds or snapshots already gone.
func (r *runner) release(host, tag string, snaps []string) error {
	return r.eachTolerant(host, snaps, func(s ...string) []string { return zfs.ReleaseArgv(tag, s...) }, zfs.ErrNoSuchHold, zfs.ErrNotExist)
}

func (r *runner) eachTolerant(host string, snaps []string, argv func(...string) []string, ok ...zfs.ErrorKind) error {
	if len(snaps) == 0 {
		return nil
	}
	err := r.zfs(host, argv(snaps...))
	switch {
	case err == nil:
		return nil
	case !slices.Contains(ok, zfs.Classify(err)):
		return err
	case len(snaps) == 1:
		return nil
	}
	for _, s := range snaps {
		if err := r.zfs(host, argv(s), ok...); err != nil {
			return err
		}
	}
	return nil
}

func snapNames(dataset string, refs []plan.SnapRef) []string {
	out := make([]string, len(refs))
	for i, s := range refs {
		out[i] = dataset + "@" + s.Name
	}
	return out
}

// send carries out one replication step with its hold protection:
// step holds on both ends, send|recv -s, confirm the received GUID, new
// cursor, move the last-received hold, then drop step holds and old
// cursors. Each step repeats harmlessly, so a crash between any two is
// repaired by the next plan (invariant 5).
func (r *runner) send(a *plan.Action, f facts) error {
	s := a.Send
	src, dst := s.SourceHost, s.TargetHost
	to := s.SourceDataset + "@" + s.To
	held := []string{to}
	if strings.HasPrefix(s.From, "@") {
		held = append(held, s.SourceDataset+s.From)
	}
	if err := r.refuseDecryptedSend(s, f); err != nil {
		return err
	}
	guid := s.ToGUID
	if guid == 0 {
		// Created by this apply: the precondition check read its GUID.
		// Should it be replaced before the step hold, the GUID check
		// after the receive fails the send.
		o, ok, err := r.get(f, src, to)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s does not exist on %s", to, src)
		}
		guid = o.guid
	}
	if err := r.hold(src, s.StepTag, held); err != nil {
		return fmt.Errorf("step hold: %w", err)
	}
	var sendArgv []string
	if s.Token != "" {
		sendArgv = zfs.ResumeSendArgv(s.Flags, s.Token)
	} else {
		from := ""
		if s.From != "" {
			from = s.SourceDataset + s.From
		}
		sendArgv = zfs.SendArgv(s.Flags, from, to)
	}
	progress := func(n int64) { r.opts.Reporter.Report(Event{Kind: EventProgress, Action: a, Bytes: n}) }
	if err := remote.PipeWith(r.ctx, r.hosts[src], sendArgv, r.hosts[dst], recvArgv(s), r.pipeOptions(s, progress)); err != nil {
		return err
	}
	received := s.TargetDataset + "@" + s.To
	objs, err := r.lookup(r.ctx, dst, []string{received})
	if err != nil {
		return err
	}
	if o, ok := objs[received]; !ok || o.guid != guid {
		return fmt.Errorf("after receive, %s on %s does not have guid %d", received, dst, guid)
	}
	return r.finishSend(a, guid, held)
}

func recvArgv(s *plan.Send) []string {
	if s.Receive == nil {
		return zfs.RecvArgv(s.TargetDataset, nil, nil)
	}
	return zfs.RecvArgv(s.TargetDataset, s.Receive.Set, s.Receive.Inherit)
}

// sendBookkeeping finishes a send whose data an earlier apply delivered.
func (r *runner) sendBookkeeping(a *plan.Action) error {
	guid, done, err := r.sendDone(a)
	if err != nil {
		return err
	}
	if !done {
		return fmt.Errorf("%s:%s@%s vanished", a.Send.TargetHost, a.Send.TargetDataset, a.Send.To)
	}
	held := []string{a.Send.SourceDataset + "@" + a.Send.To}
	if strings.HasPrefix(a.Send.From, "@") {
		held = append(held, a.Send.SourceDataset+a.Send.From)
	}
	return r.finishSend(a, guid, held)
}

// finishSend is the bookkeeping after a confirmed receive: new cursor,
// last-received hold moved, step holds released, old cursors destroyed.
func (r *runner) finishSend(a *plan.Action, guid uint64, held []string) error {
	s := a.Send
	src, dst := s.SourceHost, s.TargetHost
	to := s.SourceDataset + "@" + s.To
	received := s.TargetDataset + "@" + s.To
	cursor := plan.CursorName(s.Edge, guid)
	if err := r.zfs(src, zfs.BookmarkArgv(to, s.SourceDataset+"#"+cursor), zfs.ErrExists); err != nil {
		return fmt.Errorf("cursor bookmark: %w", err)
	}
	if err := r.hold(dst, s.LastTag, []string{received}); err != nil {
		return fmt.Errorf("last-received hold: %w", err)
	}
	var oldLast []string
	for _, old := range s.OldLast {
		if old != s.To {
			oldLast = append(oldLast, s.TargetDataset+"@"+old)
		}
	}
	if err := r.release(dst, s.LastTag, oldLast); err != nil {
		return fmt.Errorf("releasing old last-received hold: %w", err)
	}
	if err := r.release(src, s.StepTag, held); err != nil {
		return fmt.Errorf("releasing step hold: %w", err)
	}
	for _, old := range s.OldCursors {
		if old == cursor {
			continue // never the cursor the next incremental needs
		}
		if err := r.zfs(src, zfs.DestroyBookmarkArgv(s.SourceDataset+"#"+old), zfs.ErrNotExist); err != nil {
			return fmt.Errorf("destroying old cursor: %w", err)
		}
	}
	return nil
}

// destroyNames returns the names of the snapshots a destroys, refusing
// any that zfs destroy would read as a range ('%') or a list (','), as
// invariant 10 says: the planner never plans one, so such a name comes
// from a crafted plan.
func destroyNames(a *plan.Action) ([]string, error) {
	snaps := make([]string, 0, len(a.Snapshots))
	for _, s := range a.Snapshots {
		if !zfs.DestroySafe(s.Name) || s.Name == "" {
			return nil, fmt.Errorf("refusing to destroy %s@%s: zfs destroy would read the name as a range or a list", a.Dataset, s.Name)
		}
		snaps = append(snaps, s.Name)
	}
	return snaps, nil
}

// refuseDecryptedSend refuses a send without -w of an encrypted source
// unless the plan marks it as declared (invariant 7: Send.Decrypt, which
// saved-plan validation allows only for raw = "never" with allow_decrypt). The
// planner never makes such a send; this is for plans edited to drop -w.
// The precondition check read the encryption (see sendReads).
func (r *runner) refuseDecryptedSend(s *plan.Send, f facts) error {
	if s.Decrypt || slices.Contains(s.Flags, "-w") {
		return nil
	}
	o, ok, err := r.get(f, s.SourceHost, s.SourceDataset)
	if err != nil {
		return fmt.Errorf("checking the encryption of %s:%s: %w", s.SourceHost, s.SourceDataset, err)
	}
	if !ok {
		return fmt.Errorf("checking the encryption of %s:%s: it does not exist", s.SourceHost, s.SourceDataset)
	}
	if enc := o.encryption; enc != "off" {
		return fmt.Errorf("refusing to send %s:%s (encryption=%s) without -w: it would arrive decrypted, and the plan does not declare allow_decrypt", s.SourceHost, s.SourceDataset, enc)
	}
	return nil
}
