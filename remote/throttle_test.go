package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/zplan/zplan/remote/internal/sshtest"
)

// fakeClock advances only when slept on, so a test reads how long a
// limiter made it wait instead of timing it.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1e9, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
	return nil
}

func (c *fakeClock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// near reports whether got is want within a millisecond (rounding of
// the token arithmetic).
func near(got, want time.Duration) bool {
	d := got - want
	return d > -time.Millisecond && d < time.Millisecond
}

func TestLimiterWriterPace(t *testing.T) {
	for _, bps := range []int64{1000, 100 << 10, 1 << 20, 8 << 20} {
		c := newFakeClock()
		l := newLimiter(bps, c)
		var out bytes.Buffer
		w := newLimitedWriter(context.Background(), &out, []*bucket{l.in})
		n := 3 * int(bps) // three seconds' worth, in odd chunks
		data := make([]byte, n)
		rand.NewChaCha8([32]byte{7}).Read(data)
		for i := 0; i < n; i += 12345 {
			if _, err := w.Write(data[i:min(i+12345, n)]); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("%d B/s: data changed", bps)
		}
		// The bucket starts empty, so every byte waited for its token.
		if got := c.Slept(); !near(got, 3*time.Second) {
			t.Errorf("%d B/s: %d bytes waited %v, want 3s", bps, n, got)
		}
	}
}

func TestLimiterReaderPace(t *testing.T) {
	c := newFakeClock()
	l := newLimiter(1<<20, c)
	data := make([]byte, 5<<20)
	r := newLimitedReader(context.Background(), bytes.NewReader(data), []*bucket{l.out})
	got, err := io.ReadAll(r)
	if err != nil || len(got) != len(data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if s := c.Slept(); !near(s, 5*time.Second) {
		t.Errorf("5 MiB at 1 MiB/s waited %v, want 5s", s)
	}
}

// A shared limiter (the global one) divides its rate: two relays of
// 2 MiB each through one 1 MiB/s bucket take 4 s together.
func TestLimiterShared(t *testing.T) {
	c := newFakeClock()
	l := newLimiter(1<<20, c)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newLimitedWriter(context.Background(), io.Discard, []*bucket{l.in})
			if _, err := w.Write(make([]byte, 2<<20)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// Concurrent reservations each wait from the same instant, so the
	// fake clock's sum can only exceed the total; what must hold is
	// that the bucket granted no more than its rate: 4 MiB needs ≥ 4 s.
	if s := c.Slept(); s < 4*time.Second-time.Millisecond {
		t.Errorf("4 MiB through one 1 MiB/s bucket waited only %v", s)
	}
}

// Two limiters (edge and global) both pace: the slower one wins.
func TestLimiterTwoBuckets(t *testing.T) {
	c := newFakeClock()
	edge, global := newLimiter(1<<20, c), newLimiter(4<<20, c)
	w := newLimitedWriter(context.Background(), io.Discard, []*bucket{edge.in, global.in})
	if _, err := w.Write(make([]byte, 4<<20)); err != nil {
		t.Fatal(err)
	}
	// 4 s for the edge bucket; the global one never has to wait longer
	// than the edge already made it.
	if s := c.Slept(); s < 4*time.Second-time.Millisecond || s > 5*time.Second {
		t.Errorf("4 MiB at min(1, 4) MiB/s waited %v, want about 4s", s)
	}
}

func TestLimiterCancel(t *testing.T) {
	c := newFakeClock()
	l := newLimiter(1<<20, c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	w := newLimitedWriter(ctx, &out, []*bucket{l.in})
	n, err := w.Write(make([]byte, 1<<20))
	if !errors.Is(err, context.Canceled) || n != 0 || out.Len() != 0 {
		t.Fatalf("write on a cancelled context: %d bytes, %v", n, err)
	}
	r := newLimitedReader(ctx, bytes.NewReader(make([]byte, 100)), []*bucket{l.out})
	if n, err := r.Read(make([]byte, 100)); !errors.Is(err, context.Canceled) || n != 0 {
		// Bytes read but not granted are dropped: the reader must fail.
		t.Fatalf("read on a cancelled context: %d bytes, %v", n, err)
	}
}

func TestLimiterBurst(t *testing.T) {
	for _, c := range []struct{ bps, want int64 }{
		{1, 32 << 10}, {100 << 10, 32 << 10}, {1 << 20, 1 << 20 / 10}, {1 << 30, copyBufSize},
	} {
		if got := limiterBurst(c.bps); int64(got) != c.want {
			t.Errorf("burst(%d) = %d, want %d", c.bps, got, c.want)
		}
	}
}

// memHost runs two pseudo-commands in memory: "send" writes the
// stream to stdout, "recv" reads stdin into got, after gate opens.
type memHost struct {
	name    string
	stream  []byte
	gate    chan struct{} // nil: recv reads at once
	mu      sync.Mutex
	got     []byte
	forever bool // send writes zeros until its output fails
}

func (h *memHost) Name() string { return h.name }
func (h *memHost) Close() error { return nil }

func (h *memHost) Run(ctx context.Context, c Cmd) error {
	switch c.Argv[0] {
	case "send":
		if h.forever {
			chunk := make([]byte, 64<<10)
			for {
				if _, err := c.Stdout.Write(chunk); err != nil {
					return err
				}
			}
		}
		for i := 0; i < len(h.stream); i += 100 << 10 {
			if _, err := c.Stdout.Write(h.stream[i:min(i+100<<10, len(h.stream))]); err != nil {
				return err
			}
		}
		return nil
	case "recv":
		if h.gate != nil {
			<-h.gate
		}
		b, err := io.ReadAll(c.Stdin)
		h.mu.Lock()
		h.got = b
		h.mu.Unlock()
		return err
	}
	return errors.New("unknown command")
}

// A stalled receiver does not stall the sender while the buffer has
// room: the whole stream is sent before the receiver reads a byte, and
// it then receives every byte in order.
func TestPipeBufferReceiverStall(t *testing.T) {
	stream := make([]byte, 3<<20+17)
	rand.NewChaCha8([32]byte{9}).Read(stream)
	src := &memHost{name: "a", stream: stream}
	dst := &memHost{name: "b", gate: make(chan struct{})}
	sent := make(chan struct{})
	var once sync.Once
	errc := make(chan error, 1)
	go func() {
		errc <- PipeWith(context.Background(), src, []string{"send"}, dst, []string{"recv"}, PipeOptions{
			Buffer: 4 << 20,
			Progress: func(n int64) {
				if n == int64(len(stream)) {
					once.Do(func() { close(sent) })
				}
			},
		})
	}()
	select {
	case <-sent:
	case err := <-errc:
		t.Fatalf("pipe ended before the receiver read: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("sender stalled with a stalled receiver and room in the buffer")
	}
	close(dst.gate)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.got, stream) {
		t.Fatalf("received %d bytes, not the %d sent", len(dst.got), len(stream))
	}
}

// Cancelling stops both sides even when neither transport watches ctx:
// the sender blocked on a full buffer and the receiver blocked reading.
func TestPipeBufferCancel(t *testing.T) {
	src := &memHost{name: "a", forever: true}
	dst := &memHost{name: "b", gate: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	errc := make(chan error, 1)
	go func() {
		errc <- PipeWith(ctx, src, []string{"send"}, dst, []string{"recv"}, PipeOptions{
			Buffer: 1 << 20,
			Progress: func(n int64) {
				if n >= 1<<20 { // the buffer is full
					once.Do(func() { cancel(); close(dst.gate) })
				}
			},
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
}

// A limited relay delivers the same bytes, and waits on both legs.
func TestPipeLimited(t *testing.T) {
	stream := make([]byte, 2<<20+5)
	rand.NewChaCha8([32]byte{3}).Read(stream)
	c := newFakeClock()
	l := newLimiter(1<<20, c)
	src, dst := &memHost{name: "a", stream: stream}, &memHost{name: "b"}
	var last int64
	err := PipeWith(context.Background(), src, []string{"send"}, dst, []string{"recv"},
		PipeOptions{Limits: []*Limiter{l}, Progress: func(n int64) { last = n }})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.got, stream) || last != int64(len(stream)) {
		t.Fatalf("received %d bytes, progress %d, sent %d", len(dst.got), last, len(stream))
	}
	// The legs wait concurrently on one fake clock, so one leg's sleep
	// refills the other's bucket: only the total is bounded, 2 MiB at
	// 1 MiB/s needs at least 2 s.
	if s := c.Slept(); s < 2*time.Second-time.Millisecond {
		t.Errorf("2 MiB through 1 MiB/s legs waited only %v", s)
	}
}

// streamHost records whether the SSH transport would take each command
// for a stream end (exempt from CommandTimeout).
type streamHost struct {
	memHost
	streams []bool
}

func (h *streamHost) Run(ctx context.Context, c Cmd) error {
	h.mu.Lock()
	h.streams = append(h.streams, isStream(c))
	h.mu.Unlock()
	return h.memHost.Run(ctx, c)
}

// Both ends of every kind of relay are streams: a limited send over SSH
// must not be cut by the command timeout.
func TestPipeEndsAreStreams(t *testing.T) {
	for _, o := range []PipeOptions{
		{},
		{Progress: func(int64) {}},
		{Limits: []*Limiter{NewLimiter(1 << 30)}},
		{Limits: []*Limiter{NewLimiter(1 << 30)}, Progress: func(int64) {}, Buffer: 2 << 20},
	} {
		src := &streamHost{memHost: memHost{name: "a", stream: []byte("x")}}
		dst := &streamHost{memHost: memHost{name: "b"}}
		if err := PipeWith(context.Background(), src, []string{"send"}, dst, []string{"recv"}, o); err != nil {
			t.Fatal(err)
		}
		if len(src.streams) != 1 || !src.streams[0] || len(dst.streams) != 1 || !dst.streams[0] {
			t.Errorf("limits %d, progress %v: send stream %v, recv stream %v", len(o.Limits), o.Progress != nil, src.streams, dst.streams)
		}
	}
}

// Real processes through a large buffer and limits (far above this
// machine's speed: no timing is asserted) get every byte in order, on
// every transport pair.
func TestPipeWireTransports(t *testing.T) {
	const n = 24 << 20
	file, sum := randomFile(t, n)
	opts := func() PipeOptions {
		return PipeOptions{Buffer: 16 << 20, Limits: []*Limiter{NewLimiter(4 << 30), NewLimiter(8 << 30)}}
	}
	local := NewLocal("local")
	t.Run("local-local", func(t *testing.T) { relayWith(t, local, local, file, sum, n, opts()) })
	srv := sshtest.Start(t)
	cfgA := testConfig(t, srv)
	cfgA.Name = "sshA"
	cfgB := cfgA
	cfgB.Name = "sshB"
	a, b := dialTest(t, cfgA), dialTest(t, cfgB)
	for _, c := range []struct{ src, dst Host }{{local, a}, {a, local}, {a, b}} {
		t.Run(c.src.Name()+"-"+c.dst.Name(), func(t *testing.T) { relayWith(t, c.src, c.dst, file, sum, n, opts()) })
	}
}
