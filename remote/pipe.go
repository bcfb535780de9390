package remote

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// Progress receives the running total of bytes relayed.
type Progress func(total int64)

// Pipe runs sendArgv on src and recvArgv on dst, relaying src's stdout
// into dst's stdin through the controller. When either side fails, the
// other is cancelled, and the error names the side that failed first.
func Pipe(ctx context.Context, src Host, sendArgv []string, dst Host, recvArgv []string, progress Progress) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	var (
		wg               sync.WaitGroup
		sendErr, recvErr error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		w := io.Writer(pw)
		if progress != nil {
			w = &countingWriter{w: pw, fn: progress}
		}
		sendErr = src.Run(ctx, Cmd{Argv: sendArgv, Stdout: w})
		pw.CloseWithError(sendErr)
		if sendErr != nil {
			cancel()
		}
	}()
	go func() {
		defer wg.Done()
		recvErr = dst.Run(ctx, Cmd{Argv: recvArgv, Stdin: pr})
		pr.CloseWithError(fmt.Errorf("receiver ended"))
		if recvErr != nil {
			cancel()
		}
	}()
	wg.Wait()
	switch {
	case sendErr != nil && recvErr != nil:
		return fmt.Errorf("send on %s failed: %w (receive on %s: %v)", src.Name(), sendErr, dst.Name(), recvErr)
	case sendErr != nil:
		return fmt.Errorf("send on %s failed: %w", src.Name(), sendErr)
	case recvErr != nil:
		return fmt.Errorf("receive on %s failed: %w", dst.Name(), recvErr)
	}
	return nil
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
