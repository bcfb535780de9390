package views

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"
	"github.com/hashicorp/hcl/v2"

	"github.com/zplan/zplan/hclspec"
)

// Validate is the view of zplan validate.
type Validate interface {
	// Validate shows the result: the diagnostics of the configuration
	// (files are its sources, for snippets).
	Validate(files map[string]*hcl.File, diags hcl.Diagnostics) error
}

// NewValidate is the validate view in format f.
func NewValidate(f Format, v *View) Validate {
	switch f {
	case JSON:
		return validateJSON{v}
	case Markdown:
		return validateMarkdown{v}
	}
	return validateHuman{v}
}

// Diagnostics writes diags with source snippets, coloured when the
// streams are.
func (v *View) Diagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	if err := hclspec.WriteDiagnostics(w, files, diags, 0, v.IO.ColorEnabled()); err != nil {
		fmt.Fprintln(w, diags.Error())
	}
}

type validateHuman struct{ *View }

func (v validateHuman) Validate(files map[string]*hcl.File, diags hcl.Diagnostics) error {
	out := v.IO.Out
	if len(diags) > 0 {
		w := v.IO.ErrOut
		if !diags.HasErrors() {
			w = out // only warnings: they belong with the success line
		}
		v.Diagnostics(w, files, diags)
	}
	if !diags.HasErrors() {
		fmt.Fprintln(out, v.IO.Color(color.FgGreen, color.Bold).Sprint("Success!")+" The configuration is valid.")
	}
	return nil
}

type validateJSON struct{ *View }

func (v validateJSON) Validate(_ map[string]*hcl.File, diags hcl.Diagnostics) error {
	enc := json.NewEncoder(v.IO.Out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(NewValidateDocument(diags)); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// validateMarkdown is the result for a PR comment: a heading, then each
// diagnostic with its place, and the snippets in a <details> block.
type validateMarkdown struct{ *View }

func (v validateMarkdown) Validate(files map[string]*hcl.File, diags hcl.Diagnostics) error {
	doc := NewValidateDocument(diags)
	var b strings.Builder
	if doc.Valid {
		b.WriteString("### zplan validate: valid")
		if doc.WarningCount > 0 {
			fmt.Fprintf(&b, " (%d warning(s))", doc.WarningCount)
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "### zplan validate: %d error(s), %d warning(s)\n", doc.ErrorCount, doc.WarningCount)
	}
	if len(doc.Diagnostics) > 0 {
		b.WriteString("\n")
		for _, d := range doc.Diagnostics {
			sev := "Warning"
			if d.Severity == "error" {
				sev = "Error"
			}
			fmt.Fprintf(&b, "- **%s: %s**", sev, mdText(d.Summary))
			if d.Range != nil {
				fmt.Fprintf(&b, " (`%s` line %d)", d.Range.Filename, d.Range.Start.Line)
			}
			if d.Detail != "" {
				fmt.Fprintf(&b, ": %s", mdText(d.Detail))
			}
			b.WriteString("\n")
		}
		var full strings.Builder
		if err := hclspec.WriteDiagnostics(&full, files, diags, 0, false); err != nil {
			full.WriteString(diags.Error())
		}
		fmt.Fprintf(&b, "\n<details><summary>Diagnostics</summary>\n\n```\n%s```\n\n</details>\n", strings.ReplaceAll(full.String(), "```", "'''"))
	}
	_, err := fmt.Fprint(v.IO.Out, b.String())
	return err
}

func mdText(s string) string {
	return strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "\n", " ").Replace(s)
}

// ValidateDocument is what validate -json writes. Its layout follows
// terraform validate -json, so tools that read one can read the other.
type ValidateDocument struct {
	FormatVersion string     `json:"format_version"`
	Valid         bool       `json:"valid"`
	ErrorCount    int        `json:"error_count"`
	WarningCount  int        `json:"warning_count"`
	Diagnostics   []jsonDiag `json:"diagnostics"`
}

type jsonDiag struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *jsonRange `json:"range,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// NewValidateDocument is the JSON result of diags.
func NewValidateDocument(diags hcl.Diagnostics) ValidateDocument {
	out := ValidateDocument{FormatVersion: "1.0", Diagnostics: []jsonDiag{}}
	for _, d := range diags {
		jd := jsonDiag{Severity: "warning", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagError {
			jd.Severity = "error"
			out.ErrorCount++
		} else {
			out.WarningCount++
		}
		if d.Subject != nil {
			s := d.Subject
			jd.Range = &jsonRange{Filename: s.Filename,
				Start: jsonPos{s.Start.Line, s.Start.Column, s.Start.Byte},
				End:   jsonPos{s.End.Line, s.End.Column, s.End.Byte}}
		}
		out.Diagnostics = append(out.Diagnostics, jd)
	}
	out.Valid = out.ErrorCount == 0
	return out
}
