package main

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/internal/cmdutil"
)

// -chdir works without os.Chdir (see cmdutil.ConfigFlags.Path).

func (f *configFlags) path(p string) string {
	return (&cmdutil.ConfigFlags{Chdir: f.chdir}).Path(p)
}

func (f *configFlags) checkChdir() error {
	return (&cmdutil.ConfigFlags{Chdir: f.chdir}).CheckChdir()
}

// loadConfig is loadDiags with the configuration's relative host paths
// resolved and its diagnostics' file names relative to -chdir.
func (f *configFlags) loadConfig() (*hclspec.Config, hcl.Diagnostics, error) {
	cfg, diags, err := f.loadDiags()
	if err != nil {
		return cfg, diags, err
	}
	if cfg != nil {
		cmdutil.ResolveHostPaths(f.chdir, cfg)
	}
	cmdutil.RelativeNames(f.chdir, cfg, diags)
	return cfg, diags, nil
}
