// Command zplan plans and applies ZFS snapshots, replication and retention
// from HCL files, in the manner of terraform plan/apply.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/iostreams"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/views"
)

// version is set by the linker (-X main.version=...).
var version = "0.1.0-dev"

// ExitCode is zplan's exit status.
type ExitCode int

const (
	ExitOK          ExitCode = 0  // done; no changes (or changes without -detailed-exitcode)
	ExitError       ExitCode = 1  // an error, conflicts, a refused or cancelled apply
	ExitChanges     ExitCode = 2  // -detailed-exitcode: the plan has changes, drift was found
	ExitUnformatted ExitCode = 3  // fmt -check: a file needs formatting
	ExitCrash       ExitCode = 11 // zplan panicked: never mistaken for a plan
)

// exitError ends a command with its code; what went wrong has already
// been shown.
type exitError struct{ code ExitCode }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

var (
	errReported    = exitError{ExitError}
	errChanges     = exitError{ExitChanges}
	errUnformatted = exitError{ExitUnformatted}
)

// usageError is a command line zplan cannot run (conflicting flags).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// connectFunc opens the hosts of a configuration.
type connectFunc func(ctx context.Context, cfg *hclspec.Config) (map[string]remote.Host, func(), error)

// factory is what every command is built from: the streams, the version
// and how to reach hosts (tests pass in-memory hosts).
type factory struct {
	IO      *iostreams.IOStreams
	Version string
	Connect connectFunc
	Getenv  func(string) string
	// AfterPlan, when set, runs after plan computed a plan (tests force
	// a crash with it).
	AfterPlan func()
}

// view is the base view; build it after -no-color is read.
func (f *factory) view() *views.View { return views.New(f.IO, f.Version) }

func newRootCmd(f *factory) *cobra.Command {
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
		newCmdPlan(f), newCmdApply(f), newCmdShow(f), newCmdDrift(f), newCmdValidate(f),
		newCmdFmt(f), newCmdForceUnlock(f), newCmdVersion(f),
	)
	return root
}

func main() {
	f := &factory{IO: iostreams.System(), Version: version, Connect: connectHosts, Getenv: os.Getenv}
	os.Exit(int(run(os.Args[1:], f)))
}

func run(args []string, f *factory) (code ExitCode) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(f.IO.ErrOut, "\nzplan crashed: %v\n\nThis is a bug in zplan; please report it with the text below.\nzplan %s, args %q\n\n%s\n", r, f.Version, args, debug.Stack())
			code = ExitCrash
		}
	}()
	root := newRootCmd(f)
	root.SetArgs(terraformStyleFlags(root, args))
	err := root.Execute()
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, views.ErrReported):
		return ExitError
	case errors.As(err, &ue):
		fmt.Fprintln(f.IO.ErrOut, "Error:", err)
		fmt.Fprintln(f.IO.ErrOut, "\nRun zplan COMMAND -help for the flags.")
		return ExitError
	default:
		fmt.Fprintln(f.IO.ErrOut, "Error:", err)
		return ExitError
	}
}

// terraformStyleFlags rewrites "-name" and "-name=value" to "--name..."
// for every long flag zplan knows, so users can type flags the way they
// do with terraform (zplan plan -chdir dir) as well as the GNU way.
func terraformStyleFlags(root *cobra.Command, args []string) []string {
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
