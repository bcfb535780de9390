// Package zfs builds zfs command lines and parses their scripted output.
// It runs nothing itself: callers pass the argv to a remote.Host.
package zfs

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
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
	// replicated children have a parent. Its value is the dataset's own
	// name: user properties inherit, and a child reading its parent's
	// name is not a placeholder itself.
	PropPlaceholder = "zplan:placeholder"
)

// listColumns are the columns of the bulk listing, in order. Every one
// has a value zfs computes from a fixed alphabet (names, numbers, enums,
// hex tokens): no user property is listed, because zfs list -H prints
// their values raw and a newline in one would forge lines for other
// datasets (see DESIGN.md, threat model).
var listColumns = []string{
	"name", "type", "guid", "createtxg", "creation", "used", "referenced",
	"written", "userrefs", "encryption", "keystatus", "receive_resume_token",
	"readonly", "canmount",
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
	// ReadOnly and CanMount are a dataset's readonly ("on", "off") and
	// canmount ("on", "off", "noauto"; "" for volumes), which a replica's
	// receive sets; "" for snapshots and bookmarks.
	ReadOnly string
	CanMount string
}

// Dataset returns the filesystem or volume part of the name.
func (e Entry) Dataset() string { return DatasetOf(e.Name) }

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
	err := ScanList(bytes.NewReader(out), func(e *Entry) error {
		entries = append(entries, *e)
		return nil
	}, nil)
	return entries, err
}

// LineError is a listing line that does not parse. Dataset is the
// dataset the line belongs to, when its name could be read, so that
// the caller can set aside that dataset instead of the whole host.
type LineError struct {
	Line    int
	Dataset string
	Text    string
	Err     error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("zfs list output line %d %q: %v", e.Line, truncate(e.Text, 200), e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// lineError is the error of line n of tab-separated output whose first
// column is a name: it names the dataset when that name is readable.
func lineError(n int, line []byte, err error) *LineError {
	le := &LineError{Line: n, Text: string(line), Err: err}
	if name, _, _ := bytes.Cut(line, []byte{'\t'}); ValidName(DatasetOf(string(name))) {
		le.Dataset = DatasetOf(string(name))
	}
	return le
}

// ScanList parses a listing as it streams in, calling fn for each line
// with an Entry that is reused for the next line (copy what you keep).
// Streaming keeps memory flat for hosts with millions of snapshots.
// A line that does not parse goes to bad, with its dataset when its name
// is readable; scanning goes on unless bad returns an error. With a nil
// bad, the first such line is the error.
func ScanList(r io.Reader, fn func(*Entry) error, bad func(*LineError) error) error {
	sc := bufio.NewScanner(r)
	// Resume tokens are long; allow generous lines.
	sc.Buffer(make([]byte, 256*1024), 16*1024*1024)
	var (
		e      Entry
		fields [16][]byte
		in     = interner{}
	)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		if err := parseListLine(line, fields[:0], &e, in); err != nil {
			le := lineError(n, line, err)
			if bad == nil {
				return le
			}
			if err := bad(le); err != nil {
				return err
			}
			continue
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading zfs list output: %w", err)
	}
	return nil
}

// interner shares the few distinct values of columns like encryption.
type interner map[string]string

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < 1024 {
		in[s] = s
	}
	return s
}

func parseListLine(line []byte, f [][]byte, e *Entry, in interner) error {
	for {
		i := bytes.IndexByte(line, '\t')
		if i < 0 {
			f = append(f, line)
			break
		}
		f = append(f, line[:i])
		line = line[i+1:]
		if len(f) > len(listColumns) {
			break
		}
	}
	if len(f) != len(listColumns) {
		return fmt.Errorf("want %d tab-separated fields, got %d", len(listColumns), len(f))
	}
	*e = Entry{}
	var err error
	e.Name = string(f[0])
	if !ValidName(e.Name) {
		return fmt.Errorf("name %q is not a ZFS name", e.Name)
	}
	switch t := Type(f[1]); t {
	case Filesystem, Volume, Snapshot, Bookmark:
		e.Type = t
	default:
		return fmt.Errorf("unknown type %q", f[1])
	}
	if want := typeOfName(e.Name); want != e.Type && !(want == Filesystem && e.Type == Volume) {
		return fmt.Errorf("name %q does not fit type %s", e.Name, e.Type)
	}
	num := func(i int, required bool) uint64 {
		if err != nil {
			return 0
		}
		if !required && len(f[i]) == 1 && f[i][0] == '-' {
			return 0
		}
		v, perr := parseUint(f[i])
		if perr != nil {
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
		return err
	}
	e.Creation = time.Unix(int64(creation), 0).UTC()
	e.Encryption = dash(in.get(f[9]))
	e.KeyStatus = dash(in.get(f[10]))
	e.ResumeToken = dash(string(f[11]))
	if e.ResumeToken != "" && !tokenShape(e.ResumeToken) {
		return fmt.Errorf("column receive_resume_token: %q is not a resume token", truncate(e.ResumeToken, 40))
	}
	if e.ResumeToken != "" && e.Type != Filesystem && e.Type != Volume {
		return fmt.Errorf("a %s cannot have a resume token", e.Type)
	}
	if e.ReadOnly, err = enumColumn(f, 12, "on", "off"); err != nil {
		return err
	}
	e.CanMount, err = enumColumn(f, 13, "on", "off", "noauto")
	return err
}

// parseUint parses a decimal number without allocating.
func parseUint(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 20 {
		return 0, strconv.ErrSyntax
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, strconv.ErrSyntax
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, strconv.ErrRange
		}
		v = v*10 + d
	}
	return v, nil
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

// enumColumn is column i, one of values or "-" (returned as "").
func enumColumn(f [][]byte, i int, values ...string) (string, error) {
	if string(f[i]) == "-" {
		return "", nil
	}
	for _, v := range values {
		if string(f[i]) == v {
			return v, nil
		}
	}
	return "", fmt.Errorf("column %s: %q is not one of %s", listColumns[i], truncate(string(f[i]), 40), strings.Join(values, ", "))
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
