package hclspec

import (
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Limits on names, after ZFS's own (dataset names are at most 255 bytes;
// hold tags and bookmark names must leave room for zplan's additions).
const (
	MaxDatasetNameLen = 255
	MaxPrefixLen      = 64
	MaxIDLen          = 64
)

// validComponent reports whether s is a non-empty run of the characters
// ZFS accepts in a name component, restricted to [A-Za-z0-9_.:-] (ZFS
// also allows spaces; zplan does not, so names survive shells unquoted).
func validComponent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == ':', r == '-':
		default:
			return false
		}
	}
	return true
}

// checkDatasetName returns why name is not a valid ZFS filesystem or
// volume name, or "".
func checkDatasetName(name string) string {
	switch {
	case name == "":
		return "a dataset name cannot be empty"
	case strings.ContainsAny(name, "@#"):
		return "a dataset name cannot contain @ or # (those name snapshots and bookmarks)"
	case len(name) > MaxDatasetNameLen:
		return fmt.Sprintf("a dataset name is at most %d characters", MaxDatasetNameLen)
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/"):
		return "a dataset name starts with the pool name and has no leading or trailing /"
	}
	parts := strings.Split(name, "/")
	for _, c := range parts {
		switch {
		case c == "":
			return "a dataset name has no empty components (//)"
		case c == "." || c == "..":
			return fmt.Sprintf("%q is not a valid name component", c)
		case !validComponent(c):
			return fmt.Sprintf("component %q may only contain letters, digits and _ . : -", c)
		}
	}
	pool := parts[0]
	if c := pool[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return fmt.Sprintf("the pool name %q must start with a letter", pool)
	}
	for _, reserved := range []string{"mirror", "raidz", "draid", "spare", "log"} {
		if strings.HasPrefix(pool, reserved) {
			return fmt.Sprintf("the pool name %q begins with the reserved word %q", pool, reserved)
		}
	}
	return ""
}

// checkPattern returns why a datasets/exclude pattern is invalid, or "".
func checkPattern(p string) string {
	root, _ := strings.CutSuffix(p, "/**")
	if strings.Contains(root, "*") {
		return "the only wildcard is a trailing /**: write NAME for one dataset or NAME/** for NAME and everything below it"
	}
	return checkDatasetName(root)
}

// checkID returns why a replication id is invalid, or "".
func checkID(id string) string {
	switch {
	case id == "":
		return "is empty"
	case len(id) > MaxIDLen:
		return fmt.Sprintf("is longer than %d characters", MaxIDLen)
	case !validComponent(id):
		return "contains characters other than letters, digits and _ . : -"
	}
	return ""
}

// stdFunctions are the functions available in expressions: the cty
// standard library under the names Terraform users know.
var stdFunctions = map[string]function.Function{
	"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "chomp": stdlib.ChompFunc,
	"coalesce": stdlib.CoalesceFunc, "coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
	"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "distinct": stdlib.DistinctFunc,
	"element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc, "floor": stdlib.FloorFunc,
	"format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc, "indent": stdlib.IndentFunc,
	"join": stdlib.JoinFunc, "jsondecode": stdlib.JSONDecodeFunc, "jsonencode": stdlib.JSONEncodeFunc,
	"keys": stdlib.KeysFunc, "length": stdlib.LengthFunc, "lookup": stdlib.LookupFunc,
	"lower": stdlib.LowerFunc, "max": stdlib.MaxFunc, "merge": stdlib.MergeFunc, "min": stdlib.MinFunc,
	"parseint": stdlib.ParseIntFunc, "range": stdlib.RangeFunc, "regex": stdlib.RegexFunc,
	"regexall": stdlib.RegexAllFunc, "regex_replace": stdlib.RegexReplaceFunc, "replace": stdlib.ReplaceFunc,
	"reverse": stdlib.ReverseListFunc, "slice": stdlib.SliceFunc, "sort": stdlib.SortFunc,
	"split": stdlib.SplitFunc, "strlen": stdlib.StrlenFunc, "substr": stdlib.SubstrFunc,
	"title": stdlib.TitleFunc, "trim": stdlib.TrimFunc, "trimprefix": stdlib.TrimPrefixFunc,
	"trimspace": stdlib.TrimSpaceFunc, "trimsuffix": stdlib.TrimSuffixFunc, "upper": stdlib.UpperFunc,
	"values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
	"tostring": stdlib.MakeToFunc(cty.String), "tonumber": stdlib.MakeToFunc(cty.Number),
	"tobool": stdlib.MakeToFunc(cty.Bool), "tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
}

func functions() map[string]function.Function { return stdFunctions }
