// Package plan holds the plan as data: ordered actions with addresses,
// reasons, estimates, dependencies and preconditions. diff makes plans,
// apply executes them, and the renderers show them; none of them needs
// to know how the others work.
package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// FormatVersion is the version of the plan data (saved plans, JSON).
const FormatVersion = 1

// Plan is the full, ordered set of actions for one run.
type Plan struct {
	FormatVersion int         `json:"format_version"`
	ZplanVersion  string      `json:"zplan_version"`
	Time          time.Time   `json:"time"` // "now" of the plan; names new snapshots
	ConfigHash    string      `json:"config_hash"`
	Actions       []*Action   `json:"actions"`
	Conflicts     []*Conflict `json:"conflicts,omitempty"`
	// Kept lists, for each managed snapshot retention keeps, why.
	Kept []*Kept `json:"kept,omitempty"`
	// Skipped lists the scheduled snapshots skip_unchanged left out. It is
	// for display: apply reads nothing from it.
	Skipped []*Skipped `json:"skipped,omitempty"`
	// Orphans lists zplan's holds and cursor bookmarks that no configured
	// edge owns. It is for display: with orphans = "release" the plan
	// also has the release and destroy_bookmark actions for them.
	Orphans []*Orphan `json:"orphans,omitempty"`
	// Targets are the -target selections of a partial plan (nil: the
	// whole plan).
	Targets []string `json:"targets,omitempty"`
}

// Action is one step. Address is stable across plans of the same state.
type Action struct {
	Address string `json:"address"`
	Kind    Kind   `json:"kind"`
	Host    string `json:"host"`
	Dataset string `json:"dataset"`
	// Snapshots the action destroys, holds or releases. For KindSnapshot,
	// Snapshots[0] names the new snapshot and Datasets lists every dataset
	// of one pool that gets it, atomically.
	Snapshots []SnapRef `json:"snapshots,omitempty"`
	Datasets  []string  `json:"datasets,omitempty"`
	Tag       string    `json:"tag,omitempty"`      // hold/release tag
	Bookmark  string    `json:"bookmark,omitempty"` // bookmark name (after '#')
	Send      *Send     `json:"send,omitempty"`
	// Properties are what KindSetProperties sets (zfs set k=v ...).
	Properties map[string]string `json:"properties,omitempty"`
	// Hooks run around a KindSnapshot's zfs snapshot: pre in order before
	// it, post in reverse order after it.
	Hooks []Hook `json:"hooks,omitempty"`

	Reason   string `json:"reason"`
	Estimate int64  `json:"estimate,omitempty"` // bytes to send

	DependsOn     []string       `json:"depends_on,omitempty"`
	Preconditions []Precondition `json:"preconditions,omitempty"`
}

// Send describes one send|recv step of a replication edge and the
// bookkeeping apply performs around it.
type Send struct {
	Edge          string `json:"edge"` // replication id
	SourceHost    string `json:"source_host"`
	SourceDataset string `json:"source_dataset"`
	// From is "@snap" or "#bookmark" for incrementals, "" for full.
	From     string `json:"from,omitempty"`
	FromGUID uint64 `json:"from_guid,omitempty"`
	To       string `json:"to"`                // snapshot name (after '@')
	ToGUID   uint64 `json:"to_guid,omitempty"` // 0 when created by this plan
	// Token is the resume token to continue from (KindSendResume).
	Token         string   `json:"token,omitempty"`
	TargetHost    string   `json:"target_host"`
	TargetDataset string   `json:"target_dataset"`
	Flags         []string `json:"flags,omitempty"` // zfs send flags, e.g. -w -L -c
	// Decrypt: the source is encrypted and this send is not raw, as the
	// edge declares (raw = "never", allow_decrypt = true). Apply refuses a
	// send without -w of an encrypted source unless it is set.
	Decrypt bool `json:"decrypt,omitempty"`
	// Receive are the properties zfs recv sets on the replica.
	Receive *Receive `json:"receive,omitempty"`

	StepTag    string   `json:"step_tag"`              // held on from/to while sending
	Cursor     string   `json:"cursor"`                // bookmark created on the source after success
	OldCursors []string `json:"old_cursors,omitempty"` // this edge's cursors to destroy after
	LastTag    string   `json:"last_tag"`              // held on the target's last received snapshot
	// OldLast are target snapshots whose LastTag hold is released after.
	OldLast []string `json:"old_last,omitempty"`
}

// Receive are the properties a receive sets on the replica (zfs recv -o)
// and keeps out of the stream (zfs recv -x), from the edge's target
// receive block. Every receive passes them, so a replica someone made
// writable or mountable is brought back by the next one.
type Receive struct {
	Set     map[string]string `json:"set,omitempty"`
	Inherit []string          `json:"inherit,omitempty"`
}

// SnapRef names a snapshot of the action's dataset, with why it is
// affected (for destroys: the retention rule and bucket).
type SnapRef struct {
	Name   string `json:"name"` // after '@'
	GUID   uint64 `json:"guid,omitempty"`
	Rule   string `json:"rule,omitempty"`
	Reason string `json:"reason,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"` // space a destroy frees (estimate)
	// Unsent, for a destroy, says the snapshot was not yet sent by some
	// replication and retention gives it up (prune_unsent or
	// keep_unsent_for); nil otherwise.
	Unsent *GivenUp `json:"unsent,omitempty"`
}

// GivenUp is why a destroy gives up a snapshot replications still had
// to send.
type GivenUp struct {
	Edges []string `json:"edges"` // replication ids that have not sent it
	// KeepUnsentFor is the limit it is older than ("14d"); "" when
	// prune_unsent gives up every unsent snapshot.
	KeepUnsentFor string `json:"keep_unsent_for,omitempty"`
}

// PreKind is the kind of fact a precondition asserts.
type PreKind string

const (
	// PreExists: Object (fs, fs@snap or fs#bm) exists; with GUID != 0, with that GUID.
	PreExists PreKind = "exists"
	// PreAbsent: Object does not exist.
	PreAbsent PreKind = "absent"
	// PreResumeToken: dataset Object's receive_resume_token equals Value ("" = none).
	PreResumeToken PreKind = "resume_token"
	// PreWritten: filesystem or volume Object's written property (bytes
	// written since its newest snapshot) is at most Value, a decimal
	// number: what the plan saw, and so what a rollback may discard.
	PreWritten PreKind = "written"
)

// Precondition is a fact about a host that must still hold when the
// action runs; apply re-checks it and refuses the action otherwise.
type Precondition struct {
	Host   string  `json:"host"`
	Kind   PreKind `json:"kind"`
	Object string  `json:"object"`
	GUID   uint64  `json:"guid,omitempty"`
	Value  string  `json:"value,omitempty"`
}

func (p Precondition) String() string {
	switch p.Kind {
	case PreExists:
		if p.GUID != 0 {
			return fmt.Sprintf("%s has %s with guid %d", p.Host, p.Object, p.GUID)
		}
		return fmt.Sprintf("%s has %s", p.Host, p.Object)
	case PreAbsent:
		return fmt.Sprintf("%s has no %s", p.Host, p.Object)
	case PreResumeToken:
		if p.Value == "" {
			return fmt.Sprintf("%s: %s has no resume token", p.Host, p.Object)
		}
		return fmt.Sprintf("%s: %s has resume token %.16s…", p.Host, p.Object, p.Value)
	case PreWritten:
		return fmt.Sprintf("%s: %s has at most %s bytes written since its newest snapshot", p.Host, p.Object, p.Value)
	}
	return string(p.Kind)
}

// Kept explains why retention keeps a managed snapshot.
type Kept struct {
	Host     string `json:"host"`
	Dataset  string `json:"dataset"`
	Snapshot string `json:"snapshot"`
	Reason   string `json:"reason"`
}

// String says what a destroy gives up, for the plan's reason line.
func (g *GivenUp) String() string {
	what := "replication " + strings.Join(g.Edges, ", ")
	if len(g.Edges) > 1 {
		what = "replications " + strings.Join(g.Edges, ", ")
	}
	if g.KeepUnsentFor == "" {
		return "gives up this snapshot unsent by " + what + " (prune_unsent = true)"
	}
	return "gives up this snapshot unsent by " + what + ": older than keep_unsent_for = " + g.KeepUnsentFor + "; the cursor bookmark keeps the incremental chain"
}

// Skipped is a scheduled snapshot skip_unchanged left out: nothing was
// written to Dataset since Since, the policy's newest snapshot.
type Skipped struct {
	Host    string    `json:"host"`
	Dataset string    `json:"dataset"`
	Policy  string    `json:"policy"` // snapshots block name
	Slot    time.Time `json:"slot"`   // the schedule slot that came due
	Since   string    `json:"since"`  // snapshot name (after '@')
}

// OrphanKind is what an orphan is: a hold tag or a cursor bookmark.
type OrphanKind string

const (
	OrphanHold   OrphanKind = "hold"
	OrphanCursor OrphanKind = "cursor"
)

// Orphan is one of zplan's holds (on Snapshot) or cursor bookmarks (Name)
// whose replication id is not configured, or whose edge no longer covers
// Dataset.
type Orphan struct {
	Host     string     `json:"host"`
	Dataset  string     `json:"dataset"`
	Kind     OrphanKind `json:"kind"`
	Name     string     `json:"name"`               // hold tag, or bookmark name (after '#')
	Snapshot string     `json:"snapshot,omitempty"` // held snapshot (after '@')
	Edge     string     `json:"edge"`               // replication id in the name
	Why      string     `json:"why"`
	// Kept, for a cursor, says why the plan keeps it even with orphans =
	// "release": a configured edge sends from it (invariant 2).
	Kept string `json:"kept,omitempty"`
}

// Object is the orphan as zfs names it: fs@snap TAG or fs#bookmark.
func (o *Orphan) Object() string {
	if o.Kind == OrphanHold {
		return o.Dataset + "@" + o.Snapshot + " " + o.Name
	}
	return o.Dataset + "#" + o.Name
}

// OrphansHint is what a plan with orphans tells the user.
const OrphansHint = `declare orphans = "release" in a settings block to release them; zplan never destroys an orphaned replica or its snapshots`

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Actions) == 0 }

// Sort orders actions so every action comes after its dependencies,
// otherwise by address, making the order deterministic.
func (p *Plan) Sort() error {
	byAddr := map[string]*Action{}
	for _, a := range p.Actions {
		if byAddr[a.Address] != nil {
			return fmt.Errorf("duplicate action address %s", a.Address)
		}
		byAddr[a.Address] = a
	}
	for _, a := range p.Actions {
		for _, d := range a.DependsOn {
			if byAddr[d] == nil {
				return fmt.Errorf("action %s depends on unknown %s", a.Address, d)
			}
		}
	}
	sort.SliceStable(p.Actions, func(i, j int) bool { return p.Actions[i].Address < p.Actions[j].Address })
	done := map[string]bool{}
	visiting := map[string]bool{}
	out := make([]*Action, 0, len(p.Actions))
	var visit func(a *Action) error
	visit = func(a *Action) error {
		if done[a.Address] {
			return nil
		}
		if visiting[a.Address] {
			return fmt.Errorf("dependency cycle at %s", a.Address)
		}
		visiting[a.Address] = true
		deps := append([]string(nil), a.DependsOn...)
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(byAddr[d]); err != nil {
				return err
			}
		}
		done[a.Address] = true
		out = append(out, a)
		return nil
	}
	for _, a := range p.Actions {
		if err := visit(a); err != nil {
			return err
		}
	}
	p.Actions = out
	return nil
}

// Summary counts the actions by what they do to the user's data; holds
// and bookmarks (zplan's own bookkeeping) count as Other.
type Summary struct {
	Create, Send, Destroy, Other int
	SendBytes                    int64
}

// Summarize counts actions for the summary line, by their kind's class.
func (p *Plan) Summarize() Summary {
	var s Summary
	for _, a := range p.Actions {
		info, _ := a.Kind.Info()
		n := 1
		if info.CountsSnapshots {
			n = len(a.Snapshots)
			if a.Kind == KindSnapshot {
				n = len(a.Datasets)
			}
		}
		switch info.Class {
		case ClassCreate:
			s.Create += n
		case ClassSend:
			s.Send += n
			s.SendBytes += a.Estimate
		case ClassDestroy:
			s.Destroy += n
		default:
			s.Other += n
		}
	}
	return s
}

// HumanBytes formats n in binary units, as zfs does.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
