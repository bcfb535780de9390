package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/iostreams"
	"github.com/zplan/zplan/views"
)

// configFlags are the values of the flags every command that reads the
// configuration shares (-chdir, -config and -var: cmdutil.ConfigFlags
// registers them), and the streams for its diagnostics.
type configFlags struct {
	chdir  string
	config string
	vars   []string
	io     *iostreams.IOStreams
}

// loadDiags loads the configuration, its path resolved against -chdir
// (use loadConfig, which also resolves what the files name).
// err is for problems outside the configuration (a bad -var, a missing
// -chdir directory); the configuration's own problems are in diags.
func (f *configFlags) loadDiags() (*hclspec.Config, hcl.Diagnostics, error) {
	if err := f.checkChdir(); err != nil {
		return nil, nil, err
	}
	vars := map[string]string{}
	for _, kv := range f.vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("-var %q: want name=value", kv)
		}
		vars[k] = v
	}
	path := f.config
	if path == "" {
		path = "."
	}
	path = f.path(path)
	cfg, diags := hclspec.Load(path, hclspec.WithVars(vars))
	return cfg, diags, nil
}

// load loads the configuration, prints its diagnostics (warnings too) to
// stderr with source snippets, and fails with exit status 1 on errors.
func (f *configFlags) load() (*hclspec.Config, error) {
	cfg, diags, err := f.loadConfig()
	if err != nil {
		return nil, err
	}
	if len(diags) > 0 {
		var files map[string]*hcl.File
		if cfg != nil {
			files = cfg.Files
		}
		writeDiags(f.io, f.io.ErrOut, files, diags)
	}
	if diags.HasErrors() {
		return nil, errReported
	}
	return cfg, nil
}

// writeDiags renders diagnostics, in colour when the streams are.
func writeDiags(s *iostreams.IOStreams, w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	views.New(s, "").Diagnostics(w, files, diags)
}
