package hclspec

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// DefaultReceiveSet is what every replica gets unless the receive block
// says otherwise: readonly, so browsing it (atime, a stray write) never
// makes it diverge from its source, and canmount=noauto, so a boot's
// zfs mount -a never mounts it over the target's own paths.
var DefaultReceiveSet = map[string]string{"readonly": "on", "canmount": "noauto"}

var (
	nativeProp = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	// User properties need a colon; zfs allows these characters.
	userProp = regexp.MustCompile(`^[a-z0-9_.-]+:[a-z0-9_.:-]*$`)
)

// receiveRefused are properties that change what zfs recv does or what
// the replica is, rather than a setting of it.
var receiveRefused = map[string]string{
	"origin": "it makes zfs recv receive a clone of another snapshot",
	"name":   "it is not a property", "type": "it is read-only", "guid": "it is read-only",
	"encryption": "it would re-encrypt (or refuse) a raw stream", "keylocation": "the replica's keys are managed on the target", "keyformat": "the replica's keys are managed on the target",
}

// checkProperty says what is wrong with a property name in a receive
// block, or "".
func checkProperty(name string) string {
	switch {
	case strings.HasPrefix(name, "zplan:"):
		return "zplan's own properties are set by zplan"
	case receiveRefused[name] != "":
		return receiveRefused[name]
	case nativeProp.MatchString(name), userProp.MatchString(name):
		return ""
	}
	return "is not a ZFS property name (lower-case letters, digits and _, or a user property module:name)"
}

// checkPropValue says what is wrong with a value, or "": values go on
// zfs recv's command line, and zfs stores at most 8 KiB.
func checkPropValue(v string) string {
	if v == "" {
		return "is empty; use inherit to take the target's inherited value"
	}
	if len(v) > 8192 {
		return "is longer than the 8192 bytes zfs stores"
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return "contains a control character"
		}
	}
	return ""
}

// receive reads the target's receive block into the options every
// receive passes: DefaultReceiveSet, the block's set over it, and, when
// the stream carries properties (send { properties = true }),
// mountpoint kept out of it unless set here: a replica must never take
// its source's mountpoint.
func (d *decoder) receive(blocks []*hcl.Block, properties bool, where string) ReceiveOptions {
	o := ReceiveOptions{Set: maps.Clone(DefaultReceiveSet)}
	var set map[string]string
	var inherit []string
	var setAttr, inhAttr *hcl.Attribute
	for i, blk := range blocks {
		if i > 0 {
			d.errorf(blk.DefRange.Ptr(), "Duplicate receive block", "The target of %s has one receive block; merge them.", where)
			break
		}
		rc := d.content(blk.Body, receiveSchema, "the receive block of "+where)
		set, setAttr = d.strMap(rc.Attributes, "set")
		inherit, inhAttr = d.strList(rc.Attributes, "inherit")
	}
	for _, k := range keys(set) {
		if msg := checkProperty(k); msg != "" {
			d.errorf(setAttr.Expr.Range().Ptr(), "Invalid receive property", "set: %q %s.", k, msg)
			continue
		}
		if msg := checkPropValue(set[k]); msg != "" {
			d.errorf(setAttr.Expr.Range().Ptr(), "Invalid receive property value", "set: the value of %s %s.", k, msg)
			continue
		}
		o.Set[k] = set[k]
	}
	if properties && set["mountpoint"] == "" {
		inherit = append(inherit, "mountpoint")
	}
	for _, k := range inherit {
		switch msg := checkProperty(k); {
		case msg != "":
			d.errorf(inhAttr.Expr.Range().Ptr(), "Invalid receive property", "inherit: %q %s.", k, msg)
		case set[k] != "":
			d.errorf(inhAttr.Expr.Range().Ptr(), "Conflicting receive property", "%s is both in set and in inherit; keep one.", k)
		case !slices.Contains(o.Inherit, k):
			delete(o.Set, k) // inherit wins over a default
			o.Inherit = append(o.Inherit, k)
		}
	}
	slices.Sort(o.Inherit)
	return o
}
