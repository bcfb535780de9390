package plan

// ConflictKind says what blocks an edge or dataset, as data: policy
// gates, drift and tests decide on it, never on Message (which is for
// people and may be reworded). Modelled on zrepl's
// replication/logic/diff conflicts.
type ConflictKind string

const (
	// ConflictPolicy: the configuration does not fit the hosts (a named
	// dataset or host that does not exist), from desired's problems.
	ConflictPolicy ConflictKind = "policy"
	// ConflictSetAside: observe could not read a dataset cleanly (the
	// target, a parent of it, or a selected dataset); nothing is planned
	// for it.
	ConflictSetAside ConflictKind = "set_aside"
	// ConflictHostUnobserved: a host was not observed (unreachable, its
	// lock could not be taken, or its zfs list failed): the edges to or
	// from it, and its snapshots policies, are not planned.
	ConflictHostUnobserved ConflictKind = "host_unobserved"
	// ConflictNoTargetPool: the target's pool does not exist.
	ConflictNoTargetPool ConflictKind = "no_target_pool"
	// ConflictEncryption: the edge's raw/decrypt settings and the
	// datasets' encryption do not allow a send (plaintext exposure, key
	// not loaded, or mixing raw and non-raw streams).
	ConflictEncryption ConflictKind = "encryption"
	// ConflictTargetNoSnapshots: the target exists but has no snapshots;
	// zplan will not overwrite it.
	ConflictTargetNoSnapshots ConflictKind = "target_no_snapshots"
	// ConflictNoCommonAncestor: no target snapshot exists on the source
	// by GUID, as a snapshot or a bookmark.
	ConflictNoCommonAncestor ConflictKind = "no_common_ancestor"
	// ConflictDiverged: the target has snapshots after the common base,
	// or data written since it, and no rollback is declared.
	ConflictDiverged ConflictKind = "diverged"
	// ConflictResumeToken: an interrupted receive on the target that zplan
	// may neither resume (it is not the stream the plan sends, or cannot
	// be decoded) nor discard on its own.
	ConflictResumeToken ConflictKind = "resume_token"
	// ConflictUnsafeName: a snapshot whose name zfs destroy would read as
	// a range or a list; it is kept and not sent.
	ConflictUnsafeName ConflictKind = "unsafe_name"
)

// ConflictKinds lists every conflict kind.
func ConflictKinds() []ConflictKind {
	return []ConflictKind{ConflictPolicy, ConflictSetAside, ConflictHostUnobserved, ConflictNoTargetPool,
		ConflictEncryption, ConflictTargetNoSnapshots, ConflictNoCommonAncestor, ConflictDiverged,
		ConflictResumeToken, ConflictUnsafeName}
}

// Known reports whether k is one of ConflictKinds.
func (k ConflictKind) Known() bool {
	for _, c := range ConflictKinds() {
		if c == k {
			return true
		}
	}
	return false
}

// Conflict is a problem that blocks one replication edge or dataset; the
// rest of the plan goes ahead.
type Conflict struct {
	// Kind is what blocks it. Plans written before kinds existed have
	// none; every conflict diff makes has one.
	Kind    ConflictKind `json:"kind,omitempty"`
	Edge    string       `json:"edge,omitempty"`
	Host    string       `json:"host"`
	Dataset string       `json:"dataset"`
	Message string       `json:"message"`
	// Resolution says what the user can do about it.
	Resolution string `json:"resolution,omitempty"`
}

// Where names what the conflict blocks: the replication, then
// host:dataset (just the host when it is about a whole host).
func (c *Conflict) Where() string {
	where := c.Host
	if c.Dataset != "" {
		where += ":" + c.Dataset
	}
	if c.Edge != "" {
		where = "replication " + c.Edge + ", " + where
	}
	return where
}
