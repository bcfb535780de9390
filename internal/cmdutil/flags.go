package cmdutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/views"
)

// ConfigFlags are the flags every command that reads the configuration
// shares: -chdir, -config and -var.
type ConfigFlags struct {
	Chdir  string
	Config string
	Vars   []string
}

// Register adds the flags to cmd.
func (c *ConfigFlags) Register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&c.Chdir, "chdir", "", "run as if started in this directory: -config, file arguments and relative paths in host blocks start there")
	fl.StringVar(&c.Config, "config", ".", "configuration directory (every *.hcl file in it) or single file")
	fl.StringArrayVar(&c.Vars, "var", nil, "set an input variable, name=value (repeatable; wins over ZPLAN_VAR_name and the default)")
}

// -chdir works without os.Chdir: the configuration, the file arguments
// and the paths host blocks name are resolved against it, and
// diagnostics name files relative to it, as after a chdir.

// Path resolves a relative path of the command line against -chdir, as
// if zplan had changed directory there (it does not: the process's
// working directory stays).
func (c *ConfigFlags) Path(p string) string {
	if c.Chdir == "" || p == "" || p == "-" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Chdir, p)
}

// CheckChdir fails for a -chdir that is not a directory.
func (c *ConfigFlags) CheckChdir() error {
	if c.Chdir == "" {
		return nil
	}
	st, err := os.Stat(c.Chdir)
	if err == nil && !st.IsDir() {
		err = fmt.Errorf("%s is not a directory", c.Chdir)
	}
	if err != nil {
		return fmt.Errorf("-chdir: %w", err)
	}
	return nil
}

// RelativeNames shows the configuration's file names in diagnostics as
// a chdir would have: relative to chdir.
func RelativeNames(chdir string, cfg *hclspec.Config, diags hcl.Diagnostics) {
	if chdir == "" {
		return
	}
	prefix := filepath.Clean(chdir) + string(filepath.Separator)
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

// ResolveHostPaths makes the relative files of host blocks (identity
// files, known_hosts, ssh_config) start at chdir, as they would after a
// chdir.
func ResolveHostPaths(chdir string, cfg *hclspec.Config) {
	c := ConfigFlags{Chdir: chdir}
	rel := func(p string) string {
		if strings.HasPrefix(p, "~") {
			return p
		}
		return c.Path(p)
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

// FormatFlags are -format and its alias -json, shared by plan, apply,
// show, drift and validate.
type FormatFlags struct {
	Format string
	JSON   bool
}

// Register adds the flags to cmd; jsonHelp says what -json writes.
func (o *FormatFlags) Register(cmd *cobra.Command, jsonHelp string) {
	cmd.Flags().StringVar(&o.Format, "format", "human", "output format: human, json or markdown")
	cmd.Flags().BoolVar(&o.JSON, "json", false, jsonHelp+" (same as -format json)")
}

// Resolve is the chosen format; -json with another -format is a usage
// error.
func (o *FormatFlags) Resolve(cmd *cobra.Command) (views.Format, error) {
	f, err := views.ParseFormat(o.Format)
	if err != nil {
		return f, UsageError{err.Error()}
	}
	if o.JSON {
		if cmd.Flags().Changed("format") && f != views.JSON {
			return f, UsageError{fmt.Sprintf("-json and -format %s conflict: give one of them", o.Format)}
		}
		return views.JSON, nil
	}
	return f, nil
}
