package hclspec

import (
	"io"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical HCL layout (hclwrite.Format): aligned
// equals signs, two-space indentation. It does not check the syntax;
// parse first when that matters.
func Format(src []byte) []byte { return hclwrite.Format(src) }

// WriteDiagnostics renders diags the way terraform does: severity,
// summary, the file:line, a source snippet with the range underlined, and
// the detail. files are the sources (Config.Files); width wraps the
// detail text (0: no wrapping); color adds ANSI colours.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, width uint, color bool) error {
	return hcl.NewDiagnosticTextWriter(w, files, width, color).WriteDiagnostics(diags)
}
