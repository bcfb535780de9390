package applycmd

import (
	"strings"
	"testing"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/iostreams"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/views"
)

func TestNewCmdApplyOptions(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var got *Options
	cmd := NewCmdApply(&cmdutil.Factory{IO: ios}, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--lock=false", "--parallelism", "2", "--format", "markdown", "--auto-approve", "saved.zplan"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Lock.enabled || got.Parallelism != 2 || got.Format != views.Markdown || !got.AutoApprove || got.PlanFile != "saved.zplan" {
		t.Fatalf("%+v", got)
	}
}

// A saved plan's flags are refused before the file is read.
func TestSavedPlanRefusesPlanningFlags(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	opts := &Options{Factory: &cmdutil.Factory{IO: ios, Version: "test"}, PlanFile: "nowhere.zplan"}
	opts.Flags.Targets = []string{"x"}
	if _, ok := Run(opts).(cmdutil.UsageError); !ok {
		t.Fatal("-target with a saved plan is not a usage error")
	}
}

func TestPools(t *testing.T) {
	for in, want := range map[string]string{"tank": "tank", "tank/a/b": "tank", "tank@s": "tank", "tank/a@s": "tank"} {
		if got := poolOf(in); got != want {
			t.Errorf("poolOf(%q) = %q, want %q", in, got, want)
		}
	}
	p := &plan.Plan{Actions: []*plan.Action{
		{Host: "src", Dataset: "tank/data", Send: &plan.Send{TargetHost: "dst", TargetDataset: "backup/data"}},
		{Host: "src", Dataset: "rpool/x"},
	}}
	got := planPools(p)
	if len(got) != 3 || !got[hostPool{"src", "tank"}] || !got[hostPool{"dst", "backup"}] || !got[hostPool{"src", "rpool"}] {
		t.Fatalf("%v", got)
	}
}

// A bad -bwlimit is a usage error before anything is loaded or reached.
func TestBWLimitFlag(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var got *Options
	cmd := NewCmdApply(&cmdutil.Factory{IO: ios}, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--bwlimit", "100MiB/s"})
	if err := cmd.Execute(); err != nil || got.BWLimit != "100MiB/s" {
		t.Fatalf("%v, %+v", err, got)
	}
	for _, bad := range []string{"100", "fast", "10B/s", "1MiB/min"} {
		opts := &Options{Factory: &cmdutil.Factory{IO: ios, Version: "test"}, BWLimit: bad}
		err := Run(opts)
		if u, ok := err.(cmdutil.UsageError); !ok || !strings.Contains(u.Msg, "-bwlimit") {
			t.Errorf("-bwlimit %s: %v, want a usage error", bad, err)
		}
	}
}

func TestWireOptions(t *testing.T) {
	cfg := &hclspec.Config{Replications: []*hclspec.Replication{
		{ID: "a", Wire: hclspec.WireOptions{Bandwidth: 1 << 20, Buffer: 64 << 20}},
		{ID: "b"},
	}}
	w := wireOptions(cfg)
	if w["a"] != (apply.Wire{Bandwidth: 1 << 20, Buffer: 64 << 20}) || w["b"] != (apply.Wire{}) {
		t.Fatalf("%+v", w)
	}
}
