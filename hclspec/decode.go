package hclspec

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"

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
}}

var variableSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "default"}, {Name: "description"},
}}

var hostSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "address"}, {Name: "port"}, {Name: "user"}, {Name: "identity_files"}, {Name: "agent"},
	{Name: "known_hosts"}, {Name: "command_prefix"}, {Name: "connect_timeout"}, {Name: "ssh_config"},
	{Name: "insecure_ignore_host_key"}, {Name: "command_timeout"},
}}

var snapshotsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "host", Required: true}, {Name: "datasets", Required: true}, {Name: "exclude"},
		{Name: "prefix"}, {Name: "every"}, {Name: "cron"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "retention"}},
}

var sourceRetentionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "grid"}, {Name: "keep_last"}, {Name: "keep_matching"}, {Name: "adopt_foreign"}, {Name: "prune_unsent"},
}}

// Target retention has no prune_unsent: nothing is sent from a target.
var targetRetentionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "grid"}, {Name: "keep_last"}, {Name: "keep_matching"}, {Name: "adopt_foreign"},
}}

var replicationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "id"}, {Name: "initial"}, {Name: "raw"}, {Name: "allow_decrypt"}, {Name: "on_divergence"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "source"}, {Type: "target"}, {Type: "send"}},
}

var replSourceSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "snapshots"}, {Name: "host"}, {Name: "datasets"}, {Name: "exclude"}, {Name: "prefix"},
}}

var replTargetSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "host", Required: true}, {Name: "root", Required: true}, {Name: "strip_prefix"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "retention"}},
}

var sendSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "large_blocks"}, {Name: "compressed"}, {Name: "embedded"}, {Name: "properties"},
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

func (d *decoder) host(b *hcl.Block) *Host {
	name := b.Labels[0]
	c := d.content(b.Body, hostSchema, fmt.Sprintf("host %q", name))
	at := c.Attributes
	h := &Host{Name: name, DefRange: b.DefRange}
	h.Address, _ = d.str(at, "address", "")
	h.User, _ = d.str(at, "user", "")
	h.IdentityFiles, _ = d.strList(at, "identity_files")
	h.UseAgent, _ = d.boolean(at, "agent", true)
	h.KnownHostsFiles, _ = d.strList(at, "known_hosts")
	h.CommandPrefix, _ = d.strList(at, "command_prefix")
	h.SSHConfigFile, _ = d.str(at, "ssh_config", "")
	h.InsecureIgnoreHostKey, _ = d.boolean(at, "insecure_ignore_host_key", false)
	var portAttr *hcl.Attribute
	h.Port, portAttr = d.integer(at, "port", 0)
	if portAttr != nil && (h.Port < 1 || h.Port > 65535) {
		d.errorf(portAttr.Expr.Range().Ptr(), "Invalid port", "port %d is not a TCP port; use a number from 1 to 65535 (default: 22, or Port from the ssh config).", h.Port)
	}
	if a := at["connect_timeout"]; a != nil {
		if s, _ := d.str(at, "connect_timeout", ""); s != "" {
			dur, err := timespec.ParseDuration(s)
			if err != nil {
				d.errorf(a.Expr.Range().Ptr(), "Invalid connect_timeout", "%v.", err)
			}
			h.ConnectTimeout = dur
		}
	}
	if a := at["command_timeout"]; a != nil {
		if s, _ := d.str(at, "command_timeout", ""); s == "none" {
			h.CommandTimeout = -1 // no limit
		} else if s != "" {
			dur, err := timespec.ParseDuration(s)
			if err != nil || dur <= 0 {
				d.errorf(a.Expr.Range().Ptr(), "Invalid command_timeout", "command_timeout %q: write a duration such as 30m or 2h, or \"none\" for no limit.", s)
			}
			h.CommandTimeout = dur
		}
	}
	if h.Address == "" {
		// A host without an address is the controller itself; SSH settings
		// on it are almost certainly a forgotten address.
		for _, n := range []string{"port", "user", "identity_files", "known_hosts", "connect_timeout", "ssh_config", "insecure_ignore_host_key", "agent", "command_timeout"} {
			if a := at[n]; a != nil {
				d.errorf(a.NameRange.Ptr(), "SSH setting on a local host",
					"host %q has no address, so zplan runs its commands locally and %s does not apply. Set address (a DNS name, IP address or ~/.ssh/config alias) to reach it over SSH, or remove %s.", name, n, n)
			}
		}
	} else if strings.ContainsAny(h.Address, " \t@") {
		d.errorf(at["address"].Expr.Range().Ptr(), "Invalid address",
			"address %q must be a host name, IP address or ssh config alias, without spaces; set the login name with user, not user@host.", h.Address)
	}
	if h.InsecureIgnoreHostKey {
		d.warnf(at["insecure_ignore_host_key"].Expr.Range().Ptr(), "Host key checking is disabled",
			"host %q accepts any SSH host key, so anyone on the network path can impersonate it. Use this only in a lab; list the key in known_hosts instead.", name)
	}
	return h
}

// hostRef resolves an expression like host.nas.
func (d *decoder) hostRef(a *hcl.Attribute) (string, bool) {
	return d.ref(a, "host", keys(d.hosts))
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

func (d *decoder) snapshots(b *hcl.Block) *SnapshotPolicy {
	name := b.Labels[0]
	where := fmt.Sprintf("snapshots %q", name)
	c := d.content(b.Body, snapshotsSchema, where)
	at := c.Attributes
	p := &SnapshotPolicy{Name: name, DefRange: b.DefRange}
	ok := true
	if a := at["host"]; a != nil {
		p.Host, ok = d.hostRef(a)
	}
	p.Datasets = d.selector(at, true)
	var prefixAttr *hcl.Attribute
	p.Prefix, prefixAttr = d.str(at, "prefix", DefaultPrefix)
	d.checkPrefix(p.Prefix, prefixAttr, false)
	p.Schedule = d.schedule(b, at)
	p.Retention = d.retentionBlock(c.Blocks, where, true)
	_ = ok // an invalid policy still counts as declared, so references to it do not cascade into more errors
	return p
}

func (d *decoder) schedule(b *hcl.Block, at hcl.Attributes) Schedule {
	var s Schedule
	everyA, cronA := at["every"], at["cron"]
	switch {
	case everyA != nil && cronA != nil:
		d.errorf(cronA.NameRange.Ptr(), "Both every and cron",
			"A snapshots block takes either every (an interval, e.g. \"15m\") or cron (e.g. \"0 */6 * * *\"), not both: remove one.")
		return s
	case everyA == nil && cronA == nil:
		d.errorf(b.DefRange.Ptr(), "Missing schedule",
			"Set every (an interval aligned to the UTC epoch, e.g. every = \"15m\") or cron (5 fields, UTC, e.g. cron = \"0 */6 * * *\").")
		return s
	case everyA != nil:
		txt, _ := d.str(at, "every", "")
		dur, err := timespec.ParseDuration(txt)
		rng := everyA.Expr.Range().Ptr()
		if err != nil {
			d.errorf(rng, "Invalid every", "%v.", err)
			break
		}
		var se *timespec.ScheduleError
		_, err = timespec.EverySchedule(dur)
		switch {
		case errors.As(err, &se) && se.Problem == timespec.EveryFraction:
			d.errorf(rng, "Invalid every", "every = %q is not a whole number of seconds.", txt)
		case err != nil:
			d.errorf(rng, "Interval too short", "every = %q is shorter than the minimum of %s; snapshot at most once a minute.", txt, timespec.FormatDuration(MinEvery))
		default:
			s.Every = dur
		}
	default:
		txt, _ := d.str(at, "cron", "")
		var se *timespec.ScheduleError
		if _, err := timespec.CronSchedule(txt); errors.As(err, &se) {
			d.errorf(cronA.Expr.Range().Ptr(), "Invalid cron expression",
				"cron %q: %v. The format is minute hour day-of-month month day-of-week, evaluated in UTC (e.g. \"0 */6 * * *\", \"30 2 * * mon-fri\", or @daily).", txt, se.Err)
		} else {
			s.Cron = txt
		}
	}
	return s
}

// retentionBlock decodes at most one retention block.
func (d *decoder) retentionBlock(blocks hcl.Blocks, where string, source bool) *Retention {
	var out *Retention
	for _, b := range blocks {
		if b.Type != "retention" {
			continue
		}
		if out != nil {
			d.errorf(b.DefRange.Ptr(), "Duplicate retention block",
				"%s already has a retention block at %s; put all rules (grid, keep_last, keep_matching) in that one.", where, out.DefRange)
			continue
		}
		out = d.retention(b, where, source)
	}
	return out
}

func (d *decoder) retention(b *hcl.Block, where string, source bool) *Retention {
	schema := targetRetentionSchema
	if source {
		schema = sourceRetentionSchema
	}
	c := d.content(b.Body, schema, "the retention block of "+where)
	at := c.Attributes
	r := &Retention{DefRange: b.DefRange}
	var gridA, keepLastA, matchingA *hcl.Attribute
	r.Grid, gridA = d.str(at, "grid", "")
	r.KeepLast, keepLastA = d.integer(at, "keep_last", 0)
	r.KeepMatching, matchingA = d.strList(at, "keep_matching")
	r.AdoptForeign, _ = d.boolean(at, "adopt_foreign", false)
	r.PruneUnsent, _ = d.boolean(at, "prune_unsent", false)
	_, errs := r.rules(gridA != nil)
	for _, e := range errs {
		switch {
		case e.Rule == "grid" && gridA != nil:
			d.errorf(gridA.Expr.Range().Ptr(), "Invalid retention grid", "%v.", e.Err)
		case e.Rule == "keep_last" && keepLastA != nil:
			d.errorf(keepLastA.Expr.Range().Ptr(), "Invalid keep_last", "keep_last must be 0 or more, not %d.", r.KeepLast)
		case e.Rule == "keep_matching" && matchingA != nil:
			d.errorf(matchingA.Expr.Range().Ptr(), "Invalid regular expression", "%v. The syntax is Go's RE2 (https://pkg.go.dev/regexp/syntax).", e.Err)
		case e.Rule == "":
			d.errorf(b.DefRange.Ptr(), "Retention without rules",
				"This retention block keeps nothing but the newest snapshot. Add a rule: grid (e.g. \"1x1h(keep=all) | 24x1h | 14x1d\"), keep_last, or keep_matching; or remove the block to keep every snapshot.")
		default: // the attribute did not decode; its value is the default, which has no problem
			d.errorf(b.DefRange.Ptr(), "Invalid retention", "%v.", e.Err)
		}
	}
	return r
}

// selector decodes datasets and exclude.
func (d *decoder) selector(at hcl.Attributes, required bool) DatasetSelector {
	var s DatasetSelector
	var a *hcl.Attribute
	if s.Include, a = d.strList(at, "datasets"); a != nil {
		if len(s.Include) == 0 {
			d.errorf(a.Expr.Range().Ptr(), "No datasets", "datasets is empty; list dataset names (tank/data) or subtrees (tank/home/**).")
		}
		for _, p := range s.Include {
			if msg := checkPattern(p); msg != "" {
				d.errorf(a.Expr.Range().Ptr(), "Invalid dataset pattern", "%q: %s.", p, msg)
			}
		}
	}
	if s.Exclude, a = d.strList(at, "exclude"); a != nil {
		for _, p := range s.Exclude {
			if msg := checkPattern(p); msg != "" {
				d.errorf(a.Expr.Range().Ptr(), "Invalid dataset pattern", "%q: %s.", p, msg)
				continue
			}
			if !coveredBy(p, s.Include) {
				d.warnf(a.Expr.Range().Ptr(), "Exclude pattern matches nothing",
					"%q is not inside any of the datasets (%s), so excluding it has no effect.", p, strings.Join(s.Include, ", "))
			}
		}
	}
	return s
}

// coveredBy reports whether an exclude pattern can match a dataset the
// include patterns select.
func coveredBy(exclude string, include []string) bool {
	root, _ := strings.CutSuffix(exclude, "/**")
	for _, inc := range include {
		iroot, sub := strings.CutSuffix(inc, "/**")
		if root == iroot || (sub && strings.HasPrefix(root, iroot+"/")) {
			return true
		}
	}
	return false
}

func (d *decoder) checkPrefix(prefix string, a *hcl.Attribute, emptyOK bool) {
	if a == nil {
		return
	}
	rng := a.Expr.Range().Ptr()
	switch {
	case prefix == "" && emptyOK:
	case prefix == "":
		d.errorf(rng, "Empty prefix", "The prefix tells zplan's snapshots from others (zplan only destroys snapshots that carry it); use e.g. \"zplan_\".")
	case len(prefix) > MaxPrefixLen:
		d.errorf(rng, "Prefix too long", "prefix %q has %d characters; keep it to %d so snapshot names stay well inside ZFS's 255.", prefix, len(prefix), MaxPrefixLen)
	case !validComponent(prefix):
		d.errorf(rng, "Invalid prefix", "prefix %q may only contain letters, digits and _ . : - (it becomes part of snapshot names such as tank/data@%s20261122T120000Z).", prefix, prefix)
	}
}

func (d *decoder) replication(b *hcl.Block) *Replication {
	name := b.Labels[0]
	where := fmt.Sprintf("replication %q", name)
	c := d.content(b.Body, replicationSchema, where)
	at := c.Attributes
	r := &Replication{Name: name, DefRange: b.DefRange}
	var a *hcl.Attribute
	r.ID, a = d.str(at, "id", name)
	if msg := checkID(r.ID); msg != "" {
		rng := b.LabelRanges[0].Ptr()
		if a != nil {
			rng = a.Expr.Range().Ptr()
		}
		d.errorf(rng, "Invalid replication id", "id %q %s; it names hold tags and bookmarks. Set id to letters, digits and _ . : - (at most %d characters).", r.ID, msg, MaxIDLen)
	}
	r.Initial = enum(d, at, "initial", DefaultInitial, initialValues)
	r.Raw = enum(d, at, "raw", DefaultRaw, rawValues)
	r.OnDivergence = enum(d, at, "on_divergence", DefaultOnDivergence, onDivergenceValues)
	r.AllowDecrypt, _ = d.boolean(at, "allow_decrypt", false)
	r.SendOptions = SendOptions{LargeBlocks: true, Compressed: true}

	var src, tgt, send *hcl.Block
	for _, blk := range c.Blocks {
		ptr := map[string]**hcl.Block{"source": &src, "target": &tgt, "send": &send}[blk.Type]
		if *ptr != nil {
			d.errorf(blk.DefRange.Ptr(), fmt.Sprintf("Duplicate %s block", blk.Type),
				"%s already has a %s block at %s; a replication has one. Declare another replication block for another %s.", where, blk.Type, (*ptr).DefRange, blk.Type)
			continue
		}
		*ptr = blk
	}
	ok := true
	if src == nil {
		d.errorf(b.DefRange.Ptr(), "Missing source block", "%s needs a source block: source { snapshots = snapshots.NAME } or source { host = host.NAME; datasets = [...] }.", where)
		ok = false
	} else {
		ok = d.replSource(src, r, where) && ok
	}
	if tgt == nil {
		d.errorf(b.DefRange.Ptr(), "Missing target block", "%s needs a target block: target { host = host.NAME; root = \"pool/backup\" }.", where)
		ok = false
	} else {
		ok = d.replTarget(tgt, r, where) && ok
	}
	if send != nil {
		sc := d.content(send.Body, sendSchema, "the send block of "+where)
		o := &r.SendOptions
		o.LargeBlocks, _ = d.boolean(sc.Attributes, "large_blocks", o.LargeBlocks)
		o.Compressed, _ = d.boolean(sc.Attributes, "compressed", o.Compressed)
		o.Embedded, _ = d.boolean(sc.Attributes, "embedded", o.Embedded)
		o.Properties, _ = d.boolean(sc.Attributes, "properties", o.Properties)
	}
	if !ok {
		return nil
	}
	d.checkOverlap(r, tgt)
	return r
}

func (d *decoder) replSource(b *hcl.Block, r *Replication, where string) bool {
	c := d.content(b.Body, replSourceSchema, "the source block of "+where)
	at := c.Attributes
	var prefixAttr *hcl.Attribute
	r.Prefix, prefixAttr = d.str(at, "prefix", "")
	d.checkPrefix(r.Prefix, prefixAttr, true)
	if a := at["snapshots"]; a != nil {
		for _, n := range []string{"host", "datasets", "exclude"} {
			if x := at[n]; x != nil {
				d.errorf(x.NameRange.Ptr(), "Conflicting source settings",
					"The source follows a snapshots policy, which already gives host, datasets and exclude: remove %s here, or drop snapshots and list host and datasets instead.", n)
				return false
			}
		}
		name, ok := d.ref(a, "snapshots", keys(d.policies))
		if !ok {
			return false
		}
		p := d.policies[name]
		r.SnapshotsPolicy = name
		r.SourceHost = p.Host
		r.SourceDatasets = p.Datasets
		if prefixAttr == nil {
			r.Prefix = p.Prefix
		}
		return true
	}
	ha := at["host"]
	if ha == nil || at["datasets"] == nil {
		d.errorf(b.DefRange.Ptr(), "Incomplete source",
			"A source needs either snapshots = snapshots.NAME, or both host = host.NAME and datasets = [...]. Without a prefix, all snapshots of the datasets are replicated.")
		return false
	}
	host, ok := d.hostRef(ha)
	r.SourceHost = host
	r.SourceDatasets = d.selector(at, true)
	return ok
}

func (d *decoder) replTarget(b *hcl.Block, r *Replication, where string) bool {
	c := d.content(b.Body, replTargetSchema, "the target block of "+where)
	at := c.Attributes
	ok := true
	if a := at["host"]; a != nil {
		r.TargetHost, ok = d.hostRef(a)
	}
	var a *hcl.Attribute
	if r.TargetRoot, a = d.str(at, "root", ""); a != nil {
		if msg := checkDatasetName(r.TargetRoot); msg != "" {
			d.errorf(a.Expr.Range().Ptr(), "Invalid target root", "root %q: %s.", r.TargetRoot, msg)
		}
	}
	if r.StripPrefix, a = d.str(at, "strip_prefix", ""); a != nil {
		if msg := checkDatasetName(r.StripPrefix); msg != "" {
			d.errorf(a.Expr.Range().Ptr(), "Invalid strip_prefix", "strip_prefix %q: %s.", r.StripPrefix, msg)
		} else {
			for _, inc := range r.SourceDatasets.Include {
				root, _ := strings.CutSuffix(inc, "/**")
				if root != r.StripPrefix && !strings.HasPrefix(root, r.StripPrefix+"/") {
					d.errorf(a.Expr.Range().Ptr(), "Source outside strip_prefix",
						"The source dataset %s is not %s or below it, so strip_prefix cannot be removed from its name. Use a strip_prefix that every source dataset starts with (by default, the pool name).", root, r.StripPrefix)
				}
			}
		}
	}
	r.TargetRetention = d.retentionBlock(c.Blocks, "the target of "+where, false)
	return ok
}

// checkOverlap refuses a replication into its own source subtree on one
// host: each run would replicate the previous run's copy again.
func (d *decoder) checkOverlap(r *Replication, tgt *hcl.Block) {
	if r.SourceHost != r.TargetHost || r.TargetRoot == "" {
		return
	}
	sel := DatasetSelector{Include: r.SourceDatasets.Include, Exclude: r.SourceDatasets.Exclude}
	if selects(sel, r.TargetRoot) {
		d.errorf(tgt.DefRange.Ptr(), "Target inside the source",
			"The target root %s on host %s is itself selected by the source datasets (%s), so each run would replicate the previous copy again. Exclude it (exclude = [\"%s/**\"]) or choose a root outside the source.",
			r.TargetRoot, r.TargetHost, strings.Join(sel.Include, ", "), r.TargetRoot)
	}
}

// selects reports whether sel chooses the dataset name.
func selects(sel DatasetSelector, name string) bool {
	match := func(pat string) bool {
		root, sub := strings.CutSuffix(pat, "/**")
		return name == root || (sub && strings.HasPrefix(name, root+"/"))
	}
	in := false
	for _, p := range sel.Include {
		in = in || match(p)
	}
	for _, p := range sel.Exclude {
		if match(p) {
			return false
		}
	}
	return in
}

// enum decodes a string attribute that takes one of the allowed values;
// any other value is an error at the value, and def applies.
func enum[T ~string](d *decoder, at hcl.Attributes, name string, def T, allowed []T) T {
	v, a := d.str(at, name, string(def))
	if a == nil {
		return T(v)
	}
	for _, x := range allowed {
		if T(v) == x {
			return x
		}
	}
	d.errorf(a.Expr.Range().Ptr(), "Invalid "+name, "%s = %q is not one of: %s (default %q).", name, v, strings.Join(quoted(allowed), ", "), def)
	return def
}

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
	a := at[name]
	if a == nil {
		return def, nil
	}
	v, ok := d.value(a)
	if !ok {
		return def, nil
	}
	var b bool
	if err := gocty.FromCtyValue(mustConvert(v, cty.Bool), &b); err != nil {
		d.typeError(a, "true or false", v)
		return def, nil
	}
	return b, a
}

func (d *decoder) integer(at hcl.Attributes, name string, def int) (int, *hcl.Attribute) {
	a := at[name]
	if a == nil {
		return def, nil
	}
	v, ok := d.value(a)
	if !ok {
		return def, nil
	}
	var n int
	if err := gocty.FromCtyValue(mustConvert(v, cty.Number), &n); err != nil {
		d.typeError(a, "a whole number", v)
		return def, nil
	}
	return n, a
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

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
