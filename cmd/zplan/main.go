// Command zplan plans and applies ZFS snapshots, replication and retention
// from HCL files, in the manner of terraform plan/apply. The commands are
// in internal/cmd/..., built by internal/cmd/root from a factory.
package main

import (
	"os"

	"github.com/hashicorp/hcl/v2"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/internal/cmd/root"
	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/iostreams"
)

// version is set by the linker (-X main.version=...).
var version = "0.1.0-dev"

// errReported ends a command whose error has been shown (exit 1).
var errReported = cmdutil.ErrFailed

func main() {
	os.Exit(int(run(os.Args[1:], newFactory(iostreams.System()))))
}

func run(args []string, f *cmdutil.Factory) cmdutil.ExitCode { return root.Run(args, f) }

// newFactory is the factory of a run on streams s: real hosts, the
// process environment, the configuration loaded by configFlags.
func newFactory(s *iostreams.IOStreams) *cmdutil.Factory {
	cf := func(c *cmdutil.ConfigFlags) *configFlags {
		return &configFlags{chdir: c.Chdir, config: c.Config, vars: c.Vars, io: s}
	}
	return &cmdutil.Factory{
		IO: s, Version: version, Connect: cmdutil.ConnectHosts, Getenv: os.Getenv,
		LoadConfig: func(c *cmdutil.ConfigFlags) (*hclspec.Config, error) { return cf(c).load() },
		CheckConfig: func(c *cmdutil.ConfigFlags) (*hclspec.Config, hcl.Diagnostics, error) {
			return cf(c).loadConfig()
		},
	}
}
