package hclspec

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/zplan/zplan/hclspec/timespec"
)

// OnPreFailure says what happens to a snapshot when a hook's pre
// command fails (non-zero exit or timeout).
type OnPreFailure string

const (
	PreFailureSkip     OnPreFailure = "skip"     // no snapshot on that host and pool; apply reports why (default)
	PreFailureContinue OnPreFailure = "continue" // report it and take the snapshot anyway
)

var onPreFailureValues = []OnPreFailure{PreFailureSkip, PreFailureContinue}

// DefaultHookTimeout bounds each hook command without a timeout setting.
const DefaultHookTimeout = 60 * time.Second

// Hook is a `hook "NAME"` block of a snapshots policy: commands run on
// the policy's host before (Pre) and after (Post) its snapshots. Each is
// an argv, never a shell string.
type Hook struct {
	Name         string
	Pre, Post    []string // empty: none
	Timeout      time.Duration
	OnPreFailure OnPreFailure
	DefRange     hcl.Range
}

var hookSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "pre"}, {Name: "post"}, {Name: "timeout"}, {Name: "on_pre_failure"},
}}

// hooks decodes the hook blocks of a snapshots policy, in declaration
// order (the order pre commands run in).
func (d *decoder) hooks(blocks hcl.Blocks, where string) []Hook {
	var out []Hook
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		if b.Type != "hook" {
			continue
		}
		name := b.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			d.errorf(b.LabelRanges[0].Ptr(), "Invalid hook name",
				"%q cannot be used as a hook name: it must start with a letter or underscore and contain only letters, digits, underscores and dashes.", name)
			continue
		}
		if prev, dup := seen[name]; dup {
			d.errorf(b.LabelRanges[0].Ptr(), "Duplicate hook block",
				"%s already has a hook named %q at %s; hook names must be unique within a snapshots block.", where, name, prev)
			continue
		}
		seen[name] = b.DefRange
		if h, ok := d.hook(b, where); ok {
			out = append(out, h)
		}
	}
	return out
}

func (d *decoder) hook(b *hcl.Block, where string) (Hook, bool) {
	hwhere := fmt.Sprintf("hook %q of %s", b.Labels[0], where)
	c := d.content(b.Body, hookSchema, hwhere)
	at := c.Attributes
	h := Hook{Name: b.Labels[0], Timeout: DefaultHookTimeout, DefRange: b.DefRange}
	ok := true
	var preA, postA *hcl.Attribute
	h.Pre, preA = d.strList(at, "pre")
	h.Post, postA = d.strList(at, "post")
	ok = d.checkArgv(at, "pre", h.Pre, preA) && ok
	ok = d.checkArgv(at, "post", h.Post, postA) && ok
	if at["pre"] == nil && at["post"] == nil {
		d.errorf(b.DefRange.Ptr(), "Hook without commands",
			"%s needs pre, post or both, each an argv list such as [\"/usr/local/bin/db-freeze\", \"--wait\"].", hwhere)
		ok = false
	}
	if txt, a := d.str(at, "timeout", ""); a != nil {
		dur, err := timespec.ParseDuration(txt)
		switch {
		case err != nil:
			d.errorf(a.Expr.Range().Ptr(), "Invalid timeout", "%v.", err)
			ok = false
		case dur <= 0:
			d.errorf(a.Expr.Range().Ptr(), "Invalid timeout", "timeout must be longer than zero, e.g. \"30s\" (default %s).", timespec.FormatDuration(DefaultHookTimeout))
			ok = false
		default:
			h.Timeout = dur
		}
	}
	h.OnPreFailure = enum(d, at, "on_pre_failure", PreFailureSkip, onPreFailureValues)
	return h, ok
}

// checkArgv: a command is a non-empty list of strings whose first word
// is an absolute path (no PATH lookup on a remote host decides what
// runs) and with no NUL byte (no argv can carry one).
func (d *decoder) checkArgv(at hcl.Attributes, name string, argv []string, a *hcl.Attribute) bool {
	attr := at[name]
	if attr == nil {
		return true
	}
	rng := attr.Expr.Range().Ptr()
	switch {
	case a == nil:
		return false // strList reported the type
	case len(argv) == 0:
		d.errorf(rng, "Empty command", "%s must name a program and its arguments, e.g. [\"/usr/local/bin/db-freeze\", \"--wait\"]; remove %s for no command.", name, name)
		return false
	case !strings.HasPrefix(argv[0], "/"):
		d.errorf(rng, "Command not an absolute path", "%s[0] = %q: the program must be an absolute path such as \"/usr/local/bin/%s\"; it runs without a shell and without a PATH search.", name, argv[0], strings.TrimLeft(argv[0], "./"))
		return false
	case strings.Contains(argv[0], "="):
		d.errorf(rng, "Invalid command", "%s[0] = %q: the program's path cannot contain '=' (it runs after env(1) variables).", name, argv[0])
		return false
	}
	for i, w := range argv {
		if strings.IndexByte(w, 0) >= 0 {
			d.errorf(rng, "Invalid command", "%s[%d] contains a NUL byte, which no command argument can carry.", name, i)
			return false
		}
	}
	return true
}
