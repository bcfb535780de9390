package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/zplan/zplan/hclspec"
)

// -chdir works without os.Chdir: the configuration, the file arguments
// and the paths host blocks name are resolved against it, and
// diagnostics name files relative to it, as after a chdir.

// path resolves a relative path of the command line against -chdir, as
// if zplan had changed directory there (it does not: the process's
// working directory stays).
func (f *configFlags) path(p string) string {
	if f.chdir == "" || p == "" || p == "-" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(f.chdir, p)
}

// checkChdir fails for a -chdir that is not a directory.
func (f *configFlags) checkChdir() error {
	if f.chdir == "" {
		return nil
	}
	st, err := os.Stat(f.chdir)
	if err == nil && !st.IsDir() {
		err = fmt.Errorf("%s is not a directory", f.chdir)
	}
	if err != nil {
		return fmt.Errorf("-chdir: %w", err)
	}
	return nil
}

// loadConfig is loadDiags with the configuration's relative host paths
// resolved and its diagnostics' file names relative to -chdir.
func (f *configFlags) loadConfig() (*hclspec.Config, hcl.Diagnostics, error) {
	cfg, diags, err := f.loadDiags()
	if err != nil {
		return cfg, diags, err
	}
	if cfg != nil {
		f.resolveHostPaths(cfg)
	}
	f.relativeNames(cfg, diags)
	return cfg, diags, nil
}

// relativeNames shows the configuration's file names in diagnostics as
// a chdir would have: relative to -chdir.
func (f *configFlags) relativeNames(cfg *hclspec.Config, diags hcl.Diagnostics) {
	if f.chdir == "" {
		return
	}
	prefix := filepath.Clean(f.chdir) + string(filepath.Separator)
	rel := func(r *hcl.Range) *hcl.Range {
		if r == nil || !strings.HasPrefix(r.Filename, prefix) {
			return r
		}
		c := *r
		c.Filename = strings.TrimPrefix(r.Filename, prefix)
		return &c
	}
	for _, d := range diags {
		d.Subject, d.Context = rel(d.Subject), rel(d.Context)
	}
	if cfg == nil {
		return
	}
	files := make(map[string]*hcl.File, len(cfg.Files))
	for name, file := range cfg.Files {
		files[strings.TrimPrefix(name, prefix)] = file
	}
	cfg.Files = files
}

// resolveHostPaths makes the relative files of host blocks (identity
// files, known_hosts, ssh_config) start at -chdir, as they would after a
// chdir.
func (f *configFlags) resolveHostPaths(cfg *hclspec.Config) {
	rel := func(p string) string {
		if strings.HasPrefix(p, "~") {
			return p
		}
		return f.path(p)
	}
	for _, h := range cfg.Hosts {
		for i, p := range h.IdentityFiles {
			h.IdentityFiles[i] = rel(p)
		}
		for i, p := range h.KnownHostsFiles {
			h.KnownHostsFiles[i] = rel(p)
		}
		h.SSHConfigFile = rel(h.SSHConfigFile)
	}
}
