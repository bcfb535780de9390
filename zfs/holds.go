package zfs

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// HoldsArgv lists the holds of the snapshots whose names are written to
// its stdin, NUL-separated (see HoldsStdin). Going through xargs keeps it
// one command per host however many snapshots are held, without hitting
// the length limit of a single SSH command line.
func HoldsArgv() []string {
	return []string{"xargs", "-0", "-r", "zfs", "holds", "-H"}
}

// HoldsStdin encodes snapshot names for HoldsArgv.
func HoldsStdin(snapshots []string) []byte {
	var b bytes.Buffer
	for _, s := range snapshots {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.Bytes()
}

// Holds is what ParseHolds read: the tags on each snapshot, and the
// snapshots whose holds could not be read reliably, with why.
type Holds struct {
	Tags map[string][]string
	Bad  map[string]string
}

// ParseHolds parses `zfs holds -H` output (NAME<tab>TAG<tab>TIMESTAMP
// lines) for the snapshots asked about, given as their full names with
// the userrefs the listing showed.
//
// Hold tags are free text: OpenZFS accepts tabs and newlines in them and
// prints them raw. So a line only starts a record when it begins with
// the name of a snapshot asked about and a tab (names contain neither
// tabs nor newlines); any other line continues the previous record's
// tag; the timestamp is after the record's last tab (zfs's timestamp
// has none). A tag could still carry text that looks like a record for
// another snapshot: counting each snapshot's records against its
// userrefs catches that, and a snapshot whose count is off goes to Bad
// (the caller sets its dataset aside) instead of failing the host.
func ParseHolds(out []byte, userrefs map[string]uint64) (Holds, error) {
	h := Holds{Tags: map[string][]string{}, Bad: map[string]string{}}
	type record struct {
		name string
		rest []string // after "NAME\t", split at newlines
	}
	var recs []*record
	lines := strings.Split(string(out), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	for i, l := range lines {
		if name, rest, ok := strings.Cut(l, "\t"); ok {
			if _, asked := userrefs[name]; asked {
				recs = append(recs, &record{name: name, rest: []string{rest}})
				continue
			}
		}
		if len(recs) == 0 {
			return h, fmt.Errorf("zfs holds output line %d %q: want NAME<tab>TAG<tab>TIMESTAMP for a snapshot asked about", i+1, truncate(l, 200))
		}
		last := recs[len(recs)-1]
		last.rest = append(last.rest, l)
	}
	count := map[string]uint64{}
	for _, r := range recs {
		count[r.name]++
		rest := strings.Join(r.rest, "\n")
		i := strings.LastIndexByte(rest, '\t')
		if i <= 0 || i == len(rest)-1 {
			h.Bad[r.name] = fmt.Sprintf("zfs holds printed %q, which is not TAG<tab>TIMESTAMP", truncate(rest, 200))
			continue
		}
		h.Tags[r.name] = append(h.Tags[r.name], rest[:i])
	}
	for name, want := range userrefs {
		if got := count[name]; got != want && h.Bad[name] == "" {
			h.Bad[name] = fmt.Sprintf("zfs holds printed %d hold(s) where userrefs is %d (a hold tag with a newline, or holds changed meanwhile)", got, want)
		}
	}
	for name := range h.Bad {
		delete(h.Tags, name)
	}
	for _, tags := range h.Tags {
		sort.Strings(tags)
	}
	return h, nil
}
