package zfs

import (
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/zplan/zplan/remote"
)

// ErrorKind classifies a failed zfs command by its stderr, so apply can
// tell an idempotent repeat from a real failure.
type ErrorKind int

const (
	ErrOther          ErrorKind = iota
	ErrNotExist                 // "dataset does not exist", "could not find any snapshots"
	ErrBusy                     // destroy of a held snapshot: "dataset is busy"
	ErrHoldExists               // "tag already exists on this dataset"
	ErrNoSuchHold               // "no such tag on this dataset"
	ErrExists                   // "dataset already exists", bookmark exists
	ErrTargetModified           // recv: "destination ... has been modified"
	ErrPermission               // "permission denied"
	ErrNoResumeState            // recv -A: "does not have any resumable receive state"
	ErrTargetExists             // full recv onto an existing dataset: "must specify -F"
)

// errorLines are zfs's messages, each matched against a whole line of
// stderr. Anchoring to the whole line, with the reason at its end, is
// what keeps a dataset named "x/already exists" from turning every
// failure on it into success: zfs prints the reason after the name. Most messages are "cannot VERB 'NAME': REASON" or, for
// snapshot destroys, "cannot VERB NAME: REASON".
var errorLines = []struct {
	re   *regexp.Regexp
	kind ErrorKind
}{
	{line(`'?NAME'? does not have any resumable receive state(?: to abort)?`), ErrNoResumeState},
	{line(`must specify -F to overwrite it`), ErrTargetExists},
	{line(`cannot receive new filesystem stream: destination 'NAME' exists`), ErrTargetExists},
	{reason(`tag already exists on this dataset`), ErrHoldExists},
	{reason(`no such tag on this dataset`), ErrNoSuchHold},
	{line(`cannot receive incremental stream: destination NAME has been modified`), ErrTargetModified},
	{reason(`dataset is busy`), ErrBusy},
	{reason(`it's being held\. Run 'zfs holds -r NAME' to see holders\.`), ErrBusy}, // OpenZFS 2.3
	{reason(`dataset does not exist`), ErrNotExist},
	{line(`bookmark 'NAME' does not exist\.?`), ErrNotExist},
	{line(`warning: cannot send 'NAME': incremental source \(NAME\) does not exist`), ErrNotExist},
	{reason(`no such pool or dataset`), ErrNotExist}, // a missing bookmark
	{line(`could not find any snapshots to destroy; check snapshot names\.`), ErrNotExist},
	{reason(`dataset already exists`), ErrExists},
	{reason(`destination already exists`), ErrExists}, // recv of a snapshot the target has
	{reason(`bookmark exists`), ErrExists},
	{reason(`permission denied`), ErrPermission},
}

// reason matches "cannot VERB: REASON", "cannot VERB NAME: REASON" and
// "cannot VERB 'NAME': REASON".
func reason(r string) *regexp.Regexp {
	return line(`cannot [a-z ]+(?: 'NAME'| NAME| in NAME)?: ` + r)
}

// line anchors a message to a whole line. NAME stands for an object
// name: any text without a quote or newline, which ZFS names never
// contain.
func line(r string) *regexp.Regexp {
	return regexp.MustCompile(`^` + strings.ReplaceAll(r, "NAME", `[^'\n]+`) + `$`)
}

// Classify returns the kind of a zfs failure, ErrOther if unknown. A
// stderr with several lines is classified by the first line that is
// one of zfs's known messages; every other line must be a known
// continuation or another line of the same kind, else the failure is
// ErrOther (something else went wrong too).
func Classify(err error) ErrorKind {
	var ee *remote.ExitError
	if !errors.As(err, &ee) {
		return ErrOther
	}
	return ClassifyStderr(ee.Stderr)
}

// ClassifyStderr is Classify for the stderr of a failed zfs command. A
// stderr with no message in it is ErrOther: ClassifyStderr(s) ==
// ErrNotExist says that every complaint is about a missing object, and
// that there was at least one.
func ClassifyStderr(stderr string) ErrorKind {
	kind := ErrOther
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || continuation[l] {
			continue
		}
		k := classifyLine(l)
		if k == ErrOther || (kind != ErrOther && k != kind) {
			return ErrOther
		}
		kind = k
	}
	return kind
}

// missing matches the not-exist messages that quote the object's name,
// capturing it: what zfs holds and zfs list say for a name that is gone.
var missing = line(`cannot (?:open|get holds for) '(NAME)': (?:dataset does not exist|no such pool or dataset)`)

// Missing returns the names a failed zfs command reported as not
// existing, and false if it failed for any other reason too, or named
// none. "no datasets available", which zfs holds adds when none of the
// names exists any more, is skipped.
func Missing(err error) ([]string, bool) {
	var ee *remote.ExitError
	if !errors.As(err, &ee) {
		return nil, false
	}
	var names []string
	for _, l := range strings.Split(ee.Stderr, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l == "no datasets available" {
			continue
		}
		m := missing.FindStringSubmatch(l)
		if m == nil {
			return nil, false
		}
		names = append(names, m[1])
	}
	return names, len(names) > 0
}

// continuation lines zfs prints after a message they belong to.
var continuation = map[string]bool{
	"since most recent snapshot": true,
	"no datasets available":      true,
}

func classifyLine(l string) ErrorKind {
	for _, t := range errorLines {
		if t.re.MatchString(l) {
			return t.kind
		}
	}
	return ErrOther
}

// Tolerate returns nil when err is a zfs failure of one of the kinds ok
// (what makes repeating a half-done step harmless), else err.
func Tolerate(err error, ok ...ErrorKind) error {
	if err == nil || slices.Contains(ok, Classify(err)) {
		return nil
	}
	return err
}
