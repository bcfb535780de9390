// Command zplan plans and applies ZFS snapshots, replication and retention
// from HCL files, in the manner of terraform plan/apply.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set by the linker (-X main.version=...).
var version = "0.1.0-dev"

// exitError carries an exit code up to main without printing again.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

var rootCmd = &cobra.Command{
	Use:   "zplan",
	Short: "Declarative ZFS snapshots, replication and retention",
	Long: `zplan reads HCL files that declare which ZFS datasets get snapshots on
which schedule, where they replicate and how long they live, observes the
hosts, and shows (plan) or carries out (apply) the difference.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// crashExit is the exit status after a panic: distinct from 1 (error)
// and 2 (changes), so a pipeline never mistakes a crash for a plan.
const crashExit = 11

func run(args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(rootCmd.ErrOrStderr(), "\nzplan crashed: %v\n\nThis is a bug in zplan; please report it with the text below.\nzplan %s, args %q\n\n%s\n", r, version, args, debug.Stack())
			code = crashExit
		}
	}()
	rootCmd.SetArgs(terraformStyleFlags(rootCmd, args))
	err := rootCmd.Execute()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintln(rootCmd.ErrOrStderr(), "Error:", err)
		return 1
	}
}

// terraformStyleFlags rewrites "-name" and "-name=value" to "--name..."
// for every long flag zplan knows, so users can type flags the way they
// do with terraform (zplan plan -chdir dir) as well as the GNU way.
func terraformStyleFlags(root *cobra.Command, args []string) []string {
	long := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
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
