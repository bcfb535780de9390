// Package root is the zplan command: its subcommands, built from one
// factory, and how a run ends (exit codes, crashes, the terraform-style
// flag spelling).
package root

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/zplan/zplan/internal/cmd/applycmd"
	"github.com/zplan/zplan/internal/cmd/driftcmd"
	"github.com/zplan/zplan/internal/cmd/fmtcmd"
	"github.com/zplan/zplan/internal/cmd/graphcmd"
	"github.com/zplan/zplan/internal/cmd/plancmd"
	"github.com/zplan/zplan/internal/cmd/showcmd"
	"github.com/zplan/zplan/internal/cmd/unlockcmd"
	"github.com/zplan/zplan/internal/cmd/validatecmd"
	"github.com/zplan/zplan/internal/cmd/versioncmd"
	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/views"
)

// NewCmdRoot builds zplan with every subcommand.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "zplan",
		Short: "Declarative ZFS snapshots, replication and retention",
		Long: `zplan reads HCL files that declare which ZFS datasets get snapshots on
which schedule, where they replicate and how long they live, observes the
hosts, and shows (plan) or carries out (apply) the difference.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.AddCommand(
		plancmd.NewCmdPlan(f, nil), applycmd.NewCmdApply(f, nil), showcmd.NewCmdShow(f, nil),
		driftcmd.NewCmdDrift(f, nil), graphcmd.NewCmdGraph(f, nil), validatecmd.NewCmdValidate(f, nil), fmtcmd.NewCmdFmt(f, nil),
		unlockcmd.NewCmdForceUnlock(f, nil), versioncmd.NewCmdVersion(f),
	)
	return root
}

// Run runs zplan with args and returns its exit status; a panic is
// reported as a crash (ExitCrash), never as a plan.
func Run(args []string, f *cmdutil.Factory) (code cmdutil.ExitCode) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(f.IO.ErrOut, "\nzplan crashed: %v\n\nThis is a bug in zplan; please report it with the text below.\nzplan %s, args %q\n\n%s\n", r, f.Version, args, debug.Stack())
			code = cmdutil.ExitCrash
		}
	}()
	root := NewCmdRoot(f)
	root.SetArgs(TerraformStyleFlags(root, args))
	err := root.Execute()
	var ce cmdutil.CodeError
	var ue cmdutil.UsageError
	switch {
	case err == nil:
		return cmdutil.ExitOK
	case errors.As(err, &ce):
		return ce.Code
	case errors.Is(err, views.ErrReported):
		return cmdutil.ExitError
	case errors.As(err, &ue):
		fmt.Fprintln(f.IO.ErrOut, "Error:", err)
		fmt.Fprintln(f.IO.ErrOut, "\nRun zplan COMMAND -help for the flags.")
		return cmdutil.ExitError
	default:
		fmt.Fprintln(f.IO.ErrOut, "Error:", err)
		return cmdutil.ExitError
	}
}

// TerraformStyleFlags rewrites "-name" and "-name=value" to "--name..."
// for every long flag zplan knows, so users can type flags the way they
// do with terraform (zplan plan -chdir dir) as well as the GNU way.
func TerraformStyleFlags(root *cobra.Command, args []string) []string {
	long := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.InitDefaultHelpFlag() // cobra adds -help only when it runs
		visit := func(f *pflag.Flag) { long[f.Name] = true }
		c.Flags().VisitAll(visit)
		c.PersistentFlags().VisitAll(visit)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if len(name) > 1 && long[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}
