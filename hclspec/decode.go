package hclspec

// The decoder is split by block: each file holds a block's schema beside
// its decoder (variables.go: variable and locals; hosts.go;
// snapshots.go: snapshots and its schedule; retention.go; replication.go:
// replication, source, target, send; modes.go: the replication's enums),
// with the helpers they share in datasets.go (selectors and prefixes) and
// attrs.go (typed attribute access). This file holds the root schema, the
// decoder and references between blocks.

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/zplan/zplan/hclspec/timespec"
)

// Defaults of the configuration language.
const (
	DefaultPrefix       = "zplan_"
	DefaultInitial      = InitialMostRecent
	DefaultRaw          = RawAuto
	DefaultOnDivergence = DivergenceRefuse
	// MinEvery is the shortest snapshot interval: a minute, cron's
	// resolution; more often would mostly cost txg syncs.
	MinEvery = timespec.MinEvery
)

var rootSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "variable", LabelNames: []string{"name"}},
	{Type: "locals"},
	{Type: "host", LabelNames: []string{"name"}},
	{Type: "snapshots", LabelNames: []string{"name"}},
	{Type: "replication", LabelNames: []string{"name"}},
	{Type: "settings"},
}}

type decoder struct {
	cfg      *Config
	opts     loadOptions
	diags    hcl.Diagnostics
	ctx      *hcl.EvalContext
	hosts    map[string]*Host
	policies map[string]*SnapshotPolicy
}

func (d *decoder) errorf(rng *hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(detail, args...), Subject: rng})
}

func (d *decoder) warnf(rng *hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: fmt.Sprintf(detail, args...), Subject: rng})
}

// content decodes body against schema and, when hcl reports an unknown
// argument or block, lists what is allowed there so the fix is obvious.
func (d *decoder) content(body hcl.Body, schema *hcl.BodySchema, where string) *hcl.BodyContent {
	c, diags := body.Content(schema)
	for _, dg := range diags {
		switch dg.Summary {
		case "Unsupported argument":
			var names []string
			for _, a := range schema.Attributes {
				names = append(names, a.Name)
			}
			dg.Detail += fmt.Sprintf(" The arguments of %s are: %s.", where, strings.Join(names, ", "))
		case "Unsupported block type":
			var names []string
			for _, b := range schema.Blocks {
				names = append(names, b.Type)
			}
			if len(names) == 0 {
				dg.Detail += fmt.Sprintf(" %s takes no nested blocks.", where)
			} else {
				dg.Detail += fmt.Sprintf(" The blocks allowed in %s are: %s.", where, strings.Join(names, ", "))
			}
		}
	}
	d.diags = append(d.diags, diags...)
	if c == nil {
		c = &hcl.BodyContent{Attributes: hcl.Attributes{}}
	}
	return c
}

func (d *decoder) decode(files []*hcl.File) {
	byType := map[string][]*hcl.Block{}
	for _, f := range files {
		c := d.content(f.Body, rootSchema, "a configuration file")
		for _, b := range c.Blocks {
			byType[b.Type] = append(byType[b.Type], b)
		}
	}
	d.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.EmptyObjectVal, "local": cty.EmptyObjectVal},
		Functions: functions(),
	}
	d.variables(byType["variable"])
	d.locals(byType["locals"])
	d.settings(byType["settings"])
	d.hosts = map[string]*Host{}
	for _, b := range uniqueLabels(d, byType["host"], "host") {
		if h := d.host(b); h != nil {
			d.hosts[h.Name] = h
			d.cfg.Hosts = append(d.cfg.Hosts, h)
		}
	}
	d.policies = map[string]*SnapshotPolicy{}
	for _, b := range uniqueLabels(d, byType["snapshots"], "snapshots") {
		if p := d.snapshots(b); p != nil {
			d.policies[p.Name] = p
			d.cfg.Snapshots = append(d.cfg.Snapshots, p)
		}
	}
	ids := map[string]*Replication{}
	for _, b := range uniqueLabels(d, byType["replication"], "replication") {
		r := d.replication(b)
		if r == nil {
			continue
		}
		if prev := ids[r.ID]; prev != nil {
			d.errorf(b.DefRange.Ptr(), "Duplicate replication id",
				"replication %q and replication %q both have the id %q (the id defaults to the block name). Ids name hold tags and bookmarks, so each edge needs its own: set id in one of them.", prev.Name, r.Name, r.ID)
			continue
		}
		ids[r.ID] = r
		d.cfg.Replications = append(d.cfg.Replications, r)
	}
}

// uniqueLabels checks that labels are identifiers (they are used in
// references such as host.NAME) and unique, and returns the good blocks.
func uniqueLabels(d *decoder, blocks []*hcl.Block, kind string) []*hcl.Block {
	seen := map[string]*hcl.Block{}
	var out []*hcl.Block
	for _, b := range blocks {
		name := b.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			d.errorf(b.LabelRanges[0].Ptr(), fmt.Sprintf("Invalid %s name", kind),
				"%q cannot be used as a name: it is referred to as %s.%s, so it must start with a letter or underscore and contain only letters, digits, underscores and dashes.", name, kind, name)
			continue
		}
		if prev := seen[name]; prev != nil {
			d.errorf(b.LabelRanges[0].Ptr(), fmt.Sprintf("Duplicate %s block", kind),
				"A %s named %q is already declared at %s. Names must be unique across all configuration files: rename or remove one of them.", kind, name, prev.DefRange)
			continue
		}
		seen[name] = b
		out = append(out, b)
	}
	return out
}

// ref resolves a reference KIND.NAME in attribute a to NAME, checking
// that NAME is declared. Strings are refused: a reference is checked
// here, a misspelt string would only fail at plan time.
func (d *decoder) ref(a *hcl.Attribute, kind string, declared []string) (string, bool) {
	tr, diags := hcl.AbsTraversalForExpr(a.Expr)
	if diags.HasErrors() || len(tr) != 2 || tr.RootName() != kind {
		hint := ""
		if v, vd := a.Expr.Value(d.ctx); !vd.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
			hint = fmt.Sprintf(" Write %s = %s.%s, without quotes.", a.Name, kind, v.AsString())
		}
		d.errorf(a.Expr.Range().Ptr(), "Invalid reference",
			"%s must be a reference to a %s block, such as %s.NAME (declared: %s).%s", a.Name, kind, kind, listOrNone(declared), hint)
		return "", false
	}
	attr, ok := tr[1].(hcl.TraverseAttr)
	if !ok {
		d.errorf(a.Expr.Range().Ptr(), "Invalid reference", "%s must be written %s.NAME.", a.Name, kind)
		return "", false
	}
	for _, n := range declared {
		if n == attr.Name {
			return n, true
		}
	}
	d.errorf(a.Expr.Range().Ptr(), fmt.Sprintf("Reference to undeclared %s", noun(kind)),
		"No %s named %s; declared %s: %s.", noun(kind), attr.Name, plural(kind), listOrNone(declared))
	return "", false
}

func noun(kind string) string {
	if kind == "snapshots" {
		return "snapshots block"
	}
	return kind
}

func plural(kind string) string {
	if strings.HasSuffix(kind, "s") {
		return kind + " blocks"
	}
	return kind + "s"
}
