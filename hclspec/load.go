package hclspec

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// FileSuffix is what a configuration file's name ends with when Load
// reads a directory. Every *.hcl file counts, so main.zplan.hcl (the
// suggested name, telling editors and humans what it is) and hosts.hcl
// are both read. Subdirectories and hidden files are not.
const FileSuffix = ".hcl"

// EnvVarPrefix prefixes environment variables that set input variables:
// ZPLAN_VAR_pool=tank sets var.pool.
const EnvVarPrefix = "ZPLAN_VAR_"

// Option changes how Load works.
type Option func(*loadOptions)

type loadOptions struct {
	vars      map[string]string
	lookupEnv func(string) (string, bool)
}

// WithVars sets input variables, as the CLI's -var name=value does. They
// win over ZPLAN_VAR_name and over the variable's default.
func WithVars(vars map[string]string) Option {
	return func(o *loadOptions) { o.vars = vars }
}

// WithLookupEnv replaces os.LookupEnv for ZPLAN_VAR_name (tests use it to
// stay independent of the environment).
func WithLookupEnv(f func(string) (string, bool)) Option {
	return func(o *loadOptions) { o.lookupEnv = f }
}

// Load reads the configuration at path: a single file, or every *.hcl
// file of a directory in name order (the blocks of all files form one
// configuration). It always returns a Config whose Files hold the parsed
// sources (for rendering diagnostics); when the diagnostics contain
// errors, the rest of the Config is incomplete and must not be used.
func Load(path string, opts ...Option) (*Config, hcl.Diagnostics) {
	o := loadOptions{lookupEnv: os.LookupEnv}
	for _, opt := range opts {
		opt(&o)
	}
	cfg := &Config{Files: map[string]*hcl.File{}}
	names, diags := configFiles(path)
	if diags.HasErrors() {
		return cfg, diags
	}
	parser := hclparse.NewParser()
	var files []*hcl.File
	h := sha256.New()
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Cannot read configuration file",
				Detail: fmt.Sprintf("%v. Check that the file exists and is readable.", err),
			})
			continue
		}
		// The hash covers base names and contents, so the same files give
		// the same hash whichever directory zplan runs from.
		var n [8]byte
		base := filepath.Base(name)
		binary.BigEndian.PutUint64(n[:], uint64(len(base)))
		h.Write(n[:])
		h.Write([]byte(base))
		binary.BigEndian.PutUint64(n[:], uint64(len(src)))
		h.Write(n[:])
		h.Write(src)
		f, d := parser.ParseHCL(src, name)
		diags = append(diags, d...)
		if f != nil {
			files = append(files, f)
		}
	}
	cfg.Files = parser.Files()
	cfg.Hash = hex.EncodeToString(h.Sum(nil))
	if diags.HasErrors() {
		return cfg, diags
	}
	d := &decoder{cfg: cfg, opts: o}
	d.decode(files)
	diags = append(diags, d.diags...)
	// Input variables (-var, ZPLAN_VAR_*) change what the files mean, so
	// the hash covers their values as decoded: a saved plan made with
	// other values is refused like one made for other files.
	// A configuration without variables keeps the hash of its files alone.
	if v, ok := d.ctx.Variables["var"]; ok && !diags.HasErrors() && v.Type().IsObjectType() && v.LengthInt() > 0 {
		ty, err1 := ctyjson.MarshalType(v.Type())
		val, err2 := ctyjson.Marshal(v, v.Type())
		if err1 != nil || err2 != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot hash the input variables",
				Detail: fmt.Sprintf("%v. This is a bug in zplan.", errors.Join(err1, err2))})
			return cfg, diags
		}
		for _, b := range [][]byte{[]byte("\x00variables"), ty, val} {
			var n [8]byte
			binary.BigEndian.PutUint64(n[:], uint64(len(b)))
			h.Write(n[:])
			h.Write(b)
		}
		cfg.Hash = hex.EncodeToString(h.Sum(nil))
	}
	return cfg, diags
}

// configFiles lists the files Load reads for path.
func configFiles(path string) ([]string, hcl.Diagnostics) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Configuration not found",
			Detail: fmt.Sprintf("%v. Pass a directory of *%s files or a single file with -config, or change directory with -chdir.", err, FileSuffix),
		}}
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Cannot read configuration directory",
			Detail: fmt.Sprintf("%v. Check that the directory is readable.", err),
		}}
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !strings.HasSuffix(n, FileSuffix) {
			continue
		}
		names = append(names, filepath.Join(path, n))
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "No configuration files",
			Detail: fmt.Sprintf("The directory %s has no *%s files. Create one (e.g. main.zplan.hcl), or point -config at another directory or file.", path, FileSuffix),
		}}
	}
	return names, nil
}
