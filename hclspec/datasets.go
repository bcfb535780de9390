package hclspec

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// selector decodes datasets and exclude.
func (d *decoder) selector(at hcl.Attributes, required bool) DatasetSelector {
	var s DatasetSelector
	var a *hcl.Attribute
	if s.Include, a = d.strList(at, "datasets"); a != nil {
		if len(s.Include) == 0 {
			d.errorf(a.Expr.Range().Ptr(), "No datasets", "datasets is empty; list dataset names (tank/data) or subtrees (tank/home/**).")
		}
		for _, p := range s.Include {
			if msg := checkPattern(p); msg != "" {
				d.errorf(a.Expr.Range().Ptr(), "Invalid dataset pattern", "%q: %s.", p, msg)
			}
		}
	}
	if s.Exclude, a = d.strList(at, "exclude"); a != nil {
		for _, p := range s.Exclude {
			if msg := checkPattern(p); msg != "" {
				d.errorf(a.Expr.Range().Ptr(), "Invalid dataset pattern", "%q: %s.", p, msg)
				continue
			}
			if !coveredBy(p, s.Include) {
				d.warnf(a.Expr.Range().Ptr(), "Exclude pattern matches nothing",
					"%q is not inside any of the datasets (%s), so excluding it has no effect.", p, strings.Join(s.Include, ", "))
			}
		}
	}
	return s
}

// coveredBy reports whether an exclude pattern can match a dataset the
// include patterns select.
func coveredBy(exclude string, include []string) bool {
	root, _ := strings.CutSuffix(exclude, "/**")
	for _, inc := range include {
		iroot, sub := strings.CutSuffix(inc, "/**")
		if root == iroot || (sub && strings.HasPrefix(root, iroot+"/")) {
			return true
		}
	}
	return false
}

func (d *decoder) checkPrefix(prefix string, a *hcl.Attribute, emptyOK bool) {
	if a == nil {
		return
	}
	rng := a.Expr.Range().Ptr()
	switch {
	case prefix == "" && emptyOK:
	case prefix == "":
		d.errorf(rng, "Empty prefix", "The prefix tells zplan's snapshots from others (zplan only destroys snapshots that carry it); use e.g. \"zplan_\".")
	case len(prefix) > MaxPrefixLen:
		d.errorf(rng, "Prefix too long", "prefix %q has %d characters; keep it to %d so snapshot names stay well inside ZFS's 255.", prefix, len(prefix), MaxPrefixLen)
	case !validComponent(prefix):
		d.errorf(rng, "Invalid prefix", "prefix %q may only contain letters, digits and _ . : - (it becomes part of snapshot names such as tank/data@%s20261122T120000Z).", prefix, prefix)
	}
}
