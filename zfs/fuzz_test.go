package zfs

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzScanList: any bytes a host prints give entries with valid names or
// line errors, never a panic, and never an entry whose name zfs could
// not have printed.
func FuzzScanList(f *testing.F) {
	f.Add([]byte("tank\tfilesystem\t1\t1\t1\t1\t1\t0\t-\toff\t-\t-\t-\t-\ntank@a\tsnapshot\t2\t2\t1\t0\t1\t1\t1\toff\t-\t-\t-\t-\n"))
	f.Add([]byte("tank/a b\tvolume\t1\t1\t1\t1\t1\t0\t-\taes-256-gcm\tavailable\t1-ab-cd-ef\t-\t-\n"))
	f.Add([]byte("tank#bm\tbookmark\t3\t3\t1\t-\t-\t-\t-\t-\t-\t-\t-\t-\n\n\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		_ = ScanList(bytes.NewReader(out), func(e *Entry) error {
			if !ValidName(e.Name) || strings.ContainsAny(e.ResumeToken, "\t\n") {
				t.Fatalf("entry %+v passed the parser", e)
			}
			return nil
		}, func(le *LineError) error {
			if le.Dataset != "" && !ValidName(le.Dataset) {
				t.Fatalf("line error names dataset %q", le.Dataset)
			}
			return nil
		})
	})
}

// FuzzParseHolds: hold output of any shape gives tags only for the
// snapshots asked about, and the number of tags never exceeds userrefs.
func FuzzParseHolds(f *testing.F) {
	f.Add([]byte("tank/a@s\tx\tSun Nov 22 12:00 2026\n"), uint8(1))
	f.Add([]byte("tank/a@s\tx\ny\tSun Nov 22 12:00 2026\ntank/a@s\t\t\t\n"), uint8(2))
	f.Fuzz(func(t *testing.T, out []byte, refs uint8) {
		asked := map[string]uint64{"tank/a@s": uint64(refs % 4), "tank/b@t": 1}
		h, err := ParseHolds(out, asked)
		if err != nil {
			return
		}
		for name, tags := range h.Tags {
			if _, ok := asked[name]; !ok || uint64(len(tags)) != asked[name] || h.Bad[name] != "" {
				t.Fatalf("%s: tags %q with userrefs %d (bad %q)", name, tags, asked[name], h.Bad[name])
			}
		}
	})
}

// FuzzParseGUIDs: any bytes a host prints give facts only under names
// zfs could print, with tokens of a token's shape on datasets, or an
// error; never a panic.
func FuzzParseGUIDs(f *testing.F) {
	f.Add([]byte("tank/data\t222\t512\t-\toff\ntank/data@s1\t333\t4096\t-\taes-256-gcm\ntank/data#b\t333\t-\t-\t-\n"))
	f.Add([]byte("backup/a b\t444\t0\t1-abc-def-0123\toff\n"))
	f.Add([]byte("tank\t1\t0\t-\toff\ntank\t2\t0\t-\toff\n\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		facts, err := ParseGUIDs(out)
		if err != nil {
			if facts != nil {
				t.Fatalf("error %v with facts %v", err, facts)
			}
			return
		}
		for name, fact := range facts {
			if !ValidName(name) {
				t.Fatalf("fact under name %q", name)
			}
			if fact.ResumeToken != "" && (!tokenShape(fact.ResumeToken) || typeOfName(name) != Filesystem) {
				t.Fatalf("%s: token %q passed the parser", name, fact.ResumeToken)
			}
			if fact.Encryption != "" && !cipherShape(fact.Encryption) {
				t.Fatalf("%s: encryption %q passed the parser", name, fact.Encryption)
			}
			if !fact.HasWritten && fact.Written != 0 {
				t.Fatalf("%s: written %d without HasWritten", name, fact.Written)
			}
		}
	})
}
