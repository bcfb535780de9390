package hclspec

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/zplan/zplan/hclspec/timespec"
)

var sourceRetentionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "grid"}, {Name: "keep_last"}, {Name: "keep_matching"}, {Name: "adopt_foreign"}, {Name: "prune_unsent"},
	{Name: "keep_unsent_for"},
}}

// Target retention has no prune_unsent or keep_unsent_for: nothing is sent from a target.
var targetRetentionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "grid"}, {Name: "keep_last"}, {Name: "keep_matching"}, {Name: "adopt_foreign"},
}}

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
	var pruneA *hcl.Attribute
	r.PruneUnsent, pruneA = d.boolean(at, "prune_unsent", false)
	if a := at["keep_unsent_for"]; a != nil {
		txt, _ := d.str(at, "keep_unsent_for", "")
		dur, err := timespec.ParseDuration(txt)
		switch {
		case err != nil:
			d.errorf(a.Expr.Range().Ptr(), "Invalid keep_unsent_for", "%v.", err)
		case dur <= 0:
			d.errorf(a.Expr.Range().Ptr(), "Invalid keep_unsent_for", "keep_unsent_for = %q must be longer than zero; to give up every unsent snapshot, use prune_unsent = true.", txt)
		case r.PruneUnsent:
			d.errorf(a.NameRange.Ptr(), "Both prune_unsent and keep_unsent_for",
				"prune_unsent = true (at %s) already lets retention destroy every unsent snapshot; keep_unsent_for only gives up those older than %s. Remove one.", pruneA.NameRange, txt)
		default:
			r.KeepUnsentFor = dur
		}
	}
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

// RetentionRules are a retention block's rules, parsed and checked.
type RetentionRules struct {
	Grid     []timespec.Interval // nil for no grid
	KeepLast int                 // 0 for none
	Matching []*regexp.Regexp    // nil for none
}

// RuleError is one reason a retention block is invalid.
type RuleError struct {
	// Rule is the attribute at fault: "grid", "keep_last" or
	// "keep_matching"; "" when the block has no rule at all.
	Rule string
	// Pattern is the offending expression for keep_matching.
	Pattern string
	Err     error
}

func (e *RuleError) Error() string { return e.Err.Error() }
func (e *RuleError) Unwrap() error { return e.Err }

// Rules parses and checks r's rules; nil has none and keeps everything.
// It is the only place retention is validated: the decoder reports its
// errors with their positions, and desired compiles retention with it. A
// retention without any rule is an error: it would destroy everything but
// the newest snapshot, which is never what an empty block means. Every
// problem is reported, in the order grid, keep_last, keep_matching, no rule.
func (r *Retention) Rules() (*RetentionRules, []*RuleError) {
	return r.rules(false)
}

// rules is Rules; with gridGiven, a blank grid is an error rather than
// no grid (the decoder passes it when the grid attribute is written).
func (r *Retention) rules(gridGiven bool) (*RetentionRules, []*RuleError) {
	if r == nil {
		return nil, nil
	}
	out := &RetentionRules{KeepLast: r.KeepLast}
	var errs []*RuleError
	if gridGiven || strings.TrimSpace(r.Grid) != "" {
		g, err := timespec.ParseGrid(r.Grid)
		if err != nil {
			errs = append(errs, &RuleError{Rule: "grid", Err: err})
		}
		out.Grid = g
	}
	if r.KeepLast < 0 {
		errs = append(errs, &RuleError{Rule: "keep_last", Err: fmt.Errorf("keep_last %d is negative", r.KeepLast)})
	}
	for _, pat := range r.KeepMatching {
		re, err := regexp.Compile(pat)
		if err != nil {
			errs = append(errs, &RuleError{Rule: "keep_matching", Pattern: pat, Err: fmt.Errorf("keep_matching %q: %w", pat, err)})
			continue
		}
		out.Matching = append(out.Matching, re)
	}
	if strings.TrimSpace(r.Grid) == "" && r.KeepLast == 0 && len(r.KeepMatching) == 0 {
		errs = append(errs, &RuleError{Err: errors.New("retention has no rule; set grid, keep_last or keep_matching")})
	}
	if errs != nil {
		return nil, errs
	}
	return out, nil
}
