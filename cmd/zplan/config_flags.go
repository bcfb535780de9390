package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fatih/color"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/zplan/zplan/hclspec"
)

// configFlags are the flags every command that reads the configuration
// shares: -chdir, -config and -var.
type configFlags struct {
	chdir  string
	config string
	vars   []string
	cmd    *cobra.Command
}

func (f *configFlags) register(cmd *cobra.Command) {
	f.cmd = cmd
	fl := cmd.Flags()
	fl.StringVar(&f.chdir, "chdir", "", "switch to this directory before doing anything else (relative paths then start there)")
	fl.StringVar(&f.config, "config", ".", "configuration directory (every *.hcl file in it) or single file")
	fl.StringArrayVar(&f.vars, "var", nil, "set an input variable, name=value (repeatable; wins over ZPLAN_VAR_name and the default)")
}

// loadDiags changes directory as -chdir says and loads the configuration.
// err is for problems outside the configuration (a bad -var, a missing
// -chdir directory); the configuration's own problems are in diags.
func (f *configFlags) loadDiags() (*hclspec.Config, hcl.Diagnostics, error) {
	if f.chdir != "" {
		if err := os.Chdir(f.chdir); err != nil {
			return nil, nil, fmt.Errorf("-chdir: %w", err)
		}
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
	cfg, diags := hclspec.Load(path, hclspec.WithVars(vars))
	return cfg, diags, nil
}

// load loads the configuration, prints its diagnostics (warnings too) to
// stderr with source snippets, and fails with exit status 1 on errors.
func (f *configFlags) load() (*hclspec.Config, error) {
	cfg, diags, err := f.loadDiags()
	if err != nil {
		return nil, err
	}
	if len(diags) > 0 {
		var files map[string]*hcl.File
		if cfg != nil {
			files = cfg.Files
		}
		writeDiags(f.stderr(), files, diags)
	}
	if diags.HasErrors() {
		return nil, exitError{1}
	}
	return cfg, nil
}

func (f *configFlags) stderr() io.Writer {
	if f.cmd != nil {
		return f.cmd.ErrOrStderr()
	}
	return os.Stderr
}

// writeDiags renders diagnostics in colour unless colour is off
// (-no-color, NO_COLOR, or output that is not a terminal: fatih/color
// decides the last two when the program starts).
func writeDiags(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	if err := hclspec.WriteDiagnostics(w, files, diags, 0, !color.NoColor); err != nil {
		fmt.Fprintln(w, diags.Error())
	}
}
