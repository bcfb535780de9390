package diff

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/zfs"
)

// cand is a source snapshot an edge may send; virtual ones are created
// by this plan and have no GUID yet.
type cand struct {
	name    string
	guid    uint64
	txg     uint64
	virtual *virtualSnap
}

// base is the newest snapshot both sides share.
type base struct {
	from       string // "@snap" or "#bookmark" on the source
	guid       uint64
	txg        uint64 // createtxg on the source
	targetName string // snapshot name on the target
}

// step is one send|recv of an edge.
type step struct {
	kind  plan.Kind
	from  *base // nil for a full send
	to    cand
	token string
	est   int64
}

// edge plans one replication edge: resume, sends and bookkeeping, or a
// conflict that blocks only this edge. While an edge is blocked, source
// retention keeps every snapshot it could still have to send.
func (p *planner) edge(e *desired.Edge) {
	src := p.dataset(e.SourceHost, e.SourceDataset)
	if src == nil {
		return // reported as a policy problem
	}
	if !p.planEdge(e, src) {
		// keep_unsent_for may give these up only while the edge's cursor
		// bookmark carries the incremental chain: with no cursor, or with a
		// snapshot base the observed target shares and no cursor marks,
		// the snapshot may be the only way to send incrementally. A
		// destroy that gives one up asserts the cursors it relies on.
		k := dsKey{e.SourceHost, e.SourceDataset}
		var cursors []plan.Precondition
		for _, bm := range src.Bookmarks {
			if id, _, ok := plan.ParseCursor(bm.Name); ok && id == e.ID {
				cursors = append(cursors, plan.Precondition{Host: e.SourceHost, Kind: plan.PreExists, Object: e.SourceDataset + "#" + bm.Name, GUID: bm.GUID})
			}
		}
		hasCursor := len(cursors) > 0
		var baseName string
		if b, ok := FindBase(src, p.dataset(e.TargetHost, e.TargetDataset), e.ID); ok && strings.HasPrefix(b.From, "@") && !hasBookmark(src, plan.CursorName(e.ID, b.GUID)) {
			baseName = b.From[1:]
		}
		for _, s := range src.Snapshots {
			if strings.HasPrefix(s.Name, e.Prefix) {
				p.needUnsent(k, s.Name, e.ID, !hasCursor || s.Name == baseName, cursors)
			}
		}
	}
}

// planEdge reports false when a conflict blocks the edge.
func (p *planner) planEdge(e *desired.Edge, src *observe.Dataset) (planned bool) {
	if p.st.Hosts[e.TargetHost] == nil {
		p.conflict(plan.ConflictHostUnobserved, e, e.TargetHost, e.TargetDataset,
			"target "+p.st.WhyUnobserved(e.TargetHost), "")
		return false
	}
	if why, odd := p.st.Hosts[e.TargetHost].Unreadable[e.TargetDataset]; odd {
		// Not "missing": planning a full send into it would be wrong.
		p.conflict(plan.ConflictSetAside, e, e.TargetHost, e.TargetDataset, "target dataset set aside: "+why, "")
		return false
	}
	tgt := p.dataset(e.TargetHost, e.TargetDataset)
	raw, ok := p.rawMode(e, src, tgt)
	if !ok {
		return false
	}
	srcKey := dsKey{e.SourceHost, e.SourceDataset}
	var cands []cand
	for _, s := range src.Snapshots {
		// A name zfs destroy would read as a range or list is not sent:
		// the target could never prune it (see unsafeNames).
		if strings.HasPrefix(s.Name, e.Prefix) && zfs.DestroySafe(s.Name) {
			cands = append(cands, cand{name: s.Name, guid: s.GUID, txg: s.CreateTXG})
		}
	}
	if v := p.planned[srcKey]; v != nil && strings.HasPrefix(v.name, e.Prefix) {
		cands = append(cands, cand{name: v.name, txg: ^uint64(0), virtual: v})
	}

	// An interrupted receive is resumed if it is the stream the plan
	// sends (invariant 6). One the source can no longer complete is
	// discarded first (zfs recv -A), and the edge is planned as if it had
	// never started; the abort goes into the plan only if the edge is not
	// blocked otherwise.
	var resumed *step
	if tgt != nil && tgt.ResumeToken != "" {
		st, stale, ok := p.resume(e, src, tgt, raw)
		if !ok {
			return false
		}
		if stale == "" {
			resumed = &st
		} else {
			abort := p.abortResume(e, tgt, stale)
			p.edgeDeps[e] = append(p.edgeDeps[e], abort.Address)
			defer func() {
				if planned {
					p.add(abort)
				}
			}()
			if tgt.Token.FromGUID == 0 {
				// An incomplete new filesystem: zfs recv -A destroys it.
				tgt = nil
			}
		}
	}

	var steps []step
	var b *base
	var resumeFrom, resumeTo string // snapshots a resume's step holds legitimately cover
	switch {
	case tgt == nil:
		if len(cands) == 0 {
			return true
		}
		first := cands[len(cands)-1]
		rest := []cand(nil)
		if e.Initial == desired.InitialAll {
			first, rest = cands[0], cands[1:]
		}
		steps = append(steps, step{kind: plan.KindSendFull, to: first, est: p.estimate(src, nil, first)})
		b = &base{from: "@" + first.name, guid: first.guid, txg: first.txg, targetName: first.name}
		steps = append(steps, p.incrementals(src, b, rest)...)
	case resumed != nil:
		st := *resumed
		steps = append(steps, st)
		resumeTo = "@" + st.to.name
		if st.from != nil {
			resumeFrom = st.from.from
		}
		b = &base{from: "@" + st.to.name, guid: st.to.guid, txg: st.to.txg, targetName: st.to.name}
		steps = append(steps, p.incrementals(src, b, after(cands, st.to.txg))...)
	default:
		b, ok = p.findBase(e, src, tgt)
		if !ok {
			return false
		}
		steps = p.incrementals(src, b, after(cands, b.txg))
	}
	// Retention keeps the newest common snapshot as it will be after this
	// plan's sends. Older ones may go: their destroys wait for the sends,
	// and are skipped if a send fails.
	if n := len(steps); n > 0 {
		if last := steps[n-1].to; last.virtual == nil {
			p.need(srcKey, last.name, needBase, fmt.Sprintf("newest common snapshot of replication %s once sent", e.ID))
		}
	} else if b != nil {
		p.need(dsKey{e.TargetHost, e.TargetDataset}, b.targetName, needBase, fmt.Sprintf("newest common snapshot of replication %s", e.ID))
		if strings.HasPrefix(b.from, "@") {
			p.need(srcKey, b.from[1:], needBase, fmt.Sprintf("newest common snapshot of replication %s", e.ID))
		}
	}

	p.edgeBasePreconditions(e, b, steps)

	stale := p.releaseStaleStepHolds(e, src, resumeFrom, resumeTo)
	if len(steps) == 0 {
		if tgt != nil && b != nil {
			p.bookkeeping(e, src, tgt, b)
			p.receiveProperties(e, tgt)
		}
		return true
	}
	var deps []string
	if tgt == nil {
		var ok bool
		if deps, ok = p.ensureParents(e); !ok {
			return false
		}
	}
	deps = append(deps, p.edgeDeps[e]...)
	p.emitSends(e, src, tgt, raw, steps, append(deps, stale...))
	return true
}

// ObservedReceiveProps are the receive properties the listing reports,
// so the plan can bring an in-sync replica back to them; the others
// come back with the edge's next receive, which sets them all.
var ObservedReceiveProps = []string{"canmount", "readonly"}

// receiveProperties plans a zfs set for an in-sync replica whose
// readonly or canmount is not what its receive sets (a replica received
// before zplan set them, or changed by hand): a replica that may be
// written to or mounted at boot would diverge.
func (p *planner) receiveProperties(e *desired.Edge, tgt *observe.Dataset) {
	want := e.ReceiveFor(tgt.Type)
	if want == nil {
		return
	}
	have := map[string]string{"readonly": tgt.ReadOnly, "canmount": tgt.CanMount}
	set := map[string]string{}
	var why []string
	for _, k := range ObservedReceiveProps {
		if v, ok := want.Set[k]; ok && have[k] != "" && have[k] != v {
			set[k] = v
			why = append(why, fmt.Sprintf("%s is %s", k, have[k]))
		}
	}
	if len(set) == 0 {
		return
	}
	p.add(&plan.Action{
		Address: plan.KindSetProperties.Address(e.TargetHost, e.TargetDataset), Kind: plan.KindSetProperties,
		Host: e.TargetHost, Dataset: e.TargetDataset, Properties: set,
		Reason:        fmt.Sprintf("replication.%s: %s; the target's receive properties set %s", e.Name, strings.Join(why, ", "), strings.Join(zfs.SetArgv("", set)[2:2+len(set)], " ")),
		Preconditions: []plan.Precondition{{Host: e.TargetHost, Kind: plan.PreExists, Object: e.TargetDataset, GUID: tgt.GUID}},
	})
}

// edgeBasePreconditions records, for the destroys on both ends of e,
// the common base they rely on, asserted on both hosts: a destroy may go
// only while the edge keeps a snapshot (or the source's cursor bookmark)
// to send the next incremental from. With sends in the plan, that base
// is the last one sent, which exists when the destroys run (they wait
// for the sends; a virtual snapshot has no GUID yet, so only its name is
// asserted); otherwise it is the base observed now.
func (p *planner) edgeBasePreconditions(e *desired.Edge, b *base, steps []step) {
	var srcObj, tgtObj string
	var guid uint64
	switch {
	case len(steps) > 0:
		last := steps[len(steps)-1].to
		srcObj, tgtObj, guid = e.SourceDataset+"@"+last.name, e.TargetDataset+"@"+last.name, last.guid
	case b != nil:
		srcObj, tgtObj, guid = e.SourceDataset+b.from, e.TargetDataset+"@"+b.targetName, b.guid
	default:
		return
	}
	pre := []plan.Precondition{
		{Host: e.SourceHost, Kind: plan.PreExists, Object: srcObj, GUID: guid},
		{Host: e.TargetHost, Kind: plan.PreExists, Object: tgtObj, GUID: guid},
	}
	for _, k := range []dsKey{{e.SourceHost, e.SourceDataset}, {e.TargetHost, e.TargetDataset}} {
		p.edgeBase[k] = append(p.edgeBase[k], pre...)
	}
}

func after(cands []cand, txg uint64) []cand {
	var out []cand
	for _, c := range cands {
		if c.txg > txg {
			out = append(out, c)
		}
	}
	return out
}

// incrementals chains sends from b through each of cands.
func (p *planner) incrementals(src *observe.Dataset, b *base, cands []cand) []step {
	var steps []step
	for _, c := range cands {
		from := b
		steps = append(steps, step{kind: plan.KindSendIncremental, from: from, to: c, est: p.estimate(src, from, c)})
		b = &base{from: "@" + c.name, guid: c.guid, txg: c.txg, targetName: c.name}
	}
	return steps
}

// estimate sums the written bytes of the snapshots the stream covers
// (referenced for a full send): free, and close enough for a plan.
func (p *planner) estimate(src *observe.Dataset, from *base, to cand) int64 {
	if from == nil {
		if s := src.SnapshotByGUID(to.guid); s != nil && to.virtual == nil {
			return int64(s.Referenced)
		}
		return int64(src.Referenced)
	}
	var n uint64
	for _, s := range src.Snapshots {
		if s.CreateTXG > from.txg && s.CreateTXG <= to.txg {
			n += s.Written
		}
	}
	if to.virtual != nil {
		n += src.Written
	}
	return int64(n)
}

// rawMode decides whether the edge sends raw, refusing combinations that
// would expose plaintext or mix raw and non-raw streams.
func (p *planner) rawMode(e *desired.Edge, src, tgt *observe.Dataset) (raw, ok bool) {
	switch e.Raw {
	case desired.RawAlways:
		raw = true
	case desired.RawNever:
		if src.Encrypted() && !e.AllowDecrypt {
			p.conflict(plan.ConflictEncryption, e, e.SourceHost, e.SourceDataset,
				"source is encrypted and raw = \"never\" would send it decrypted",
				"set allow_decrypt = true in replication \""+e.Name+"\" to accept plaintext on the target, or use raw = \"auto\"")
			return false, false
		}
	default:
		raw = src.Encrypted()
	}
	if !raw && src.Encrypted() && src.KeyStatus != "available" {
		p.conflict(plan.ConflictEncryption, e, e.SourceHost, e.SourceDataset, "a decrypted send needs the key, but it is not loaded", "zfs load-key the source, or send raw")
		return false, false
	}
	if tgt != nil && len(tgt.Snapshots) > 0 && src.Encrypted() {
		if raw && !tgt.Encrypted() {
			p.conflict(plan.ConflictEncryption, e, e.TargetHost, e.TargetDataset, "target was received decrypted; a raw send onto it would mix raw and non-raw streams", "keep raw = \"never\" for this edge, or replicate to a new target")
			return false, false
		}
		if !raw && tgt.Encrypted() && tgt.KeyStatus != "available" {
			p.conflict(plan.ConflictEncryption, e, e.TargetHost, e.TargetDataset, "target was received raw; a decrypted send onto it would mix raw and non-raw streams", "use raw = \"auto\" for this edge")
			return false, false
		}
	}
	return raw, true
}

// findBase finds the newest common snapshot of source and target
// (FindBase) and refuses a target that diverged after it (invariant 3).
func (p *planner) findBase(e *desired.Edge, src, tgt *observe.Dataset) (*base, bool) {
	if len(tgt.Snapshots) == 0 {
		p.conflict(plan.ConflictTargetNoSnapshots, e, e.TargetHost, e.TargetDataset, "target exists but has no snapshots; zplan will not overwrite it",
			"destroy or rename the target dataset, or choose another target root")
		return nil, false
	}
	if found, ok := FindBase(src, tgt, e.ID); ok {
		b, t := found.base(), found.Target
		extra := tgt.Snapshots[found.TargetIndex+1:]
		if len(extra) == 0 && tgt.Written == 0 {
			return b, true
		}
		var names []string
		var bytes uint64
		for _, s := range extra {
			names = append(names, "@"+s.Name)
			bytes += s.Used
		}
		what := fmt.Sprintf("%s written since the common snapshot @%s", plan.HumanBytes(int64(tgt.Written)), t.Name)
		if len(extra) > 0 {
			what = fmt.Sprintf("%d snapshot(s) after the common snapshot @%s that the source does not have: %s (%s)", len(extra), t.Name, strings.Join(names, ", "), plan.HumanBytes(int64(bytes)))
			if tgt.Written > 0 {
				what += fmt.Sprintf(", and %s written since", plan.HumanBytes(int64(tgt.Written)))
			}
		}
		if e.OnDivergence != desired.DivergenceRollback {
			p.conflict(plan.ConflictDiverged, e, e.TargetHost, e.TargetDataset, "target diverged: "+what,
				"if that data is not needed, destroy those snapshots or roll the target back on "+e.TargetHost+", or declare on_divergence = \"rollback\" in replication \""+e.Name+"\"")
			return nil, false
		}
		p.rollback(e, tgt, t, extra, "on_divergence = \"rollback\" in replication."+e.Name+": "+what)
		return b, true
	}
	p.conflict(plan.ConflictNoCommonAncestor, e, e.TargetHost, e.TargetDataset,
		fmt.Sprintf("no common snapshot: none of the target's %d snapshots exists on the source (by GUID), nor a bookmark of one", len(tgt.Snapshots)),
		"replicate to a new target dataset, or destroy the target if its data is not needed")
	return nil, false
}

// rollback plans the declared resolution of a diverged target: destroy
// the snapshots the source does not have, then roll back to the common
// snapshot. Every snapshot it destroys is listed in the plan.
func (p *planner) rollback(e *desired.Edge, tgt *observe.Dataset, to *observe.Snapshot, extra []*observe.Snapshot, reason string) {
	k := dsKey{e.TargetHost, e.TargetDataset}
	a := &plan.Action{
		Address: plan.KindRollback.Address(e.TargetHost, e.TargetDataset), Kind: plan.KindRollback,
		Host: e.TargetHost, Dataset: e.TargetDataset, Reason: reason,
		Bookmark:      to.Name, // the snapshot rolled back to
		Preconditions: []plan.Precondition{{Host: e.TargetHost, Kind: plan.PreExists, Object: e.TargetDataset + "@" + to.Name, GUID: to.GUID}},
		// After what the edge does first (an abort of a stale receive).
		DependsOn: append([]string(nil), p.edgeDeps[e]...),
	}
	if p.rolledBack[k] == nil {
		p.rolledBack[k] = map[string]bool{}
	}
	for _, s := range extra {
		a.Snapshots = append(a.Snapshots, plan.SnapRef{Name: s.Name, GUID: s.GUID, Rule: "on_divergence", Reason: "not on the source; destroyed by the declared rollback", Bytes: int64(s.Used)})
		a.Preconditions = append(a.Preconditions, plan.Precondition{Host: e.TargetHost, Kind: plan.PreExists, Object: e.TargetDataset + "@" + s.Name, GUID: s.GUID})
		p.rolledBack[k][s.Name] = true
	}
	// The rollback discards what was written since the target's newest
	// snapshot; the plan showed how much, and may not discard more.
	a.Preconditions = append(a.Preconditions, plan.Precondition{Host: e.TargetHost, Kind: plan.PreWritten, Object: e.TargetDataset, Value: strconv.FormatUint(tgt.Written, 10)})
	p.add(a)
	p.edgeDeps[e] = append(p.edgeDeps[e], a.Address)
}

// resume checks a target's resume token against what the plan would
// send (invariant 6) and plans the resumed send. A token the source can
// no longer send (its snapshot, or the base it starts from, is gone) is
// stale: resume says why, and the edge discards it. Anything else that
// does not match is a conflict: the partial receive may not be zplan's
// stream, and only the user may throw it away.
func (p *planner) resume(e *desired.Edge, src, tgt *observe.Dataset, raw bool) (st step, stale string, ok bool) {
	t := tgt.Token
	if t == nil {
		p.conflict(plan.ConflictResumeToken, e, e.TargetHost, e.TargetDataset, "interrupted receive with a resume token zfs could not decode: "+tgt.TokenErr,
			fmt.Sprintf("discard it with `zfs recv -A %s` on %s", e.TargetDataset, e.TargetHost))
		return step{}, "", false
	}
	mismatch := func(why string) (step, string, bool) {
		p.conflict(plan.ConflictResumeToken, e, e.TargetHost, e.TargetDataset, "interrupted receive is not the stream this plan would send: "+why,
			fmt.Sprintf("discard it with `zfs recv -A %s` on %s", e.TargetDataset, e.TargetHost))
		return step{}, "", false
	}
	ds, _, _ := strings.Cut(t.ToName, "@")
	if ds != e.SourceDataset {
		return mismatch(fmt.Sprintf("token sends %s, the edge's source is %s", t.ToName, e.SourceDataset))
	}
	if t.Raw != raw {
		return mismatch(fmt.Sprintf("token raw=%v, the plan sends raw=%v", t.Raw, raw))
	}
	if t.Redacted {
		return mismatch("token resumes a redacted send, which zplan never makes")
	}
	if t.FromGUID == 0 && len(tgt.Snapshots) > 0 {
		return mismatch("token resumes a full send, but the target already has snapshots")
	}
	var newest *observe.Snapshot
	if t.FromGUID != 0 {
		if newest = tgt.Newest(); newest == nil || newest.GUID != t.FromGUID {
			return mismatch("token's from-snapshot is not the target's newest snapshot")
		}
	}
	to := src.SnapshotByGUID(t.ToGUID)
	if to == nil {
		return step{}, fmt.Sprintf("the source no longer has the snapshot it sends (%s, guid %d)", t.ToName, t.ToGUID), true
	}
	st = step{kind: plan.KindSendResume, to: cand{name: to.Name, guid: to.GUID, txg: to.CreateTXG}, token: tgt.ResumeToken}
	if t.FromGUID == 0 {
		st.est = int64(to.Referenced) - int64(t.Bytes)
	} else {
		fromName, fromTXG, ok := SourceVersion(src, e.ID, t.FromGUID)
		if !ok {
			return step{}, fmt.Sprintf("the source has neither the snapshot it sends from (guid %d, @%s on the target) nor a bookmark of it", t.FromGUID, newest.Name), true
		}
		from := &base{from: fromName, guid: t.FromGUID, txg: fromTXG, targetName: newest.Name}
		if to.CreateTXG <= from.txg {
			return mismatch("token's to-snapshot is not newer than its from-snapshot")
		}
		st.from = from
		st.est = p.estimate(src, from, st.to) - int64(t.Bytes)
	}
	if st.est < 0 {
		st.est = 0
	}
	return st, "", true
}

// abortResume is the action that discards a stale interrupted receive
// on e's target (zfs recv -A). It asserts the very token the plan saw:
// a receive started since may be resumable and is not discarded.
func (p *planner) abortResume(e *desired.Edge, tgt *observe.Dataset, why string) *plan.Action {
	return &plan.Action{
		Address: plan.KindAbortResume.Address(e.TargetHost, e.TargetDataset), Kind: plan.KindAbortResume,
		Host: e.TargetHost, Dataset: e.TargetDataset,
		Reason: fmt.Sprintf("replication %s: the interrupted receive can never finish: %s; discard it and send again", e.ID, why),
		Preconditions: []plan.Precondition{
			{Host: e.TargetHost, Kind: plan.PreResumeToken, Object: e.TargetDataset, Value: tgt.ResumeToken},
		},
	}
}

// releaseStaleStepHolds plans releasing step holds of this edge that no
// send is in flight for; it returns the actions' addresses.
func (p *planner) releaseStaleStepHolds(e *desired.Edge, src *observe.Dataset, keepFrom, keepTo string) []string {
	tag := plan.StepTag(e.ID)
	var refs []plan.SnapRef
	for _, s := range src.Snapshots {
		if s.HasHold(tag) && "@"+s.Name != keepFrom && "@"+s.Name != keepTo {
			refs = append(refs, plan.SnapRef{Name: s.Name, GUID: s.GUID})
		}
	}
	if len(refs) == 0 {
		return nil
	}
	a := p.add(&plan.Action{
		Address: plan.KindRelease.Address(e.SourceHost, e.SourceDataset+"@"+tag), Kind: plan.KindRelease,
		Host: e.SourceHost, Dataset: e.SourceDataset, Tag: tag, Snapshots: refs,
		Reason: fmt.Sprintf("stale step hold of replication %s: no send is in flight", e.ID),
	})
	for _, r := range refs {
		p.willRelease(dsKey{e.SourceHost, e.SourceDataset}, r.Name, tag, a.Address)
	}
	return []string{a.Address}
}

// bookkeeping repairs the cursor and last-received hold of an edge that
// is in sync: after a crash between a receive and its bookkeeping, or
// when an older zplan run left extra cursors or holds.
func (p *planner) bookkeeping(e *desired.Edge, src, tgt *observe.Dataset, b *base) {
	cursor := plan.CursorName(e.ID, b.guid)
	var deps []string
	if !hasBookmark(src, cursor) && strings.HasPrefix(b.from, "@") {
		a := p.add(&plan.Action{
			Address: plan.KindBookmark.Address(e.SourceHost, e.SourceDataset+"#"+cursor), Kind: plan.KindBookmark,
			Host: e.SourceHost, Dataset: e.SourceDataset, Bookmark: cursor,
			Snapshots: []plan.SnapRef{{Name: b.from[1:], GUID: b.guid}},
			Reason:    fmt.Sprintf("replication cursor of %s: marks @%s, the newest snapshot %s:%s has", e.ID, b.from[1:], e.TargetHost, e.TargetDataset),
			Preconditions: []plan.Precondition{
				{Host: e.SourceHost, Kind: plan.PreExists, Object: e.SourceDataset + b.from, GUID: b.guid},
				{Host: e.SourceHost, Kind: plan.PreAbsent, Object: e.SourceDataset + "#" + cursor},
			},
		})
		deps = append(deps, a.Address)
	}
	for _, name := range edgeCursors(src, e.ID) {
		if name == cursor || "#"+name == b.from {
			continue
		}
		p.add(&plan.Action{
			Address: plan.KindDestroyBookmark.Address(e.SourceHost, e.SourceDataset+"#"+name), Kind: plan.KindDestroyBookmark,
			Host: e.SourceHost, Dataset: e.SourceDataset, Bookmark: name,
			Reason:    fmt.Sprintf("old replication cursor of %s; the cursor now marks @%s", e.ID, strings.TrimLeft(b.from, "@#")),
			DependsOn: deps,
			// The old cursor goes only while the base that replaces it is
			// on both hosts: else it may be the only way to send again.
			Preconditions: []plan.Precondition{
				{Host: e.SourceHost, Kind: plan.PreExists, Object: e.SourceDataset + "#" + name},
				{Host: e.SourceHost, Kind: plan.PreExists, Object: e.SourceDataset + b.from, GUID: b.guid},
				{Host: e.TargetHost, Kind: plan.PreExists, Object: e.TargetDataset + "@" + b.targetName, GUID: b.guid},
			},
		})
	}
	tag := plan.LastTag(e.ID)
	var holdDeps []string
	newest := tgt.SnapshotByName(b.targetName)
	if newest != nil && !newest.HasHold(tag) {
		a := p.add(&plan.Action{
			Address: plan.KindHold.Address(e.TargetHost, e.TargetDataset+"@"+tag), Kind: plan.KindHold,
			Host: e.TargetHost, Dataset: e.TargetDataset, Tag: tag,
			Snapshots:     []plan.SnapRef{{Name: newest.Name, GUID: newest.GUID}},
			Reason:        fmt.Sprintf("last received snapshot of replication %s must stay until the next one arrives", e.ID),
			Preconditions: []plan.Precondition{{Host: e.TargetHost, Kind: plan.PreExists, Object: e.TargetDataset + "@" + newest.Name, GUID: newest.GUID}},
		})
		holdDeps = append(holdDeps, a.Address)
	}
	var old []plan.SnapRef
	for _, s := range tgt.Snapshots {
		if s.HasHold(tag) && s.Name != b.targetName {
			old = append(old, plan.SnapRef{Name: s.Name, GUID: s.GUID})
		}
	}
	if len(old) > 0 {
		a := p.add(&plan.Action{
			Address: plan.KindRelease.Address(e.TargetHost, e.TargetDataset+"@"+tag), Kind: plan.KindRelease,
			Host: e.TargetHost, Dataset: e.TargetDataset, Tag: tag, Snapshots: old,
			Reason:    fmt.Sprintf("no longer the last received snapshot of replication %s", e.ID),
			DependsOn: holdDeps,
		})
		for _, r := range old {
			p.willRelease(dsKey{e.TargetHost, e.TargetDataset}, r.Name, tag, a.Address)
		}
	}
}

func hasBookmark(d *observe.Dataset, name string) bool {
	for _, b := range d.Bookmarks {
		if b.Name == name {
			return true
		}
	}
	return false
}

// edgeCursors lists the cursor bookmarks of edge on d, oldest first.
func edgeCursors(d *observe.Dataset, edge string) []string {
	var out []string
	for _, b := range d.Bookmarks {
		if id, _, ok := plan.ParseCursor(b.Name); ok && id == edge {
			out = append(out, b.Name)
		}
	}
	return out
}

// ensureParents plans placeholders for the missing parents of a new
// target dataset, or depends on the sends that create them.
func (p *planner) ensureParents(e *desired.Edge) ([]string, bool) {
	h := p.st.Hosts[e.TargetHost]
	parts := strings.Split(e.TargetDataset, "/")
	for i := 1; i < len(parts); i++ {
		if why, odd := h.Unreadable[strings.Join(parts[:i], "/")]; odd {
			p.conflict(plan.ConflictSetAside, e, e.TargetHost, e.TargetDataset, "a parent of the target dataset is set aside: "+why, "")
			return nil, false
		}
	}
	if _, ok := h.Datasets[parts[0]]; !ok {
		p.conflict(plan.ConflictNoTargetPool, e, e.TargetHost, e.TargetDataset, fmt.Sprintf("target pool %s does not exist on %s", parts[0], e.TargetHost), "create the pool, or fix the target root")
		return nil, false
	}
	var dep string
	for i := 2; i < len(parts); i++ {
		name := strings.Join(parts[:i], "/")
		if _, ok := h.Datasets[name]; ok {
			continue
		}
		k := dsKey{e.TargetHost, name}
		if a := p.firstSend[k]; a != "" {
			dep = a
			continue
		}
		a := p.add(&plan.Action{
			Address: plan.KindCreatePlaceholder.Address(e.TargetHost, name), Kind: plan.KindCreatePlaceholder,
			Host: e.TargetHost, Dataset: name,
			Reason:        fmt.Sprintf("parent of %s, which replication %s creates; unmounted, marked with the %s property", e.TargetDataset, e.ID, zfs.PropPlaceholder),
			Preconditions: []plan.Precondition{{Host: e.TargetHost, Kind: plan.PreAbsent, Object: name}},
		})
		if dep != "" && !contains(a.DependsOn, dep) {
			a.DependsOn = append(a.DependsOn, dep)
		}
		dep = a.Address
	}
	if dep == "" {
		return nil, true
	}
	return []string{dep}, true
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// emitSends turns steps into send actions chained by dependencies, with
// the bookkeeping each one does after it succeeds.
func (p *planner) emitSends(e *desired.Edge, src, tgt *observe.Dataset, raw bool, steps []step, deps []string) {
	srcKey, tgtKey := dsKey{e.SourceHost, e.SourceDataset}, dsKey{e.TargetHost, e.TargetDataset}
	flags := sendFlags(e, raw)
	oldCursors := edgeCursors(src, e.ID)
	var oldLast []string
	if tgt != nil {
		for _, s := range tgt.Snapshots {
			if s.HasHold(plan.LastTag(e.ID)) {
				oldLast = append(oldLast, s.Name)
			}
		}
	}
	prev := ""
	for i, st := range steps {
		s := &plan.Send{
			Edge: e.ID, SourceHost: e.SourceHost, SourceDataset: e.SourceDataset,
			To: st.to.name, ToGUID: st.to.guid, Token: st.token,
			TargetHost: e.TargetHost, TargetDataset: e.TargetDataset, Flags: flags,
			StepTag: plan.StepTag(e.ID), LastTag: plan.LastTag(e.ID),
			OldCursors: oldCursors, OldLast: oldLast, Decrypt: !raw && src.Encrypted(),
			Receive: e.ReceiveFor(src.Type),
		}
		if st.to.guid != 0 {
			s.Cursor = plan.CursorName(e.ID, st.to.guid)
		}
		a := &plan.Action{
			Address: st.kind.Address(e.ID, e.SourceDataset+"@"+st.to.name), Kind: st.kind,
			Host: e.SourceHost, Dataset: e.SourceDataset, Send: s, Estimate: st.est,
		}
		pre := []plan.Precondition{{Host: e.SourceHost, Kind: plan.PreExists, Object: e.SourceDataset + "@" + st.to.name, GUID: st.to.guid}}
		switch {
		case st.kind == plan.KindSendResume:
			a.Reason = fmt.Sprintf("replication.%s: resume the interrupted receive into %s:%s", e.Name, e.TargetHost, e.TargetDataset)
			pre = append(pre, plan.Precondition{Host: e.TargetHost, Kind: plan.PreResumeToken, Object: e.TargetDataset, Value: st.token})
		case st.from == nil:
			a.Reason = fmt.Sprintf("replication.%s: %s:%s does not exist (initial = %q)", e.Name, e.TargetHost, e.TargetDataset, e.Initial)
			pre = append(pre, plan.Precondition{Host: e.TargetHost, Kind: plan.PreAbsent, Object: e.TargetDataset})
			p.firstSend[tgtKey] = a.Address
		default:
			a.Reason = fmt.Sprintf("replication.%s: %s:%s lacks @%s", e.Name, e.TargetHost, e.TargetDataset, st.to.name)
			pre = append(pre, plan.Precondition{Host: e.TargetHost, Kind: plan.PreExists, Object: e.TargetDataset + "@" + st.from.targetName, GUID: st.from.guid})
			if i == 0 {
				pre = append(pre, plan.Precondition{Host: e.TargetHost, Kind: plan.PreResumeToken, Object: e.TargetDataset})
			}
		}
		if st.from != nil {
			s.From, s.FromGUID = st.from.from, st.from.guid
			pre = append(pre, plan.Precondition{Host: e.SourceHost, Kind: plan.PreExists, Object: e.SourceDataset + st.from.from, GUID: st.from.guid})
		}
		a.Preconditions = pre
		if prev != "" {
			a.DependsOn = append(a.DependsOn, prev)
		} else {
			a.DependsOn = append(a.DependsOn, deps...)
		}
		if st.to.virtual != nil {
			a.DependsOn = append(a.DependsOn, st.to.virtual.address)
		}
		sort.Strings(a.DependsOn)
		p.add(a)
		for _, old := range s.OldLast {
			if old != s.To {
				p.willRelease(tgtKey, old, s.LastTag, a.Address)
			}
		}
		p.sendsFrom[srcKey] = append(p.sendsFrom[srcKey], a.Address)
		p.sendsInto[tgtKey] = append(p.sendsInto[tgtKey], a.Address)
		created := p.now
		if s := src.SnapshotByGUID(st.to.guid); s != nil {
			created = SnapTime(s, e.Prefix)
		}
		p.incoming[tgtKey] = append(p.incoming[tgtKey], desired.Snap{Name: st.to.name, Created: created, CreateTXG: ^uint64(0) - uint64(len(steps)-i)})
		prev = a.Address
		// The next step's bookkeeping replaces what this one leaves.
		oldCursors, oldLast = nil, []string{st.to.name}
		if s.Cursor != "" {
			oldCursors = []string{s.Cursor}
		}
	}
}

// sendFlags are the zfs send flags of an edge.
func sendFlags(e *desired.Edge, raw bool) []string {
	return zfs.SendOptions{
		Raw: raw, LargeBlocks: e.Send.LargeBlocks, Compressed: e.Send.Compressed,
		Embedded: e.Send.Embedded, Properties: e.Send.Properties,
	}.Flags()
}
