// Package hclspec defines zplan's HCL configuration language and decodes
// a directory of .zplan.hcl files into a Config. Every problem becomes an
// hcl.Diagnostic with the file, line and a hint on how to fix it.
package hclspec

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is the decoded, validated configuration.
type Config struct {
	Hosts        []*Host
	Snapshots    []*SnapshotPolicy
	Replications []*Replication
	// Orphans is the settings block's orphans ("" is the default, keep).
	Orphans Orphans
	// Files maps file names to their source, for rendering diagnostics.
	Files map[string]*hcl.File
	// Hash is a stable hash of the configuration's source files; saved
	// plans record it so a plan for another configuration is refused.
	Hash string
}

// Host says how to reach a machine. A host without an address is local.
type Host struct {
	Name                  string
	Address               string // "" means local
	Port                  int
	User                  string
	IdentityFiles         []string
	UseAgent              bool
	KnownHostsFiles       []string
	InsecureIgnoreHostKey bool
	CommandPrefix         []string // e.g. ["sudo", "-n"]
	ConnectTimeout        time.Duration
	CommandTimeout        time.Duration // 0: the SSH transport's default; negative: no limit
	SSHConfigFile         string
	DefRange              hcl.Range
}

// Local reports whether commands for this host run on the controller.
func (h *Host) Local() bool { return h.Address == "" }

// DatasetSelector chooses datasets on a host. A pattern is an exact
// dataset name, or NAME/** for NAME and all its descendants.
type DatasetSelector struct {
	Include []string
	Exclude []string
}

// Schedule says when a snapshot is due. Exactly one of Every and Cron is set.
type Schedule struct {
	Every time.Duration // interval grid aligned to the UTC epoch
	Cron  string        // 5-field cron expression, evaluated in UTC
}

// Retention says which snapshots to keep on one side. The rules combine as
// a union: a snapshot survives if any rule keeps it. A nil *Retention
// keeps everything.
type Retention struct {
	Grid         string   // e.g. "1x1h(keep=all) | 24x1h | 14x1d"; "" for none
	KeepLast     int      // 0 for none
	KeepMatching []string // regular expressions on the snapshot name (after '@')
	// AdoptForeign lets retention destroy snapshots that do not carry the
	// policy's prefix (safety invariant 1 forbids it otherwise).
	AdoptForeign bool
	// PruneUnsent lets source retention destroy snapshots an edge still
	// has to send, when the pool filling up matters more (invariant 9).
	PruneUnsent bool
	// KeepUnsentFor, when > 0, lets source retention destroy snapshots an
	// edge still has to send once they are older than this (and the edge
	// has a cursor bookmark to send the next incremental from).
	KeepUnsentFor time.Duration
	DefRange      hcl.Range
}

// SnapshotPolicy is a `snapshots "NAME"` block.
type SnapshotPolicy struct {
	Name     string
	Host     string // name of a Host
	Datasets DatasetSelector
	Prefix   string // default "zplan_"
	Schedule Schedule
	// SkipUnchanged: no new snapshot when nothing was written since the
	// policy's newest one.
	SkipUnchanged bool
	Retention     *Retention
	// Hooks run around the policy's snapshots, in declaration order.
	Hooks    []Hook
	DefRange hcl.Range
}

// Replication is a `replication "NAME"` block: an edge from each selected
// source filesystem to the same path below the target root.
type Replication struct {
	Name string
	// ID is the stable identifier embedded in hold tags and bookmark
	// names; defaults to Name. Must be valid in a hold tag and bookmark name.
	ID string

	SourceHost      string
	SourceDatasets  DatasetSelector
	SnapshotsPolicy string // name of a SnapshotPolicy the source follows, "" if none
	// Prefix limits which source snapshots are replicated; "" sends all.
	// Defaults to the referenced policy's prefix.
	Prefix string

	TargetHost string
	TargetRoot string
	// StripPrefix is removed from source dataset names before they are
	// placed under TargetRoot; defaults to the source pool name.
	StripPrefix string

	Initial      Initial      // most_recent (default) or all
	Raw          Raw          // auto (default: raw when encrypted), always, never
	AllowDecrypt bool         // explicit opt-in to send an encrypted dataset decrypted
	OnDivergence OnDivergence // refuse (default) or rollback
	SendOptions  SendOptions
	Wire         WireOptions // send { bandwidth, buffer }: how apply relays
	// Receive are the properties every receive sets on the replica.
	Receive ReceiveOptions

	TargetRetention *Retention
	DefRange        hcl.Range
}

// ReceiveOptions are the properties zfs recv sets on a replica, on the
// first receive and every later one, so they also bring back a replica
// someone changed.
type ReceiveOptions struct {
	Set     map[string]string // zfs recv -o name=value
	Inherit []string          // zfs recv -x name: never taken from the stream
}

// SendOptions are extra zfs send flags.
type SendOptions struct {
	LargeBlocks bool // -L
	Compressed  bool // -c
	Embedded    bool // -e
	Properties  bool // -p
}
