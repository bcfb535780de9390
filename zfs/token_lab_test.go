package zfs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zplan/zplan/lab"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

// Real interrupted receives leave tokens that zplan's own decoder must
// read exactly as `zfs send -nv -t` does on the sending host (DESIGN.md
// §6: tokens are decoded by zplan, never by asking the receiver), and
// that zplan's resume command line finishes. With ZPLAN_CAPTURE_TOKENS=1
// the tokens are written to testdata/tokens for the unit tests.
func TestRealResumeTokensDecodedByZplan(t *testing.T) {
	l := lab.Start(t)
	p := l.NewPool(t, 256)
	h := l.Host("real")
	key := "/tmp/" + p + ".key"
	t.Cleanup(func() { l.Exec(t.Context(), "rm", "-f", key) })
	// 3 MiB per snapshot: a cut at 1.5 MB lands mid-stream.
	l.Sh(t, fmt.Sprintf(`set -e
dd if=/dev/urandom of=%[2]s bs=32 count=1 status=none
zfs create -o recordsize=1M %[1]s/a
dd if=/dev/urandom of=/%[1]s/a/f bs=1M count=3 status=none
zfs snapshot %[1]s/a@s1
zfs bookmark %[1]s/a@s1 %[1]s/a#b1
dd if=/dev/urandom of=/%[1]s/a/g bs=1M count=3 status=none
zfs snapshot %[1]s/a@s2
zfs create -o encryption=on -o keyformat=raw -o keylocation=file://%[2]s %[1]s/enc
dd if=/dev/urandom of=/%[1]s/enc/f bs=1M count=3 status=none
zfs snapshot %[1]s/enc@s1
zfs bookmark %[1]s/enc@s1 %[1]s/enc#b1
dd if=/dev/urandom of=/%[1]s/enc/g bs=1M count=3 status=none
zfs snapshot %[1]s/enc@s2
zfs send %[1]s/a@s1 | zfs recv -u %[1]s/inc
zfs send %[1]s/a@s1 | zfs recv -u %[1]s/bm
zfs send -w %[1]s/enc@s1 | zfs recv -u %[1]s/encinc`, p, key))
	guid := func(name string) uint64 {
		var g uint64
		out := run(t, h, "zfs", "get", "-H", "-p", "-o", "value", "guid", name)
		if _, err := fmt.Sscan(out, &g); err != nil {
			t.Fatalf("guid of %s: %q", name, out)
		}
		return g
	}
	for _, tc := range []struct {
		name     string
		flags    []string
		from, to string // from "" = full
		target   string
		before   string // shell, P = the pool
	}{
		{"full", nil, "", "a@s2", "full", ""},
		{"full_Lce", []string{"-L", "-c", "-e"}, "", "a@s2", "fulllce", ""},
		{"incremental", nil, "a@s1", "a@s2", "inc", ""},
		// With its snapshot gone, only the bookmark is left to resume from.
		{"incremental_from_bookmark", nil, "a#b1", "a@s2", "bm", "zfs destroy P/a@s1"},
		{"raw_full", []string{"-w"}, "", "enc@s1", "raw", ""},
		{"raw_incremental", []string{"-w"}, "enc@s1", "enc@s2", "encinc2", "zfs send -w P/enc@s1 | zfs recv -u P/encinc2"},
		{"raw_incremental_from_bookmark", []string{"-w"}, "enc#b1", "enc@s2", "encinc", "zfs destroy P/enc@s1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to, target := p+"/"+tc.to, p+"/"+tc.target
			if tc.before != "" {
				l.Sh(t, strings.ReplaceAll(tc.before, "P", p))
			}
			send := zfs.SendArgv(tc.flags, prefix(p, tc.from), to)
			l.Sh(t, strings.Join(send, " ")+" | head -c 1500000 | zfs recv -s -u "+target+" || true")
			tok := strings.TrimSpace(run(t, h, "zfs", "get", "-H", "-p", "-o", "value", "receive_resume_token", target))
			got, err := zfs.DecodeResumeToken(tok)
			if err != nil {
				t.Fatalf("decoding the token of %s: %v", target, err)
			}
			// The sending host's own reading of it (source and target are
			// one host here, so zfs send -nv resolves the names).
			printed := run(t, h, zfs.ResumeTokenArgv(tok)...)
			if want, err := printedToken(printed); err != nil {
				t.Fatal(err)
			} else if got != want {
				t.Errorf("zplan decodes\n %+v\nzfs send -nvt prints\n %+v", got, want)
			}
			// And the ground truth, so that both cannot be wrong alike.
			var fromGUID uint64
			if tc.from != "" {
				fromGUID = guid(prefix(p, tc.from))
			}
			// The kernel records the stream's features, not the flags: -L
			// only counts where large blocks exist (a has 1M records, enc
			// 128K), and a raw stream is compressed (it carries the blocks
			// as stored) but has no embedded blocks (encryption forbids them).
			has := func(f string) bool { return strings.Contains(strings.Join(tc.flags, " "), f) }
			if got.ToGUID != guid(to) || got.FromGUID != fromGUID || got.ToName != to || got.Raw != has("-w") ||
				got.LargeBlocks != has("-L") || got.Compressed != (has("-c") || has("-w")) || got.Embedded != has("-e") ||
				got.Bytes == 0 || got.Bytes >= 1500000 || got.Redacted {
				t.Errorf("token %+v: want %s from guid %d with flags %v, some bytes received", got, to, fromGUID, tc.flags)
			}
			if os.Getenv("ZPLAN_CAPTURE_TOKENS") != "" {
				capture(t, tc.name, tok, strings.ReplaceAll(printed, p, "POOL"), p)
			}
			if err := remote.Pipe(t.Context(), h, zfs.ResumeSendArgv(tc.flags, tok), h, zfs.RecvArgv(target, nil, nil), nil); err != nil {
				t.Fatal(err)
			}
			_, snap, _ := strings.Cut(tc.to, "@")
			if g := guid(target + "@" + snap); g != guid(to) {
				t.Errorf("after resume %s@%s has guid %d, want %d", target, snap, g, guid(to))
			}
		})
	}
}

// zfs send ORs its command-line flags with the token's, and zplan passes
// -w with -t on every raw edge. This pins what OpenZFS 2.3 does then: a
// raw token resumes; on an unencrypted dataset a non-raw token resumes
// too; on an encrypted one the receiver refuses the raw stream onto the
// decrypted partial state, keeps that state, and a plain resume still
// finishes. The fake (zfsfake TestResumeWithRawFlag) does the same.
func TestRealResumeWithRawFlag(t *testing.T) {
	l := lab.Start(t)
	p := l.NewPool(t, 128)
	h := l.Host("real")
	key := "/tmp/" + p + ".key"
	t.Cleanup(func() { l.Exec(t.Context(), "rm", "-f", key) })
	l.Sh(t, fmt.Sprintf(`set -e
dd if=/dev/urandom of=%[2]s bs=32 count=1 status=none
zfs create %[1]s/a
zfs create -o encryption=on -o keyformat=raw -o keylocation=file://%[2]s %[1]s/enc
dd if=/dev/urandom of=/%[1]s/a/f bs=1M count=3 status=none
dd if=/dev/urandom of=/%[1]s/enc/f bs=1M count=3 status=none
zfs snapshot %[1]s/a@s1
zfs snapshot %[1]s/enc@s1
zfs send %[1]s/a@s1 | head -c 1500000 | zfs recv -s -u %[1]s/plain || true
zfs send %[1]s/enc@s1 | head -c 1500000 | zfs recv -s -u %[1]s/decrypted || true`, p, key))
	token := func(ds string) string {
		return strings.TrimSpace(run(t, h, "zfs", "get", "-H", "-p", "-o", "value", "receive_resume_token", ds))
	}
	raw := []string{"-w"}
	for _, ds := range []string{"plain", "decrypted"} {
		if tok, err := zfs.DecodeResumeToken(token(p + "/" + ds)); err != nil || tok.Raw {
			t.Fatalf("%s: want a non-raw token, got %+v, %v", ds, tok, err)
		}
	}

	if err := remote.Pipe(t.Context(), h, zfs.ResumeSendArgv(raw, token(p+"/plain")), h, zfs.RecvArgv(p+"/plain", nil, nil), nil); err != nil {
		t.Errorf("-w -t on a non-raw token of an unencrypted dataset: %v", err)
	}
	if got, want := run(t, h, "zfs", "get", "-H", "-o", "value", "guid", p+"/plain@s1"), run(t, h, "zfs", "get", "-H", "-o", "value", "guid", p+"/a@s1"); got != want {
		t.Errorf("plain@s1 guid %q, want %q", got, want)
	}

	tok := token(p + "/decrypted")
	err := remote.Pipe(t.Context(), h, zfs.ResumeSendArgv(raw, tok), h, zfs.RecvArgv(p+"/decrypted", nil, nil), nil)
	const refusal = "cannot receive resume stream: cannot perform raw receive on top of existing unencrypted dataset"
	if err == nil || !strings.Contains(err.Error(), refusal) {
		t.Errorf("-w -t on a non-raw token of an encrypted dataset: %v, want the receiver's %q", err, refusal)
	}
	if after := token(p + "/decrypted"); after != tok {
		t.Errorf("the refused resume changed the partial state: token %q, was %q", after, tok)
	}
	if err := remote.Pipe(t.Context(), h, zfs.ResumeSendArgv(nil, tok), h, zfs.RecvArgv(p+"/decrypted", nil, nil), nil); err != nil {
		t.Errorf("plain resume after the refusal: %v", err)
	}
}

func prefix(pool, name string) string {
	if name == "" {
		return ""
	}
	return pool + "/" + name
}

// capture writes one real token and what zfs printed for it, the pool
// name replaced by POOL in the printout (the token keeps the real one).
func capture(t *testing.T, name, tok, printed, pool string) {
	t.Helper()
	path := filepath.Join("testdata", "tokens", name+".txt")
	body := fmt.Sprintf("pool %s\ntoken %s\n%s", pool, tok, printed)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
