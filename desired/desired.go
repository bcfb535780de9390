// Package desired turns the configuration and the names of the datasets
// that exist into what should exist: which datasets get snapshots on
// which schedule, which replication edges run, and which retention
// applies where. It is pure: no I/O, no clock.
package desired

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/zfs"
)

// Policy is everything the configuration demands, resolved against the
// datasets that exist.
type Policy struct {
	Snapshots []*SnapshotRule
	Edges     []*Edge
	Retention []*RetentionRule
	// Problems are configuration facts that do not fit the hosts (a named
	// dataset that does not exist); they become conflicts in the plan.
	Problems []Problem
	// Replications maps every configured replication id to whether its
	// edges are complete: its source host was observed and none of the
	// datasets it selects was set aside. Only then is a hold or cursor of
	// that id on a dataset no edge names an orphan.
	Replications map[string]bool
	// Orphans is what the plan does with orphaned holds and cursors.
	Orphans hclspec.Orphans
	// Scope is, per host, the dataset subtrees this configuration
	// manages: its policies' and replications' source roots and its target
	// roots. Orphans are looked for only there: another configuration's
	// holds and cursors on the same host are not this one's to list or
	// release.
	Scope map[string][]string
}

// InScope reports whether dataset on host is in a subtree the
// configuration manages (see Policy.Scope).
func (p *Policy) InScope(host, dataset string) bool {
	for _, root := range p.Scope[host] {
		if dataset == root || strings.HasPrefix(dataset, root+"/") {
			return true
		}
	}
	return false
}

func (p *Policy) addScope(host string, roots ...string) {
	if p.Scope == nil {
		p.Scope = map[string][]string{}
	}
	for _, r := range roots {
		r, _ = strings.CutSuffix(r, "/**")
		p.Scope[host] = append(p.Scope[host], r)
	}
}

// Problem is something the policy cannot do on one host/dataset, or
// for one replication (Edge: its id) as a whole.
type Problem struct {
	Host, Dataset, Edge, Message, Resolution string
}

// SnapshotRule: Dataset on Host gets Prefix snapshots on Schedule.
type SnapshotRule struct {
	Policy   string // snapshots block name
	Host     string
	Dataset  string
	Prefix   string
	Schedule *Schedule
	// SkipUnchanged: no snapshot when nothing was written since the
	// newest Prefix snapshot.
	SkipUnchanged bool
	// Hooks are the policy's hook blocks as the plan records them.
	Hooks []plan.Hook
}

// RetentionRule prunes Prefix snapshots of Dataset on Host.
type RetentionRule struct {
	Source    string // "snapshots.NAME" or "replication.NAME target"
	Host      string
	Dataset   string
	Prefix    string
	Retention *Retention // nil keeps everything
	// AdoptForeign allows destroying snapshots without Prefix.
	AdoptForeign bool
	// PruneUnsent allows destroying snapshots an edge still has to send.
	PruneUnsent bool
	// KeepUnsentFor, when > 0, allows destroying snapshots an edge still
	// has to send once they are older than this.
	KeepUnsentFor time.Duration
}

// Edge replicates one source dataset to one target dataset. It carries
// the replication block's settings resolved (defaults applied), so the
// planner and the plan-file validator read them here and never the raw
// configuration.
type Edge struct {
	// Name is the replication block's name, for reasons and hints.
	Name          string
	ID            string
	SourceHost    string
	SourceDataset string
	TargetHost    string
	TargetDataset string
	// Prefix selects the source snapshots that are sent ("" = all).
	Prefix string

	Initial      Initial      // never "": Resolve applies the default
	Raw          Raw          // never ""
	AllowDecrypt bool         // a decrypted send of an encrypted dataset is accepted
	OnDivergence OnDivergence // never ""
	Send         SendOptions
	Receive      ReceiveOptions
}

// The replication settings' enums are the configuration's (see
// hclspec/modes.go for why they live there); these aliases let the
// planner name them through desired.
type (
	Initial      = hclspec.Initial
	Raw          = hclspec.Raw
	OnDivergence = hclspec.OnDivergence
)

const (
	InitialMostRecent  = hclspec.InitialMostRecent
	InitialAll         = hclspec.InitialAll
	RawAuto            = hclspec.RawAuto
	RawAlways          = hclspec.RawAlways
	RawNever           = hclspec.RawNever
	DivergenceRefuse   = hclspec.DivergenceRefuse
	DivergenceRollback = hclspec.DivergenceRollback
)

// SendOptions are the extra zfs send flags of an edge. It is the
// configuration's type: the options need no resolving.
type SendOptions = hclspec.SendOptions

// ReceiveOptions are the properties every receive of an edge sets or
// keeps out of the stream (the configuration's type).
type ReceiveOptions = hclspec.ReceiveOptions

// filesystemOnly are receive properties zfs refuses on a volume; the
// defaults name some, so a volume's receive leaves them out.
var filesystemOnly = map[string]bool{"canmount": true, "mountpoint": true}

// ReceiveFor is what a receive of a dataset of type t passes (nil when
// nothing): the edge's options without those that do not apply to t.
func (e *Edge) ReceiveFor(t zfs.Type) *plan.Receive {
	r := &plan.Receive{}
	for k, v := range e.Receive.Set {
		if t == zfs.Volume && filesystemOnly[k] {
			continue
		}
		if r.Set == nil {
			r.Set = map[string]string{}
		}
		r.Set[k] = v
	}
	for _, k := range e.Receive.Inherit {
		if t != zfs.Volume || !filesystemOnly[k] {
			r.Inherit = append(r.Inherit, k)
		}
	}
	if r.Set == nil && r.Inherit == nil {
		return nil
	}
	return r
}

// Resolve expands dataset patterns against the observed hosts and
// compiles schedules and retention rules.
func Resolve(cfg *hclspec.Config, st *observe.State) (*Policy, error) {
	p := &Policy{Replications: map[string]bool{}, Orphans: cfg.Orphans.OrDefault()}
	policies := map[string]*hclspec.SnapshotPolicy{}
	for _, sp := range cfg.Snapshots {
		policies[sp.Name] = sp
		sched, err := CompileSchedule(sp.Schedule)
		if err != nil {
			return nil, fmt.Errorf("snapshots %q: %w", sp.Name, err)
		}
		ret, err := compileRetention(sp.Retention)
		if err != nil {
			return nil, fmt.Errorf("snapshots %q: %w", sp.Name, err)
		}
		hooks := planHooks(sp)
		p.addScope(sp.Host, sp.Datasets.Include...)
		for _, ds := range p.selectDatasets(st, sp.Host, sp.Datasets, "") {
			p.Snapshots = append(p.Snapshots, &SnapshotRule{Policy: sp.Name, Host: sp.Host, Dataset: ds, Prefix: sp.Prefix, Schedule: sched, SkipUnchanged: sp.SkipUnchanged, Hooks: hooks})
			p.Retention = append(p.Retention, &RetentionRule{
				Source: "snapshots." + sp.Name, Host: sp.Host, Dataset: ds, Prefix: sp.Prefix,
				Retention: ret, AdoptForeign: sp.Retention != nil && sp.Retention.AdoptForeign,
				PruneUnsent: sp.Retention != nil && sp.Retention.PruneUnsent,
			})
			if sp.Retention != nil {
				p.Retention[len(p.Retention)-1].KeepUnsentFor = sp.Retention.KeepUnsentFor
			}
		}
	}
	for _, r := range cfg.Replications {
		host, sel, prefix := r.SourceHost, r.SourceDatasets, r.Prefix
		if sp := policies[r.SnapshotsPolicy]; sp != nil {
			host, sel = sp.Host, sp.Datasets
			if prefix == "" {
				prefix = sp.Prefix
			}
		}
		ret, err := compileRetention(r.TargetRetention)
		if err != nil {
			return nil, fmt.Errorf("replication %q: target retention: %w", r.Name, err)
		}
		p.Replications[r.ID] = complete(st, host, sel)
		p.addScope(host, sel.Include...)
		p.addScope(r.TargetHost, r.TargetRoot)
		for _, ds := range p.selectDatasets(st, host, sel, r.ID) {
			tgt := TargetName(r, ds)
			p.Edges = append(p.Edges, &Edge{
				Name: r.Name, ID: r.ID, SourceHost: host, SourceDataset: ds,
				TargetHost: r.TargetHost, TargetDataset: tgt, Prefix: prefix,
				Initial:      r.Initial.OrDefault(),
				Raw:          r.Raw.OrDefault(),
				AllowDecrypt: r.AllowDecrypt,
				OnDivergence: r.OnDivergence.OrDefault(),
				Send:         r.SendOptions,
				Receive:      r.Receive,
			})
			p.Retention = append(p.Retention, &RetentionRule{
				Source: "replication." + r.Name + " target", Host: r.TargetHost, Dataset: tgt, Prefix: prefix,
				Retention: ret, AdoptForeign: r.TargetRetention != nil && r.TargetRetention.AdoptForeign,
			})
		}
	}
	return p, nil
}

func compileRetention(r *hclspec.Retention) (*Retention, error) {
	if r == nil {
		return nil, nil
	}
	return CompileRetention(r)
}

// TargetName maps a source dataset below the replication's target root:
// the strip prefix (default: the source pool) is replaced by the root.
func TargetName(r *hclspec.Replication, source string) string {
	strip := r.StripPrefix
	if strip == "" {
		strip, _, _ = strings.Cut(source, "/")
	}
	rest := source
	if source == strip {
		rest = ""
	} else if strings.HasPrefix(source, strip+"/") {
		rest = source[len(strip)+1:]
	}
	if rest == "" {
		return r.TargetRoot
	}
	return r.TargetRoot + "/" + rest
}

// matchesAny reports whether a dataset selector pattern (NAME or
// NAME/**) covers name.
func matchesAny(patterns []string, name string) bool {
	for _, pat := range patterns {
		root, subtree := strings.CutSuffix(pat, "/**")
		if name == root || (subtree && strings.HasPrefix(name, root+"/")) {
			return true
		}
	}
	return false
}

// problem records pr unless the same problem is already recorded (a
// dataset chosen by several blocks).
func (p *Policy) problem(pr Problem) {
	for _, q := range p.Problems {
		if q == pr {
			return
		}
	}
	p.Problems = append(p.Problems, pr)
}

// selectDatasets returns the datasets of host that sel chooses, sorted.
// An exact name that does not exist is recorded as a problem. A host
// that was not observed chooses nothing: the problem names the
// replication edge (its id) when sel is a replication's source, since
// its edges cannot be listed without the host's datasets.
func (p *Policy) selectDatasets(st *observe.State, host string, sel hclspec.DatasetSelector, edge string) []string {
	h := st.Hosts[host]
	if h == nil {
		msg := st.WhyUnobserved(host)
		if edge != "" {
			msg = "source " + msg + "; nothing of this replication is planned"
		}
		p.problem(Problem{Host: host, Edge: edge, Message: msg})
		return nil
	}
	chosen := map[string]bool{}
	for _, pat := range sel.Include {
		root, subtree := strings.CutSuffix(pat, "/**")
		_, exists := h.Datasets[root]
		if _, odd := h.Unreadable[root]; !exists && !odd {
			p.Problems = append(p.Problems, Problem{Host: host, Dataset: root,
				Message:    fmt.Sprintf("dataset %s does not exist on host %s", root, host),
				Resolution: "create it, or remove it from the configuration"})
			continue
		}
		if exists {
			chosen[root] = true
		}
		if subtree {
			for name := range h.Datasets {
				if strings.HasPrefix(name, root+"/") {
					chosen[name] = true
				}
			}
		}
	}
	for name := range chosen {
		if matchesAny(sel.Exclude, name) {
			delete(chosen, name)
		}
	}
	// Datasets observe set aside would have been chosen: say so, once.
	for name, why := range h.Unreadable {
		if matchesAny(sel.Include, name) && !matchesAny(sel.Exclude, name) {
			p.problem(Problem{Host: host, Dataset: name,
				Message:    "set aside, nothing is planned for it: " + why,
				Resolution: "look at what zfs prints for this dataset (names, hold tags); zplan plans it again once the output reads cleanly"})
		}
	}
	out := make([]string, 0, len(chosen))
	for name := range chosen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// complete reports whether sel's datasets on host are all known: the
// host was observed and observe set none of them aside.
func complete(st *observe.State, host string, sel hclspec.DatasetSelector) bool {
	h := st.Hosts[host]
	if h == nil {
		return false
	}
	for name := range h.Unreadable {
		if matchesAny(sel.Include, name) && !matchesAny(sel.Exclude, name) {
			return false
		}
	}
	return true
}

// planHooks is the policy's hook blocks in the plan's form; the same
// function feeds the planner and the saved-plan check, so they agree.
func planHooks(sp *hclspec.SnapshotPolicy) []plan.Hook {
	var out []plan.Hook
	for _, h := range sp.Hooks {
		timeout := h.Timeout
		if timeout <= 0 {
			timeout = hclspec.DefaultHookTimeout // a Config built in code
		}
		onFail := plan.OnPreFailure(h.OnPreFailure)
		if onFail == "" {
			onFail = plan.PreFailureSkip
		}
		out = append(out, plan.Hook{Policy: sp.Name, Name: h.Name, Pre: h.Pre, Post: h.Post, Timeout: timeout.String(), OnPreFailure: onFail})
	}
	return out
}

// SnapshotHooks are the hooks of a snapshot action on host that creates
// snapshot name (a prefix followed by stamp) of datasets: those of every
// policy with a rule for one of the datasets at that name, in
// configuration order, each with the datasets its policy covers. The
// planner and the saved-plan check both call it, so they agree exactly.
func SnapshotHooks(rules []*SnapshotRule, host, name, stamp string, datasets []string) []plan.Hook {
	in := make(map[string]bool, len(datasets))
	for _, d := range datasets {
		in[d] = true
	}
	var order []string
	covered := map[string][]string{}
	hooks := map[string][]plan.Hook{}
	for _, r := range rules {
		if len(r.Hooks) == 0 || r.Host != host || !in[r.Dataset] || r.Prefix+stamp != name {
			continue
		}
		if _, seen := covered[r.Policy]; !seen {
			order = append(order, r.Policy)
			hooks[r.Policy] = r.Hooks
		}
		if !slices.Contains(covered[r.Policy], r.Dataset) {
			covered[r.Policy] = append(covered[r.Policy], r.Dataset)
		}
	}
	var out []plan.Hook
	for _, pol := range order {
		ds := slices.Sorted(slices.Values(covered[pol]))
		for _, h := range hooks[pol] {
			h.Datasets = ds
			out = append(out, h)
		}
	}
	return out
}
