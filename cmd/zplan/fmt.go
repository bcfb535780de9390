package main

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
	"github.com/zplan/zplan/internal/textdiff"
)

type fmtFlags struct {
	check, diff, recursive, list, noColor bool
}

func init() {
	var f fmtFlags
	cmd := &cobra.Command{
		Use:   "fmt [paths...]",
		Short: "Rewrite configuration files in the canonical layout",
		Long: `fmt rewrites *.hcl files in the canonical HCL layout (aligned equals
signs, two-space indentation). With no paths it formats the current
directory; a path may be a file, a directory, or - for stdin to stdout.

Exit status: 0 done (or, with -check, nothing to format), 1 error (such as
a syntax error: the file is left alone), 3 with -check when a file needs
formatting.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.noColor {
				color.NoColor = true
			}
			return runFmt(cmd, f, args)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.check, "check", false, "change nothing; exit 3 if any file needs formatting")
	fl.BoolVar(&f.diff, "diff", false, "print a unified diff of the changes")
	fl.BoolVar(&f.recursive, "recursive", false, "also format files in subdirectories")
	fl.BoolVar(&f.list, "list", true, "print the names of files that need (or got) formatting")
	fl.BoolVar(&f.noColor, "no-color", false, "disable colour (also NO_COLOR=1; off when stdout is not a terminal)")
	rootCmd.AddCommand(cmd)
}

func runFmt(cmd *cobra.Command, f fmtFlags, args []string) error {
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if len(args) == 0 {
		args = []string{"."}
	}
	var files []string
	for _, a := range args {
		if a == "-" {
			return fmtStdin(cmd, f)
		}
		found, err := fmtFiles(a, f.recursive)
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
			writeDiags(errw, map[string]*hcl.File{name: {Bytes: src}}, diags)
			failed = true
			continue
		}
		if bytes.Equal(src, formatted) {
			continue
		}
		unformatted = true
		if f.list {
			fmt.Fprintln(out, name)
		}
		if f.diff {
			io.WriteString(out, unifiedDiff(name, src, formatted))
		}
		if !f.check {
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
		return exitError{1}
	case f.check && unformatted:
		return exitError{3}
	}
	return nil
}

// fmtStdin formats standard input to standard output (or checks it).
func fmtStdin(cmd *cobra.Command, f fmtFlags) error {
	src, err := io.ReadAll(cmd.InOrStdin())
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	formatted, diags := formatChecked(src, "<stdin>")
	if diags.HasErrors() {
		writeDiags(cmd.ErrOrStderr(), map[string]*hcl.File{"<stdin>": {Bytes: src}}, diags)
		return exitError{1}
	}
	switch {
	case f.diff:
		io.WriteString(cmd.OutOrStdout(), unifiedDiff("<stdin>", src, formatted))
	case !f.check:
		cmd.OutOrStdout().Write(formatted)
	}
	if f.check && !bytes.Equal(src, formatted) {
		return exitError{3}
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

// unifiedDiff is the -diff output, coloured as fatih/color decides.
func unifiedDiff(name string, a, b []byte) string {
	return textdiff.Unified(name, a, b, textdiff.Style{
		Deleted:  func(s string) string { return color.RedString("%s", s) },
		Inserted: func(s string) string { return color.GreenString("%s", s) },
	})
}
