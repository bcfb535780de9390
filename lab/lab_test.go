package lab_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
	"github.com/zplan/zplan/remote"
)

// These tests prove the lab gives real OpenZFS and check the ZFS facts
// zplan relies on (DESIGN.md section 4). They need the lab VM; with
// ZPLAN_LAB=skip they are skipped when it cannot start.

func TestMain(m *testing.M) { lab.Main(m) }

// get returns a property's exact value.
func get(t *testing.T, l *lab.Lab, prop, ds string) string {
	t.Helper()
	return strings.TrimSpace(l.Run(t, "zfs", "get", "-H", "-p", "-o", "value", prop, ds))
}

func TestGuest(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	t.Logf("guest: kernel %s, OpenZFS %s (track %s), %s, ssh port %d", l.Kernel, l.ZFSVersion, l.ZFSTrack, l.Accel, l.Port)
	if !strings.HasPrefix(l.ZFSVersion, l.ZFSTrack+".") {
		t.Errorf("ZFS module version %q is not on track %s", l.ZFSVersion, l.ZFSTrack)
	}
	out := l.Run(t, "zfs", "version")
	if !strings.Contains(out, "zfs-kmod-"+l.ZFSTrack) {
		t.Errorf("zfs version: %q", out)
	}
	l.Run(t, "test", "-c", "/dev/zfs")
	l.Run(t, "sh", "-c", "command -v syncoid")
	for _, d := range l.Disks {
		l.Run(t, "test", "-b", d)
	}

	// Non-zero exit: *remote.ExitError with stderr and the host's name.
	ee := l.Fails(t, "sh", "-c", "echo oops >&2; exit 3")
	if ee.Code != 3 || strings.TrimSpace(ee.Stderr) != "oops" {
		t.Errorf("exit error: code %d stderr %q", ee.Code, ee.Stderr)
	}
	_, err := remote.Output(t.Context(), l.Host("src"), "false")
	if !errors.As(err, &ee) || ee.Host != "src" {
		t.Errorf("Host(src) error: %v", err)
	}
	// Arguments arrive as words, not shell text.
	arg := `it's "$HOME" ; $(id) *`
	if out := l.Run(t, "printf", "%s", arg); out != arg {
		t.Errorf("quoting: got %q, want %q", out, arg)
	}
	// Stdin streams.
	var got bytes.Buffer
	if err := l.Host("x").Run(t.Context(), remote.Cmd{Argv: []string{"wc", "-c"}, Stdin: strings.NewReader(strings.Repeat("z", 100000)), Stdout: &got}); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(got.String()) != "100000" {
		t.Errorf("wc -c of 100000 bytes: %q", got.String())
	}
	// Cancellation ends the remote command.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err = l.Host("x").Run(ctx, remote.Cmd{Argv: []string{"sleep", "60"}})
	if err == nil || time.Since(start) > 20*time.Second {
		t.Errorf("cancelled sleep: err %v after %s", err, time.Since(start))
	}
}

// Plain OpenSSH reaches the guest with strict host key checking.
func TestOpenSSHClient(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	argv := append(l.SSHArgs(), "zpool", "version")
	out, err := exec.CommandContext(t.Context(), argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

func TestHoldBlocksDestroy(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	p := l.NewPool(t, 64)
	l.Sh(t, fmt.Sprintf(`zfs create %[1]s/fs
dd if=/dev/urandom of=/%[1]s/fs/f bs=64k count=16 status=none
zfs snapshot %[1]s/fs@a
zfs hold keep %[1]s/fs@a`, p))
	if got := get(t, l, "userrefs", p+"/fs@a"); got != "1" {
		t.Errorf("userrefs = %s, want 1", got)
	}
	holds := l.Run(t, "zfs", "holds", "-H", p+"/fs@a")
	if f := strings.Split(strings.TrimSpace(holds), "\t"); len(f) < 2 || f[1] != "keep" {
		t.Errorf("zfs holds: %q", holds)
	}
	// OpenZFS 2.1 says "dataset is busy"; 2.3 says "it's being held".
	ee := l.Fails(t, "zfs", "destroy", p+"/fs@a")
	t.Logf("destroy of a held snapshot: %s", strings.TrimSpace(ee.Stderr))
	if !strings.Contains(ee.Stderr, "dataset is busy") && !strings.Contains(ee.Stderr, "being held") {
		t.Errorf("destroy of held snapshot: unexpected message %q", ee.Stderr)
	}
	if get(t, l, "guid", p+"/fs@a") == "" {
		t.Errorf("held snapshot gone")
	}
	l.Run(t, "zfs", "release", "keep", p+"/fs@a")
	l.Run(t, "zfs", "destroy", p+"/fs@a")
}

// A bookmark is the source of an incremental send once its snapshot is gone.
func TestBookmarkIncremental(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	p := l.NewPool(t, 128)
	l.Sh(t, fmt.Sprintf(`zfs create %[1]s/src
dd if=/dev/urandom of=/%[1]s/src/f1 bs=64k count=16 status=none
zfs snapshot %[1]s/src@a
zfs send %[1]s/src@a | zfs recv -u %[1]s/dst
zfs bookmark %[1]s/src@a %[1]s/src#a
dd if=/dev/urandom of=/%[1]s/src/f2 bs=64k count=16 status=none
zfs snapshot %[1]s/src@b
zfs destroy %[1]s/src@a
zfs send -i %[1]s/src#a %[1]s/src@b | zfs recv -u %[1]s/dst`, p))
	if s, d := get(t, l, "guid", p+"/src@b"), get(t, l, "guid", p+"/dst@b"); s != d {
		t.Errorf("guid of @b: source %s, target %s", s, d)
	}
	// The bookmark keeps the snapshot's GUID and createtxg.
	if b, s := get(t, l, "guid", p+"/src#a"), get(t, l, "guid", p+"/dst@a"); b != s {
		t.Errorf("bookmark guid %s, received snapshot guid %s", b, s)
	}
}

// An interrupted `recv -s` leaves a resume token; `send -t` finishes it.
func TestResumableReceive(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	p := l.NewPool(t, 128)
	l.Sh(t, fmt.Sprintf(`zfs create %[1]s/src
dd if=/dev/urandom of=/%[1]s/src/f bs=1M count=2 status=none
zfs snapshot %[1]s/src@a
zfs send %[1]s/src@a > /%[1]s/stream
size=$(stat -c %%s /%[1]s/stream)
head -c $((size / 2)) /%[1]s/stream | zfs recv -s -u %[1]s/dst 2>/dev/null && exit 1
rm /%[1]s/stream`, p))
	token := get(t, l, "receive_resume_token", p+"/dst")
	if token == "-" || token == "" {
		t.Fatalf("no resume token after an interrupted recv -s")
	}
	// -nv decodes the token: it names what the resumed send continues.
	dec := l.Run(t, "zfs", "send", "-nvt", token)
	toguid := field(dec, "toguid")
	want, _ := strconv.ParseUint(get(t, l, "guid", p+"/src@a"), 10, 64)
	if got, err := strconv.ParseUint(toguid, 0, 64); err != nil || got != want {
		t.Errorf("token toguid %q, source guid %d; decoded:\n%s", toguid, want, dec)
	}
	if name := field(dec, "toname"); name != p+"/src@a" {
		t.Errorf("token toname %q", name)
	}
	// Resume through the lab's Go transport: send on "src", recv on "dst".
	pipe(t, l.Host("src"), []string{"zfs", "send", "-t", token}, l.Host("dst"), []string{"zfs", "recv", "-s", "-u", p + "/dst"})
	if got := get(t, l, "guid", p+"/dst@a"); got != strconv.FormatUint(want, 10) {
		t.Errorf("resumed receive: guid %s, want %d", got, want)
	}
	if tok := get(t, l, "receive_resume_token", p+"/dst"); tok != "-" {
		t.Errorf("token left after completed resume: %q", tok)
	}
}

// field finds "name = value" in zfs send -nv output.
func field(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " = ")
		if ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// pipe relays src's stdout into dst's stdin through this process.
func pipe(t *testing.T, src remote.Host, sendArgv []string, dst remote.Host, recvArgv []string) {
	t.Helper()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := src.Run(t.Context(), remote.Cmd{Argv: sendArgv, Stdout: pw})
		pw.CloseWithError(err)
		errc <- err
	}()
	recvErr := dst.Run(t.Context(), remote.Cmd{Argv: recvArgv, Stdin: pr})
	pr.CloseWithError(errors.New("receiver ended"))
	if err := <-errc; err != nil {
		t.Fatalf("send: %v", err)
	}
	if recvErr != nil {
		t.Fatalf("recv: %v", recvErr)
	}
}

// A raw send of an encrypted dataset works while the target never has the key.
func TestRawSendEncrypted(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	p := l.NewPool(t, 128)
	// A raw key file: a passphrase would cost seconds of PBKDF2 under emulation.
	l.Sh(t, fmt.Sprintf(`head -c 32 /dev/urandom > /%[1]s.key
zfs create -o encryption=on -o keyformat=raw -o keylocation=file:///%[1]s.key %[1]s/secret
dd if=/dev/urandom of=/%[1]s/secret/f bs=64k count=16 status=none
zfs snapshot %[1]s/secret@a
zfs send -w %[1]s/secret@a | zfs recv -u %[1]s/copy
dd if=/dev/urandom of=/%[1]s/secret/g bs=64k count=16 status=none
zfs snapshot %[1]s/secret@b
zfs send -w -i @a %[1]s/secret@b | zfs recv -u %[1]s/copy`, p))
	if ks := get(t, l, "keystatus", p+"/copy"); ks != "unavailable" {
		t.Errorf("target keystatus %q, want unavailable", ks)
	}
	if enc := get(t, l, "encryption", p+"/copy"); enc == "off" {
		t.Errorf("target encryption %q", enc)
	}
	if s, d := get(t, l, "guid", p+"/secret@b"), get(t, l, "guid", p+"/copy@b"); s != d {
		t.Errorf("guid of @b: %s vs %s", s, d)
	}
	// A non-raw send of an encrypted dataset without -w needs the key loaded
	// on the source; unloaded, it fails instead of leaking plaintext.
	l.Sh(t, fmt.Sprintf("zfs unmount %[1]s/secret && zfs unload-key %[1]s/secret && rm /%[1]s.key", p))
	ee := l.Fails(t, "zfs", "send", p+"/secret@b")
	t.Logf("plain send with the key unloaded: %s", strings.TrimSpace(ee.Stderr))
}

// syncoid (from sanoid) runs in the guest: a peer for benchmarks.
func TestSyncoid(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	p := l.NewPool(t, 64)
	l.Sh(t, fmt.Sprintf(`zfs create %[1]s/src
dd if=/dev/urandom of=/%[1]s/src/f bs=64k count=8 status=none
syncoid --no-privilege-elevation --quiet %[1]s/src %[1]s/dst`, p))
	if snaps := l.Run(t, "zfs", "list", "-H", "-t", "snapshot", "-o", "name", "-r", p+"/dst"); !strings.Contains(snaps, "@syncoid_") {
		t.Errorf("no syncoid snapshot on target: %q", snaps)
	}
}

// The other facts of DESIGN.md section 4, in one pool.
func TestZFSFacts(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	p := l.NewPool(t, 128)
	l.Sh(t, fmt.Sprintf(`zfs create %[1]s/a
zfs create %[1]s/b
dd if=/dev/urandom of=/%[1]s/a/f bs=64k count=8 status=none
zfs snapshot %[1]s/a@x %[1]s/b@x
zfs bookmark %[1]s/a@x %[1]s/a#x
dd if=/dev/urandom of=/%[1]s/a/g bs=64k count=8 status=none
zfs snapshot %[1]s/a@y
zfs snapshot %[1]s/a@d1
zfs snapshot %[1]s/a@d2`, p))

	// One listing for everything, scripted (-H tabs) and exact (-p).
	props := "name,type,guid,createtxg,creation,receive_resume_token,encryption,keystatus,written,userrefs"
	out := l.Run(t, "zfs", "list", "-H", "-p", "-t", "all", "-o", props, "-r", p)
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != strings.Count(props, ",")+1 {
			t.Fatalf("zfs list row with %d fields: %q", len(f), line)
		}
		rows[f[0]] = f
	}
	if r := rows[p+"/a#x"]; r == nil || r[1] != "bookmark" || r[2] != rows[p+"/a@x"][2] {
		t.Errorf("bookmark row %q, snapshot row %q", r, rows[p+"/a@x"])
	}
	// zfs snapshot a@x b@x is one transaction: same createtxg.
	if ta, tb := rows[p+"/a@x"][3], rows[p+"/b@x"][3]; ta != tb {
		t.Errorf("atomic snapshot: createtxg %s vs %s", ta, tb)
	}
	if ty, tx := rows[p+"/a@y"][3], rows[p+"/a@x"][3]; !(num(t, ty) > num(t, tx)) {
		t.Errorf("createtxg order: @x %s, @y %s", tx, ty)
	}
	t.Logf("bookmark row: %q", rows[p+"/a#x"])

	// Size estimate of an incremental, parseable with -P.
	est := l.Run(t, "zfs", "send", "-nvP", "-i", p+"/a@x", p+"/a@y")
	var size int64
	for _, line := range strings.Split(est, "\n") {
		if f := strings.Split(line, "\t"); len(f) == 2 && f[0] == "size" {
			size = int64(num(t, f[1]))
		}
	}
	if size < 512<<10 {
		t.Errorf("send -nvP estimate %d bytes for 512 KiB written; output:\n%s", size, est)
	}

	// Several snapshots of one dataset in one destroy.
	l.Run(t, "zfs", "destroy", p+"/a@d1,d2")
	if out := l.Run(t, "zfs", "list", "-H", "-t", "snapshot", "-o", "name", "-r", p+"/a"); strings.Contains(out, "@d") {
		t.Errorf("snapshots left after destroy @d1,d2: %q", out)
	}

	// recv -A discards the partial state of an interrupted recv -s.
	l.Sh(t, fmt.Sprintf(`zfs send %[1]s/a@x > /%[1]s/stream
head -c $(($(stat -c %%s /%[1]s/stream) / 2)) /%[1]s/stream | zfs recv -s -u %[1]s/c 2>/dev/null && exit 1
rm /%[1]s/stream
test "$(zfs get -H -o value receive_resume_token %[1]s/c)" != -
zfs recv -A %[1]s/c
! zfs list %[1]s/c 2>/dev/null`, p))
}

func num(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
