package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// The names zplan gives its holds and bookmarks. Diff and apply both use
// these, so a plan and the hosts always agree on them.

// StepTag is the hold tag on both ends of an edge's send in flight.
func StepTag(edge string) string { return "zplan_step_" + edge }

// LastTag is the hold tag on the target's last received snapshot.
func LastTag(edge string) string { return "zplan_last_" + edge }

// ZplanTag reports whether a hold tag is one of zplan's.
func ZplanTag(tag string) bool { return strings.HasPrefix(tag, "zplan_") }

const cursorPrefix = "zplan_cursor_"

// CursorName is the replication-cursor bookmark of edge marking the
// snapshot with guid. The GUID in the name lets a new cursor exist next
// to the old one until the old one is destroyed.
func CursorName(edge string, guid uint64) string {
	return fmt.Sprintf("%s%016x_%s", cursorPrefix, guid, edge)
}

// ParseCursor splits a cursor bookmark name; ok is false for bookmarks
// that are not zplan cursors.
func ParseCursor(name string) (edge string, guid uint64, ok bool) {
	rest, found := strings.CutPrefix(name, cursorPrefix)
	if !found || len(rest) < 18 || rest[16] != '_' {
		return "", 0, false
	}
	guid, err := strconv.ParseUint(rest[:16], 16, 64)
	if err != nil {
		return "", 0, false
	}
	return rest[17:], guid, true
}
