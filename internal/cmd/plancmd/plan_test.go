package plancmd

import (
	"strings"
	"testing"

	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/iostreams"
	"github.com/zplan/zplan/views"
)

// The command line parses into Options; nothing runs.
func TestNewCmdPlanOptions(t *testing.T) {
	for _, c := range []struct {
		args    []string
		format  views.Format
		wantErr string
		check   func(*Options) bool
	}{
		{[]string{"--json", "--target", "a", "--target", "b", "--out", "p"}, views.JSON, "", func(o *Options) bool {
			return strings.Join(o.Flags.Targets, ",") == "a,b" && o.Out == "p"
		}},
		{[]string{"--format", "md", "--chdir", "d", "--detailed-exitcode"}, views.Markdown, "", func(o *Options) bool {
			return o.Flags.Config.Chdir == "d" && o.Detailed && o.Flags.Config.Path("x") == "d/x"
		}},
		{[]string{"--json", "--format", "human"}, 0, "conflict", nil},
	} {
		ios, _, _, _ := iostreams.Test()
		var got *Options
		cmd := NewCmdPlan(&cmdutil.Factory{IO: ios}, func(o *Options) error { got = o; return nil })
		cmd.SetArgs(c.args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: err %v, want %q", c.args, err, c.wantErr)
			}
			continue
		}
		if err != nil || got == nil || got.Format != c.format || !c.check(got) {
			t.Errorf("%q: err %v, options %+v", c.args, err, got)
		}
	}
}
