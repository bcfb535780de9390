package render

import "github.com/fatih/color"

// Styles are the colours the human views use. Whether they colour at all
// is the caller's decision (a terminal, -no-color, NO_COLOR): render never
// reads or writes fatih/color's global switch.
type Styles struct {
	Green, Red, Yellow, Bold, Faint *color.Color
}

// NewStyles returns styles that colour when colour is true.
func NewStyles(colour bool) *Styles {
	mk := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		if colour {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	return &Styles{
		Green: mk(color.FgGreen), Red: mk(color.FgRed), Yellow: mk(color.FgYellow),
		Bold: mk(color.Bold), Faint: mk(color.Faint),
	}
}

// Plain never colours (Markdown, golden files, logs).
var Plain = NewStyles(false)

func (st *Styles) orPlain() *Styles {
	if st == nil {
		return Plain
	}
	return st
}
