package render

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/zplan/zplan/plan"
)

// ShowFormatVersion is the version of the `zplan show -json` document.
// Additive changes keep it; a change of meaning bumps the major part.
const ShowFormatVersion = "1.0"

// ShowDocument is what `zplan show -json FILE` writes. Its shape follows
// `terraform show -json` so that jq programs and conftest/OPA policies
// written for terraform carry over:
//
//	.format_version, .zplan_version (terraform_version's counterpart),
//	.resource_changes[] with .address, .type, .change.actions,
//	.change.before, .change.after, .action_reason.
//
// Every action is expanded to one resource change per object it touches:
// a destroy of three snapshots is three zfs_snapshot entries with
// actions ["delete"], so a policy can count destroyed snapshots directly.
type ShowDocument struct {
	FormatVersion string    `json:"format_version"`
	ZplanVersion  string    `json:"zplan_version"`
	PlanFormat    int       `json:"plan_format_version"`
	PlanTime      time.Time `json:"plan_time"`
	ConfigHash    string    `json:"config_hash"`
	// Partial is true for a -target plan; Targets lists the selections.
	Partial         bool             `json:"partial"`
	Targets         []string         `json:"targets,omitempty"`
	ResourceChanges []ResourceChange `json:"resource_changes"`
	Summary         ShowSummary      `json:"summary"`
	Conflicts       []*plan.Conflict `json:"conflicts"`
	Kept            []*plan.Kept     `json:"kept,omitempty"`
	Skipped         []*plan.Skipped  `json:"skipped,omitempty"`
	Orphans         []*plan.Orphan   `json:"orphans,omitempty"`
	// Actions is the plan's own action list, for tools that want it
	// unexpanded (with preconditions and dependencies).
	Actions []*plan.Action `json:"actions"`
}

// ShowSummary counts the resource changes.
type ShowSummary struct {
	Create            int   `json:"create"`             // snapshots and placeholder datasets
	Send              int   `json:"send"`               // send|recv steps
	SendBytes         int64 `json:"send_bytes"`         // estimated bytes to send
	DestroySnapshots  int   `json:"destroy_snapshots"`  // snapshots destroyed
	DestroyBytes      int64 `json:"destroy_bytes"`      // estimated space freed
	DestroyBookmarks  int   `json:"destroy_bookmarks"`  // bookmarks destroyed
	DestroyDatasets   int   `json:"destroy_datasets"`   // always 0 today: zplan never destroys datasets
	HoldChanges       int   `json:"hold_changes"`       // holds put or released
	BookmarkChanges   int   `json:"bookmark_changes"`   // bookmarks created
	AbortedReceives   int   `json:"aborted_receives"`   // partial receive states discarded
	PropertyChanges   int   `json:"property_changes"`   // replicas whose properties are set
	Conflicts         int   `json:"conflicts"`          // blocked edges or datasets
	TotalChangeCount  int   `json:"total_change_count"` // len(resource_changes)
	ActionCount       int   `json:"action_count"`       // len(actions)
	HasChanges        bool  `json:"has_changes"`        // action_count > 0
	HasDestroys       bool  `json:"has_destroys"`       // any snapshot or bookmark deleted
	DestroysSnapshots bool  `json:"destroys_snapshots"` // destroy_snapshots > 0
}

// ResourceChange is one object created, deleted or updated.
//
// type is the kind's object in plan's kinds table: zfs_snapshot,
// zfs_send, zfs_hold, zfs_bookmark, zfs_dataset (a placeholder parent),
// zfs_receive_state (an interrupted receive that is aborted) or
// zfs_rollback (a target rolled back; the snapshots it destroys are
// zfs_snapshot deletes of their own). change.actions is ["create"],
// ["delete"] or ["update"] (a resumed send continues an existing partial
// receive). before/after hold the object's attributes (null when it does
// not exist on that side). action_address is the plan action the change
// belongs to (what -target and the apply log name).
type ResourceChange struct {
	Address       string `json:"address"`
	Type          string `json:"type"`
	Name          string `json:"name"`
	Host          string `json:"host"`
	Dataset       string `json:"dataset"`
	ActionAddress string `json:"action_address"`
	ActionKind    string `json:"action_kind"`
	Change        Change `json:"change"`
	ActionReason  string `json:"action_reason"`
	// Rule is the retention rule of a destroyed snapshot.
	Rule      string   `json:"rule,omitempty"`
	DependsOn []string `json:"depends_on,omitempty"`
}

// Change is terraform's change object.
type Change struct {
	Actions []string       `json:"actions"`
	Before  map[string]any `json:"before"`
	After   map[string]any `json:"after"`
}

// NewShowDocument expands p into the show document.
func NewShowDocument(p *plan.Plan) *ShowDocument {
	d := &ShowDocument{
		FormatVersion: ShowFormatVersion, ZplanVersion: p.ZplanVersion, PlanFormat: p.FormatVersion,
		PlanTime: p.Time, ConfigHash: p.ConfigHash, Partial: len(p.Targets) > 0, Targets: p.Targets,
		ResourceChanges: []ResourceChange{}, Conflicts: p.Conflicts, Kept: p.Kept, Skipped: p.Skipped, Orphans: p.Orphans, Actions: p.Actions,
	}
	if d.Conflicts == nil {
		d.Conflicts = []*plan.Conflict{}
	}
	if d.Actions == nil {
		d.Actions = []*plan.Action{}
	}
	s := &d.Summary
	add := func(a *plan.Action, typ plan.Object, name, dataset string, action plan.Change, reason string, before, after map[string]any) *ResourceChange {
		d.ResourceChanges = append(d.ResourceChanges, ResourceChange{
			Address: fmt.Sprintf("%s.%s[%q]", typ, a.Host, name), Type: string(typ), Name: name, Host: a.Host, Dataset: dataset,
			ActionAddress: a.Address, ActionKind: string(a.Kind),
			Change:       Change{Actions: []string{string(action)}, Before: before, After: after},
			ActionReason: reason, DependsOn: a.DependsOn,
		})
		return &d.ResourceChanges[len(d.ResourceChanges)-1]
	}
	for _, a := range p.Actions {
		info, _ := a.Kind.Info()
		// The resource changes of each kind: its object (info.Object)
		// with its change action, and for a kind that destroys snapshots
		// one zfs_snapshot delete per snapshot.
		switch a.Kind {
		case plan.KindSnapshot:
			for _, ds := range a.Datasets {
				after := map[string]any{"host": a.Host, "dataset": ds, "snapshot": a.Snapshots[0].Name, "atomic_with": a.Datasets}
				if len(a.Hooks) > 0 {
					after["hooks"] = a.Hooks // policy gates see every command apply runs
				}
				add(a, info.Object, ds+"@"+a.Snapshots[0].Name, ds, info.Change, a.Reason, nil, after)
			}
		case plan.KindRollback:
			add(a, info.Object, a.Dataset+"@"+a.Bookmark, a.Dataset, info.Change, a.Reason,
				map[string]any{"host": a.Host, "dataset": a.Dataset}, map[string]any{"host": a.Host, "dataset": a.Dataset, "rolled_back_to": a.Bookmark})
		case plan.KindDestroy:
			// only the snapshots below
		case plan.KindSendFull, plan.KindSendIncremental, plan.KindSendResume:
			sd := a.Send
			after := map[string]any{
				"edge": sd.Edge, "source_host": sd.SourceHost, "source_dataset": sd.SourceDataset,
				"from": sd.From, "from_guid": sd.FromGUID, "to": sd.To, "to_guid": sd.ToGUID,
				"target_host": sd.TargetHost, "target_dataset": sd.TargetDataset, "flags": sd.Flags,
				"full": sd.From == "" && sd.Token == "", "resume": sd.Token != "", "bytes": a.Estimate,
			}
			var before map[string]any
			if sd.Token != "" {
				before = map[string]any{"target_host": sd.TargetHost, "target_dataset": sd.TargetDataset, "resume_token": true}
			}
			add(a, info.Object, sd.SourceDataset+"@"+sd.To+"->"+sd.TargetHost+":"+sd.TargetDataset, a.Dataset, info.Change, a.Reason, before, after)
		case plan.KindHold, plan.KindRelease:
			for _, sn := range a.Snapshots {
				attrs := map[string]any{"host": a.Host, "dataset": a.Dataset, "snapshot": sn.Name, "guid": sn.GUID, "tag": a.Tag}
				before, after := beforeAfter(info.Change, attrs)
				add(a, info.Object, a.Dataset+"@"+sn.Name+"/"+a.Tag, a.Dataset, info.Change, a.Reason, before, after)
			}
		case plan.KindBookmark:
			add(a, info.Object, a.Dataset+"#"+a.Bookmark, a.Dataset, info.Change, a.Reason, nil, map[string]any{
				"host": a.Host, "dataset": a.Dataset, "bookmark": a.Bookmark, "snapshot": a.Snapshots[0].Name, "guid": a.Snapshots[0].GUID})
		case plan.KindDestroyBookmark:
			add(a, info.Object, a.Dataset+"#"+a.Bookmark, a.Dataset, info.Change, a.Reason, map[string]any{
				"host": a.Host, "dataset": a.Dataset, "bookmark": a.Bookmark}, nil)
		case plan.KindAbortResume:
			add(a, info.Object, a.Dataset, a.Dataset, info.Change, a.Reason, map[string]any{"host": a.Host, "dataset": a.Dataset}, nil)
		case plan.KindSetProperties:
			add(a, info.Object, a.Dataset, a.Dataset, info.Change, a.Reason, map[string]any{"host": a.Host, "dataset": a.Dataset},
				map[string]any{"host": a.Host, "dataset": a.Dataset, "properties": a.Properties})
		case plan.KindCreatePlaceholder:
			add(a, info.Object, a.Dataset, a.Dataset, info.Change, a.Reason, nil, map[string]any{"host": a.Host, "dataset": a.Dataset, "placeholder": true})
		default:
			add(a, info.Object, a.Address, a.Dataset, info.Change, a.Reason, nil, nil)
		}
		if info.DestroysSnapshots {
			for _, sn := range a.Snapshots {
				rc := add(a, plan.ObjectSnapshot, a.Dataset+"@"+sn.Name, a.Dataset, plan.ChangeDelete, sn.Reason, map[string]any{
					"host": a.Host, "dataset": a.Dataset, "snapshot": sn.Name, "guid": sn.GUID, "bytes": sn.Bytes}, nil)
				rc.Rule = sn.Rule
			}
		}
		s.count(a, info)
	}
	s.Conflicts = len(p.Conflicts)
	s.TotalChangeCount = len(d.ResourceChanges)
	s.ActionCount = len(p.Actions)
	s.HasChanges = len(p.Actions) > 0
	s.DestroysSnapshots = s.DestroySnapshots > 0
	s.HasDestroys = s.DestroySnapshots > 0 || s.DestroyBookmarks > 0
	return d
}

// count adds a's objects to the summary by its row in the kinds table.
func (s *ShowSummary) count(a *plan.Action, info plan.KindInfo) {
	n := 1
	if info.CountsSnapshots {
		n = len(a.Snapshots)
		if a.Kind == plan.KindSnapshot {
			n = len(a.Datasets) // one snapshot name, taken of each dataset
		}
	}
	switch {
	case info.Class == plan.ClassCreate:
		s.Create += n
	case info.Class == plan.ClassSend:
		s.Send++
		s.SendBytes += a.Estimate
	case info.DestroysSnapshots:
		s.DestroySnapshots += len(a.Snapshots)
		for _, sn := range a.Snapshots {
			s.DestroyBytes += sn.Bytes
		}
	case info.DestroysBookmark:
		s.DestroyBookmarks++
	case info.Object == plan.ObjectHold:
		s.HoldChanges += len(a.Snapshots)
	case info.Object == plan.ObjectBookmark:
		s.BookmarkChanges++
	case info.Object == plan.ObjectReceiveState && info.Change == plan.ChangeDelete:
		s.AbortedReceives++
	case len(a.Properties) > 0:
		s.PropertyChanges++
	}
}

// beforeAfter puts attrs on the side of a change where the object exists.
func beforeAfter(c plan.Change, attrs map[string]any) (before, after map[string]any) {
	switch c {
	case plan.ChangeCreate:
		return nil, attrs
	case plan.ChangeDelete:
		return attrs, nil
	}
	return attrs, attrs
}

// ShowJSON writes the show document, indented.
func ShowJSON(w io.Writer, p *plan.Plan) error {
	b, err := json.MarshalIndent(NewShowDocument(p), "", "  ")
	if err != nil {
		return fmt.Errorf("encoding plan: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
