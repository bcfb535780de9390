package hclspec

import "github.com/hashicorp/hcl/v2"

// Orphans says what the plan does with zplan's holds and cursor
// bookmarks that no configured replication edge owns any more.
type Orphans string

const (
	OrphansKeep    Orphans = "keep"    // list them in the plan only (default)
	OrphansRelease Orphans = "release" // release the holds, destroy the cursors
)

var orphansValues = []Orphans{OrphansKeep, OrphansRelease}

// OrDefault is o, or "keep" when o is unset.
func (o Orphans) OrDefault() Orphans { return orDefault(o, OrphansKeep) }

var settingsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "orphans"}}}

// settings decodes the settings blocks: at most one in the whole
// configuration, since its values are fleet-wide.
func (d *decoder) settings(blocks []*hcl.Block) {
	for i, b := range blocks {
		if i > 0 {
			d.errorf(b.DefRange.Ptr(), "Duplicate settings block",
				"only one settings block is allowed in a configuration; the first is at %s.", blocks[0].DefRange)
			continue
		}
		c := d.content(b.Body, settingsSchema, "settings")
		d.cfg.Orphans = enum(d, c.Attributes, "orphans", OrphansKeep, orphansValues)
	}
}
