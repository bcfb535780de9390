package zfsfake

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// newHost returns a host with pool tank and filesystem tank/data holding
// 1 MiB.
func newHost(t *testing.T) (*World, *Host) {
	t.Helper()
	w := NewWorld(func() time.Time { return t0 })
	h := w.Host("src")
	h.CreatePool("tank")
	h.Create("tank/data", Opts{})
	h.Write("tank/data", 1<<20)
	return w, h
}

func mustRun(t *testing.T, h *Host, argv ...string) string {
	t.Helper()
	out, err := remote.Output(context.Background(), h, argv...)
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	return string(out)
}

// fails runs argv, which must fail, and returns its exit error.
func fails(t *testing.T, h *Host, argv ...string) *remote.ExitError {
	t.Helper()
	_, err := remote.Output(context.Background(), h, argv...)
	var ee *remote.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("%s: want an exit error, got %v", strings.Join(argv, " "), err)
	}
	return ee
}

func list(t *testing.T, h *Host) map[string]zfs.Entry {
	t.Helper()
	entries, err := zfs.ParseList([]byte(mustRun(t, h, zfs.ListArgv()...)))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]zfs.Entry{}
	for _, e := range entries {
		m[e.Name] = e
	}
	return m
}

func TestListParsesAndAccountsSpace(t *testing.T) {
	_, h := newHost(t)
	h.Snapshot("tank/data@a")
	h.Rewrite("tank/data", 256<<10) // 256 KiB of @a's data replaced
	h.Write("tank/data", 512<<10)
	h.Snapshot("tank/data@b")
	h.Write("tank/data", 4096)
	mustRun(t, h, zfs.BookmarkArgv("tank/data@a", "tank/data#cur")...)
	mustRun(t, h, zfs.HoldArgv("keep", "tank/data@b")...)

	m := list(t, h)
	a, b, fs, bm := m["tank/data@a"], m["tank/data@b"], m["tank/data"], m["tank/data#cur"]
	for _, tc := range []struct {
		what      string
		got, want uint64
	}{
		{"@a referenced", a.Referenced, 1 << 20},
		{"@a written", a.Written, 1 << 20},
		{"@a used (data only it still holds)", a.Used, 256 << 10},
		{"@b referenced", b.Referenced, 1<<20 + 512<<10},
		{"@b written", b.Written, 256<<10 + 512<<10},
		{"@b used", b.Used, 0},
		{"@b userrefs", b.UserRefs, 1},
		{"fs written since @b", fs.Written, 4096},
		{"fs referenced", fs.Referenced, 1<<20 + 512<<10 + 4096},
		{"fs used", fs.Used, 1<<20 + 512<<10 + 4096 + 256<<10},
		{"pool used includes children", m["tank"].Used, fs.Used},
		{"bookmark guid", bm.GUID, a.GUID},
		{"bookmark createtxg", bm.CreateTXG, a.CreateTXG},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.what, tc.got, tc.want)
		}
	}
	if bm.Type != zfs.Bookmark || a.Type != zfs.Snapshot || fs.Type != zfs.Filesystem {
		t.Errorf("types: %s %s %s", bm.Type, a.Type, fs.Type)
	}
	if !a.Creation.Equal(t0) || a.Encryption != "off" || a.KeyStatus != "" || fs.ResumeToken != "" {
		t.Errorf("@a: %+v", a)
	}
}

// The listing follows zfs_compare: names with the @part cut off, a
// dataset before its snapshots, snapshots by createtxg, bookmarks by name.
func TestListOrderMatchesZFS(t *testing.T) {
	_, h := newHost(t)
	h.Create("tank/data/child", Opts{})
	h.Create("tank/data-x", Opts{})
	h.Snapshot("tank/data@z") // created first: listed first despite its name
	h.Snapshot("tank/data@a")
	h.Bookmark(t, "tank/data@z", "tank/data#m")
	h.Snapshot("tank/data/child@s")
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(mustRun(t, h, zfs.ListArgv()...)), "\n") {
		names = append(names, strings.SplitN(line, "\t", 2)[0])
	}
	want := []string{"tank", "tank/data", "tank/data@z", "tank/data@a", "tank/data#m", "tank/data-x", "tank/data/child", "tank/data/child@s"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("order:\n got %v\nwant %v", names, want)
	}
}

// Bookmark is a test helper: zfs bookmark through Run.
func (h *Host) Bookmark(t *testing.T, snap, bm string) {
	t.Helper()
	mustRun(t, h, zfs.BookmarkArgv(snap, bm)...)
}

func TestSnapshotIsAtomic(t *testing.T) {
	_, h := newHost(t)
	h.Create("tank/other", Opts{})
	mustRun(t, h, zfs.SnapshotArgv("tank/data@x", "tank/other@x")...)
	m := list(t, h)
	if m["tank/data@x"].CreateTXG != m["tank/other@x"].CreateTXG || m["tank/data@x"].GUID == m["tank/other@x"].GUID {
		t.Errorf("one txg, distinct guids: %+v %+v", m["tank/data@x"], m["tank/other@x"])
	}
	ee := fails(t, h, zfs.SnapshotArgv("tank/data@y", "tank/other@x")...)
	if ee.Code != 1 || ee.Stderr != "cannot create snapshot 'tank/other@x': dataset already exists\n" || zfs.Classify(ee) != zfs.ErrExists {
		t.Errorf("existing snapshot: %d %q", ee.Code, ee.Stderr)
	}
	if h.Exists("tank/data@y") {
		t.Error("a failed zfs snapshot created some of its snapshots")
	}
	ee = fails(t, h, zfs.SnapshotArgv("tank/nope@y")...)
	if zfs.Classify(ee) != zfs.ErrNotExist {
		t.Errorf("missing dataset: %q", ee.Stderr)
	}
}

func TestDestroy(t *testing.T) {
	_, h := newHost(t)
	h.Snapshot("tank/data@a")
	h.Snapshot("tank/data@b")
	h.Snapshot("tank/data@c")
	h.Hold("keep", "tank/data@b")

	ee := fails(t, h, zfs.DestroySnapshotsArgv("tank/data", "a", "b")...)
	if ee.Code != 1 || ee.Stderr != "cannot destroy snapshot tank/data@b: dataset is busy\n" || zfs.Classify(ee) != zfs.ErrBusy {
		t.Errorf("held: %d %q", ee.Code, ee.Stderr)
	}
	if !h.Exists("tank/data@a") {
		t.Error("destroy of a held snapshot destroyed its unheld sibling: it must be all or none")
	}
	// Missing names in the list are skipped.
	mustRun(t, h, zfs.DestroySnapshotsArgv("tank/data", "a", "gone", "c")...)
	if got := h.Snapshots("tank/data"); len(got) != 1 || got[0] != "b" {
		t.Errorf("left: %v", got)
	}
	ee = fails(t, h, zfs.DestroySnapshotsArgv("tank/data", "gone")...)
	if ee.Stderr != "could not find any snapshots to destroy; check snapshot names.\n" || zfs.Classify(ee) != zfs.ErrNotExist {
		t.Errorf("nothing to destroy: %q", ee.Stderr)
	}
	ee = fails(t, h, zfs.DestroySnapshotsArgv("tank/nope", "a")...)
	if ee.Stderr != "cannot open 'tank/nope': dataset does not exist\n" {
		t.Errorf("missing dataset: %q", ee.Stderr)
	}
	h.Bookmark(t, "tank/data@b", "tank/data#b")
	mustRun(t, h, zfs.DestroyBookmarkArgv("tank/data#b")...)
	ee = fails(t, h, zfs.DestroyBookmarkArgv("tank/data#b")...)
	if zfs.Classify(ee) != zfs.ErrNotExist {
		t.Errorf("missing bookmark: %q", ee.Stderr)
	}
}

func TestHoldsAndRelease(t *testing.T) {
	_, h := newHost(t)
	h.Snapshot("tank/data@a")
	h.Snapshot("tank/data@b")
	mustRun(t, h, zfs.HoldArgv("zplan_last", "tank/data@a", "tank/data@b")...)
	mustRun(t, h, zfs.HoldArgv("other", "tank/data@a")...)

	ee := fails(t, h, zfs.HoldArgv("other", "tank/data@a")...)
	if ee.Stderr != "cannot hold snapshot 'tank/data@a': tag already exists on this dataset\n" || zfs.Classify(ee) != zfs.ErrHoldExists {
		t.Errorf("hold twice: %q", ee.Stderr)
	}
	ee = fails(t, h, zfs.ReleaseArgv("nope", "tank/data@a")...)
	if ee.Stderr != "cannot release hold from snapshot 'tank/data@a': no such tag on this dataset\n" || zfs.Classify(ee) != zfs.ErrNoSuchHold {
		t.Errorf("release missing tag: %q", ee.Stderr)
	}
	ee = fails(t, h, zfs.HoldArgv("x", "tank/data@gone")...)
	if zfs.Classify(ee) != zfs.ErrNotExist {
		t.Errorf("hold on missing snapshot: %q", ee.Stderr)
	}

	var out strings.Builder
	err := h.Run(context.Background(), remote.Cmd{Argv: zfs.HoldsArgv(), Stdin: strings.NewReader(string(zfs.HoldsStdin([]string{"tank/data@b", "tank/data@a"}))), Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	want := "tank/data@a\tother\tSun Nov 22 12:00 2026\ntank/data@a\tzplan_last\tSun Nov 22 12:00 2026\ntank/data@b\tzplan_last\tSun Nov 22 12:00 2026\n"
	if out.String() != want {
		t.Errorf("holds:\n%q\nwant\n%q", out.String(), want)
	}
	holds, err := zfs.ParseHolds([]byte(out.String()), map[string]uint64{"tank/data@a": 2, "tank/data@b": 1})
	if err != nil || len(holds.Tags["tank/data@a"]) != 2 || len(holds.Bad) != 0 {
		t.Errorf("ParseHolds: %v %v", holds, err)
	}
	// Empty stdin: xargs -r runs nothing.
	if err := h.Run(context.Background(), remote.Cmd{Argv: zfs.HoldsArgv(), Stdin: strings.NewReader("")}); err != nil {
		t.Errorf("xargs -r with no input: %v", err)
	}
	err = h.Run(context.Background(), remote.Cmd{Argv: zfs.HoldsArgv(), Stdin: strings.NewReader("tank/data@zz\x00")})
	var ee2 *remote.ExitError
	if !errors.As(err, &ee2) || ee2.Code != 123 || !strings.Contains(ee2.Stderr, "dataset does not exist") {
		t.Errorf("xargs with a missing snapshot: %v", err)
	}

	mustRun(t, h, zfs.ReleaseArgv("zplan_last", "tank/data@a")...)
	if got := h.Holds("tank/data@a"); len(got) != 1 || got[0] != "other" {
		t.Errorf("after release: %v", got)
	}
	if e := list(t, h)["tank/data@a"]; e.UserRefs != 1 {
		t.Errorf("userrefs = %d", e.UserRefs)
	}
}

func TestBookmark(t *testing.T) {
	_, h := newHost(t)
	h.Snapshot("tank/data@a")
	h.Bookmark(t, "tank/data@a", "tank/data#a")
	ee := fails(t, h, zfs.BookmarkArgv("tank/data@a", "tank/data#a")...)
	if ee.Stderr != "cannot create bookmark 'tank/data#a': bookmark exists\n" || zfs.Classify(ee) != zfs.ErrExists {
		t.Errorf("bookmark twice: %q", ee.Stderr)
	}
	// zfs bookmark prints zfs_open's complaint, then its usage, and exits 2
	// (see the fake's bookmark): not a kind zplan tolerates.
	ee = fails(t, h, zfs.BookmarkArgv("tank/data@gone", "tank/data#g")...)
	if ee.Code != 2 || !strings.HasPrefix(ee.Stderr, "cannot open 'tank/data@gone': dataset does not exist\nusage:\n\tbookmark <snapshot|bookmark> <newbookmark>\n") || zfs.Classify(ee) == zfs.ErrExists {
		t.Errorf("bookmark of a missing snapshot: exit %d, %q", ee.Code, ee.Stderr)
	}
	ee = fails(t, h, zfs.BookmarkArgv("tank/data#gone", "tank/data#g")...)
	if ee.Code != 2 || !strings.HasPrefix(ee.Stderr, "cannot open 'tank/data#gone': no such pool or dataset\nusage:\n") {
		t.Errorf("bookmark of a missing bookmark: exit %d, %q", ee.Code, ee.Stderr)
	}
	// The bookmark outlives its snapshot.
	mustRun(t, h, zfs.DestroySnapshotsArgv("tank/data", "a")...)
	if !h.Exists("tank/data#a") || h.Exists("tank/data@a") {
		t.Error("bookmark should survive its snapshot")
	}
}

// zfs_open's two texts for a name that does not open: a missing bookmark
// of a dataset that exists is EZFS_NOENT ("no such pool or dataset"),
// anything else ENOENT ("dataset does not exist"); zplan classifies both
// as missing and reads the name back.
func TestListMissingBookmarkWording(t *testing.T) {
	_, h := newHost(t)
	h.Snapshot("tank/data@a")
	ee := fails(t, h, zfs.GUIDsArgv("tank/data@a", "tank/data#gone", "tank/nope#gone", "tank/data@gone")...)
	want := "cannot open 'tank/data#gone': no such pool or dataset\n" +
		"cannot open 'tank/nope#gone': dataset does not exist\n" +
		"cannot open 'tank/data@gone': dataset does not exist\n"
	if ee.Code != 1 || ee.Stderr != want {
		t.Fatalf("exit %d, stderr %q, want %q", ee.Code, ee.Stderr, want)
	}
	if k := zfs.Classify(ee); k != zfs.ErrNotExist {
		t.Errorf("Classify = %d, want ErrNotExist", k)
	}
	if got, ok := zfs.Missing(ee); !ok || !slices.Equal(got, []string{"tank/data#gone", "tank/nope#gone", "tank/data@gone"}) {
		t.Errorf("missing names %q (%v)", got, ok)
	}
}

// GUIDsArgv prints what exists, complains about the rest, and exits 1.
func TestGUIDLookup(t *testing.T) {
	_, h := newHost(t)
	h.Snapshot("tank/data@a")
	h.Bookmark(t, "tank/data@a", "tank/data#a")
	var out strings.Builder
	err := h.Run(context.Background(), remote.Cmd{Argv: zfs.GUIDsArgv("tank/data@a", "tank/data@gone", "tank/data#a", "tank/data"), Stdout: &out})
	var ee *remote.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || ee.Stderr != "cannot open 'tank/data@gone': dataset does not exist\n" {
		t.Fatalf("err = %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	g := h.GUID("tank/data@a")
	// Columns: name, guid, written (a number; "-" for a bookmark, as on
	// OpenZFS 2.3), receive_resume_token, encryption ("-" for a bookmark).
	want := []string{
		"tank/data\t" + itoa(h.GUID("tank/data")) + "\t0\t-\toff",
		"tank/data@a\t" + itoa(g) + "\t1048576\t-\toff",
		"tank/data#a\t" + itoa(g) + "\t-\t-\t-",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", out.String(), strings.Join(want, "\n"))
	}
}

func TestCreatePlaceholderAndInheritance(t *testing.T) {
	_, h := newHost(t)
	mustRun(t, h, zfs.CreatePlaceholderArgv("tank/backup")...)
	ee := fails(t, h, zfs.CreatePlaceholderArgv("tank/backup")...)
	if ee.Stderr != "cannot create 'tank/backup': dataset already exists\n" || zfs.Classify(ee) != zfs.ErrExists {
		t.Errorf("create twice: %q", ee.Stderr)
	}
	ee = fails(t, h, "zfs", "create", "tank/a/b")
	if ee.Stderr != "cannot create 'tank/a/b': parent does not exist\n" {
		t.Errorf("missing parent: %q", ee.Stderr)
	}
	mustRun(t, h, "zfs", "create", "tank/backup/host")
	h.Snapshot("tank/backup/host@s")
	// User properties are inherited, by children and snapshots alike; the
	// placeholder property's value names the dataset that carries it, so
	// a child under a placeholder does not read as one.
	for name, want := range map[string]bool{"tank/backup": true, "tank/backup/host": false, "tank/data": false} {
		if got := zfs.IsPlaceholder([]byte(mustRun(t, h, zfs.PlaceholderArgv(name)...)), name); got != want {
			t.Errorf("placeholder %s: %v, want %v", name, got, want)
		}
	}
}

func TestEncryptionListing(t *testing.T) {
	_, h := newHost(t)
	h.Create("tank/secret", Opts{Encrypted: true})
	h.Create("tank/secret/child", Opts{})
	h.Snapshot("tank/secret/child@s")
	h.UnloadKey("tank/secret")
	m := list(t, h)
	for _, n := range []string{"tank/secret", "tank/secret/child", "tank/secret/child@s"} {
		if m[n].Encryption != "aes-256-gcm" || m[n].KeyStatus != "unavailable" {
			t.Errorf("%s: encryption %q keystatus %q", n, m[n].Encryption, m[n].KeyStatus)
		}
	}
	if m["tank/data"].Encryption != "off" || m["tank/data"].KeyStatus != "" {
		t.Errorf("unencrypted: %+v", m["tank/data"])
	}
}

func TestFailNextAndCommands(t *testing.T) {
	_, h := newHost(t)
	h.FailNext(MatchPrefix("zfs", "snapshot"), "cannot create snapshot 'tank/data@x': out of space", 1)
	ee := fails(t, h, zfs.SnapshotArgv("tank/data@x")...)
	if ee.Stderr != "cannot create snapshot 'tank/data@x': out of space\n" || h.Exists("tank/data@x") {
		t.Errorf("injected failure: %q", ee.Stderr)
	}
	mustRun(t, h, zfs.SnapshotArgv("tank/data@x")...) // used once only
	ee = fails(t, h, "zfs", "rename", "tank/data@x", "tank/data@y")
	if ee.Code != 2 || !strings.HasPrefix(ee.Stderr, "fake zfs: unsupported command") {
		t.Errorf("unsupported: %d %q", ee.Code, ee.Stderr)
	}
	if n := len(h.Commands()); n != 3 {
		t.Errorf("%d commands logged, want 3", n)
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func remoteOutput(ctx context.Context, h *Host, argv []string) ([]byte, error) {
	return remote.Output(ctx, h, argv...)
}

// skip_unchanged reads written as real zfs reports it: the dataset's
// counts since its newest snapshot of any kind (a bookmark is none), a
// snapshot's since the one before it, so an idle dataset and a
// snapshot of nothing new show 0, and a write captured by a later
// snapshot shows in that snapshot's written only.
func TestWrittenForSkipUnchanged(t *testing.T) {
	_, h := newHost(t)
	h.Snapshot("tank/data@mine")
	mustRun(t, h, zfs.BookmarkArgv("tank/data@mine", "tank/data#bm")...)
	h.Snapshot("tank/data@idle")
	m := list(t, h)
	if m["tank/data"].Written != 0 || m["tank/data@idle"].Written != 0 {
		t.Errorf("idle: fs written %d, @idle written %d, want 0 and 0", m["tank/data"].Written, m["tank/data@idle"].Written)
	}
	h.Write("tank/data", 4096)
	h.Snapshot("tank/data@theirs")
	m = list(t, h)
	if m["tank/data"].Written != 0 || m["tank/data@theirs"].Written != 4096 {
		t.Errorf("after a write and @theirs: fs written %d, @theirs written %d, want 0 and 4096", m["tank/data"].Written, m["tank/data@theirs"].Written)
	}
}
