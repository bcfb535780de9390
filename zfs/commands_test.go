package zfs

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseGUIDs(t *testing.T) {
	const tok = "1-abc-def-0123"
	for _, tc := range []struct {
		name string
		out  string
		want map[string]GUIDFact
		line int    // the *LineError's line, when an error is wanted
		ds   string // and its dataset
		err  string // and a part of its message
	}{
		{name: "empty", out: "", want: map[string]GUIDFact{}},
		{name: "every kind of object", out: strings.Join([]string{
			"tank/data\t222\t512\t-\toff",
			"tank/data@s1\t333\t4096\t-\taes-256-gcm",
			"tank/data#zplan_cursor\t333\t-\t-\t-",
			"backup/data\t444\t0\t" + tok + "\toff",
			"tank/a b: c.d-e_f%g@x y\t555\t18446744073709551615\t-\toff",
			"",
		}, "\n"), want: map[string]GUIDFact{
			"tank/data":               {GUID: 222, Written: 512, HasWritten: true, Encryption: "off"},
			"tank/data@s1":            {GUID: 333, Written: 4096, HasWritten: true, Encryption: "aes-256-gcm"},
			"tank/data#zplan_cursor":  {GUID: 333},
			"backup/data":             {GUID: 444, HasWritten: true, ResumeToken: tok, Encryption: "off"},
			"tank/a b: c.d-e_f%g@x y": {GUID: 555, Written: 1<<64 - 1, HasWritten: true, Encryption: "off"},
		}},
		{name: "no final newline", out: "tank\t1\t0\t-\toff", want: map[string]GUIDFact{"tank": {GUID: 1, HasWritten: true, Encryption: "off"}}},
		{name: "the same line twice", out: "tank\t1\t0\t-\toff\ntank\t1\t0\t-\toff\n", want: map[string]GUIDFact{"tank": {GUID: 1, HasWritten: true, Encryption: "off"}}},

		{name: "too few fields", out: "tank\t1\t0\t-\n", line: 1, ds: "tank", err: "want 5 tab-separated fields"},
		{name: "a tab in a name forges a field", out: "tank/a\tb\t1\t0\t-\toff\n", line: 1, ds: "tank/a", err: "got 6"},
		{name: "a tab in a token", out: "tank\t1\t0\t1-a\t-b-c\toff\n", line: 1, ds: "tank", err: "got 6"},
		{name: "blank line", out: "tank\t1\t0\t-\toff\n\ntank/b\t2\t0\t-\toff\n", line: 2, err: "got 1"},
		{name: "only a newline", out: "\n", line: 1, err: "got 1"},
		{name: "carriage return", out: "tank\t1\t0\t-\toff\r\n", line: 1, ds: "tank", err: "not off or a cipher"},
		{name: "quote in name", out: "tank/a'b\t1\t0\t-\toff\n", line: 1, err: "not a ZFS name"},
		{name: "empty name", out: "\t1\t0\t-\toff\n", line: 1, err: "not a ZFS name"},
		{name: "empty component", out: "tank//a\t1\t0\t-\toff\n", line: 1, err: "not a ZFS name"},
		{name: "dash guid", out: "tank\t-\t0\t-\toff\n", line: 1, ds: "tank", err: "guid"},
		{name: "empty guid", out: "tank\t\t0\t-\toff\n", line: 1, ds: "tank", err: "guid"},
		{name: "signed guid", out: "tank\t+1\t0\t-\toff\n", line: 1, ds: "tank", err: "guid"},
		{name: "guid overflows", out: "tank\t18446744073709551616\t0\t-\toff\n", line: 1, ds: "tank", err: "guid"},
		{name: "written not a number", out: "tank\t1\t1K\t-\toff\n", line: 1, ds: "tank", err: "written"},
		{name: "empty written", out: "tank\t1\t\t-\toff\n", line: 1, ds: "tank", err: "written"},
		{name: "token of the wrong shape", out: "tank\t1\t0\tnot a token\toff\n", line: 1, ds: "tank", err: "not a resume token"},
		{name: "empty token", out: "tank\t1\t0\t\toff\n", line: 1, ds: "tank", err: "not a resume token"},
		{name: "encryption not a cipher", out: "tank\t1\t0\t-\toff x\n", line: 1, ds: "tank", err: "not off or a cipher"},
		{name: "empty encryption", out: "tank\t1\t0\t-\t\n", line: 1, ds: "tank", err: "not off or a cipher"},
		{name: "token on a snapshot", out: "tank@s\t1\t0\t" + tok + "\t-\n", line: 1, ds: "tank", err: "a snapshot cannot have a resume token"},
		{name: "token on a bookmark", out: "tank#b\t1\t-\t" + tok + "\t-\n", line: 1, ds: "tank", err: "a bookmark cannot have a resume token"},
		{name: "a name twice, told apart", out: "tank\t1\t0\t-\toff\ntank/a\t2\t0\t-\toff\ntank\t9\t0\t-\toff\n", line: 3, ds: "tank", err: "printed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseGUIDs([]byte(tc.out))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("ParseGUIDs (-want +got):\n%s", d)
				}
				return
			}
			var le *LineError
			if !errors.As(err, &le) || le.Line != tc.line || le.Dataset != tc.ds || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v (%+v), want a line %d error naming dataset %q and saying %q", err, le, tc.line, tc.ds, tc.err)
			}
			if got != nil {
				t.Errorf("a bad line still returned %v", got)
			}
		})
	}
}

// ParseGUIDs reads what GUIDsArgv asks for, in that order.
func TestParseGUIDsReadsGUIDsArgv(t *testing.T) {
	argv := GUIDsArgv("tank")
	if cols := argv[len(argv)-2]; cols != "name,guid,written,receive_resume_token,encryption" || argv[len(argv)-3] != "-o" {
		t.Fatalf("GUIDsArgv columns %q: ParseGUIDs reads name,guid,written,receive_resume_token,encryption", cols)
	}
}
