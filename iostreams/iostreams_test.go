package iostreams

import (
	"testing"

	"github.com/fatih/color"
)

// Each style follows the streams' decision, never color.NoColor.
func TestColourIsPerStreams(t *testing.T) {
	s, _, out, _ := Test()
	if s.ColorEnabled() || s.IsStdoutTTY() {
		t.Fatal("test streams are no terminal and not coloured")
	}
	s.Color(color.FgRed).Fprint(out, "x")
	s.SetColorEnabled(true)
	s.Color(color.FgRed).Fprint(out, "y")
	if got := out.String(); got != "x\x1b[31my\x1b[0m" {
		t.Fatalf("got %q", got)
	}
}
