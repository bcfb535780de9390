package zfs

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/zplan/zplan/remote"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		stderr string
		want   ErrorKind
	}{
		{"cannot destroy snapshots in tank/a: dataset is busy\n", ErrBusy},
		{"cannot destroy snapshot tank/a@s: it's being held. Run 'zfs holds -r tank/a@s' to see holders.\n", ErrBusy},
		{"cannot hold snapshot 'tank/a@s': tag already exists on this dataset\n", ErrHoldExists},
		{"cannot release hold from snapshot 'tank/a@s': no such tag on this dataset\n", ErrNoSuchHold},
		{"cannot open 'tank/nope': dataset does not exist\n", ErrNotExist},
		{"cannot open 'tank/a#nope': no such pool or dataset\n", ErrNotExist},
		{"cannot receive incremental stream: destination tank/b has been modified\nsince most recent snapshot\n", ErrTargetModified},
		{"cannot create bookmark 'tank/a#b': bookmark exists\n", ErrExists},
		{"cannot create 'tank/x': dataset already exists\n", ErrExists},
		{"cannot destroy 'tank/a@s': permission denied\n", ErrPermission},
		{"something new\n", ErrOther},
	} {
		err := fmt.Errorf("wrapped: %w", &remote.ExitError{Host: "h", Argv: []string{"zfs"}, Code: 1, Stderr: tc.stderr})
		if got := Classify(err); got != tc.want {
			t.Errorf("Classify(%q) = %d, want %d", tc.stderr, got, tc.want)
		}
	}
	if Classify(errors.New("dataset is busy")) != ErrOther {
		t.Error("an error that is not an ExitError must not be classified by its text")
	}
}

func TestClassifyReceiveTexts(t *testing.T) {
	for stderr, want := range map[string]ErrorKind{
		"'backup/a' does not have any resumable receive state to abort\n":                                        ErrNoResumeState,
		"cannot receive new filesystem stream: destination 'backup/a' exists\nmust specify -F to overwrite it\n": ErrTargetExists,
	} {
		if got := Classify(&remote.ExitError{Stderr: stderr}); got != want {
			t.Errorf("Classify(%q) = %d, want %d", stderr, got, want)
		}
	}
}

// A name must never decide the classification: a dataset named
// ".../already exists" whose bookmark fails for another reason is a
// failure, not "bookmark exists" (which apply treats as done).
func TestClassifyIgnoresNames(t *testing.T) {
	for _, tc := range []struct {
		argv   []string
		stderr string
		want   ErrorKind
	}{
		{BookmarkArgv("tank/already exists@s", "tank/already exists#b"),
			"cannot create bookmark 'tank/already exists#b': permission denied\n", ErrPermission},
		{BookmarkArgv("tank/already exists@s", "tank/already exists#b"),
			"cannot create bookmark 'tank/already exists#b': out of space\n", ErrOther},
		{DestroySnapshotsArgv("tank/dataset is busy", "a"),
			"cannot destroy snapshot tank/dataset is busy@a: permission denied\n", ErrPermission},
		{DestroySnapshotsArgv("tank/x", "dataset does not exist"),
			"cannot destroy snapshot tank/x@dataset does not exist: dataset is busy\n", ErrBusy},
		{HoldArgv("t", "tank/no such tag on this dataset@s"),
			"cannot hold snapshot 'tank/no such tag on this dataset@s': tag already exists on this dataset\n", ErrHoldExists},
		// A known message next to an unknown one is not the known kind.
		{BookmarkArgv("tank/a@s", "tank/a#b"),
			"cannot create bookmark 'tank/a#b': bookmark exists\nsomething else broke\n", ErrOther},
	} {
		err := &remote.ExitError{Host: "h", Argv: tc.argv, Code: 1, Stderr: tc.stderr}
		if got := Classify(err); got != tc.want {
			t.Errorf("Classify(%q) = %d, want %d", tc.stderr, got, tc.want)
		}
	}
}

// ClassifyStderr(s) == ErrNotExist is what apply's precondition lookup
// reads as "the other names are absent": every line a not-exist
// message, at least one, and no name can pass for the reason.
func TestClassifyStderrNotExist(t *testing.T) {
	for _, tc := range []struct {
		stderr string
		want   ErrorKind
	}{
		{"cannot open 'tank/a@s': dataset does not exist\ncannot open 'tank/a#b': no such pool or dataset\n", ErrNotExist},
		{"  cannot open 'tank/a b@s': dataset does not exist  \n\n", ErrNotExist},
		{"cannot get holds for 'tank/a@s': no such pool or dataset\nno datasets available\n", ErrNotExist},
		{"", ErrOther},
		{"\n\n", ErrOther},
		{"no datasets available\n", ErrOther},
		{"cannot open 'tank/a@s': dataset does not exist\ncannot open 'tank/b': permission denied\n", ErrOther},
		{"cannot open 'tank/does not exist': permission denied\n", ErrPermission},
		{"cannot open 'tank/no such pool or dataset': I/O error\n", ErrOther},
		{"cannot open 'tank/a': operation not applicable to datasets of this type\n", ErrOther},
		{"warning: dataset does not exist\n", ErrOther},
	} {
		if got := ClassifyStderr(tc.stderr); got != tc.want {
			t.Errorf("ClassifyStderr(%q) = %d, want %d", tc.stderr, got, tc.want)
		}
		if got := Classify(&remote.ExitError{Stderr: tc.stderr}); got != tc.want {
			t.Errorf("Classify(ExitError{%q}) = %d, want %d", tc.stderr, got, tc.want)
		}
	}
}

func TestMissing(t *testing.T) {
	for _, tc := range []struct {
		stderr string
		want   []string // nil: not only missing names
	}{
		{"cannot open 'tank/a b@s': dataset does not exist\n", []string{"tank/a b@s"}},
		{"cannot get holds for 'tank@a': no such pool or dataset\ncannot open 'tank#b': no such pool or dataset\n", []string{"tank@a", "tank#b"}},
		{"cannot open 'tank@a': dataset does not exist\nno datasets available\n", []string{"tank@a"}},
		{"no datasets available\n", nil},
		{"", nil},
		{"cannot open 'tank@a': permission denied\n", nil},
		{"cannot open 'tank@a': dataset does not exist\nsomething else\n", nil},
		{"cannot destroy snapshot tank@a: dataset does not exist\n", nil}, // names no quoted object
		{"cannot open 'tank/does not exist': I/O error\n", nil},
	} {
		got, ok := Missing(&remote.ExitError{Stderr: tc.stderr})
		if ok != (tc.want != nil) || !slices.Equal(got, tc.want) && ok {
			t.Errorf("Missing(%q) = %q, %v; want %q", tc.stderr, got, ok, tc.want)
		}
	}
	if _, ok := Missing(errors.New("cannot open 'tank@a': dataset does not exist")); ok {
		t.Error("an error that is not an ExitError must not be read by its text")
	}
}
