package diff_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs/zfsfake"
)

// Replicas are received readonly and unmountable at boot; one changed by
// hand is brought back by a set_properties action, and a volume's
// receive leaves out what does not apply to volumes (zfs refuses
// canmount on one).
func TestReceivePropertiesOnFake(t *testing.T) {
	ctx := context.Background()
	at := now
	w := zfsfake.NewWorld(func() time.Time { return at })
	src, dst := w.Host("src"), w.Host("dst")
	src.CreatePool("tank")
	src.Create("tank/data", zfsfake.Opts{})
	src.Create("tank/data/vm", zfsfake.Opts{Volume: true})
	src.Write("tank/data", 1<<20)
	dst.CreatePool("backup")
	hosts := map[string]remote.Host{"src": src, "dst": dst}
	cfg := config(func(c *hclspec.Config) {
		c.Replications[0].Receive = hclspec.ReceiveOptions{Set: maps.Clone(hclspec.DefaultReceiveSet)}
	})
	run := func() *plan.Plan {
		t.Helper()
		st, err := observe.Observe(ctx, hosts)
		if err != nil {
			t.Fatal(err)
		}
		_, p := planOf(t, cfg, st, at)
		if res, err := apply.Apply(ctx, p, hosts, apply.Options{}); err != nil || res.Failed+res.Refused+res.Skipped > 0 {
			t.Fatalf("apply: %+v, %v", res, err)
		}
		return p
	}
	run()
	for ds, want := range map[string][2]string{"backup/src/data": {"on", "noauto"}, "backup/src/data/vm": {"on", ""}} {
		if ro, cm := dst.Prop(ds, "readonly"), dst.Prop(ds, "canmount"); ro != want[0] || cm != want[1] {
			t.Errorf("%s: readonly=%q canmount=%q, want %q %q", ds, ro, cm, want[0], want[1])
		}
	}

	// Someone makes the replica writable and mountable at boot.
	dst.SetProp("backup/src/data", "readonly", "off")
	dst.SetProp("backup/src/data", "canmount", "on")
	at = at.Add(time.Minute) // no new snapshot slot: the edge is in sync
	p := run()
	var set *plan.Action
	for _, a := range p.Actions {
		if a.Kind == plan.KindSetProperties {
			set = a
		}
	}
	if set == nil || set.Dataset != "backup/src/data" || set.Properties["readonly"] != "on" || set.Properties["canmount"] != "noauto" {
		t.Fatalf("want set_properties readonly=on canmount=noauto on backup/src/data, plan: %+v", p.Actions)
	}
	if dst.Prop("backup/src/data", "readonly") != "on" || dst.Prop("backup/src/data", "canmount") != "noauto" {
		t.Error("set_properties did not set them")
	}
	if p := run(); len(p.Actions) != 0 {
		t.Errorf("after set_properties, plan has %d actions: %+v", len(p.Actions), p.Actions[0])
	}
}
