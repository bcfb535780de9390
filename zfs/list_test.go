package zfs

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseList(t *testing.T) {
	out := strings.Join([]string{
		"tank\tfilesystem\t111\t1\t1763800000\t4096\t2048\t0\t-\toff\t-\t-\ton\tnoauto",
		"tank/data\tfilesystem\t222\t10\t1763800100\t8192\t4096\t512\t-\taes-256-gcm\tavailable\t1-abc-def-0123\t-\t-",
		"tank/data@s1\tsnapshot\t333\t11\t1763800200\t0\t4096\t4096\t2\taes-256-gcm\tavailable\t-\t-\t-",
		"tank/data/child\tfilesystem\t334\t11\t1763800200\t0\t4096\t4096\t-\taes-256-gcm\tavailable\t-\t-\t-",
		"tank/data#zplan_cursor\tbookmark\t333\t11\t1763800200\t-\t-\t-\t-\t-\t-\t-\t-\t-",
		"tank/vol\tvolume\t444\t12\t1763800300\t100\t100\t0\t-\toff\t-\t-\toff\t-",
		"",
	}, "\n")
	got, err := ParseList([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Name: "tank", Type: Filesystem, GUID: 111, CreateTXG: 1, Creation: time.Unix(1763800000, 0).UTC(), Used: 4096, Referenced: 2048, Encryption: "off", ReadOnly: "on", CanMount: "noauto"},
		{Name: "tank/data", Type: Filesystem, GUID: 222, CreateTXG: 10, Creation: time.Unix(1763800100, 0).UTC(), Used: 8192, Referenced: 4096, Written: 512,
			Encryption: "aes-256-gcm", KeyStatus: "available", ResumeToken: "1-abc-def-0123"},
		{Name: "tank/data@s1", Type: Snapshot, GUID: 333, CreateTXG: 11, Creation: time.Unix(1763800200, 0).UTC(), Referenced: 4096, Written: 4096, UserRefs: 2,
			Encryption: "aes-256-gcm", KeyStatus: "available"},
		{Name: "tank/data/child", Type: Filesystem, GUID: 334, CreateTXG: 11, Creation: time.Unix(1763800200, 0).UTC(), Referenced: 4096, Written: 4096,
			Encryption: "aes-256-gcm", KeyStatus: "available"},
		{Name: "tank/data#zplan_cursor", Type: Bookmark, GUID: 333, CreateTXG: 11, Creation: time.Unix(1763800200, 0).UTC()},
		{Name: "tank/vol", Type: Volume, GUID: 444, CreateTXG: 12, Creation: time.Unix(1763800300, 0).UTC(), Used: 100, Referenced: 100, Encryption: "off", ReadOnly: "off"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseList (-want +got):\n%s", d)
	}
	if got[2].Dataset() != "tank/data" || got[2].Short() != "s1" || got[4].Short() != "zplan_cursor" {
		t.Errorf("Dataset/Short: %q %q %q", got[2].Dataset(), got[2].Short(), got[4].Short())
	}
}

func TestParseListRejectsUnexpectedOutput(t *testing.T) {
	for _, tc := range []struct{ name, line, want string }{
		{"too few fields", "tank\tfilesystem\t1", "want 14 tab-separated fields, got 3"},
		{"unknown type", "tank\tpool\t1\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-\t-", `unknown type "pool"`},
		{"guid not a number", "tank\tfilesystem\tabc\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-\t-", `column guid: "abc" is not a number`},
		{"missing guid", "tank\tfilesystem\t-\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-\t-", `column guid: "-" is not a number`},
		{"snapshot name typed filesystem", "tank@x\tfilesystem\t1\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-\t-", "does not fit type"},
		{"human-readable numbers", "tank\tfilesystem\t1\t1\t1\t1.5K\t1\t1\t-\toff\t-\t-\t-\t-", `column used: "1.5K"`},
		{"name with a control character", "tank/a\x01b\tfilesystem\t1\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-\t-", "is not a ZFS name"},
		{"name with a comma", "tank/a@x,y\tsnapshot\t1\t1\t1\t1\t1\t1\t0\toff\t-\t-\t-\t-", "is not a ZFS name"},
		{"name with a quote", "tank/a'b\tfilesystem\t1\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-\t-", "is not a ZFS name"},
		{"empty component", "tank//a\tfilesystem\t1\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-\t-", "is not a ZFS name"},
		{"token of odd text", "tank/a\tfilesystem\t1\t1\t1\t1\t1\t1\t-\toff\t-\tnot a token\t-\t-", "is not a resume token"},
		{"odd readonly", "tank/a\tfilesystem\t1\t1\t1\t1\t1\t1\t-\toff\t-\t-\tyes\ton", `column readonly: "yes" is not one of on, off`},
		{"odd canmount", "tank/a\tfilesystem\t1\t1\t1\t1\t1\t1\t-\toff\t-\t-\ton\tmaybe", `column canmount: "maybe" is not one of on, off, noauto`},
		{"token on a snapshot", "tank/a@s\tsnapshot\t1\t1\t1\t1\t1\t1\t0\toff\t-\t1-a-b-c\t-\t-", "cannot have a resume token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseList([]byte("tank\tfilesystem\t1\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-\t-\n" + tc.line + "\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "line 2") {
				t.Fatalf("error = %v, want it to name line 2 and contain %q", err, tc.want)
			}
		})
	}
}

// A line that does not parse is handed to the caller with the dataset it
// belongs to, and scanning goes on: one odd name costs its dataset, not
// the host.
func TestScanListReportsBadLinesByDataset(t *testing.T) {
	out := "tank\tfilesystem\t1\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-\t-\n" +
		"tank/a\tfilesystem\t2\t2\t1\t1\t1\t1\t-\toff\t-\t-\t-\t-\n" +
		"tank/a@s\tsnapshot\t3\t3\t1\t1\t1\t1\tmany\toff\t-\t-\t-\t-\n" +
		"tank/b\x7f\tfilesystem\t4\t4\t1\t1\t1\t1\t-\toff\t-\t-\t-\t-\n" +
		"tank/c\tfilesystem\t5\t5\t1\t1\t1\t1\t-\toff\t-\t-\t-\t-\n"
	var names []string
	var bad []*LineError
	err := ScanList(strings.NewReader(out), func(e *Entry) error {
		names = append(names, e.Name)
		return nil
	}, func(le *LineError) error {
		bad = append(bad, le)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"tank", "tank/a", "tank/c"}, names); d != "" {
		t.Errorf("entries (-want +got):\n%s", d)
	}
	if len(bad) != 2 || bad[0].Line != 3 || bad[0].Dataset != "tank/a" || bad[1].Line != 4 || bad[1].Dataset != "" {
		t.Errorf("bad lines: %+v", bad)
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"tank": true, "tank/my data": true, "tank/a@manual 2": true, "tank/a@odd:name.v-1": true,
		"tank/a#zplan_cursor_x": true, "tank/a@zplan_S0%zplan_S2": true, "tank/a/%recv": true,
		"": false, "tank/": false, "/tank": false, "tank/a@": false, "tank/a@b@c": false, "tank/a@b#c": false,
		"tank/a\tb": false, "tank/a\nb": false, "tank/a@x,y": false, "tank/'a'": false, "tank/./a": false,
		strings.Repeat("a", 256): false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
	if DestroySafe("zplan_S0%zplan_S2") || !DestroySafe("manual 2") {
		t.Error("DestroySafe: '%' must be unsafe, a space safe")
	}
}

func TestParseHolds(t *testing.T) {
	out := "tank/a@s1\tzplan_last_x\tSun Nov 22 12:00 2026\ntank/a@s1\tkeep\tSun Nov 22 12:01 2026\ntank/b@s2\tzplan_step_x\tSun Nov 22 12:02 2026\n"
	got, err := ParseHolds([]byte(out), map[string]uint64{"tank/a@s1": 2, "tank/b@s2": 1})
	if err != nil {
		t.Fatal(err)
	}
	want := Holds{Tags: map[string][]string{"tank/a@s1": {"keep", "zplan_last_x"}, "tank/b@s2": {"zplan_step_x"}}, Bad: map[string]string{}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if _, err := ParseHolds([]byte("NAME\tTAG\tTIMESTAMP\n"), map[string]uint64{"tank/a@s1": 1}); err == nil {
		t.Error("a header line must be rejected")
	}
	if got := string(HoldsStdin([]string{"a@1", "b@2"})); got != "a@1\x00b@2\x00" {
		t.Errorf("HoldsStdin = %q", got)
	}
}

// Hold tags are free text (OpenZFS accepts tabs and newlines): they must
// round-trip, and a tag that imitates another snapshot's record must not
// give that snapshot a hold nor fail the host: the snapshot whose count
// no longer matches its userrefs is reported instead.
func TestParseHoldsHostileTags(t *testing.T) {
	const ts = "\tSun Nov 22 12:00 2026\n"
	for _, tc := range []struct {
		name     string
		out      string
		userrefs map[string]uint64
		tags     map[string][]string
		bad      []string
	}{
		{"tab in a tag", "tank/a@s\tx\ty" + ts, map[string]uint64{"tank/a@s": 1},
			map[string][]string{"tank/a@s": {"x\ty"}}, nil},
		{"newline in a tag", "tank/a@s\tx\ny" + ts + "tank/b@t\tk" + ts, map[string]uint64{"tank/a@s": 1, "tank/b@t": 1},
			map[string][]string{"tank/a@s": {"x\ny"}, "tank/b@t": {"k"}}, nil},
		{"line that looks like an unasked snapshot", "tank/a@s\tx\ntank/c@u\tforged" + ts, map[string]uint64{"tank/a@s": 1},
			map[string][]string{"tank/a@s": {"x\ntank/c@u\tforged"}}, nil},
		{"forged record for a held snapshot", "tank/a@s\tx" + ts + "tank/b@t\tzplan_last_e" + ts + "tank/b@t\tk" + ts,
			map[string]uint64{"tank/a@s": 1, "tank/b@t": 1},
			map[string][]string{"tank/a@s": {"x"}}, []string{"tank/b@t"}},
		{"record without timestamp", "tank/a@s\tx\n", map[string]uint64{"tank/a@s": 1}, map[string][]string{}, []string{"tank/a@s"}},
		{"holds gone meanwhile", "", map[string]uint64{"tank/a@s": 1}, map[string][]string{}, []string{"tank/a@s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHolds([]byte(tc.out), tc.userrefs)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.tags, got.Tags); d != "" {
				t.Errorf("tags (-want +got):\n%s", d)
			}
			var bad []string
			for name := range got.Bad {
				bad = append(bad, name)
			}
			if d := cmp.Diff(tc.bad, bad); d != "" {
				t.Errorf("bad (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseResumeToken(t *testing.T) {
	out := `resume token contents:
nvlist version: 0
	fromguid = 0x1b3f4d2e5a6c7d8e
	object = 0x2
	offset = 0x2a000
	bytes = 0x2c318
	toguid = 0x5a6b7c8d9e0f1a2b
	toname = tank/data@zplan_20261122T120000Z
	rawok = 1
incremental	zplan_a	tank/data@zplan_20261122T120000Z	1234
`
	got, err := ParseResumeToken([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := ResumeToken{FromGUID: 0x1b3f4d2e5a6c7d8e, ToGUID: 0x5a6b7c8d9e0f1a2b, ToName: "tank/data@zplan_20261122T120000Z", Raw: true, Bytes: 0x2c318}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := ParseResumeToken([]byte("cannot resume send: kernel modules must be upgraded\n")); err == nil {
		t.Error("output without toguid must be an error")
	}
}

func TestCommandLines(t *testing.T) {
	for _, tc := range []struct {
		got, want []string
	}{
		{SendArgv(SendOptions{Raw: true, LargeBlocks: true}.Flags(), "tank/a#c", "tank/a@s2"), []string{"zfs", "send", "-w", "-L", "-i", "tank/a#c", "tank/a@s2"}},
		{SendArgv(nil, "", "tank/a@s1"), []string{"zfs", "send", "tank/a@s1"}},
		{RecvArgv("backup/a", nil, nil), []string{"zfs", "recv", "-s", "-u", "backup/a"}},
		{DestroySnapshotsArgv("tank/a", "s1", "s2"), []string{"zfs", "destroy", "tank/a@s1,s2"}},
		{SnapshotArgv("tank/a@x", "tank/b@x"), []string{"zfs", "snapshot", "tank/a@x", "tank/b@x"}},
		{HoldArgv("t", "tank/a@x"), []string{"zfs", "hold", "t", "tank/a@x"}},
	} {
		if d := cmp.Diff(tc.want, tc.got); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	}
}
