package planfile

import (
	"errors"
	"testing"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/plan"
)

// Saved plans may release orphans' holds and destroy orphans' cursors
// only when the configuration declares orphans = "release", and only for
// names of zplan's forms whose id is not configured or whose edge does
// not cover the dataset.
func TestValidateOrphanReleases(t *testing.T) {
	release := func(host, ds, tag string) *plan.Action {
		return &plan.Action{Address: plan.KindRelease.Address(host, ds+"@"+tag), Kind: plan.KindRelease, Host: host, Dataset: ds, Tag: tag,
			Snapshots: []plan.SnapRef{{Name: old2}}}
	}
	destroyBM := func(host, ds, bm string) *plan.Action {
		return &plan.Action{Address: plan.KindDestroyBookmark.Address(host, ds+"#"+bm), Kind: plan.KindDestroyBookmark, Host: host, Dataset: ds, Bookmark: bm}
	}
	cases := []struct {
		name    string
		orphans hclspec.Orphans
		a       *plan.Action
		ok      bool
	}{
		{"hold of an id not configured", hclspec.OrphansRelease, release("dst", "backup/src/data/home", plan.LastTag("old")), true},
		{"step hold of an id not configured", hclspec.OrphansRelease, release("src", "tank/data", plan.StepTag("old")), true},
		{"cursor of an id not configured", hclspec.OrphansRelease, destroyBM("src", "tank/data", plan.CursorName("old", 6)), true},
		{"cursor on an excluded dataset", hclspec.OrphansRelease, destroyBM("src", "tank/data/tmp", plan.CursorName("offsite", 6)), true},
		{"hold on an excluded dataset's replica", hclspec.OrphansRelease, release("dst", "backup/src/data/tmp", plan.LastTag("offsite")), true},

		{"orphans not declared: hold", "", release("dst", "backup/src/data/home", plan.LastTag("old")), false},
		{"orphans = keep: cursor", hclspec.OrphansKeep, destroyBM("src", "tank/data/tmp", plan.CursorName("offsite", 6)), false},
		{"another tool's hold", hclspec.OrphansRelease, release("dst", "backup/src/data/home", "backup_tool"), false},
		{"look-alike hold tag", hclspec.OrphansRelease, release("dst", "backup/src/data/home", "zplan_last_not an id"), false},
		{"look-alike cursor", hclspec.OrphansRelease, destroyBM("src", "tank/data", "zplan_cursor_00000000000000AA_old"), false},
		{"another tool's bookmark", hclspec.OrphansRelease, destroyBM("src", "tank/data", "precious"), false},
		{"a live edge's step hold on its target", hclspec.OrphansRelease, release("dst", "backup/src/data/home", plan.StepTag("offsite")), false},
		{"a hold, not a release", hclspec.OrphansRelease, &plan.Action{Address: plan.KindHold.Address("dst", "backup/src/data/home@zplan_last_old"),
			Kind: plan.KindHold, Host: "dst", Dataset: "backup/src/data/home", Tag: plan.LastTag("old"), Snapshots: []plan.SnapRef{{Name: old2}}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := validPlan()
			p.Actions = append(p.Actions, c.a)
			cfg := testConfig(func(cfg *hclspec.Config) { cfg.Orphans = c.orphans })
			errs := validate(t, cfg, p)
			if c.ok && len(errs) > 0 {
				t.Errorf("refused: %v", errors.Join(errs...))
			}
			if !c.ok && len(errs) == 0 {
				t.Errorf("%s was not refused", c.a.Address)
			}
		})
	}
}
