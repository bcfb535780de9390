package plan

import "fmt"

// Kind is what an action does. Everything zplan knows about a kind that
// is not how to carry it out (apply's executors) is in its row of the
// kinds table below: renderers, the summary, apply's progress verbs,
// -target selection and plan-file checks read it, so a new kind is one
// row here plus an executor in apply (TestEveryKind fails otherwise).
type Kind string

const (
	KindSnapshot          Kind = "snapshot"           // create snapshots (atomic per pool)
	KindSendFull          Kind = "send_full"          // full send|recv
	KindSendIncremental   Kind = "send_incremental"   // incremental send|recv
	KindSendResume        Kind = "send_resume"        // resume an interrupted send
	KindDestroy           Kind = "destroy"            // destroy snapshots of one dataset
	KindDestroyBookmark   Kind = "destroy_bookmark"   // destroy a bookmark
	KindHold              Kind = "hold"               // put a hold on snapshots
	KindRelease           Kind = "release"            // release a hold from snapshots
	KindBookmark          Kind = "bookmark"           // bookmark a snapshot
	KindAbortResume       Kind = "abort_resume"       // zfs recv -A
	KindCreatePlaceholder Kind = "create_placeholder" // placeholder parent on a target
	KindSetProperties     Kind = "set_properties"     // zfs set on a replica (its receive properties)
	// KindRollback destroys Snapshots (a diverged target's own) and rolls
	// Dataset back to the snapshot named in Bookmark, as declared by
	// on_divergence = "rollback".
	KindRollback Kind = "rollback"
)

// Change is the terraform-style change action of a kind, as the JSON
// views and policy gates see it.
type Change string

const (
	ChangeCreate Change = "create"
	ChangeUpdate Change = "update" // continues or rewinds an existing object
	ChangeDelete Change = "delete"
)

// Object is the type of object a kind acts on (show -json's resource
// type).
type Object string

const (
	ObjectSnapshot     Object = "zfs_snapshot"
	ObjectSend         Object = "zfs_send"
	ObjectHold         Object = "zfs_hold"
	ObjectBookmark     Object = "zfs_bookmark"
	ObjectDataset      Object = "zfs_dataset" // a placeholder parent
	ObjectReceiveState Object = "zfs_receive_state"
	ObjectRollback     Object = "zfs_rollback"
)

// Class is the summary bucket of a kind: what it does to the user's data.
type Class int

const (
	ClassCreate      Class = iota // new snapshots or datasets
	ClassSend                     // data moves between hosts
	ClassDestroy                  // the user's snapshots go away
	ClassBookkeeping              // zplan's holds, bookmarks and receive state
)

// Field is a set of Action fields a kind needs (CheckShape).
type Field uint

const (
	NeedSnapshots   Field = 1 << iota // at least one entry in Snapshots
	NeedOneSnapshot                   // exactly one entry in Snapshots
	NeedDatasets                      // at least one entry in Datasets
	NeedTag                           // a hold tag
	NeedBookmark                      // a bookmark (or, for rollback, snapshot) name
	NeedSend                          // Send details
	NeedProperties                    // at least one entry in Properties
)

// KindInfo is one row of the kinds table.
type KindInfo struct {
	Kind   Kind
	Object Object
	Change Change
	Class  Class
	// Verb is what apply's progress says while the action runs.
	Verb string
	// Noun starts the kind's addresses ("send" for every send kind);
	// empty means the kind itself.
	Noun string
	// DestroysSnapshots: the action destroys the snapshots in its
	// Snapshots (a rollback destroys the target's own before rolling
	// back); every view and policy gate counts them as destroys.
	DestroysSnapshots bool
	// DestroysBookmark: the action destroys the bookmark in Bookmark.
	DestroysBookmark bool
	// CountsSnapshots: the summary counts each entry in Snapshots (or,
	// for a snapshot action, in Datasets) rather than the action.
	CountsSnapshots bool
	Needs           Field
}

var kinds = []KindInfo{
	{Kind: KindSnapshot, Object: ObjectSnapshot, Change: ChangeCreate, Class: ClassCreate, Verb: "creating snapshots",
		CountsSnapshots: true, Needs: NeedOneSnapshot | NeedDatasets},
	{Kind: KindCreatePlaceholder, Object: ObjectDataset, Change: ChangeCreate, Class: ClassCreate, Verb: "creating placeholder"},
	{Kind: KindSendFull, Noun: "send", Object: ObjectSend, Change: ChangeCreate, Class: ClassSend, Verb: "sending", Needs: NeedSend},
	{Kind: KindSendIncremental, Noun: "send", Object: ObjectSend, Change: ChangeCreate, Class: ClassSend, Verb: "sending", Needs: NeedSend},
	{Kind: KindSendResume, Noun: "send", Object: ObjectSend, Change: ChangeUpdate, Class: ClassSend, Verb: "resuming send", Needs: NeedSend},
	{Kind: KindDestroy, Object: ObjectSnapshot, Change: ChangeDelete, Class: ClassDestroy, Verb: "destroying",
		DestroysSnapshots: true, CountsSnapshots: true, Needs: NeedSnapshots},
	{Kind: KindRollback, Object: ObjectRollback, Change: ChangeDelete, Class: ClassDestroy, Verb: "rolling back",
		DestroysSnapshots: true, CountsSnapshots: true, Needs: NeedBookmark},
	{Kind: KindDestroyBookmark, Object: ObjectBookmark, Change: ChangeDelete, Class: ClassBookkeeping, Verb: "destroying bookmark",
		DestroysBookmark: true, Needs: NeedBookmark},
	{Kind: KindBookmark, Object: ObjectBookmark, Change: ChangeCreate, Class: ClassBookkeeping, Verb: "bookmarking",
		Needs: NeedOneSnapshot | NeedBookmark},
	{Kind: KindHold, Object: ObjectHold, Change: ChangeCreate, Class: ClassBookkeeping, Verb: "holding",
		Needs: NeedSnapshots | NeedTag},
	{Kind: KindRelease, Object: ObjectHold, Change: ChangeDelete, Class: ClassBookkeeping, Verb: "releasing",
		Needs: NeedSnapshots | NeedTag},
	{Kind: KindSetProperties, Object: ObjectDataset, Change: ChangeUpdate, Class: ClassBookkeeping, Verb: "setting properties",
		Needs: NeedProperties},
	{Kind: KindAbortResume, Object: ObjectReceiveState, Change: ChangeDelete, Class: ClassBookkeeping, Verb: "aborting interrupted receive"},
}

var kindIndex = func() map[Kind]*KindInfo {
	m := make(map[Kind]*KindInfo, len(kinds))
	for i := range kinds {
		if m[kinds[i].Kind] != nil {
			panic("plan: kind " + string(kinds[i].Kind) + " has two rows")
		}
		m[kinds[i].Kind] = &kinds[i]
	}
	return m
}()

// Kinds lists every kind, in table order.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i, k := range kinds {
		out[i] = k.Kind
	}
	return out
}

// Info is k's row; ok is false for a kind zplan does not know (read from
// a file). The zero KindInfo is a bookkeeping update that needs nothing.
func (k Kind) Info() (info KindInfo, ok bool) {
	if p := kindIndex[k]; p != nil {
		return *p, true
	}
	return KindInfo{Kind: k, Object: Object("zfs_" + string(k)), Change: ChangeUpdate, Class: ClassBookkeeping, Verb: string(k)}, false
}

// Address is the stable address of an action of kind k on object
// within scope: a host, or for sends the edge id. The same state always
// gives the same address, which -target and saved-plan checks rely on.
func (k Kind) Address(scope, object string) string {
	i, _ := k.Info()
	noun := i.Noun
	if noun == "" {
		noun = string(k)
	}
	return fmt.Sprintf("%s.%s[%q]", noun, scope, object)
}

// Known reports whether k is a kind zplan plans and apply carries out.
func (k Kind) Known() bool { _, ok := k.Info(); return ok }

// DestroysSnapshots reports whether the kind destroys the snapshots in
// its Snapshots.
func (k Kind) DestroysSnapshots() bool { i, _ := k.Info(); return i.DestroysSnapshots }

// IsSend reports whether the kind moves data between hosts.
func (k Kind) IsSend() bool { i, _ := k.Info(); return i.Object == ObjectSend }

// Destroys reports whether the kind deletes anything the user or zplan
// could not get back by planning again (snapshots or bookmarks).
func (k Kind) Destroys() bool {
	i, _ := k.Info()
	return i.DestroysSnapshots || i.DestroysBookmark
}
