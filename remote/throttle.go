package remote

import (
	"context"
	"fmt"
	"io"
	"time"

	"golang.org/x/time/rate"
)

// Limiter caps a relay's rate in bytes per second, on both legs: what
// the controller reads from the sender, and what it writes to the
// receiver, each has its own token bucket of that rate (one bucket for
// both would halve the rate). One Limiter may be shared by any number of
// relays: they then share its rate.
type Limiter struct {
	bps     int64
	in, out *bucket
}

// bucket is one token bucket of bytes.
type bucket struct {
	lim   *rate.Limiter
	clock clock
}

// clock is what a Limiter waits with; tests swap in a fake one, so
// they measure the waits instead of timing them.
type clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// limiterBurst is the bucket size for a rate: a tenth of a second of it,
// at least 32 KiB (smaller waits cost more than they smooth), at most
// one copy buffer.
func limiterBurst(bps int64) int {
	return int(min(max(bps/10, 32<<10), copyBufSize))
}

// NewLimiter returns a limiter of bps bytes per second (bps > 0).
func NewLimiter(bps int64) *Limiter {
	return newLimiter(bps, realClock{})
}

func newLimiter(bps int64, c clock) *Limiter {
	return &Limiter{bps: bps, in: newBucket(bps, c), out: newBucket(bps, c)}
}

func newBucket(bps int64, c clock) *bucket {
	b := limiterBurst(bps)
	l := rate.NewLimiter(rate.Limit(bps), b)
	// Start empty: a relay that begins with a full bucket would send a
	// burst above the rate at every start.
	l.AllowN(c.Now(), b)
	return &bucket{lim: l, clock: c}
}

// Rate is the limit in bytes per second.
func (l *Limiter) Rate() int64 { return l.bps }

// wait takes n bytes' worth of tokens, sleeping as needed, in pieces of
// at most the burst (rate.Limiter refuses larger ones).
func (l *bucket) wait(ctx context.Context, n int) error {
	burst := l.lim.Burst()
	for n > 0 {
		k := min(n, burst)
		now := l.clock.Now()
		r := l.lim.ReserveN(now, k)
		if !r.OK() {
			return fmt.Errorf("rate limit: cannot take %d bytes (burst %d)", k, burst)
		}
		if d := r.DelayFrom(now); d > 0 {
			if err := l.clock.Sleep(ctx, d); err != nil {
				// Give the tokens back to the relays that still run.
				r.CancelAt(l.clock.Now())
				return err
			}
		}
		n -= k
	}
	return nil
}

// limitedWriter writes through to w at the pace of every limiter: it
// writes a piece only after each has granted it.
type limitedWriter struct {
	ctx  context.Context
	w    io.Writer
	lims []*bucket
	step int // the smallest burst: the largest piece all grant at once
}

func newLimitedWriter(ctx context.Context, w io.Writer, lims []*bucket) io.Writer {
	if len(lims) == 0 {
		return w
	}
	return &limitedWriter{ctx: ctx, w: w, lims: lims, step: minBurst(lims)}
}

func minBurst(lims []*bucket) int {
	s := copyBufSize
	for _, l := range lims {
		s = min(s, l.lim.Burst())
	}
	return s
}

func (lw *limitedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := min(len(p), lw.step)
		for _, l := range lw.lims {
			if err := l.wait(lw.ctx, k); err != nil {
				return written, err
			}
		}
		n, err := lw.w.Write(p[:k])
		written += n
		if err != nil {
			return written, err
		}
		p = p[k:]
	}
	return written, nil
}

// limitedReader reads from r at the pace of every limiter: it hands out
// what it read only after each has granted it.
type limitedReader struct {
	ctx  context.Context
	r    io.Reader
	lims []*bucket
	step int
}

func newLimitedReader(ctx context.Context, r io.Reader, lims []*bucket) io.Reader {
	if len(lims) == 0 {
		return r
	}
	return &limitedReader{ctx: ctx, r: r, lims: lims, step: minBurst(lims)}
}

func (lr *limitedReader) Read(p []byte) (int, error) {
	if len(p) > lr.step {
		p = p[:lr.step]
	}
	n, err := lr.r.Read(p)
	if n > 0 {
		for _, l := range lr.lims {
			if werr := l.wait(lr.ctx, n); werr != nil {
				// The bytes read are lost, so the reader must fail: a
				// receiver must never see a clean end of a cut stream.
				return 0, werr
			}
		}
	}
	return n, err
}
