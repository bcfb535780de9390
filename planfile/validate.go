package planfile

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/zfs"
)

// Rule names one check of Validate; a refusal says which rule an action
// breaks.
type Rule string

const (
	RuleStructure    Rule = "structure"    // a field the action needs is missing or does not fit its kind
	RuleGraph        Rule = "graph"        // duplicate address, unknown depends_on, dependency cycle
	RuleKind         Rule = "kind"         // not a kind of action zplan plans
	RuleAddress      Rule = "address"      // not the address zplan gives this action
	RuleHost         Rule = "host"         // a host no block of the configuration works on
	RuleManaged      Rule = "managed"      // a dataset the configuration does not manage this way on that host
	RulePrefix       Rule = "prefix"       // a snapshot name the policy's prefix does not cover
	RuleUnsafeName   Rule = "unsafe_name"  // a name zfs destroy would read as a range or a list
	RuleEdge         Rule = "edge"         // a send that is not one of the edge's
	RuleFlags        Rule = "flags"        // zfs send flags other than the edge's
	RuleNames        Rule = "names"        // a hold tag, cursor or bookmark not of zplan's forms for that edge
	RuleRollback     Rule = "rollback"     // a rollback the edge does not declare (on_divergence)
	RuleAbortResume  Rule = "abort_resume" // zfs recv -A on a dataset that is not an edge target
	RuleProperties   Rule = "properties"   // receive or set properties other than the edge's
	RulePrecondition Rule = "precondition" // a precondition on another host, or of an unknown kind
	RuleHooks        Rule = "hooks"        // hook commands other than exactly those the snapshots blocks declare
)

// Violation is one action the configuration could not have produced.
type Violation struct {
	Address string
	Rule    Rule
	Detail  string
}

func (v *Violation) Error() string {
	return fmt.Sprintf("%s: %s (rule %s)", v.Address, v.Detail, v.Rule)
}

type key struct{ host, dataset string }

// index is the policy looked up by host and dataset.
type index struct {
	rules    []*desired.SnapshotRule
	hosts    map[string]bool
	snap     map[key][]*desired.SnapshotRule
	ret      map[key][]*desired.RetentionRule
	bySource map[key][]*desired.Edge
	byTarget map[key][]*desired.Edge
	parents  map[key]bool // parents of edge targets a placeholder may create
	// orphans and replications: what releases of orphans may name.
	orphans      hclspec.Orphans
	replications map[string]bool
	inScope      func(host, dataset string) bool // Policy.InScope
}

func newIndex(pol *desired.Policy) *index {
	ix := &index{rules: pol.Snapshots, hosts: map[string]bool{}, snap: map[key][]*desired.SnapshotRule{}, ret: map[key][]*desired.RetentionRule{},
		bySource: map[key][]*desired.Edge{}, byTarget: map[key][]*desired.Edge{}, parents: map[key]bool{},
		orphans: pol.Orphans, replications: pol.Replications, inScope: pol.InScope}
	for _, r := range pol.Snapshots {
		ix.hosts[r.Host] = true
		ix.snap[key{r.Host, r.Dataset}] = append(ix.snap[key{r.Host, r.Dataset}], r)
	}
	for _, r := range pol.Retention {
		ix.hosts[r.Host] = true
		ix.ret[key{r.Host, r.Dataset}] = append(ix.ret[key{r.Host, r.Dataset}], r)
	}
	for _, e := range pol.Edges {
		ix.hosts[e.SourceHost], ix.hosts[e.TargetHost] = true, true
		ix.bySource[key{e.SourceHost, e.SourceDataset}] = append(ix.bySource[key{e.SourceHost, e.SourceDataset}], e)
		ix.byTarget[key{e.TargetHost, e.TargetDataset}] = append(ix.byTarget[key{e.TargetHost, e.TargetDataset}], e)
		// diff creates placeholders for the missing parents below the pool.
		parts := strings.Split(e.TargetDataset, "/")
		for i := 2; i < len(parts); i++ {
			ix.parents[key{e.TargetHost, strings.Join(parts[:i], "/")}] = true
		}
	}
	return ix
}

// Validate returns every way p's actions differ from what a plan of the
// configuration behind pol can contain: a saved plan file is input, and
// apply must not run an action a file was edited to contain (another
// dataset, another target, other send flags, a destroy of snapshots no
// policy manages). It checks forms, not the hosts: preconditions, checked
// at apply time, cover the hosts' state. It never panics on any plan.
func Validate(p *plan.Plan, pol *desired.Policy) []error {
	if p == nil {
		return []error{&Violation{Address: "plan", Rule: RuleStructure, Detail: "no plan"}}
	}
	if pol == nil {
		pol = &desired.Policy{}
	}
	ix := newIndex(pol)
	var errs []error
	for _, err := range p.CheckGraph() {
		errs = append(errs, &Violation{Address: "plan", Rule: RuleGraph, Detail: err.Error()})
	}
	for _, a := range p.Actions {
		if a == nil {
			continue // CheckGraph reported it
		}
		v := &validator{p: p, a: a, ix: ix}
		v.action()
		errs = append(errs, v.errs...)
	}
	return errs
}

type validator struct {
	p    *plan.Plan
	a    *plan.Action
	ix   *index
	errs []error
}

func (v *validator) bad(rule Rule, format string, args ...any) {
	v.errs = append(v.errs, &Violation{Address: v.a.Address, Rule: rule, Detail: fmt.Sprintf(format, args...)})
}

func poolOf(ds string) string {
	p, _, _ := strings.Cut(ds, "/")
	return p
}

// destroySafe: zfs destroy reads fs@a%b as a range and fs@a,b as a list.
func destroySafe(name string) bool { return name != "" && zfs.DestroySafe(name) }

// validName is a snapshot or bookmark name (after '@' or '#') that
// cannot name another object or be read as an option.
func validName(name string) bool {
	return name != "" && !strings.ContainsAny(name, "@#/\x00\n\t") && !strings.HasPrefix(name, "-")
}

func (v *validator) action() {
	a := v.a
	if !a.Kind.Known() {
		v.bad(RuleKind, "kind %q is not an action zplan plans", a.Kind)
		return
	}
	if err := a.CheckShape(); err != nil {
		v.bad(RuleStructure, "%v", err)
		return
	}
	if !v.ix.hosts[a.Host] {
		v.bad(RuleHost, "host %q is not a host any snapshots or replication block of the configuration works on", a.Host)
		return
	}
	if strings.HasPrefix(a.Dataset, "-") || strings.ContainsAny(a.Dataset, "@#\x00\n") {
		v.bad(RuleStructure, "%q is not a dataset name", a.Dataset)
		return
	}
	for _, pc := range a.Preconditions {
		if pc.Host != a.Host && (a.Send == nil || pc.Host != a.Send.TargetHost) && !v.edgeBase(pc) {
			v.bad(RulePrecondition, "precondition on host %q, which the action does not work on", pc.Host)
		}
		switch pc.Kind {
		case plan.PreExists, plan.PreAbsent, plan.PreResumeToken, plan.PreWritten:
		default:
			v.bad(RulePrecondition, "unknown precondition kind %q", pc.Kind)
		}
	}
	k := key{a.Host, a.Dataset}
	switch a.Kind {
	case plan.KindSnapshot:
		v.snapshot()
	case plan.KindDestroy:
		v.wantAddress(plan.KindDestroy.Address(a.Host, a.Dataset))
		rules := v.ix.ret[k]
		if len(rules) == 0 {
			v.bad(RuleManaged, "%s:%s is not a dataset any retention of the configuration applies to", a.Host, a.Dataset)
			return
		}
		v.destroyable(rules, a.Snapshots)
	case plan.KindDestroyBookmark:
		v.wantAddress(plan.KindDestroyBookmark.Address(a.Host, a.Dataset+"#"+a.Bookmark))
		if !destroySafe(a.Bookmark) {
			v.bad(RuleUnsafeName, "bookmark %q contains '%%' or ','", a.Bookmark)
		}
		if id, guid, ok := plan.ParseCursor(a.Bookmark); ok && plan.CursorName(id, guid) == a.Bookmark && v.orphan(id) {
			return
		}
		v.cursorOf(v.ix.bySource[k], a.Bookmark)
	case plan.KindHold, plan.KindRelease:
		v.wantAddress(a.Kind.Address(a.Host, a.Dataset+"@"+a.Tag))
		if id, ok := plan.ParseEdgeTag(a.Tag); ok && a.Kind == plan.KindRelease && v.orphan(id) {
			v.names(a.Snapshots)
			return
		}
		v.holdTag()
		v.names(a.Snapshots)
	case plan.KindBookmark:
		v.wantAddress(plan.KindBookmark.Address(a.Host, a.Dataset+"#"+a.Bookmark))
		edges := v.ix.bySource[k]
		if len(edges) == 0 {
			v.bad(RuleManaged, "%s:%s is not the source of any replication edge", a.Host, a.Dataset)
			return
		}
		v.names(a.Snapshots)
		ok := false
		for _, e := range edges {
			ok = ok || a.Bookmark == plan.CursorName(e.ID, a.Snapshots[0].GUID)
		}
		if !ok || a.Snapshots[0].GUID == 0 {
			v.bad(RuleNames, "bookmark %q is not the replication cursor of an edge of %s:%s for guid %d", a.Bookmark, a.Host, a.Dataset, a.Snapshots[0].GUID)
		}
	case plan.KindRollback:
		v.wantAddress(plan.KindRollback.Address(a.Host, a.Dataset))
		edges := v.ix.byTarget[k]
		if len(edges) == 0 {
			v.bad(RuleManaged, "%s:%s is not the target of any replication edge", a.Host, a.Dataset)
			return
		}
		declared := false
		for _, e := range edges {
			declared = declared || e.OnDivergence == desired.DivergenceRollback
		}
		if !declared {
			v.bad(RuleRollback, "no replication into %s:%s declares on_divergence = \"rollback\"", a.Host, a.Dataset)
		}
		if !validName(a.Bookmark) {
			v.bad(RuleNames, "rollback to %q: not a snapshot name", a.Bookmark)
		}
		for _, s := range a.Snapshots {
			if !destroySafe(s.Name) || !validName(s.Name) {
				v.bad(RuleUnsafeName, "snapshot %q: zfs destroy would read it as a range or a list, or it is not a snapshot name", s.Name)
			}
		}
	case plan.KindAbortResume:
		v.wantAddress(plan.KindAbortResume.Address(a.Host, a.Dataset))
		if len(v.ix.byTarget[k]) == 0 {
			v.bad(RuleAbortResume, "%s:%s is not the target of any replication edge; zplan discards partial receives only there", a.Host, a.Dataset)
		}
	case plan.KindCreatePlaceholder:
		v.wantAddress(plan.KindCreatePlaceholder.Address(a.Host, a.Dataset))
		if !v.ix.parents[k] {
			v.bad(RuleManaged, "%s:%s is not a parent of any replication target below its pool", a.Host, a.Dataset)
		}
	case plan.KindSetProperties:
		v.wantAddress(plan.KindSetProperties.Address(a.Host, a.Dataset))
		edges := v.ix.byTarget[k]
		if len(edges) == 0 {
			v.bad(RuleManaged, "%s:%s is not the target of any replication edge", a.Host, a.Dataset)
			return
		}
		for p, val := range a.Properties {
			ok := slices.Contains(diff.ObservedReceiveProps, p)
			for _, e := range edges {
				ok = ok && e.Receive.Set[p] == val
			}
			if !ok {
				v.bad(RuleProperties, "sets %s=%q, which no receive block into %s:%s declares", p, val, a.Host, a.Dataset)
			}
		}
	case plan.KindSendFull, plan.KindSendIncremental, plan.KindSendResume:
		v.send()
	}
}

// edgeBase reports whether pc, on another host than a destroy's (of
// snapshots or of an old cursor), asserts a snapshot or bookmark of the
// other end of one of the dataset's edges: the common base diff asserts
// before destroying (and nothing else).
func (v *validator) edgeBase(pc plan.Precondition) bool {
	a := v.a
	if (a.Kind != plan.KindDestroy && a.Kind != plan.KindDestroyBookmark) || pc.Kind != plan.PreExists {
		return false
	}
	i := strings.IndexAny(pc.Object, "@#")
	if i < 0 {
		return false
	}
	ds := pc.Object[:i]
	k := key{a.Host, a.Dataset}
	for _, e := range v.ix.bySource[k] {
		if pc.Host == e.TargetHost && ds == e.TargetDataset {
			return true
		}
	}
	for _, e := range v.ix.byTarget[k] {
		if pc.Host == e.SourceHost && ds == e.SourceDataset {
			return true
		}
	}
	return false
}

func (v *validator) wantAddress(want string) {
	if v.a.Address != want {
		v.bad(RuleAddress, "zplan gives this action the address %s", want)
	}
}

// snapshot: one pool, datasets some snapshots block manages, and the
// name its prefix and the plan time give.
func (v *validator) snapshot() {
	a := v.a
	name := a.Snapshots[0].Name
	v.wantAddress(plan.KindSnapshot.Address(a.Host, a.Dataset+"@"+name))
	if strings.Contains(a.Dataset, "/") {
		v.bad(RuleStructure, "a snapshot action names the pool, not %s", a.Dataset)
	}
	stamp := v.p.Time.UTC().Format(diff.SnapshotTimeFormat)
	for _, d := range a.Datasets {
		rules := v.ix.snap[key{a.Host, d}]
		switch {
		case poolOf(d) != a.Dataset:
			v.bad(RuleStructure, "dataset %s is not in pool %s", d, a.Dataset)
		case len(rules) == 0:
			v.bad(RuleManaged, "%s:%s is not a dataset any snapshots block of the configuration manages", a.Host, d)
		case !slices.ContainsFunc(rules, func(r *desired.SnapshotRule) bool { return name == r.Prefix+stamp }):
			v.bad(RulePrefix, "snapshot name %q is not the prefix of a snapshots block of %s:%s followed by the plan time %s", name, a.Host, d, stamp)
		}
	}
	v.hooks(name, stamp)
}

// hooks: a saved plan runs no command the configuration does not
// declare, and drops none it does: the action's hooks must be exactly
// those the planner gives it.
func (v *validator) hooks(name, stamp string) {
	a := v.a
	want := desired.SnapshotHooks(v.ix.rules, a.Host, name, stamp, a.Datasets)
	if slices.EqualFunc(a.Hooks, want, plan.Hook.Equal) {
		return
	}
	show := func(h plan.Hook) string {
		return fmt.Sprintf("snapshots.%s hook %s: pre [%s], post [%s], timeout %s, on_pre_failure %s, datasets [%s]", h.Policy, h.Name,
			plan.ArgvString(h.Pre), plan.ArgvString(h.Post), h.Timeout, h.OnPreFailure, strings.Join(h.Datasets, ", "))
	}
	// Say where the first difference is: the whole lists are long.
	for i := 0; ; i++ {
		switch {
		case i >= len(want):
			v.bad(RuleHooks, "hook %d (%s) is not one the configuration declares for these datasets", i+1, show(a.Hooks[i]))
		case i >= len(a.Hooks):
			v.bad(RuleHooks, "the configuration's hook %s is missing", show(want[i]))
		case !a.Hooks[i].Equal(want[i]):
			v.bad(RuleHooks, "hook %d is %s, but the configuration's is %s", i+1, show(a.Hooks[i]), show(want[i]))
		default:
			continue
		}
		return
	}
}

// destroyable: names zfs destroy reads as one snapshot each, carrying
// the prefix of a retention rule of the dataset unless one adopts
// foreign snapshots.
func (v *validator) destroyable(rules []*desired.RetentionRule, snaps []plan.SnapRef) {
	adopt := slices.ContainsFunc(rules, func(r *desired.RetentionRule) bool { return r.AdoptForeign })
	for _, s := range snaps {
		switch {
		case !destroySafe(s.Name):
			v.bad(RuleUnsafeName, "snapshot %q: zfs destroy would read it as a range or a list", s.Name)
		case !validName(s.Name):
			v.bad(RuleNames, "%q is not a snapshot name", s.Name)
		case !adopt && !slices.ContainsFunc(rules, func(r *desired.RetentionRule) bool { return strings.HasPrefix(s.Name, r.Prefix) }):
			v.bad(RulePrefix, "snapshot %q does not carry the prefix of a retention rule of %s:%s, and none adopts foreign snapshots", s.Name, v.a.Host, v.a.Dataset)
		}
	}
}

func (v *validator) names(snaps []plan.SnapRef) {
	for _, s := range snaps {
		if !validName(s.Name) {
			v.bad(RuleNames, "%q is not a snapshot name", s.Name)
		}
	}
}

// cursorOf: name is the replication cursor of one of edges.
func (v *validator) cursorOf(edges []*desired.Edge, name string) {
	a := v.a
	if len(edges) == 0 {
		v.bad(RuleManaged, "%s:%s is not the source of any replication edge", a.Host, a.Dataset)
		return
	}
	id, guid, ok := plan.ParseCursor(name)
	if !ok || !slices.ContainsFunc(edges, func(e *desired.Edge) bool { return e.ID == id }) || plan.CursorName(id, guid) != name {
		v.bad(RuleNames, "bookmark %q is not a replication cursor of an edge of %s:%s", name, a.Host, a.Dataset)
	}
}

// orphan: the configuration declares orphans = "release" and id, from
// a name of zplan's form, is an orphan's on the action's dataset: not a
// configured replication id, or one whose edges do not name the dataset.
func (v *validator) orphan(id string) bool {
	a := v.a
	if v.ix.orphans != hclspec.OrphansRelease || !plan.PlausibleEdge(id) || !v.ix.inScope(a.Host, a.Dataset) {
		return false
	}
	if _, configured := v.ix.replications[id]; !configured {
		return true
	}
	k := key{a.Host, a.Dataset}
	owns := func(e *desired.Edge) bool { return e.ID == id }
	return !slices.ContainsFunc(v.ix.bySource[k], owns) && !slices.ContainsFunc(v.ix.byTarget[k], owns)
}

// holdTag: the last-received tag on an edge's target, or (release only)
// the step tag on an edge's source.
func (v *validator) holdTag() {
	a := v.a
	k := key{a.Host, a.Dataset}
	src, tgt := v.ix.bySource[k], v.ix.byTarget[k]
	if len(src) == 0 && len(tgt) == 0 {
		v.bad(RuleManaged, "%s:%s is neither source nor target of any replication edge", a.Host, a.Dataset)
		return
	}
	for _, e := range tgt {
		if a.Tag == plan.LastTag(e.ID) {
			return
		}
	}
	if a.Kind == plan.KindRelease {
		for _, e := range src {
			if a.Tag == plan.StepTag(e.ID) {
				return
			}
		}
	}
	v.bad(RuleNames, "hold tag %q is not one zplan %ss on %s:%s", a.Tag, a.Kind, a.Host, a.Dataset)
}

// sendFlags are the flags an edge may send with: its options, with -w
// as raw says; raw = "auto" decides by the source's encryption, which
// only the hosts know, so both forms pass here.
func sendFlags(e *desired.Edge) [][]string {
	o := zfs.SendOptions{LargeBlocks: e.Send.LargeBlocks, Compressed: e.Send.Compressed,
		Embedded: e.Send.Embedded, Properties: e.Send.Properties}
	plain := o.Flags()
	o.Raw = true
	raw := o.Flags()
	switch e.Raw {
	case desired.RawAlways:
		return [][]string{raw}
	case desired.RawNever:
		return [][]string{plain}
	}
	return [][]string{plain, raw}
}

func (v *validator) send() {
	a, s := v.a, v.a.Send
	if a.Host != s.SourceHost || a.Dataset != s.SourceDataset {
		v.bad(RuleEdge, "the action works on %s:%s but sends from %s:%s", a.Host, a.Dataset, s.SourceHost, s.SourceDataset)
		return
	}
	var e *desired.Edge
	for _, c := range v.ix.bySource[key{s.SourceHost, s.SourceDataset}] {
		if c.ID == s.Edge {
			e = c
		}
	}
	if e == nil {
		v.bad(RuleEdge, "no replication edge %q sends %s:%s", s.Edge, s.SourceHost, s.SourceDataset)
		return
	}
	v.wantAddress(plan.KindSendFull.Address(e.ID, s.SourceDataset+"@"+s.To))
	if s.TargetHost != e.TargetHost || s.TargetDataset != e.TargetDataset {
		v.bad(RuleEdge, "sends to %s:%s, but edge %s's target is %s:%s", s.TargetHost, s.TargetDataset, e.ID, e.TargetHost, e.TargetDataset)
	}
	if !slices.ContainsFunc(sendFlags(e), func(f []string) bool { return slices.Equal(f, s.Flags) }) {
		v.bad(RuleFlags, "send flags %q are not edge %s's (%q)", s.Flags, e.ID, sendFlags(e))
	}
	if !reflect.DeepEqual(s.Receive, e.ReceiveFor(zfs.Filesystem)) && !reflect.DeepEqual(s.Receive, e.ReceiveFor(zfs.Volume)) {
		v.bad(RuleProperties, "receives with properties %+v, edge %s's target receive block gives %+v", s.Receive, e.ID, e.ReceiveFor(zfs.Filesystem))
	}
	if s.Decrypt && !(e.Raw == desired.RawNever && e.AllowDecrypt) {
		v.bad(RuleFlags, "sends decrypted, but edge %s does not declare raw = \"never\" with allow_decrypt = true", e.ID)
	}
	switch {
	case !validName(s.To) || !destroySafe(s.To):
		v.bad(RuleNames, "%q is not a snapshot name zplan sends", s.To)
	case !strings.HasPrefix(s.To, e.Prefix):
		v.bad(RulePrefix, "snapshot %q does not carry the prefix %q edge %s sends", s.To, e.Prefix, e.ID)
	}
	if s.From != "" && (len(s.From) < 2 || (s.From[0] != '@' && s.From[0] != '#') || !validName(s.From[1:])) {
		v.bad(RuleNames, "from %q is not @snapshot or #bookmark", s.From)
	}
	if s.StepTag != plan.StepTag(e.ID) || s.LastTag != plan.LastTag(e.ID) {
		v.bad(RuleNames, "hold tags %q and %q are not edge %s's", s.StepTag, s.LastTag, e.ID)
	}
	if (s.ToGUID == 0 && s.Cursor != "") || (s.ToGUID != 0 && s.Cursor != plan.CursorName(e.ID, s.ToGUID)) {
		v.bad(RuleNames, "cursor %q is not edge %s's cursor for guid %d", s.Cursor, e.ID, s.ToGUID)
	}
	for _, c := range s.OldCursors {
		id, guid, ok := plan.ParseCursor(c)
		if !destroySafe(c) {
			v.bad(RuleUnsafeName, "old cursor %q contains '%%' or ','", c)
		} else if !ok || id != e.ID || plan.CursorName(id, guid) != c {
			v.bad(RuleNames, "old cursor %q is not a cursor of edge %s", c, e.ID)
		}
	}
	if a.Kind == plan.KindSendResume {
		v.resumeToken(s)
	}
	for _, n := range s.OldLast {
		if !validName(n) {
			v.bad(RuleNames, "old last-received snapshot %q is not a snapshot name", n)
		}
	}
}

// resumeToken: the token, decoded here as apply's zfs send -t will read
// it, continues this send of this edge and no other stream.
func (v *validator) resumeToken(s *plan.Send) {
	t, err := zfs.DecodeResumeToken(s.Token)
	if err != nil {
		v.bad(RuleEdge, "%v", err)
		return
	}
	ds, _, _ := strings.Cut(t.ToName, "@")
	if ds != s.SourceDataset || t.ToGUID != s.ToGUID || t.FromGUID != s.FromGUID {
		v.bad(RuleEdge, "the resume token continues %s (guid %d from %d), not %s@%s (guid %d from %d)",
			t.ToName, t.ToGUID, t.FromGUID, s.SourceDataset, s.To, s.ToGUID, s.FromGUID)
	}
	if t.Raw != slices.Contains(s.Flags, "-w") {
		v.bad(RuleFlags, "the resume token is raw=%v, the send flags %q are not", t.Raw, s.Flags)
	}
}
