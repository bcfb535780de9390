package hclspec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var variableSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "default"}, {Name: "description"},
}}

// variables evaluates the variable blocks: -var values (Load's Vars) win
// over ZPLAN_VAR_name, which wins over the default.
func (d *decoder) variables(blocks []*hcl.Block) {
	vals := map[string]cty.Value{}
	declared := map[string]bool{}
	for _, b := range uniqueLabels(d, blocks, "variable") {
		name := b.Labels[0]
		declared[name] = true
		c := d.content(b.Body, variableSchema, fmt.Sprintf("variable %q", name))
		if a := c.Attributes["description"]; a != nil {
			d.str(c.Attributes, "description", "")
		}
		def := cty.NilVal
		if a := c.Attributes["default"]; a != nil {
			// Defaults are constants: no references, but functions are fine.
			v, diags := a.Expr.Value(&hcl.EvalContext{Functions: d.ctx.Functions})
			d.diags = append(d.diags, diags...)
			if diags.HasErrors() {
				continue
			}
			def = v
		}
		raw, ok := d.opts.vars[name]
		source := "-var " + name
		if !ok && d.opts.lookupEnv != nil {
			raw, ok = d.opts.lookupEnv(EnvVarPrefix + name)
			source = EnvVarPrefix + name
		}
		switch {
		case ok:
			v, err := parseVarValue(raw, def)
			if err != nil {
				d.errorf(b.DefRange.Ptr(), "Invalid value for variable",
					"The value %q from %s does not fit variable %q: %v. Give a value of the default's type (%s).", raw, source, name, err, def.Type().FriendlyName())
				continue
			}
			vals[name] = v
		case def != cty.NilVal:
			vals[name] = def
		default:
			d.errorf(b.DefRange.Ptr(), "No value for required variable",
				"Variable %q has no default. Set it with -var %s=VALUE or the environment variable %s%s, or give it a default.", name, name, EnvVarPrefix, name)
		}
	}
	var unknown []string
	for name := range d.opts.vars {
		if !declared[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		d.errorf(nil, "Value for undeclared variable",
			"-var %s was given, but no variable %q is declared. Declare it with a variable %q {} block, or fix the name (declared: %s).", name, name, name, listOrNone(keys(declared)))
	}
	if len(vals) > 0 {
		d.ctx.Variables["var"] = cty.ObjectVal(vals)
	}
}

// parseVarValue turns a -var or environment string into a value of the
// default's type: strings stay strings, numbers and bools convert, and
// lists or maps are parsed as HCL expressions (["a", "b"]).
func parseVarValue(raw string, def cty.Value) (cty.Value, error) {
	if def == cty.NilVal || def.IsNull() || def.Type() == cty.String {
		return cty.StringVal(raw), nil
	}
	if def.Type().IsPrimitiveType() {
		return convert.Convert(cty.StringVal(raw), def.Type())
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), "value", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return v, nil
}

// locals evaluates all locals blocks, in dependency order.
func (d *decoder) locals(blocks []*hcl.Block) {
	pending := map[string]*hcl.Attribute{}
	for _, b := range blocks {
		attrs, diags := b.Body.JustAttributes()
		d.diags = append(d.diags, diags...)
		for name, a := range attrs {
			if prev := pending[name]; prev != nil {
				d.errorf(a.NameRange.Ptr(), "Duplicate local value",
					"local.%s is already defined at %s. Each local needs a unique name across all locals blocks.", name, prev.NameRange)
				continue
			}
			pending[name] = a
		}
	}
	vals := map[string]cty.Value{}
	for len(pending) > 0 {
		progress := false
		for _, name := range keys(pending) {
			a := pending[name]
			ready := true
			for _, tr := range a.Expr.Variables() {
				if tr.RootName() != "local" || len(tr) < 2 {
					continue
				}
				if dep, ok := tr[1].(hcl.TraverseAttr); ok && pending[dep.Name] != nil && dep.Name != name {
					ready = false
				}
			}
			if !ready {
				continue
			}
			v, diags := a.Expr.Value(d.ctx)
			d.diags = append(d.diags, diags...)
			if diags.HasErrors() {
				v = cty.DynamicVal
			}
			vals[name] = v
			d.ctx.Variables["local"] = cty.ObjectVal(vals)
			delete(pending, name)
			progress = true
		}
		if !progress {
			for _, name := range keys(pending) {
				d.errorf(pending[name].Expr.Range().Ptr(), "Cycle in local values",
					"local.%s depends on itself through %s. Break the cycle by writing one of them without references to the others.", name, strings.Join(prefixed("local.", keys(pending)), ", "))
			}
			return
		}
	}
}
