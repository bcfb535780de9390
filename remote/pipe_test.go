package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/remote/internal/sshtest"
)

// randomFile writes n pseudo-random bytes and returns the path and the
// hex SHA-256. Random data catches reordered or repeated chunks, which
// a stream of zeros would not.
func randomFile(t testing.TB, n int64) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stream")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := n; left > 0; {
		k := min(int64(len(buf)), left)
		_, _ = r.Read(buf[:k])
		h.Write(buf[:k])
		if _, err := f.Write(buf[:k]); err != nil {
			t.Fatal(err)
		}
		left -= k
	}
	return path, hex.EncodeToString(h.Sum(nil))
}

// relay pipes file from src to dst, where dst writes the sha256sum of
// what it received into a file, and checks it and the progress totals.
func relay(t *testing.T, src, dst Host, file, sum string, n int64) {
	t.Helper()
	relayWith(t, src, dst, file, sum, n, PipeOptions{})
}

// relayWith is relay with a buffer size and limits (opts.Progress is
// the checking one).
func relayWith(t *testing.T, src, dst Host, file, sum string, n int64, opts PipeOptions) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "sum")
	var last, calls int64
	mono := true
	start := time.Now()
	opts.Progress = func(total int64) {
		if total < last {
			mono = false
		}
		last = total
		calls++
	}
	err := PipeWith(context.Background(), src, []string{"cat", file}, dst,
		[]string{"sh", "-c", `sha256sum > "$1"`, "sh", out}, opts)
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	d := time.Since(start)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(got)); len(f) == 0 || f[0] != sum {
		t.Fatalf("checksum: got %q, want %s", got, sum)
	}
	if last != n || !mono || calls == 0 {
		t.Errorf("progress: last total %d (want %d), monotonic %v, %d calls", last, n, mono, calls)
	}
	t.Logf("%s → %s: %d MiB in %s (%.0f MiB/s)", src.Name(), dst.Name(), n>>20, d.Round(time.Millisecond), float64(n)/(1<<20)/d.Seconds())
}

func TestPipeTransports(t *testing.T) {
	const n = 64 << 20
	file, sum := randomFile(t, n)
	srv := sshtest.Start(t)
	cfgA := testConfig(t, srv)
	cfgA.Name = "sshA"
	cfgB := cfgA
	cfgB.Name = "sshB"
	a, b := dialTest(t, cfgA), dialTest(t, cfgB)
	local := NewLocal("local")
	for _, c := range []struct{ src, dst Host }{
		{local, local}, {local, a}, {a, local}, {a, b},
	} {
		t.Run(c.src.Name()+"-"+c.dst.Name(), func(t *testing.T) { relay(t, c.src, c.dst, file, sum, n) })
	}
}

// TestPipe1GiB streams 1 GiB from one SSH host to another through the
// controller. It takes several seconds of both cores, so it runs only
// with ZPLAN_TEST_1GIB=1.
func TestPipe1GiB(t *testing.T) {
	if os.Getenv("ZPLAN_TEST_1GIB") != "1" {
		t.Skip("set ZPLAN_TEST_1GIB=1 to relay 1 GiB over SSH")
	}
	const n = 1 << 30
	file, sum := randomFile(t, n)
	srv := sshtest.Start(t)
	cfgA := testConfig(t, srv)
	cfgA.Name = "sshA"
	cfgB := cfgA
	cfgB.Name = "sshB"
	relay(t, dialTest(t, cfgA), dialTest(t, cfgB), file, sum, n)
}

func marker(tag string) string { return fmt.Sprintf("zplan-%s-%d", tag, time.Now().UnixNano()) }

func TestPipeErrors(t *testing.T) {
	srv := sshtest.Start(t)
	a := dialTest(t, testConfig(t, srv))
	local := NewLocal("local")
	for _, dst := range []Host{local, a} {
		for _, src := range []Host{local, a} {
			name := src.Name() + "-" + dst.Name()
			if src == Host(a) {
				name = "ssh-" + dst.Name()
			}
			if dst == Host(a) {
				name = strings.TrimSuffix(name, "test") + "ssh"
			}
			t.Run(name, func(t *testing.T) { pipeErrors(t, src, dst) })
		}
	}
}

func pipeErrors(t *testing.T, src, dst Host) {
	ctx := context.Background()
	dir := t.TempDir()

	// The sender fails after some output: the receiver must be stopped,
	// not handed a clean EOF (it would take a truncated stream as whole).
	done := filepath.Join(dir, "done")
	err := Pipe(ctx, src, []string{"sh", "-c", "head -c 3000000 /dev/zero; echo send broke >&2; exit 2"},
		dst, []string{"sh", "-c", `cat >/dev/null && touch "$1"`, "sh", done}, nil)
	var pe *PipeError
	if !errors.As(err, &pe) || pe.Side != "send" || pe.Host != src.Name() {
		t.Fatalf("sender failure: got %v", err)
	}
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 2 || !strings.Contains(err.Error(), "send broke") {
		t.Errorf("sender failure should carry exit 2 and stderr: %v", err)
	}
	if _, serr := os.Stat(done); serr == nil {
		t.Error("receiver saw a clean end of stream after the sender failed")
	}

	// The receiver fails: the endless sender must be stopped, and the
	// error must name the receiver and its stderr.
	m := marker("endless-send")
	err = Pipe(ctx, src, []string{"sh", "-c", "cat /dev/zero; : " + m},
		dst, []string{"sh", "-c", "head -c 100000 >/dev/null; echo bad stream >&2; exit 1"}, nil)
	if !errors.As(err, &pe) || pe.Side != "receive" || pe.Host != dst.Name() || !strings.Contains(err.Error(), "bad stream") {
		t.Fatalf("receiver failure: got %v", err)
	}
	waitGone(t, m, 5*time.Second)

	// The receiver exits 0 before the end of the stream.
	m = marker("endless-send2")
	err = Pipe(ctx, src, []string{"sh", "-c", "cat /dev/zero; : " + m}, dst, []string{"true"}, nil)
	if !errors.As(err, &pe) || pe.Side != "receive" || !errors.Is(err, errRecvEnded) {
		t.Fatalf("early receiver exit: got %v", err)
	}
	waitGone(t, m, 5*time.Second)
}

// Cancelling a relay mid-stream stops both commands on their hosts.
func TestPipeCancel(t *testing.T) {
	srv := sshtest.Start(t)
	cfgA := testConfig(t, srv)
	cfgA.Name = "sshA"
	cfgB := cfgA
	cfgB.Name = "sshB"
	a, b := dialTest(t, cfgA), dialTest(t, cfgB)
	ms, mr := marker("send"), marker("recv")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- Pipe(ctx, a, []string{"sh", "-c", "cat /dev/zero; : " + ms},
			b, []string{"sh", "-c", "cat >/dev/null; : " + mr}, func(total int64) {
				if total > 32<<20 {
					cancel()
				}
			})
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("pipe did not stop after cancel")
	}
	waitGone(t, ms, 5*time.Second)
	waitGone(t, mr, 5*time.Second)
}

func TestBufPipe(t *testing.T) {
	p := newBufPipe(7) // small and odd, to wrap around often
	data := bytes.Repeat([]byte("0123456789abcdef"), 1000)
	go func() {
		for i := 0; i < len(data); i += 5 {
			_, _ = p.Write(data[i:min(i+5, len(data))])
		}
		p.CloseWrite(nil)
	}()
	var got bytes.Buffer
	buf := make([]byte, 3)
	for {
		n, err := p.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatal("bufPipe corrupted data")
	}
	p = newBufPipe(4)
	boom := errors.New("boom")
	p.CloseRead(boom)
	if _, err := p.Write([]byte("x")); !errors.Is(err, boom) {
		t.Fatalf("write after CloseRead: %v", err)
	}
	p = newBufPipe(4)
	_, _ = p.Write([]byte("ab"))
	p.CloseWrite(boom)
	if b, _ := readAllErr(p); string(b) != "ab" {
		t.Fatalf("data before close error: %q", b)
	}
	if _, err := p.Read(buf); !errors.Is(err, boom) {
		t.Fatalf("read after CloseWrite(err): %v", err)
	}
}

func readAllErr(p *bufPipe) ([]byte, error) {
	b := make([]byte, 2)
	n, err := p.Read(b)
	return b[:n], err
}

func TestLocalRun(t *testing.T) {
	ctx := context.Background()
	l := NewLocal("here")
	err := l.Run(ctx, Cmd{Argv: []string{"zplan-no-such-command"}})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 127 {
		t.Fatalf("missing command: %v", err)
	}
	err = l.Run(ctx, Cmd{Argv: []string{"sh", "-c", "kill -TERM $$"}})
	if !errors.As(err, &ee) || ee.Signal != "TERM" || ee.Code != -1 {
		t.Fatalf("signal: %#v", err)
	}
	var sb strings.Builder
	if err := l.Run(ctx, Cmd{Argv: []string{"tr", "a-z", "A-Z"}, Stdin: strings.NewReader("hi"), Stdout: &sb}); err != nil || sb.String() != "HI" {
		t.Fatalf("%q %v", sb.String(), err)
	}
}
