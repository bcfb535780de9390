package hclspec

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Typed attribute access. Each returns the attribute (nil when absent or
// null, in which case the default applies) and records a diagnostic
// pointing at the value when it has the wrong type.

func (d *decoder) value(a *hcl.Attribute) (cty.Value, bool) {
	v, diags := a.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || v.IsNull() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

func (d *decoder) typeError(a *hcl.Attribute, want string, v cty.Value) {
	d.errorf(a.Expr.Range().Ptr(), "Incorrect attribute value type",
		"%s must be %s, but this is a %s.", a.Name, want, v.Type().FriendlyName())
}

func (d *decoder) str(at hcl.Attributes, name, def string) (string, *hcl.Attribute) {
	a := at[name]
	if a == nil {
		return def, nil
	}
	v, ok := d.value(a)
	if !ok {
		return def, nil
	}
	if !v.Type().IsPrimitiveType() {
		d.typeError(a, "a string", v)
		return def, nil
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		d.typeError(a, "a string", v)
		return def, nil
	}
	return s.AsString(), a
}

func (d *decoder) strList(at hcl.Attributes, name string) ([]string, *hcl.Attribute) {
	a := at[name]
	if a == nil {
		return nil, nil
	}
	v, ok := d.value(a)
	if !ok {
		return nil, nil
	}
	if !v.Type().IsListType() && !v.Type().IsTupleType() && !v.Type().IsSetType() {
		d.typeError(a, `a list of strings (e.g. ["a", "b"])`, v)
		return nil, nil
	}
	var out []string
	if err := gocty.FromCtyValue(mustConvert(v, cty.List(cty.String)), &out); err != nil {
		d.errorf(a.Expr.Range().Ptr(), "Incorrect attribute value type", "%s must be a list of strings: %v.", name, err)
		return nil, nil
	}
	return out, a
}

func mustConvert(v cty.Value, t cty.Type) cty.Value {
	out, err := convert.Convert(v, t)
	if err != nil {
		return v // FromCtyValue reports the mismatch
	}
	return out
}

func (d *decoder) boolean(at hcl.Attributes, name string, def bool) (bool, *hcl.Attribute) {
	return primitive(d, at, name, def, cty.Bool, "true or false")
}

func (d *decoder) integer(at hcl.Attributes, name string, def int) (int, *hcl.Attribute) {
	return primitive(d, at, name, def, cty.Number, "a whole number")
}

// primitive reads attribute name as a T converted from type ty; want
// says what the attribute must be, for the diagnostic.
func primitive[T any](d *decoder, at hcl.Attributes, name string, def T, ty cty.Type, want string) (T, *hcl.Attribute) {
	a := at[name]
	if a == nil {
		return def, nil
	}
	v, ok := d.value(a)
	if !ok {
		return def, nil
	}
	var out T
	if err := gocty.FromCtyValue(mustConvert(v, ty), &out); err != nil {
		d.typeError(a, want, v)
		return def, nil
	}
	return out, a
}

func keys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func prefixed(p string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = p + n
	}
	return out
}

func quoted[T ~string](names []T) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

func (d *decoder) strMap(at hcl.Attributes, name string) (map[string]string, *hcl.Attribute) {
	a := at[name]
	if a == nil {
		return nil, nil
	}
	v, ok := d.value(a)
	if !ok {
		return nil, nil
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		d.typeError(a, `a map of strings (e.g. { compression = "zstd" })`, v)
		return nil, nil
	}
	var out map[string]string
	if err := gocty.FromCtyValue(mustConvert(v, cty.Map(cty.String)), &out); err != nil {
		d.errorf(a.Expr.Range().Ptr(), "Incorrect attribute value type", "%s must be a map of strings: %v.", name, err)
		return nil, nil
	}
	return out, a
}
