// Package iostreams owns the CLI's standard streams and the decisions
// that depend on them: whether each is a terminal, whether output is
// coloured, whether zplan may prompt. Commands and views write only to
// the streams they are given, so tests run them on buffers.
package iostreams

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
)

// IOStreams are the streams of one run of zplan.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inTTY, outTTY, errTTY bool
	colour                bool

	pager     string // shell command; "" or "cat": none
	pagerOut  io.Writer
	pagerPipe io.WriteCloser
	pagerCmd  *exec.Cmd
}

// System is the process's own streams. Colour is on when stdout is a
// terminal, NO_COLOR is unset or empty and TERM is not "dumb" (what fatih/color
// decides by itself, but kept here instead of in its global switch).
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		inTTY: isTerminal(os.Stdin), outTTY: isTerminal(os.Stdout), errTTY: isTerminal(os.Stderr)}
	s.colour = s.outTTY && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	s.pager = os.Getenv("ZPLAN_PAGER")
	return s
}

// Test is streams on buffers: no terminal, no colour.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// IsStdoutTTY reports whether standard output is a terminal (progress
// lines are redrawn in place there).
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// SetStdoutTTY overrides the terminal detection (tests).
func (s *IOStreams) SetStdoutTTY(tty bool) { s.outTTY = tty }

// ColorEnabled reports whether output is coloured.
func (s *IOStreams) ColorEnabled() bool { return s.colour }

// SetColorEnabled turns colour on or off (-no-color turns it off).
func (s *IOStreams) SetColorEnabled(on bool) { s.colour = on }

// Color is a fatih/color style that colours exactly when s does,
// whatever color.NoColor says.
func (s *IOStreams) Color(attrs ...color.Attribute) *color.Color {
	c := color.New(attrs...)
	if s.colour {
		c.EnableColor()
	} else {
		c.DisableColor()
	}
	return c
}

// SetPager sets the pager command (a shell command line; "" or "cat"
// for none). System reads it from ZPLAN_PAGER: zplan pages only when
// asked to.
func (s *IOStreams) SetPager(cmd string) { s.pager = cmd }

// StartPager sends Out through the pager, when one is set and stdout is
// a terminal; StopPager waits for it. Without a pager both do nothing.
func (s *IOStreams) StartPager() error {
	if s.pager == "" || s.pager == "cat" || !s.outTTY || s.pagerCmd != nil {
		return nil
	}
	cmd := exec.Command("sh", "-c", s.pager)
	cmd.Stdout, cmd.Stderr = s.Out, s.ErrOut
	cmd.Env = os.Environ()
	if _, ok := os.LookupEnv("LESS"); !ok {
		cmd.Env = append(cmd.Env, "LESS=FRX") // colours, and no pager for one screen
	}
	pipe, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the pager (ZPLAN_PAGER=%q): %w", s.pager, err)
	}
	s.pagerOut, s.pagerPipe, s.pagerCmd = s.Out, pipe, cmd
	s.Out = pipe
	return nil
}

// StopPager closes the pager's input and waits for the user to quit it.
func (s *IOStreams) StopPager() {
	if s.pagerCmd == nil {
		return
	}
	s.pagerPipe.Close()
	_ = s.pagerCmd.Wait()
	s.Out = s.pagerOut
	s.pagerOut, s.pagerPipe, s.pagerCmd = nil, nil, nil
}
