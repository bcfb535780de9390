// Package zfs builds zfs command lines and parses their scripted output.
// It runs nothing itself: callers pass the argv to a remote.Host.
package zfs

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Type is a ZFS object type as printed by zfs list.
type Type string

const (
	Filesystem Type = "filesystem"
	Volume     Type = "volume"
	Snapshot   Type = "snapshot"
	Bookmark   Type = "bookmark"
)

// User properties zplan writes.
const (
	// PropPlaceholder marks a target dataset zplan created only so that
	// replicated children have a parent.
	PropPlaceholder = "zplan:placeholder"
)

// listColumns are the columns of the bulk listing, in order.
var listColumns = []string{
	"name", "type", "guid", "createtxg", "creation", "used", "referenced",
	"written", "userrefs", "encryption", "keystatus", "receive_resume_token",
	PropPlaceholder,
}

// ListArgv lists every dataset, snapshot and bookmark of a host with the
// properties zplan plans from, in one command.
func ListArgv() []string {
	return []string{"zfs", "list", "-H", "-p", "-t", "filesystem,volume,snapshot,bookmark",
		"-o", strings.Join(listColumns, ",")}
}

// Entry is one line of the bulk listing. Numbers that do not apply to
// the object (a bookmark's used, a filesystem's userrefs) are zero.
type Entry struct {
	Name        string
	Type        Type
	GUID        uint64
	CreateTXG   uint64
	Creation    time.Time
	Used        uint64
	Referenced  uint64
	Written     uint64
	UserRefs    uint64
	Encryption  string // "off", "aes-256-gcm", ...; "" when not reported
	KeyStatus   string // "available", "unavailable", "" when unencrypted
	ResumeToken string
	Placeholder bool
}

// Dataset returns the filesystem or volume part of the name.
func (e Entry) Dataset() string {
	if i := strings.IndexAny(e.Name, "@#"); i >= 0 {
		return e.Name[:i]
	}
	return e.Name
}

// Short returns the part after '@' or '#', or the name for datasets.
func (e Entry) Short() string {
	if i := strings.IndexAny(e.Name, "@#"); i >= 0 {
		return e.Name[i+1:]
	}
	return e.Name
}

// ParseList parses the output of ListArgv strictly: any line that does
// not have the expected shape is an error quoting it.
func ParseList(out []byte) ([]Entry, error) {
	var entries []Entry
	sc := bufio.NewScanner(bytes.NewReader(out))
	// Resume tokens are long; allow generous lines.
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			continue
		}
		e, err := parseListLine(line)
		if err != nil {
			return nil, fmt.Errorf("zfs list output line %d %q: %w", n, truncate(line, 200), err)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading zfs list output: %w", err)
	}
	return entries, nil
}

func parseListLine(line string) (Entry, error) {
	f := strings.Split(line, "\t")
	if len(f) != len(listColumns) {
		return Entry{}, fmt.Errorf("want %d tab-separated fields, got %d", len(listColumns), len(f))
	}
	var e Entry
	var err error
	e.Name = f[0]
	if e.Name == "" {
		return e, fmt.Errorf("empty name")
	}
	switch t := Type(f[1]); t {
	case Filesystem, Volume, Snapshot, Bookmark:
		e.Type = t
	default:
		return e, fmt.Errorf("unknown type %q", f[1])
	}
	if want := typeOfName(e.Name); want != e.Type && !(want == Filesystem && e.Type == Volume) {
		return e, fmt.Errorf("name %q does not fit type %s", e.Name, e.Type)
	}
	num := func(i int, required bool) uint64 {
		if err != nil {
			return 0
		}
		if f[i] == "-" && !required {
			return 0
		}
		var v uint64
		v, err = strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			err = fmt.Errorf("column %s: %q is not a number", listColumns[i], f[i])
		}
		return v
	}
	e.GUID = num(2, true)
	e.CreateTXG = num(3, true)
	creation := num(4, true)
	e.Used = num(5, false)
	e.Referenced = num(6, false)
	e.Written = num(7, false)
	e.UserRefs = num(8, false)
	if err != nil {
		return e, err
	}
	e.Creation = time.Unix(int64(creation), 0).UTC()
	e.Encryption = dash(f[9])
	e.KeyStatus = dash(f[10])
	e.ResumeToken = dash(f[11])
	switch dash(f[12]) {
	case "", "off":
	case "on":
		e.Placeholder = true
	default:
		return e, fmt.Errorf("%s: unexpected value %q (want on or off)", PropPlaceholder, f[12])
	}
	return e, nil
}

func typeOfName(name string) Type {
	switch {
	case strings.Contains(name, "@"):
		return Snapshot
	case strings.Contains(name, "#"):
		return Bookmark
	}
	return Filesystem
}

func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
