package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// OnPreFailure says what a snapshot action does when a hook's pre
// command fails.
type OnPreFailure string

const (
	// PreFailureSkip: no snapshot for this action; the action fails.
	PreFailureSkip OnPreFailure = "skip"
	// PreFailureContinue: the failure is reported and the snapshot is
	// taken anyway.
	PreFailureContinue OnPreFailure = "continue"
)

// Hook is a command pair declared by a snapshots policy's hook block,
// run on the snapshot's host around its zfs snapshot. It is part of the
// plan so that reviewers, policy gates and saved-plan checks see every
// command apply would run.
type Hook struct {
	Policy string   `json:"policy"` // snapshots block that declares it
	Name   string   `json:"name"`
	Pre    []string `json:"pre,omitempty"`  // argv; empty: none
	Post   []string `json:"post,omitempty"` // argv; empty: none
	// Timeout bounds each of pre and post, in Go duration syntax ("30s").
	Timeout      string       `json:"timeout"`
	OnPreFailure OnPreFailure `json:"on_pre_failure"`
	// Datasets are the action's datasets the policy covers, sorted; the
	// hook gets them as ZPLAN_DATASETS.
	Datasets []string `json:"datasets"`
}

// TimeoutDuration parses Timeout; a plan read from a file may carry
// anything, so it is checked again here.
func (h Hook) TimeoutDuration() (time.Duration, error) {
	d, err := time.ParseDuration(h.Timeout)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("hook %s: timeout %q is not a positive duration", h.Name, h.Timeout)
	}
	return d, nil
}

// Equal reports whether h and o declare the same commands and settings.
func (h Hook) Equal(o Hook) bool {
	return h.Policy == o.Policy && h.Name == o.Name && slices.Equal(h.Pre, o.Pre) && slices.Equal(h.Post, o.Post) &&
		h.Timeout == o.Timeout && h.OnPreFailure == o.OnPreFailure && slices.Equal(h.Datasets, o.Datasets)
}

// String is the hook as the plan shows it:
// "freeze: pre /usr/local/bin/db-freeze --wait, post /usr/local/bin/db-thaw".
func (h Hook) String() string {
	var parts []string
	if len(h.Pre) > 0 {
		parts = append(parts, "pre "+ArgvString(h.Pre))
	}
	if len(h.Post) > 0 {
		parts = append(parts, "post "+ArgvString(h.Post))
	}
	s := h.Name + ": " + strings.Join(parts, ", ")
	var opts []string
	if h.Timeout != "" && h.Timeout != DefaultHookTimeout.String() {
		opts = append(opts, "timeout "+h.Timeout)
	}
	if h.OnPreFailure == PreFailureContinue {
		opts = append(opts, "on_pre_failure continue")
	}
	if len(opts) > 0 {
		s += " (" + strings.Join(opts, ", ") + ")"
	}
	return s
}

// DefaultHookTimeout bounds a hook command when its block sets no timeout
// (hclspec.DefaultHookTimeout; plan imports no configuration package, so
// desired's tests check they agree). The plan's text leaves it out.
const DefaultHookTimeout = 60 * time.Second

// ArgvString shows argv for humans: words with spaces, quotes or control
// characters are quoted Go-style so one word cannot pass for several.
func ArgvString(argv []string) string {
	out := make([]string, len(argv))
	for i, w := range argv {
		if w == "" || strings.ContainsFunc(w, func(r rune) bool { return r <= ' ' || r == '"' || r == '\'' || r == '\\' || r == 0x7f }) {
			w = fmt.Sprintf("%q", w)
		}
		out[i] = w
	}
	return strings.Join(out, " ")
}
