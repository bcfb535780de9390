package zfs

import (
	"errors"
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

var errorTexts = []struct {
	text string
	kind ErrorKind
}{
	{"does not have any resumable receive state", ErrNoResumeState},
	{"must specify -f", ErrTargetExists},
	{"tag already exists on this dataset", ErrHoldExists},
	{"no such tag on this dataset", ErrNoSuchHold},
	{"has been modified", ErrTargetModified},
	{"dataset is busy", ErrBusy},
	{"it's being held", ErrBusy}, // OpenZFS 2.3, destroying one held snapshot
	{"does not exist", ErrNotExist},
	{"no such pool or dataset", ErrNotExist}, // a missing bookmark
	{"could not find any snapshots", ErrNotExist},
	{"already exists", ErrExists},
	{"bookmark exists", ErrExists},
	{"permission denied", ErrPermission},
}

// Classify returns the kind of a zfs failure, ErrOther if unknown.
func Classify(err error) ErrorKind {
	var ee *remote.ExitError
	if !errors.As(err, &ee) {
		return ErrOther
	}
	msg := strings.ToLower(ee.Stderr)
	for _, t := range errorTexts {
		if strings.Contains(msg, t.text) {
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
