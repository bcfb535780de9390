// Command zplan plans and applies ZFS snapshots, replication and retention
// from HCL files, in the manner of terraform plan/apply. The commands are
// in internal/cmd/..., built by internal/cmd/root from a factory.
package main

import (
	"os"

	"github.com/zplan/zplan/internal/cmd/root"
	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/iostreams"
)

// version is set by the linker (-X main.version=...).
var version = "0.1.0-dev"

func main() {
	os.Exit(int(run(os.Args[1:], newFactory(iostreams.System()))))
}

func run(args []string, f *cmdutil.Factory) cmdutil.ExitCode { return root.Run(args, f) }

// newFactory is the factory of a run on streams s: real hosts and the
// process environment.
func newFactory(s *iostreams.IOStreams) *cmdutil.Factory {
	return &cmdutil.Factory{IO: s, Version: version, Connect: cmdutil.ConnectHosts, Getenv: os.Getenv}
}
