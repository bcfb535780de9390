package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Progress receives the running total of bytes relayed. It is called from
// the relaying goroutine after every chunk (up to 1 MiB), so it must be
// quick; it can derive rate and ETA from successive totals.
type Progress func(total int64)

// pipeBufSize is how much of the stream the controller holds between the
// two sides by default, so that a stall on one side does not stall the
// other at once (PipeOptions.Buffer sets another size).
const pipeBufSize = 8 << 20

// PipeOptions are the optional parts of a relay; the zero value is the
// default fast path (an 8 MiB buffer, no limit, no progress).
type PipeOptions struct {
	Progress Progress
	// Buffer is how many bytes of the stream the controller may hold, so
	// the sender runs ahead while the receiver stalls (0: 8 MiB). The
	// ring is allocated for the relay and dropped after it.
	Buffer int
	// Limits pace the relay; each applies to both legs (see Limiter).
	Limits []*Limiter
}

// PipeError reports a relay that failed: which side failed first, with
// its error (an *ExitError carries what the command printed on stderr),
// and what the other side reported when it was stopped.
type PipeError struct {
	Side  string // "send" or "receive"
	Host  string
	Err   error
	Other error // the other side's error, often only a consequence
}

func (e *PipeError) Error() string {
	s := fmt.Sprintf("%s on %s failed: %v", e.Side, e.Host, e.Err)
	if e.Other != nil {
		s += fmt.Sprintf(" (%s stopped: %v)", otherSide(e.Side), e.Other)
	}
	return s
}

func (e *PipeError) Unwrap() error { return e.Err }

func otherSide(s string) string {
	if s == "send" {
		return "receive"
	}
	return "send"
}

var (
	errSendFailed = errors.New("the sending side failed")
	errRecvEnded  = errors.New("the receiving side ended before the stream did")
)

// Pipe runs sendArgv on src and recvArgv on dst, relaying src's stdout
// into dst's stdin through the controller. When either side fails, the
// other is stopped (a receiver sees its input fail, not a clean EOF, so a
// truncated stream is never taken as complete), and the error is a
// *PipeError naming the side that failed first.
func Pipe(ctx context.Context, src Host, sendArgv []string, dst Host, recvArgv []string, progress Progress) error {
	return PipeWith(ctx, src, sendArgv, dst, recvArgv, PipeOptions{Progress: progress})
}

// PipeWith is Pipe with a buffer size and rate limits.
func PipeWith(ctx context.Context, src Host, sendArgv []string, dst Host, recvArgv []string, opts PipeOptions) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	size := opts.Buffer
	if size <= 0 {
		size = pipeBufSize
	}
	buf := newBufPipe(size)
	// Whatever a transport does when the caller cancels, both sides
	// blocked on the buffer wake up at once. (A failing side is handled
	// below: the receiver still gets what was buffered, then the error.)
	stop := context.AfterFunc(parent, func() {
		err := context.Cause(parent)
		buf.CloseWrite(err)
		buf.CloseRead(err)
	})
	defer stop()
	var in, out []*bucket
	for _, l := range opts.Limits {
		in, out = append(in, l.in), append(out, l.out)
	}
	progress := opts.Progress

	var (
		mu      sync.Mutex
		first   string // side that failed first
		sendErr error
		recvErr error
		wg      sync.WaitGroup
	)
	record := func(side string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil && first == "" {
			first = side
		}
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		w := newLimitedWriter(ctx, buf, in)
		if progress != nil {
			// Counts the zfs stream's bytes as they enter the buffer.
			w = &countingWriter{w: w, fn: progress}
		}
		err := src.Run(ctx, Cmd{Argv: sendArgv, Stdout: w})
		if err != nil && !errors.Is(err, errRecvEnded) {
			record("send", err)
		}
		sendErr = err
		if err != nil {
			buf.CloseWrite(errSendFailed)
			cancel()
		} else {
			buf.CloseWrite(nil) // EOF for the receiver
		}
	}()
	go func() {
		defer wg.Done()
		err := dst.Run(ctx, Cmd{Argv: recvArgv, Stdin: newLimitedReader(ctx, buf, out)})
		if err != nil && !errors.Is(err, errSendFailed) {
			record("receive", err)
		}
		recvErr = err
		// A sender still writing learns that nobody reads any more.
		buf.CloseRead(errRecvEnded)
		if err != nil {
			cancel()
		}
	}()
	wg.Wait()

	if sendErr == nil && recvErr == nil {
		return nil
	}
	if perr := context.Cause(parent); perr != nil {
		return fmt.Errorf("relay %s → %s: %w", src.Name(), dst.Name(), perr)
	}
	switch first {
	case "send":
		return &PipeError{Side: "send", Host: src.Name(), Err: sendErr, Other: recvErr}
	case "receive":
		return &PipeError{Side: "receive", Host: dst.Name(), Err: recvErr, Other: sendErr}
	}
	// Only consequences were seen: the receiver exited cleanly early.
	if errors.Is(sendErr, errRecvEnded) {
		return &PipeError{Side: "receive", Host: dst.Name(), Err: errRecvEnded, Other: sendErr}
	}
	return &PipeError{Side: "send", Host: src.Name(), Err: sendErr, Other: recvErr}
}

type countingWriter struct {
	w  io.Writer
	n  int64
	fn Progress
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.fn(c.n)
	return n, err
}

// bufPipe is an in-memory pipe with a bounded ring buffer: unlike
// io.Pipe, the writer can run ahead of the reader by up to its size.
type bufPipe struct {
	mu      sync.Mutex
	cond    *sync.Cond
	buf     []byte
	r, n    int   // read offset and bytes buffered
	werr    error // set by CloseWrite: reader sees it after the data (io.EOF for nil)
	rerr    error // set by CloseRead: writer fails with it
	wclosed bool
	rclosed bool
}

func newBufPipe(size int) *bufPipe {
	p := &bufPipe{buf: make([]byte, size)}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *bufPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	written := 0
	for len(b) > 0 {
		for p.n == len(p.buf) && !p.rclosed && !p.wclosed {
			p.cond.Wait()
		}
		if p.rclosed {
			return written, p.rerr
		}
		if p.wclosed {
			return written, io.ErrClosedPipe
		}
		w := (p.r + p.n) % len(p.buf)
		end := len(p.buf)
		if w < p.r {
			end = p.r
		}
		k := copy(p.buf[w:end], b)
		p.n += k
		b = b[k:]
		written += k
		p.cond.Broadcast()
	}
	return written, nil
}

func (p *bufPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.n == 0 && !p.wclosed && !p.rclosed {
		p.cond.Wait()
	}
	if p.rclosed {
		return 0, io.ErrClosedPipe
	}
	if p.n == 0 {
		if p.werr != nil {
			return 0, p.werr
		}
		return 0, io.EOF
	}
	end := p.r + p.n
	if end > len(p.buf) {
		end = len(p.buf)
	}
	k := copy(b, p.buf[p.r:end])
	p.r = (p.r + k) % len(p.buf)
	p.n -= k
	if p.n == 0 {
		// Empty: start over at the front, so a reader that keeps up
		// keeps the writer in the same cache-warm pages of a big ring.
		p.r = 0
	}
	p.cond.Broadcast()
	return k, nil
}

// CloseWrite ends the stream: the reader gets the buffered data, then err
// (io.EOF when err is nil).
func (p *bufPipe) CloseWrite(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.wclosed {
		p.wclosed, p.werr = true, err
	}
	p.cond.Broadcast()
}

// CloseRead makes pending and later writes fail with err.
func (p *bufPipe) CloseRead(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.rclosed {
		p.rclosed, p.rerr = true, err
	}
	p.cond.Broadcast()
}
