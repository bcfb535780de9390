package hclspec

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

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
	Blocks:     []hcl.BlockHeaderSchema{{Type: "retention"}, {Type: "receive"}},
}

var receiveSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "set"}, {Name: "inherit"}}}

var sendSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "large_blocks"}, {Name: "compressed"}, {Name: "embedded"}, {Name: "properties"},
	{Name: "bandwidth"}, {Name: "buffer"}, {Name: "compress"}, // wire.go
}}

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
	var recvBlocks []*hcl.Block
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
		var tok bool
		tok, recvBlocks = d.replTarget(tgt, r, where)
		ok = tok && ok
	}
	if send != nil {
		sc := d.content(send.Body, sendSchema, "the send block of "+where)
		o := &r.SendOptions
		o.LargeBlocks, _ = d.boolean(sc.Attributes, "large_blocks", o.LargeBlocks)
		o.Compressed, _ = d.boolean(sc.Attributes, "compressed", o.Compressed)
		o.Embedded, _ = d.boolean(sc.Attributes, "embedded", o.Embedded)
		o.Properties, _ = d.boolean(sc.Attributes, "properties", o.Properties)
		d.wire(sc.Attributes, &r.Wire)
	}
	if !ok {
		return nil
	}
	r.Receive = d.receive(recvBlocks, r.SendOptions.Properties, where)
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

// replTarget reads the target block; it returns its receive blocks,
// which need the send options.
func (d *decoder) replTarget(b *hcl.Block, r *Replication, where string) (bool, []*hcl.Block) {
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
	var recv []*hcl.Block
	for _, blk := range c.Blocks {
		if blk.Type == "receive" {
			recv = append(recv, blk)
		}
	}
	return ok, recv
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
