package hclspec

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// The replication block's enumerated settings. They are defined here,
// where the configuration language spells them, because Replication holds
// them and hclspec cannot import desired (desired imports hclspec);
// desired re-exports them with type aliases, so the planner (diff) and the
// plan-file validator name them without importing the configuration
// package. A separate leaf package would buy nothing while desired.Resolve
// takes an *hclspec.Config. Each value is checked when the block is
// decoded; the zero value ("") stands for the default, for a Config built
// in code rather than decoded, and OrDefault resolves it.

// Initial says which snapshots the first send of an edge carries.
type Initial string

const (
	InitialMostRecent Initial = "most_recent" // only the newest snapshot (default)
	InitialAll        Initial = "all"         // every snapshot the edge sends, oldest first
)

// Raw says whether an edge sends raw (zfs send -w).
type Raw string

const (
	RawAuto   Raw = "auto"   // raw when the source is encrypted (default)
	RawAlways Raw = "always" // always raw
	RawNever  Raw = "never"  // never raw; an encrypted source also needs allow_decrypt
)

// OnDivergence says what an edge does with a target that has data the
// source does not (safety invariant 3).
type OnDivergence string

const (
	DivergenceRefuse   OnDivergence = "refuse"   // report a conflict (default)
	DivergenceRollback OnDivergence = "rollback" // roll the target back to the common snapshot
)

// The values each setting accepts, in the order diagnostics list them.
var (
	initialValues      = []Initial{InitialMostRecent, InitialAll}
	rawValues          = []Raw{RawAuto, RawAlways, RawNever}
	onDivergenceValues = []OnDivergence{DivergenceRefuse, DivergenceRollback}
)

// OrDefault is i, or the default when i is unset.
func (i Initial) OrDefault() Initial { return orDefault(i, DefaultInitial) }

// OrDefault is r, or the default when r is unset.
func (r Raw) OrDefault() Raw { return orDefault(r, DefaultRaw) }

// OrDefault is o, or the default when o is unset.
func (o OnDivergence) OrDefault() OnDivergence { return orDefault(o, DefaultOnDivergence) }

func orDefault[T ~string](v, def T) T {
	if v == "" {
		return def
	}
	return v
}

// enum decodes a string attribute that takes one of the allowed values;
// any other value is an error at the value, and def applies.
func enum[T ~string](d *decoder, at hcl.Attributes, name string, def T, allowed []T) T {
	v, a := d.str(at, name, string(def))
	if a == nil {
		return T(v)
	}
	for _, x := range allowed {
		if T(v) == x {
			return x
		}
	}
	d.errorf(a.Expr.Range().Ptr(), "Invalid "+name, "%s = %q is not one of: %s (default %q).", name, v, strings.Join(quoted(allowed), ", "), def)
	return def
}
