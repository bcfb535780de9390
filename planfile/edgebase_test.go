package planfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/zplan/zplan/plan"
)

// TestDestroyMayAssertItsEdgeBase: a destroy may assert, on the other
// host of one of its dataset's edges, a snapshot or bookmark of that
// edge's other end (the common base diff asserts), and nothing else.
func TestDestroyMayAssertItsEdgeBase(t *testing.T) {
	cases := []struct {
		name string
		pc   plan.Precondition
		ok   bool
	}{
		{"source snapshot of the edge", plan.Precondition{Host: "src", Kind: plan.PreExists, Object: "tank/data/home@zplan_20261122T120000Z", GUID: 9}, true},
		{"source cursor bookmark of the edge", plan.Precondition{Host: "src", Kind: plan.PreExists, Object: "tank/data/home#zplan_offsite_9", GUID: 9}, true},
		{"another source dataset", plan.Precondition{Host: "src", Kind: plan.PreExists, Object: "tank/data@zplan_20261122T120000Z", GUID: 9}, false},
		{"the source dataset itself", plan.Precondition{Host: "src", Kind: plan.PreExists, Object: "tank/data/home"}, false},
		{"not an existence check", plan.Precondition{Host: "src", Kind: plan.PreAbsent, Object: "tank/data/home@x"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := validPlan()
			var a *plan.Action
			for _, x := range p.Actions {
				if x.Address == `destroy.dst["backup/src/data/home"]` {
					a = x
				}
			}
			if a == nil {
				t.Fatal("validPlan has no destroy of backup/src/data/home")
			}
			a.Preconditions = append(a.Preconditions, c.pc)
			errs := validate(t, testConfig(), p)
			refused := false
			for _, err := range errs {
				var v *Violation
				if errors.As(err, &v) && v.Rule == RulePrecondition && strings.Contains(v.Detail, "precondition on host") {
					refused = true
				}
			}
			if refused == c.ok || (c.ok && len(errs) > 0) {
				t.Errorf("precondition %v: errors %v, want ok=%v", c.pc, errs, c.ok)
			}
		})
	}
}
