package views

import (
	"fmt"

	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/render"
)

// Show is the view of zplan show: a saved plan rendered again.
type Show interface {
	Show(name string, f *planfile.File) error
}

// NewShow is the show view in format f. Its JSON is the one document
// of render.ShowJSON (terraform show -json's shape), not a stream.
func NewShow(f Format, v *View) Show {
	switch f {
	case JSON:
		return showJSON{v}
	case Markdown:
		return showMarkdown{v}
	}
	return showHuman{v}
}

type showHuman struct{ *View }

func (v showHuman) Show(name string, f *planfile.File) error {
	w := v.IO.Out
	v.PartialWarning(w, f.Plan)
	fmt.Fprintf(w, "Saved plan %s (zplan %s, saved %s)\n\n", name, f.ZplanVersion, f.Created.Format("2006-01-02T15:04:05Z"))
	v.Styles.Human(w, f.Plan, len(f.Plan.Kept) > 0)
	return nil
}

type showJSON struct{ *View }

func (v showJSON) Show(_ string, f *planfile.File) error { return render.ShowJSON(v.IO.Out, f.Plan) }

type showMarkdown struct{ *View }

func (v showMarkdown) Show(_ string, f *planfile.File) error {
	return render.Markdown(v.IO.Out, f.Plan)
}
