package apply

import (
	"bufio"
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
	objs := map[string]object{}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("checking %s on %s: unexpected zfs list line %q", strings.Join(names, " "), host, sc.Text())
		}
		guid, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("checking %s on %s: bad guid in %q", strings.Join(names, " "), host, sc.Text())
		}
		o := object{guid: guid, token: f[3]}
		if o.token == "-" {
			o.token = ""
		}
		if f[2] != "-" {
			if o.written, err = strconv.ParseUint(f[2], 10, 64); err != nil {
				return nil, fmt.Errorf("checking %s on %s: bad written in %q", strings.Join(names, " "), host, sc.Text())
			}
			o.hasWritten = true
		}
		objs[f[0]] = o
	}
	return objs, sc.Err()
}

// onlyNotExist reports whether every complaint in stderr is about a name
// that does not exist. zfs says "dataset does not exist" for a missing
// snapshot and "no such pool or dataset" for a missing bookmark.
func onlyNotExist(stderr string) bool {
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if l != "" && !strings.Contains(l, "does not exist") && !strings.Contains(l, "no such pool or dataset") {
			return false
		}
	}
	return true
}

// checkPreconditions re-reads the facts the plan assumed, one command
// per host involved, and names the first that changed (invariant 4).
func (r *runner) checkPreconditions(a *plan.Action) error {
	byHost := map[string][]string{}
	var hostOrder []string
	for _, pc := range a.Preconditions {
		if byHost[pc.Host] == nil {
			hostOrder = append(hostOrder, pc.Host)
		}
		byHost[pc.Host] = append(byHost[pc.Host], pc.Object)
	}
	facts := map[string]map[string]object{}
	for _, h := range hostOrder {
		objs, err := r.lookup(r.ctx, h, dedupe(byHost[h]))
		if err != nil {
			return err
		}
		facts[h] = objs
	}
	for _, pc := range a.Preconditions {
		o, exists := facts[pc.Host][pc.Object]
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
			return &StaleError{Fact: bad}
		}
	}
	return nil
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
func (r *runner) send(a *plan.Action) error {
	s := a.Send
	src, dst := s.SourceHost, s.TargetHost
	to := s.SourceDataset + "@" + s.To
	held := []string{to}
	if strings.HasPrefix(s.From, "@") {
		held = append(held, s.SourceDataset+s.From)
	}
	if err := r.refuseDecryptedSend(s); err != nil {
		return err
	}
	if err := r.hold(src, s.StepTag, held); err != nil {
		return fmt.Errorf("step hold: %w", err)
	}
	guid := s.ToGUID
	if guid == 0 {
		// Created by this apply: learn its GUID now.
		objs, err := r.lookup(r.ctx, src, []string{to})
		if err != nil {
			return err
		}
		o, ok := objs[to]
		if !ok {
			return fmt.Errorf("%s does not exist on %s", to, src)
		}
		guid = o.guid
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
	if err := remote.Pipe(r.ctx, r.hosts[src], sendArgv, r.hosts[dst], zfs.RecvArgv(s.TargetDataset), progress); err != nil {
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
// planner never makes such a send; this is for plans edited to drop -w,
// and costs one command per non-raw send.
func (r *runner) refuseDecryptedSend(s *plan.Send) error {
	if s.Decrypt || slices.Contains(s.Flags, "-w") {
		return nil
	}
	out, err := remote.Output(r.ctx, r.hosts[s.SourceHost], zfs.EncryptionArgv(s.SourceDataset)...)
	if err != nil {
		return fmt.Errorf("checking the encryption of %s:%s: %w", s.SourceHost, s.SourceDataset, err)
	}
	if enc := strings.TrimSpace(string(out)); enc != "off" {
		return fmt.Errorf("refusing to send %s:%s (encryption=%s) without -w: it would arrive decrypted, and the plan does not declare allow_decrypt", s.SourceHost, s.SourceDataset, enc)
	}
	return nil
}
