package apply

import (
	"sync"

	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
)

// Wire is how the controller relays one replication's streams. It comes
// from the configuration at apply time, not from the plan: it changes
// how fast the bytes move, never which.
type Wire struct {
	// Bandwidth caps the replication's sends together (bytes/s; 0: none).
	Bandwidth int64
	// Buffer is the bytes held between send and receive (0: 8 MiB).
	Buffer int
}

// limiters are the token buckets of one apply: one for all sends
// (Options.Bandwidth), one per replication shared by its sends.
type limiters struct {
	global *remote.Limiter
	mu     sync.Mutex
	edge   map[string]*remote.Limiter
}

func newLimiters(opts Options) *limiters {
	l := &limiters{edge: map[string]*remote.Limiter{}}
	if opts.Bandwidth > 0 {
		l.global = remote.NewLimiter(opts.Bandwidth)
	}
	return l
}

// pipeOptions are the relay settings of send s.
func (r *runner) pipeOptions(s *plan.Send, progress remote.Progress) remote.PipeOptions {
	o := remote.PipeOptions{Progress: progress}
	w := r.opts.Wire[s.Edge]
	o.Buffer = w.Buffer
	if w.Bandwidth > 0 {
		r.lim.mu.Lock()
		l := r.lim.edge[s.Edge]
		if l == nil {
			l = remote.NewLimiter(w.Bandwidth)
			r.lim.edge[s.Edge] = l
		}
		r.lim.mu.Unlock()
		o.Limits = append(o.Limits, l)
	}
	if r.lim.global != nil {
		o.Limits = append(o.Limits, r.lim.global)
	}
	return o
}
