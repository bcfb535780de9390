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

// A pager runs only when one is set and stdout is a terminal.
func TestPager(t *testing.T) {
	s, _, out, _ := Test()
	s.SetPager("tr a-z A-Z")
	if err := s.StartPager(); err != nil {
		t.Fatal(err)
	}
	s.Out.Write([]byte("not a terminal\n"))
	s.StopPager()
	s.SetStdoutTTY(true)
	if err := s.StartPager(); err != nil {
		t.Fatal(err)
	}
	s.Out.Write([]byte("paged\n"))
	s.StopPager()
	s.SetPager("cat")
	if err := s.StartPager(); err != nil {
		t.Fatal(err)
	}
	s.Out.Write([]byte("cat is none\n"))
	s.StopPager()
	if got := out.String(); got != "not a terminal\nPAGED\ncat is none\n" {
		t.Fatalf("got %q", got)
	}
}
