// Package fmtcmd is zplan fmt.
package fmtcmd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fatih/color"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/spf13/cobra"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/internal/textdiff"
	"github.com/zplan/zplan/iostreams"
	"github.com/zplan/zplan/views"
)

// Options are zplan fmt's inputs.
type Options struct {
	Factory                               *cmdutil.Factory
	Check, Diff, Recursive, List, NoColor bool
	Paths                                 []string
}

// NewCmdFmt builds zplan fmt; runF (nil: Run) carries it out.
func NewCmdFmt(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "fmt [paths...]",
		Short: "Rewrite configuration files in the canonical layout",
		Long: `fmt rewrites *.hcl files in the canonical HCL layout (aligned equals
signs, two-space indentation). With no paths it formats the current
directory; a path may be a file, a directory, or - for stdin to stdout.

Exit status: 0 done (or, with -check, nothing to format), 1 error (such as
a syntax error: the file is left alone), 3 with -check when a file needs
formatting.`,
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Paths = args
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Check, "check", false, "change nothing; exit 3 if any file needs formatting")
	fl.BoolVar(&opts.Diff, "diff", false, "print a unified diff of the changes")
	fl.BoolVar(&opts.Recursive, "recursive", false, "also format files in subdirectories")
	fl.BoolVar(&opts.List, "list", true, "print the names of files that need (or got) formatting")
	fl.BoolVar(&opts.NoColor, "no-color", false, "disable colour (also NO_COLOR=1; off when stdout is not a terminal)")
	return cmd
}

// Run formats (or checks) the files.
func Run(opts *Options) error {
	ios := opts.Factory.IO
	if opts.NoColor {
		ios.SetColorEnabled(false)
	}
	out, errw := ios.Out, ios.ErrOut
	args := opts.Paths
	if len(args) == 0 {
		args = []string{"."}
	}
	var files []string
	for _, a := range args {
		if a == "-" {
			return fmtStdin(opts)
		}
		found, err := fmtFiles(a, opts.Recursive)
		if err != nil {
			return err
		}
		files = append(files, found...)
	}
	failed, unformatted := false, false
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(errw, "Error: %v\n", err)
			failed = true
			continue
		}
		formatted, diags := formatChecked(src, name)
		if diags.HasErrors() {
			views.New(ios, "").Diagnostics(errw, map[string]*hcl.File{name: {Bytes: src}}, diags)
			failed = true
			continue
		}
		if bytes.Equal(src, formatted) {
			continue
		}
		unformatted = true
		if opts.List {
			fmt.Fprintln(out, name)
		}
		if opts.Diff {
			fmt.Fprint(out, unifiedDiff(ios, name, src, formatted))
		}
		if !opts.Check {
			st, err := os.Stat(name)
			if err != nil {
				return err
			}
			if err := os.WriteFile(name, formatted, st.Mode().Perm()); err != nil {
				fmt.Fprintf(errw, "Error: %v\n", err)
				failed = true
			}
		}
	}
	switch {
	case failed:
		return cmdutil.ErrFailed
	case opts.Check && unformatted:
		return cmdutil.ErrUnformatted
	}
	return nil
}

// fmtStdin formats standard input to standard output (or checks it).
func fmtStdin(opts *Options) error {
	ios := opts.Factory.IO
	src, err := io.ReadAll(ios.In)
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	formatted, diags := formatChecked(src, "<stdin>")
	if diags.HasErrors() {
		views.New(ios, "").Diagnostics(ios.ErrOut, map[string]*hcl.File{"<stdin>": {Bytes: src}}, diags)
		return cmdutil.ErrFailed
	}
	switch {
	case opts.Diff:
		fmt.Fprint(ios.Out, unifiedDiff(ios, "<stdin>", src, formatted))
	case !opts.Check:
		ios.Out.Write(formatted)
	}
	if opts.Check && !bytes.Equal(src, formatted) {
		return cmdutil.ErrUnformatted
	}
	return nil
}

// formatChecked parses src first: hclwrite formats whatever it is given,
// and reformatting a file with a syntax error can make it worse.
func formatChecked(src []byte, name string) ([]byte, hcl.Diagnostics) {
	_, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	return hclspec.Format(src), nil
}

// fmtFiles lists the *.hcl files at path: the file itself, or those of
// the directory (and below, when recursive; hidden directories skipped).
func fmtFiles(path string, recursive bool) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && (!recursive || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), hclspec.FileSuffix) && !strings.HasPrefix(d.Name(), ".") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// unifiedDiff is the -diff output, coloured when the streams are.
func unifiedDiff(s *iostreams.IOStreams, name string, a, b []byte) string {
	red, green := s.Color(color.FgRed), s.Color(color.FgGreen)
	return textdiff.Unified(name, a, b, textdiff.Style{
		Deleted:  func(s string) string { return red.Sprint(s) },
		Inserted: func(s string) string { return green.Sprint(s) },
	})
}
