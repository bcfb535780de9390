package zfsfake

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

// pair returns a source host with tank/src (1 MiB, snapshot @a) and an
// empty target host with pool backup.
func pair(t *testing.T) (src, dst *Host) {
	t.Helper()
	w := NewWorld(func() time.Time { return t0 })
	src, dst = w.Host("src"), w.Host("dst")
	src.CreatePool("tank")
	src.Create("tank/src", Opts{})
	src.Write("tank/src", 1<<20)
	src.Snapshot("tank/src@a")
	dst.CreatePool("backup")
	return src, dst
}

// replicate sends from src to dst through remote.Pipe, as apply does.
func replicate(src *Host, sendArgv []string, dst *Host, target string) error {
	return remote.Pipe(context.Background(), src, sendArgv, dst, zfs.RecvArgv(target, nil, nil), nil)
}

// stderrOf digs the receiving or sending command's exit error out of a
// Pipe error.
func stderrOf(t *testing.T, err error) *remote.ExitError {
	t.Helper()
	var ee *remote.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("want a command failure, got %v", err)
	}
	return ee
}

func TestFullThenIncrementalFromBookmark(t *testing.T) {
	src, dst := pair(t)
	var progress int64
	err := remote.Pipe(context.Background(), src, zfs.SendArgv(nil, "", "tank/src@a"), dst, zfs.RecvArgv("backup/src", nil, nil), func(n int64) { progress = n })
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1<<20/DataScale + streamOverhead); progress < want || progress > want+2000 {
		t.Errorf("stream of 1 MiB is %d bytes, want about %d (header + 1 byte per KiB)", progress, want)
	}
	s, d := list(t, src), list(t, dst)
	if d["backup/src@a"].GUID != s["tank/src@a"].GUID || d["backup/src@a"].CreateTXG <= s["tank/src@a"].CreateTXG ||
		!d["backup/src@a"].Creation.Equal(s["tank/src@a"].Creation) {
		t.Errorf("received snapshot keeps guid and creation, gets a new createtxg: src %+v dst %+v", s["tank/src@a"], d["backup/src@a"])
	}
	if d["backup/src"].Referenced != 1<<20 || d["backup/src"].Written != 0 || d["backup/src"].GUID == s["tank/src"].GUID {
		t.Errorf("target dataset: %+v", d["backup/src"])
	}

	// The source keeps only a bookmark of @a; @b goes incrementally from it.
	mustRun(t, src, zfs.BookmarkArgv("tank/src@a", "tank/src#a")...)
	mustRun(t, src, zfs.DestroySnapshotsArgv("tank/src", "a")...)
	src.Write("tank/src", 512<<10)
	src.Snapshot("tank/src@b")
	progress = 0
	err = remote.Pipe(context.Background(), src, zfs.SendArgv([]string{"-L", "-c"}, "tank/src#a", "tank/src@b"), dst, zfs.RecvArgv("backup/src", nil, nil), func(n int64) { progress = n })
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(512<<10/DataScale + streamOverhead); progress < want || progress > want+2000 {
		t.Errorf("incremental stream is %d bytes, want about %d: only the new data", progress, want)
	}
	d = list(t, dst)
	if d["backup/src@b"].GUID != src.GUID("tank/src@b") || d["backup/src"].Referenced != 1<<20+512<<10 || d["backup/src@b"].Written != 512<<10 {
		t.Errorf("after incremental: %+v %+v", d["backup/src"], d["backup/src@b"])
	}
	// The same stream again: the snapshot is there already.
	err = replicate(src, zfs.SendArgv(nil, "tank/src#a", "tank/src@b"), dst, "backup/src")
	if ee := stderrOf(t, err); ee.Stderr != "cannot restore to backup/src@b: destination already exists\n" || zfs.Classify(ee) != zfs.ErrExists {
		t.Errorf("repeat: %q", ee.Stderr)
	}
}

func TestReceiveRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(src, dst *Host)
		send   []string
		target string
		stderr string
		kind   zfs.ErrorKind
	}{
		{
			name:   "full stream onto an existing dataset",
			setup:  func(src, dst *Host) { dst.Create("backup/src", Opts{}) },
			send:   zfs.SendArgv(nil, "", "tank/src@a"),
			target: "backup/src",
			stderr: "cannot receive new filesystem stream: destination 'backup/src' exists\nmust specify -F to overwrite it\n",
			kind:   zfs.ErrTargetExists,
		},
		{
			name:   "parent missing",
			send:   zfs.SendArgv(nil, "", "tank/src@a"),
			target: "backup/no/src",
			stderr: "cannot receive new filesystem stream: dataset does not exist\n",
			kind:   zfs.ErrNotExist,
		},
		{
			name: "target's newest snapshot is not the from snapshot",
			setup: func(src, dst *Host) {
				mustReplicate(src, zfs.SendArgv(nil, "", "tank/src@a"), dst, "backup/src")
				dst.Write("backup/src", 10)
				dst.Snapshot("backup/src@local")
			},
			send:   zfs.SendArgv(nil, "tank/src@a", "tank/src@b"),
			target: "backup/src",
			stderr: "cannot receive incremental stream: most recent snapshot of backup/src does not\nmatch incremental source\n",
		},
		{
			name: "target modified since its newest snapshot",
			setup: func(src, dst *Host) {
				mustReplicate(src, zfs.SendArgv(nil, "", "tank/src@a"), dst, "backup/src")
				dst.Write("backup/src", 10)
			},
			send:   zfs.SendArgv(nil, "tank/src@a", "tank/src@b"),
			target: "backup/src",
			stderr: "cannot receive incremental stream: destination backup/src has been modified\nsince most recent snapshot\n",
			kind:   zfs.ErrTargetModified,
		},
		{
			name:   "incremental onto nothing",
			send:   zfs.SendArgv(nil, "tank/src@a", "tank/src@b"),
			target: "backup/src",
			stderr: "cannot receive incremental stream: dataset does not exist\n",
			kind:   zfs.ErrNotExist,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := pair(t)
			src.Write("tank/src", 100)
			src.Snapshot("tank/src@b")
			if tc.setup != nil {
				tc.setup(src, dst)
			}
			err := replicate(src, tc.send, dst, tc.target)
			var pe *remote.PipeError
			if !errors.As(err, &pe) || pe.Side != "receive" {
				t.Fatalf("want a receive failure, got %v", err)
			}
			ee := stderrOf(t, err)
			if ee.Code != 1 || ee.Stderr != tc.stderr || zfs.Classify(ee) != tc.kind {
				t.Errorf("code %d kind %v stderr\n%q\nwant\n%q", ee.Code, zfs.Classify(ee), ee.Stderr, tc.stderr)
			}
		})
	}
}

// An incremental is accepted from an older snapshot when the snapshots
// after it on the target hold no changes, as zfs does.
func TestIncrementalOverEmptySnapshots(t *testing.T) {
	src, dst := pair(t)
	mustReplicate(src, zfs.SendArgv(nil, "", "tank/src@a"), dst, "backup/src")
	dst.Snapshot("backup/src@empty")
	src.Write("tank/src", 100)
	src.Snapshot("tank/src@b")
	if err := replicate(src, zfs.SendArgv(nil, "tank/src@a", "tank/src@b"), dst, "backup/src"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(dst.Snapshots("backup/src"), " "); got != "a empty b" {
		t.Errorf("snapshots %q", got)
	}
}

func mustReplicate(src *Host, send []string, dst *Host, target string) {
	if err := replicate(src, send, dst, target); err != nil {
		panic(err)
	}
}

func TestInterruptedReceiveResumes(t *testing.T) {
	src, dst := pair(t)
	src.InterruptSendAfter(500)
	err := replicate(src, zfs.SendArgv([]string{"-L"}, "", "tank/src@a"), dst, "backup/src")
	var pe *remote.PipeError
	if !errors.As(err, &pe) || pe.Side != "send" {
		t.Fatalf("want the send side to fail first, got %v", err)
	}
	var recvErr *remote.ExitError
	if !errors.As(pe.Other, &recvErr) || !strings.Contains(recvErr.Stderr, "Partially received snapshot is saved") {
		t.Errorf("receiver: %v", pe.Other)
	}
	d := list(t, dst)["backup/src"]
	if d.ResumeToken == "" || d.Type != zfs.Filesystem {
		t.Fatalf("no resume token on the target: %+v", d)
	}
	if dst.Exists("backup/src@a") {
		t.Error("an interrupted receive made the snapshot")
	}
	// zfs send -nv -t decodes it, through zplan's parser.
	tok, err := zfs.ParseResumeToken([]byte(mustRun(t, src, zfs.ResumeTokenArgv(d.ResumeToken)...)))
	if err != nil {
		t.Fatal(err)
	}
	if tok.ToGUID != src.GUID("tank/src@a") || tok.ToName != "tank/src@a" || tok.FromGUID != 0 || tok.Raw || tok.Bytes == 0 || tok.Bytes > 500 {
		t.Errorf("token: %+v", tok)
	}
	// A fresh full send is refused while the partial state is there.
	err = replicate(src, zfs.SendArgv(nil, "", "tank/src@a"), dst, "backup/src")
	if ee := stderrOf(t, err); !strings.Contains(ee.Stderr, "must specify -F") {
		t.Errorf("fresh send over partial state: %q", ee.Stderr)
	}
	// Interrupted again while resuming: the offset grows.
	src.InterruptSendAfter(800)
	if err := replicate(src, zfs.ResumeSendArgv(nil, d.ResumeToken), dst, "backup/src"); err == nil {
		t.Fatal("interrupted resume succeeded")
	}
	tok2 := dst.ResumeToken("backup/src")
	p1, _ := parseToken(d.ResumeToken)
	p2, ok := parseToken(tok2)
	if !ok || p2.offset <= p1.offset || p2.bytes <= p1.bytes {
		t.Errorf("second interruption: %+v then %+v", p1, p2)
	}
	var progress int64
	err = remote.Pipe(context.Background(), src, zfs.ResumeSendArgv(nil, tok2), dst, zfs.RecvArgv("backup/src", nil, nil), func(n int64) { progress = n })
	if err != nil {
		t.Fatal(err)
	}
	if full := int64(1<<20/DataScale + streamOverhead); progress >= full {
		t.Errorf("resumed stream %d bytes, not less than the whole %d", progress, full)
	}
	got := list(t, dst)
	if got["backup/src@a"].GUID != src.GUID("tank/src@a") || got["backup/src"].ResumeToken != "" || got["backup/src"].Referenced != 1<<20 {
		t.Errorf("after resume: %+v %+v", got["backup/src"], got["backup/src@a"])
	}
}

func TestInterruptedIncrementalAndAbort(t *testing.T) {
	src, dst := pair(t)
	mustReplicate(src, zfs.SendArgv(nil, "", "tank/src@a"), dst, "backup/src")
	src.Write("tank/src", 1<<20)
	src.Snapshot("tank/src@b")
	src.InterruptSendAfter(300)
	if err := replicate(src, zfs.SendArgv([]string{"-w"}, "tank/src@a", "tank/src@b"), dst, "backup/src"); err == nil {
		t.Fatal("interrupted send succeeded")
	}
	tokStr := dst.ResumeToken("backup/src")
	tok, err := zfs.ParseResumeToken([]byte(mustRun(t, src, zfs.ResumeTokenArgv(tokStr)...)))
	if err != nil || tok.FromGUID != src.GUID("tank/src@a") || tok.ToGUID != src.GUID("tank/src@b") || !tok.Raw {
		t.Errorf("incremental token: %+v %v", tok, err)
	}
	// The target's @a is the partial receive's origin: it cannot go.
	ee := fails(t, dst, zfs.DestroySnapshotsArgv("backup/src", "a")...)
	if !strings.Contains(ee.Stderr, "snapshot is cloned") {
		t.Errorf("destroy origin of partial state: %q", ee.Stderr)
	}
	// Another incremental is refused while the state is there.
	err = replicate(src, zfs.SendArgv(nil, "tank/src@a", "tank/src@b"), dst, "backup/src")
	if ee := stderrOf(t, err); !strings.Contains(ee.Stderr, `contains partially-complete state from "zfs receive -s".`) {
		t.Errorf("incremental over partial state: %q", ee.Stderr)
	}
	mustRun(t, dst, zfs.RecvAbortArgv("backup/src")...)
	if dst.ResumeToken("backup/src") != "" || !dst.Exists("backup/src@a") {
		t.Error("recv -A should drop the partial state and keep the dataset")
	}
	ee = fails(t, dst, zfs.RecvAbortArgv("backup/src")...)
	if ee.Code != 1 || ee.Stderr != "'backup/src' does not have any resumable receive state to abort\n" {
		t.Errorf("second abort: %d %q", ee.Code, ee.Stderr)
	}
	ee = fails(t, dst, zfs.RecvAbortArgv("backup/nope")...)
	if zfs.Classify(ee) != zfs.ErrNotExist {
		t.Errorf("abort on a missing dataset: %q", ee.Stderr)
	}
	// The token names a snapshot the source no longer has.
	mustRun(t, src, zfs.DestroySnapshotsArgv("tank/src", "b")...)
	var out strings.Builder
	err = src.Run(context.Background(), remote.Cmd{Argv: zfs.ResumeTokenArgv(tokStr), Stdout: &out})
	if ee := stderrOf(t, err); ee.Stderr != "cannot resume send: 'tank/src@b' used in the initial send no longer exists\n" || !strings.Contains(out.String(), "toguid = 0x") {
		t.Errorf("stale token: %q, stdout %q", ee.Stderr, out.String())
	}
}

// A new filesystem whose first receive was interrupted is dropped by
// recv -A; without -s an interruption leaves nothing.
func TestAbortNewFilesystemAndNoResumeWithoutS(t *testing.T) {
	src, dst := pair(t)
	src.InterruptSendAfter(300)
	_ = replicate(src, zfs.SendArgv(nil, "", "tank/src@a"), dst, "backup/src")
	mustRun(t, dst, zfs.RecvAbortArgv("backup/src")...)
	if dst.Exists("backup/src") {
		t.Error("recv -A left the incomplete new filesystem")
	}
	src.InterruptSendAfter(300)
	err := remote.Pipe(context.Background(), src, zfs.SendArgv(nil, "", "tank/src@a"), dst, []string{"zfs", "recv", "-u", "backup/src"}, nil)
	var pe *remote.PipeError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	var re *remote.ExitError
	if !errors.As(pe.Other, &re) || re.Stderr != "cannot receive new filesystem stream: incomplete stream\n" {
		t.Errorf("receiver without -s: %v", pe.Other)
	}
	if dst.Exists("backup/src") {
		t.Error("an interrupted receive without -s left a dataset")
	}
}

// Cancelling the receiver's context mid-stream kills it; with -s the
// partial state stays.
func TestCancelledReceiveKeepsToken(t *testing.T) {
	src, dst := pair(t)
	var stream bytes.Buffer
	if err := src.Run(context.Background(), remote.Cmd{Argv: zfs.SendArgv(nil, "", "tank/src@a"), Stdout: &stream}); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dst.Run(ctx, remote.Cmd{Argv: zfs.RecvArgv("backup/src", nil, nil), Stdin: pr}) }()
	if _, err := pw.Write(stream.Bytes()[:stream.Len()/2]); err != nil {
		t.Fatal(err)
	}
	cancel()
	err := <-done
	pw.Close()
	var ee *remote.ExitError
	if !errors.As(err, &ee) || ee.Code != -1 {
		t.Fatalf("cancelled receive: %v", err)
	}
	if dst.ResumeToken("backup/src") == "" {
		t.Error("no resume token after a cancelled recv -s")
	}
}

func TestRawEncryptedSend(t *testing.T) {
	src, dst := pair(t)
	src.Create("tank/secret", Opts{Encrypted: true})
	src.Write("tank/secret", 1<<20)
	src.Snapshot("tank/secret@a")
	mustReplicate(src, zfs.SendArgv([]string{"-w"}, "", "tank/secret@a"), dst, "backup/secret")
	src.Write("tank/secret", 4096)
	src.Snapshot("tank/secret@b")
	mustReplicate(src, zfs.SendArgv([]string{"-w"}, "@a", "tank/secret@b"), dst, "backup/secret")
	d := list(t, dst)
	if e := d["backup/secret"]; e.Encryption != "aes-256-gcm" || e.KeyStatus != "unavailable" {
		t.Errorf("raw target: encryption %q keystatus %q", e.Encryption, e.KeyStatus)
	}
	if d["backup/secret@b"].GUID != src.GUID("tank/secret@b") {
		t.Error("raw incremental lost the guid")
	}
	// A non-raw incremental needs the target's key, which it never has.
	src.Write("tank/secret", 1)
	src.Snapshot("tank/secret@c")
	err := replicate(src, zfs.SendArgv(nil, "@b", "tank/secret@c"), dst, "backup/secret")
	if ee := stderrOf(t, err); ee.Stderr != "cannot receive incremental stream: inherited key must be loaded\n" {
		t.Errorf("plain incremental onto raw target: %q", ee.Stderr)
	}
	// A plain send with the key unloaded fails before writing anything.
	src.UnloadKey("tank/secret")
	var out bytes.Buffer
	err = src.Run(context.Background(), remote.Cmd{Argv: zfs.SendArgv(nil, "", "tank/secret@b"), Stdout: &out})
	if ee := stderrOf(t, err); ee.Code != 1 || ee.Stderr != "warning: cannot send 'tank/secret@b': dataset key must be loaded\n" || out.Len() != 0 {
		t.Errorf("plain send without key: %d %q, %d bytes out", ee.Code, ee.Stderr, out.Len())
	}
	// Raw still works without the key.
	mustReplicate(src, zfs.SendArgv([]string{"-w"}, "@b", "tank/secret@c"), dst, "backup/secret")
}

func TestSendRefusals(t *testing.T) {
	src, _ := pair(t)
	src.Write("tank/src", 1)
	src.Snapshot("tank/src@b")
	for _, tc := range []struct {
		argv   []string
		stderr string
		kind   zfs.ErrorKind
	}{
		{zfs.SendArgv(nil, "", "tank/src@nope"), "cannot open 'tank/src@nope': dataset does not exist\n", zfs.ErrNotExist},
		{zfs.SendArgv(nil, "tank/src#gone", "tank/src@b"), "warning: cannot send 'tank/src@b': incremental source (tank/src#gone) does not exist\n", zfs.ErrNotExist},
		{zfs.SendArgv(nil, "tank/src@b", "tank/src@a"), "warning: cannot send 'tank/src@a': not an earlier snapshot from the same fs\n", zfs.ErrOther},
		{zfs.ResumeSendArgv(nil, "garbage"), "cannot resume send: resume token is corrupt (invalid format)\n", zfs.ErrOther},
		{[]string{"zfs", "send", "-R", "tank/src@b"}, "fake zfs: unsupported command: zfs send -R tank/src@b\n", zfs.ErrOther},
	} {
		var out bytes.Buffer
		err := src.Run(context.Background(), remote.Cmd{Argv: tc.argv, Stdout: &out})
		ee := stderrOf(t, err)
		if ee.Stderr != tc.stderr || zfs.Classify(ee) != tc.kind || out.Len() != 0 {
			t.Errorf("%v: %q (kind %v), want %q", tc.argv, ee.Stderr, zfs.Classify(ee), tc.stderr)
		}
	}
}

func TestNicebytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0B", 512: "512B", 1024: "1K", 1536: "1.50K", 1 << 20: "1M", 1<<20 + 1<<19: "1.50M", 123456789: "118M", 12345678: "11.8M"} {
		if got := nicebytes(n); got != want {
			t.Errorf("nicebytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// zplan passes -w with -t on raw edges; zfs ORs it with the token's
// flags. As real zfs 2.3 does (zfs TestRealResumeWithRawFlag): a raw
// stream is refused onto the partial state of a decrypting send, which
// stays, and a plain resume of it still finishes.
func TestResumeWithRawFlag(t *testing.T) {
	src, dst := pair(t)
	src.Create("tank/secret", Opts{Encrypted: true})
	src.Write("tank/secret", 1<<20)
	src.Snapshot("tank/secret@a")
	for _, tc := range []struct{ src, target string }{{"tank/secret@a", "backup/secret"}, {"tank/src@a", "backup/plain"}} {
		src.InterruptSendAfter(500)
		if err := replicate(src, zfs.SendArgv(nil, "", tc.src), dst, tc.target); err == nil {
			t.Fatalf("%s: interrupted send succeeded", tc.src)
		}
	}
	tok := dst.ResumeToken("backup/secret")
	err := replicate(src, zfs.ResumeSendArgv([]string{"-w"}, tok), dst, "backup/secret")
	const refusal = "cannot receive resume stream: cannot perform raw receive on top of existing unencrypted dataset"
	if err == nil || !strings.Contains(err.Error(), refusal) {
		t.Errorf("-w -t on a decrypting send's token: %v", err)
	}
	if dst.ResumeToken("backup/secret") != tok {
		t.Error("the refused resume changed the partial state")
	}
	mustReplicate(src, zfs.ResumeSendArgv(nil, tok), dst, "backup/secret")
	mustReplicate(src, zfs.ResumeSendArgv([]string{"-w", "-L"}, dst.ResumeToken("backup/plain")), dst, "backup/plain")
	if got := list(t, dst); got["backup/secret@a"].GUID != src.GUID("tank/secret@a") || got["backup/plain@a"].GUID != src.GUID("tank/src@a") {
		t.Errorf("after the resumes: %+v %+v", got["backup/secret@a"], got["backup/plain@a"])
	}
}
