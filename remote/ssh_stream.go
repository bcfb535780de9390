package remote

import (
	"errors"
	"io"
	"strings"
	"sync"
)

// copyBufSize is the size of the buffers that move command output and
// input; large buffers mean fewer wakeups per byte on bulk streams.
const copyBufSize = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// copyStream copies with a pooled large buffer. Unlike io.Copy it never
// delegates to ReadFrom/WriteTo, whose fallbacks use 32 KiB buffers. A
// write error is returned as is; a read error is wrapped with io.EOF
// semantics left intact (nil at EOF).
func copyStream(dst io.Writer, src io.Reader) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// isClosedChannel tells writes that failed because the remote command
// had already exited, which is not the input's fault.
func isClosedChannel(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || strings.Contains(err.Error(), "channel closed")
}

// maxStderr bounds the stderr kept for error messages.
const maxStderr = 64 << 10

// capBuffer keeps the first maxStderr bytes written to it.
type capBuffer struct {
	mu        sync.Mutex
	b         []byte
	truncated bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := maxStderr - len(c.b)
	if room < len(p) {
		c.truncated = true
		if room > 0 {
			c.b = append(c.b, p[:room]...)
		}
		return len(p), nil
	}
	c.b = append(c.b, p...)
	return len(p), nil
}

func (c *capBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.truncated {
		return string(c.b) + "\n[stderr truncated]"
	}
	return string(c.b)
}
