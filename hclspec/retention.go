package hclspec

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/zplan/zplan/hclspec/timespec"
)

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
