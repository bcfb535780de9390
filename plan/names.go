package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// The names zplan gives its holds and bookmarks. Diff and apply both use
// these, so a plan and the hosts always agree on them.

// Every name below starts with namePrefix; each has a constructor and
// a parser, and nothing else spells the prefixes out.
const (
	namePrefix    = "zplan_"
	stepPrefix    = namePrefix + "step_"
	lastPrefix    = namePrefix + "last_"
	cursorPrefix  = namePrefix + "cursor_"
	cursorGUIDLen = 16
)

// StepTag is the hold tag on both ends of an edge's send in flight.
func StepTag(edge string) string { return stepPrefix + edge }

// LastTag is the hold tag on the target's last received snapshot.
func LastTag(edge string) string { return lastPrefix + edge }

// ParseStepTag returns the edge of a step hold tag; ok is false for
// other tags.
func ParseStepTag(tag string) (edge string, ok bool) { return cutEdge(tag, stepPrefix) }

// ParseLastTag returns the edge of a last-received hold tag; ok is false
// for other tags.
func ParseLastTag(tag string) (edge string, ok bool) { return cutEdge(tag, lastPrefix) }

// ParseEdgeTag returns the edge of a step or last-received hold tag.
func ParseEdgeTag(tag string) (edge string, ok bool) {
	if edge, ok = ParseStepTag(tag); ok {
		return edge, true
	}
	return ParseLastTag(tag)
}

// cutEdge cuts prefix off name. The edge may be empty: no edge id is,
// but a tag of that form found on a host is still zplan's form, and
// drift reports it as of no configured edge.
func cutEdge(name, prefix string) (string, bool) {
	return strings.CutPrefix(name, prefix)
}

// ZplanTag reports whether a hold tag is one of zplan's (the step and
// last-received tags, and the lock's).
func ZplanTag(tag string) bool { return strings.HasPrefix(tag, namePrefix) }

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
	if !found || len(rest) < cursorGUIDLen+2 || rest[cursorGUIDLen] != '_' {
		return "", 0, false
	}
	guid, err := strconv.ParseUint(rest[:cursorGUIDLen], 16, 64)
	if err != nil {
		return "", 0, false
	}
	return rest[cursorGUIDLen+1:], guid, true
}

// PlausibleEdge reports whether id could be an edge id zplan named a
// hold or bookmark after. A tag that only starts like zplan's, with text
// no configuration accepts as an id, belongs to some other tool.
func PlausibleEdge(id string) bool {
	if id == "" {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-.:", c)) {
			return false
		}
	}
	return true
}
