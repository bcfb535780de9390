package zfs_test

// These tests run zplan's own command lines and parsers against real
// OpenZFS in the lab VM (DESIGN.md §4): what the fake and the planner
// assume is checked here.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/zplan/zplan/lab"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
	"github.com/zplan/zplan/zfs/zfsfake"
)

func TestMain(m *testing.M) { lab.Main(m) }

func run(t *testing.T, h remote.Host, argv ...string) string {
	t.Helper()
	out, err := remote.Output(t.Context(), h, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func fails(t *testing.T, h remote.Host, argv ...string) error {
	t.Helper()
	_, err := remote.Output(t.Context(), h, argv...)
	if err == nil {
		t.Fatalf("%s succeeded, want a failure", strings.Join(argv, " "))
	}
	return err
}

func TestRealListingThroughObserve(t *testing.T) {
	l := lab.Start(t)
	p := l.NewPool(t, 128)
	h := l.Host("real")
	l.Sh(t, fmt.Sprintf(`zfs create %[1]s/a
zfs create -V 8M %[1]s/vol
zfs create -o canmount=off -o zplan:placeholder=%[1]s/ph %[1]s/ph
zfs create %[1]s/ph/child
dd if=/dev/urandom of=/%[1]s/a/f bs=64k count=4 status=none`, p))
	run(t, h, zfs.SnapshotArgv(p+"/a@s1", p+"/vol@s1")...) // atomic across datasets
	run(t, h, zfs.BookmarkArgv(p+"/a@s1", p+"/a#b1")...)
	run(t, h, zfs.HoldArgv("zplan_test", p+"/a@s1")...)
	l.Sh(t, "dd if=/dev/urandom of=/"+p+"/a/g bs=64k count=2 status=none; sync")

	st, err := observe.ObserveHost(context.Background(), "real", h)
	if err != nil {
		t.Fatal(err)
	}
	a, vol, ph, child := st.Datasets[p+"/a"], st.Datasets[p+"/vol"], st.Datasets[p+"/ph"], st.Datasets[p+"/ph/child"]
	if a == nil || vol == nil || ph == nil || child == nil {
		t.Fatalf("datasets missing from the observed state: %v", st.Datasets)
	}
	if vol.Type != zfs.Volume || a.Type != zfs.Filesystem {
		t.Errorf("types: a %s, vol %s", a.Type, vol.Type)
	}
	if !zfs.IsPlaceholder([]byte(run(t, h, zfs.PlaceholderArgv(ph.Name)...)), ph.Name) || zfs.IsPlaceholder([]byte(run(t, h, zfs.PlaceholderArgv(child.Name)...)), child.Name) {
		t.Errorf("placeholder: parent must read as one, the child (which only inherits the property) not")
	}
	s1 := a.SnapshotByName("s1")
	if s1 == nil || len(a.Bookmarks) != 1 || a.Bookmarks[0].GUID != s1.GUID || a.Bookmarks[0].CreateTXG != s1.CreateTXG {
		t.Fatalf("snapshot %+v, bookmarks %+v: the bookmark must carry its snapshot's guid and createtxg", s1, a.Bookmarks)
	}
	if guid := strings.TrimSpace(run(t, h, "zfs", "get", "-H", "-p", "-o", "value", "guid", p+"/a@s1")); guid != fmt.Sprint(s1.GUID) {
		t.Errorf("guid %d, zfs get says %s", s1.GUID, guid)
	}
	if !s1.HasHold("zplan_test") || s1.UserRefs != 1 {
		t.Errorf("holds %v userrefs %d", s1.Holds, s1.UserRefs)
	}
	if vs := vol.SnapshotByName("s1"); vs == nil || vs.CreateTXG != s1.CreateTXG {
		t.Errorf("zfs snapshot of two datasets is not one txg: %+v vs %+v", vs, s1)
	}
	if a.Written < 128<<10 {
		t.Errorf("written since @s1 = %d, want at least the 128 KiB written after it", a.Written)
	}
	if a.Encryption != "off" || a.KeyStatus != "" {
		t.Errorf("encryption %q keystatus %q", a.Encryption, a.KeyStatus)
	}
	run(t, h, zfs.ReleaseArgv("zplan_test", p+"/a@s1")...)
}

func TestRealStderrClassification(t *testing.T) {
	l := lab.Start(t)
	p := l.NewPool(t, 128)
	h := l.Host("real")
	l.Sh(t, fmt.Sprintf(`zfs create %[1]s/a
zfs snapshot %[1]s/a@s1
zfs bookmark %[1]s/a@s1 %[1]s/a#b1
zfs hold keep %[1]s/a@s1
zfs send %[1]s/a@s1 | zfs recv -u %[1]s/copy
zfs snapshot %[1]s/a@s2
touch /%[1]s/a/x
zfs set mountpoint=/%[1]s/copy canmount=on %[1]s/copy
zfs mount %[1]s/copy 2>/dev/null || true
touch /%[1]s/copy/modified`, p))
	for _, tc := range []struct {
		name string
		argv []string
		want zfs.ErrorKind
	}{
		{"destroy a held snapshot", zfs.DestroySnapshotsArgv(p+"/a", "s1"), zfs.ErrBusy},
		{"hold twice", zfs.HoldArgv("keep", p+"/a@s1"), zfs.ErrHoldExists},
		{"release a tag that is not there", zfs.ReleaseArgv("nope", p+"/a@s1"), zfs.ErrNoSuchHold},
		{"list a missing snapshot", zfs.GUIDsArgv(p + "/a@missing"), zfs.ErrNotExist},
		{"bookmark again", zfs.BookmarkArgv(p+"/a@s1", p+"/a#b1"), zfs.ErrExists},
		{"create an existing dataset", zfs.CreatePlaceholderArgv(p + "/a"), zfs.ErrExists},
		{"abort without partial state", zfs.RecvAbortArgv(p + "/a"), zfs.ErrNoResumeState},
		{"incremental onto a modified target", []string{"sh", "-c", "zfs send -i " + p + "/a@s1 " + p + "/a@s2 | zfs recv -u " + p + "/copy"}, zfs.ErrTargetModified},
		{"full stream onto an existing dataset", []string{"sh", "-c", "zfs send " + p + "/a@s1 | zfs recv -u " + p + "/copy"}, zfs.ErrTargetExists},
		{"rollback past a newer snapshot", zfs.RollbackArgv(p+"/a", "s1"), zfs.ErrOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := fails(t, h, tc.argv...)
			if got := zfs.Classify(err); got != tc.want {
				t.Errorf("Classify = %d, want %d; error: %v", got, tc.want, err)
			}
		})
	}
	l.Run(t, "zfs", "release", "keep", p+"/a@s1")
}

// Preconditions are checked with one zfs list of several names, some of
// which may be gone: zfs must still print the others.
func TestRealGUIDLookupWithMissingNames(t *testing.T) {
	l := lab.Start(t)
	p := l.NewPool(t, 64)
	h := l.Host("real")
	l.Sh(t, fmt.Sprintf("zfs create %[1]s/a && zfs snapshot %[1]s/a@s1 && zfs bookmark %[1]s/a@s1 %[1]s/a#b1", p))
	var out strings.Builder
	err := h.Run(t.Context(), remote.Cmd{Argv: zfs.GUIDsArgv(p+"/a@s1", p+"/a@gone", p+"/a#b1", p+"/a#gone"), Stdout: &out})
	if zfs.Classify(err) != zfs.ErrNotExist {
		t.Fatalf("want a does-not-exist failure, got %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], p+"/a@s1\t") || !strings.HasPrefix(lines[1], p+"/a#b1\t") {
		t.Errorf("stdout %q: want the two names that exist", out.String())
	}
}

// A token left by an interrupted receive is decoded by observe on the
// target host, where `zfs send -nv -t` prints the contents and fails.
func TestRealResumeTokenDecodedOnTarget(t *testing.T) {
	l := lab.Start(t)
	p := l.NewPool(t, 128)
	h := l.Host("real")
	l.Sh(t, fmt.Sprintf(`zfs create %[1]s/a
dd if=/dev/urandom of=/%[1]s/a/f bs=1M count=4 status=none
zfs snapshot %[1]s/a@s1
zfs send %[1]s/a@s1 > /%[1]s/stream
head -c 2000000 /%[1]s/stream | zfs recv -s -u %[1]s/b || true
rm /%[1]s/stream`, p))
	st, err := observe.ObserveHost(context.Background(), "real", h)
	if err != nil {
		t.Fatal(err)
	}
	b := st.Datasets[p+"/b"]
	if b == nil || b.ResumeToken == "" || b.Token == nil {
		t.Fatalf("partial receive not observed with a decoded token: %+v", b)
	}
	src := st.Datasets[p+"/a"].SnapshotByName("s1")
	if b.Token.ToGUID != src.GUID || b.Token.FromGUID != 0 || b.Token.ToName != p+"/a@s1" || b.Token.Bytes == 0 {
		t.Errorf("token %+v; want toguid %d, a full stream of %s/a@s1 with some bytes received", *b.Token, src.GUID, p)
	}
	// zplan resumes it with its own command lines.
	if err := remote.Pipe(t.Context(), h, zfs.ResumeSendArgv(nil, b.ResumeToken), h, zfs.RecvArgv(p+"/b", nil, nil), nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(run(t, h, "zfs", "get", "-H", "-p", "-o", "value", "guid", p+"/b@s1")); got != fmt.Sprint(src.GUID) {
		t.Errorf("after resume, %s/b@s1 guid %s, want %d", p, got, src.GUID)
	}
}

// TestFakeMatchesReal runs one scenario of zplan's own command lines on
// the in-memory fake and on real OpenZFS, and compares what observe sees
// and how each failure classifies: the fake's fidelity, checked.
func TestFakeMatchesReal(t *testing.T) {
	l := lab.Start(t)
	realPool := l.NewPool(t, 64)
	w := zfsfake.NewWorld(nil)
	fake := w.Host("fake")
	fake.CreatePool("fakepool")

	got := map[string]string{}
	for _, side := range []struct {
		name, pool string
		h          remote.Host
	}{{"fake", "fakepool", fake}, {"real", realPool, l.Host("real")}} {
		var log strings.Builder
		P := func(s string) string { return strings.ReplaceAll(s, "P", side.pool) }
		step := func(argv ...string) {
			for i := range argv {
				argv[i] = P(argv[i])
			}
			_, err := remote.Output(t.Context(), side.h, argv...)
			fmt.Fprintf(&log, "%s -> %s\n", strings.ReplaceAll(strings.Join(argv, " "), side.pool, "P"), classify(err))
		}
		pipe := func(send, recv []string) {
			for i := range send {
				send[i] = P(send[i])
			}
			for i := range recv {
				recv[i] = P(recv[i])
			}
			err := remote.Pipe(t.Context(), side.h, send, side.h, recv, nil)
			fmt.Fprintf(&log, "pipe %s -> %v\n", strings.ReplaceAll(strings.Join(recv, " "), side.pool, "P"), err == nil)
		}
		step("zfs", "create", "P/a")
		step(zfs.CreatePlaceholderArgv("P/ph")...)
		step(zfs.SnapshotArgv("P/a@s1", "P/ph@s1")...)
		step(zfs.BookmarkArgv("P/a@s1", "P/a#b1")...)
		step(zfs.BookmarkArgv("P/a@s1", "P/a#b1")...)
		step(zfs.HoldArgv("t", "P/a@s1")...)
		step(zfs.HoldArgv("t", "P/a@s1")...)
		step(zfs.DestroySnapshotsArgv("P/a", "s1")...)
		step(zfs.ReleaseArgv("t", "P/a@s1")...)
		step(zfs.ReleaseArgv("t", "P/a@s1")...)
		step(zfs.SnapshotArgv("P/a@s2")...)
		pipe(zfs.SendArgv(nil, "", "P/a@s1"), zfs.RecvArgv("P/c", nil, nil))
		pipe(zfs.SendArgv(nil, "P/a#b1", "P/a@s2"), zfs.RecvArgv("P/c", nil, nil))
		pipe(zfs.SendArgv(nil, "", "P/a@s2"), zfs.RecvArgv("P/c", nil, nil))
		step(zfs.DestroySnapshotsArgv("P/a", "s1")...)
		step(zfs.RecvAbortArgv("P/c")...)
		step(zfs.RollbackArgv("P/c", "s1")...)
		step(zfs.RollbackArgv("P/c", "s2")...)
		step(zfs.HoldArgv("zplan_last_x", "P/c@s2")...)
		step(zfs.GUIDsArgv("P/a@s2", "P/a@gone")...)
		// zfs_open's wording, which the fake copies from the OpenZFS source
		// (zfsfake's openError, bookmark): exit status and stderr verbatim.
		stepText := func(argv ...string) {
			for i := range argv {
				argv[i] = P(argv[i])
			}
			_, err := remote.Output(t.Context(), side.h, argv...)
			var ee *remote.ExitError
			if !errors.As(err, &ee) {
				fmt.Fprintf(&log, "%s -> %v\n", strings.ReplaceAll(strings.Join(argv, " "), side.pool, "P"), err)
				return
			}
			fmt.Fprintf(&log, "%s -> exit %d %q\n", strings.ReplaceAll(strings.Join(argv, " "), side.pool, "P"), ee.Code, strings.ReplaceAll(ee.Stderr, side.pool, "P"))
		}
		stepText(zfs.GUIDsArgv("P/a@s2", "P/a#gone", "P/nope#gone", "P/a@gone")...)
		stepText(zfs.BookmarkArgv("P/a@gone", "P/a#g")...)
		stepText(zfs.BookmarkArgv("P/a#gone", "P/a#g")...)

		st, err := observe.ObserveHost(t.Context(), side.name, side.h)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(&log, describe(st, side.pool))
		for _, ds := range []string{"P/ph", "P/c"} {
			out, err := remote.Output(t.Context(), side.h, zfs.PlaceholderArgv(P(ds))...)
			fmt.Fprintf(&log, "%s placeholder=%v (%v)\n", ds, zfs.IsPlaceholder(out, P(ds)), err)
		}
		got[side.name] = log.String()
	}
	for _, want := range []string{"P/c filesystem token=false", "@s2 holds=[zplan_last_x]", "P/ph placeholder=true", "P/c placeholder=false", "#b1", "-> error kind 2"} {
		if !strings.Contains(got["real"], want) {
			t.Errorf("the scenario did not do what it should on real ZFS (no %q):\n%s", want, got["real"])
		}
	}
	if got["fake"] != got["real"] {
		t.Errorf("the fake and real ZFS differ:\n--- fake\n%s--- real\n%s", got["fake"], got["real"])
	}
}

func classify(err error) string {
	if err == nil {
		return "ok"
	}
	return fmt.Sprintf("error kind %d", zfs.Classify(err))
}

// describe renders the observed pool without GUIDs and txgs, but with the
// relations between them that zplan relies on.
func describe(st *observe.Host, pool string) string {
	var b strings.Builder
	var names []string
	for n := range st.Datasets {
		if n == pool || strings.HasPrefix(n, pool+"/") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		d := st.Datasets[n]
		fmt.Fprintf(&b, "%s %s token=%v\n", strings.Replace(n, pool, "P", 1), d.Type, d.ResumeToken != "")
		var prev uint64
		for _, s := range d.Snapshots {
			fmt.Fprintf(&b, "  @%s holds=%v ordered=%v\n", s.Name, s.Holds, s.CreateTXG > prev)
			prev = s.CreateTXG
		}
		for _, bm := range d.Bookmarks {
			fmt.Fprintf(&b, "  #%s\n", bm.Name)
		}
	}
	return b.String()
}
