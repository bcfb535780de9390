package cmdutil

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/iostreams"
	"github.com/zplan/zplan/views"
)

// Check loads the configuration the flags name, resolved against
// -chdir, with the relative paths its host blocks name resolved too and
// its diagnostics naming files relative to -chdir. err is for problems
// outside the configuration (a bad -var, a missing -chdir directory);
// the configuration's own problems are in diags. hclspec.Load is the
// only validation: a configuration that loads compiles.
func (c *ConfigFlags) Check() (*hclspec.Config, hcl.Diagnostics, error) {
	if err := c.CheckChdir(); err != nil {
		return nil, nil, err
	}
	vars := map[string]string{}
	for _, kv := range c.Vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("-var %q: want name=value", kv)
		}
		vars[k] = v
	}
	path := c.Config
	if path == "" {
		path = "."
	}
	cfg, diags := hclspec.Load(c.Path(path), hclspec.WithVars(vars))
	if cfg != nil {
		ResolveHostPaths(c.Chdir, cfg)
	}
	RelativeNames(c.Chdir, cfg, diags)
	return cfg, diags, nil
}

// Load is Check that writes the diagnostics (warnings too) to stderr
// with source snippets, and fails with ErrFailed on errors.
func (c *ConfigFlags) Load(s *iostreams.IOStreams) (*hclspec.Config, error) {
	cfg, diags, err := c.Check()
	if err != nil {
		return nil, err
	}
	if len(diags) > 0 {
		var files map[string]*hcl.File
		if cfg != nil {
			files = cfg.Files
		}
		views.New(s, "").Diagnostics(s.ErrOut, files, diags)
	}
	if diags.HasErrors() {
		return nil, ErrFailed
	}
	return cfg, nil
}
