package zfs

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseList(t *testing.T) {
	out := strings.Join([]string{
		"tank\tfilesystem\t111\t1\t1763800000\t4096\t2048\t0\t-\toff\t-\t-\t-",
		"tank/data\tfilesystem\t222\t10\t1763800100\t8192\t4096\t512\t-\taes-256-gcm\tavailable\t1-abc-def\ttank/data",
		"tank/data@s1\tsnapshot\t333\t11\t1763800200\t0\t4096\t4096\t2\taes-256-gcm\tavailable\t-\ttank/data",
		"tank/data/child\tfilesystem\t334\t11\t1763800200\t0\t4096\t4096\t-\taes-256-gcm\tavailable\t-\ttank/data",
		"tank/data#zplan_cursor\tbookmark\t333\t11\t1763800200\t-\t-\t-\t-\t-\t-\t-\t-",
		"tank/vol\tvolume\t444\t12\t1763800300\t100\t100\t0\t-\toff\t-\t-\t-",
		"",
	}, "\n")
	got, err := ParseList([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Name: "tank", Type: Filesystem, GUID: 111, CreateTXG: 1, Creation: time.Unix(1763800000, 0).UTC(), Used: 4096, Referenced: 2048, Encryption: "off"},
		{Name: "tank/data", Type: Filesystem, GUID: 222, CreateTXG: 10, Creation: time.Unix(1763800100, 0).UTC(), Used: 8192, Referenced: 4096, Written: 512,
			Encryption: "aes-256-gcm", KeyStatus: "available", ResumeToken: "1-abc-def", Placeholder: true},
		{Name: "tank/data@s1", Type: Snapshot, GUID: 333, CreateTXG: 11, Creation: time.Unix(1763800200, 0).UTC(), Referenced: 4096, Written: 4096, UserRefs: 2,
			Encryption: "aes-256-gcm", KeyStatus: "available"},
		{Name: "tank/data/child", Type: Filesystem, GUID: 334, CreateTXG: 11, Creation: time.Unix(1763800200, 0).UTC(), Referenced: 4096, Written: 4096,
			Encryption: "aes-256-gcm", KeyStatus: "available"},
		{Name: "tank/data#zplan_cursor", Type: Bookmark, GUID: 333, CreateTXG: 11, Creation: time.Unix(1763800200, 0).UTC()},
		{Name: "tank/vol", Type: Volume, GUID: 444, CreateTXG: 12, Creation: time.Unix(1763800300, 0).UTC(), Used: 100, Referenced: 100, Encryption: "off"},
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
		{"too few fields", "tank\tfilesystem\t1", "want 13 tab-separated fields, got 3"},
		{"unknown type", "tank\tpool\t1\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-", `unknown type "pool"`},
		{"guid not a number", "tank\tfilesystem\tabc\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-", `column guid: "abc" is not a number`},
		{"missing guid", "tank\tfilesystem\t-\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-", `column guid: "-" is not a number`},
		{"snapshot name typed filesystem", "tank@x\tfilesystem\t1\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-", "does not fit type"},
		{"human-readable numbers", "tank\tfilesystem\t1\t1\t1\t1.5K\t1\t1\t-\toff\t-\t-\t-", `column used: "1.5K"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseList([]byte("tank\tfilesystem\t1\t1\t1\t1\t1\t1\t-\toff\t-\t-\t-\n" + tc.line + "\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "line 2") {
				t.Fatalf("error = %v, want it to name line 2 and contain %q", err, tc.want)
			}
		})
	}
}

func TestParseHolds(t *testing.T) {
	out := "tank/a@s1\tzplan_last_x\tSun Nov 22 12:00 2026\ntank/a@s1\tkeep\tSun Nov 22 12:01 2026\ntank/b@s2\tzplan_step_x\tSun Nov 22 12:02 2026\n"
	got, err := ParseHolds([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"tank/a@s1": {"zplan_last_x", "keep"}, "tank/b@s2": {"zplan_step_x"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if _, err := ParseHolds([]byte("NAME TAG TIMESTAMP\n")); err == nil {
		t.Error("a header line must be rejected")
	}
	if got := string(HoldsStdin([]string{"a@1", "b@2"})); got != "a@1\x00b@2\x00" {
		t.Errorf("HoldsStdin = %q", got)
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
		{RecvArgv("backup/a"), []string{"zfs", "recv", "-s", "-u", "backup/a"}},
		{DestroySnapshotsArgv("tank/a", "s1", "s2"), []string{"zfs", "destroy", "tank/a@s1,s2"}},
		{SnapshotArgv("tank/a@x", "tank/b@x"), []string{"zfs", "snapshot", "tank/a@x", "tank/b@x"}},
		{HoldArgv("t", "tank/a@x"), []string{"zfs", "hold", "t", "tank/a@x"}},
	} {
		if d := cmp.Diff(tc.want, tc.got); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	}
}
