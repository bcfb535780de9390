package apply_test

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
)

// applyWith applies p with opts and fails the test on an error.
func (e *env) applyWith(p *plan.Plan, opts apply.Options) {
	e.t.Helper()
	if _, err := apply.Apply(context.Background(), p, e.hosts(), opts); err != nil {
		e.t.Fatalf("apply: %v", err)
	}
}

// countingHost counts the bytes each zfs recv read from its stdin.
type countingHost struct {
	remote.Host
	mu  sync.Mutex
	got map[string]int64 // by the recv's last argument, the target
}

type countReader struct {
	r io.Reader
	n *int64
}

func (c countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

func (h *countingHost) Run(ctx context.Context, c remote.Cmd) error {
	if c.Stdin == nil {
		return h.Host.Run(ctx, c)
	}
	var n int64
	c.Stdin = countReader{c.Stdin, &n}
	err := h.Host.Run(ctx, c)
	h.mu.Lock()
	h.got[c.Argv[len(c.Argv)-1]] += n
	h.mu.Unlock()
	return err
}

// A send limited per replication and globally, through a large buffer,
// delivers the snapshots with their GUIDs, and its progress counts the
// zfs stream's bytes: what the receiver read.
func TestApplyLimitedSendSameBytes(t *testing.T) {
	e := newEnv(t)
	dst := &countingHost{Host: e.dst, got: map[string]int64{}}
	hosts := map[string]remote.Host{"src": e.src, "dst": dst}
	opts := apply.Options{
		Wire:      map[string]apply.Wire{"offsite": {Bandwidth: 64 << 20, Buffer: 32 << 20}},
		Bandwidth: 128 << 20,
	}
	var mu sync.Mutex
	last := map[string]int64{} // by target dataset
	opts.Reporter = apply.ReporterFunc(func(ev apply.Event) {
		if ev.Kind == apply.EventProgress {
			mu.Lock()
			last[ev.Action.Send.TargetDataset] = ev.Bytes
			mu.Unlock()
		}
	})
	if _, err := apply.Apply(context.Background(), e.plan(), hosts, opts); err != nil {
		t.Fatal(err)
	}
	if p2 := e.plan(); !p2.Empty() {
		t.Fatalf("second plan has %d actions", len(p2.Actions))
	}
	for _, ds := range []string{"tank/data", "tank/data/home"} {
		snaps := e.src.Snapshots(ds)
		tgt := "backup/src" + ds[len("tank"):]
		if len(snaps) != 1 || e.dst.GUID(tgt+"@"+snaps[0]) != e.src.GUID(ds+"@"+snaps[0]) {
			t.Fatalf("%s not received with its GUID", ds)
		}
		if last[tgt] == 0 || last[tgt] != dst.got[tgt] {
			t.Errorf("%s: progress %d bytes, the receiver read %d", tgt, last[tgt], dst.got[tgt])
		}
	}
}

// An interrupted limited send is resumed with zfs send -t, also limited.
func TestApplyLimitedSendResumes(t *testing.T) {
	e := newEnv(t)
	opts := apply.Options{Wire: map[string]apply.Wire{"offsite": {Bandwidth: 64 << 20, Buffer: 16 << 20}}}
	e.src.InterruptSendAfter(1000)
	if _, err := apply.Apply(context.Background(), e.plan(), e.hosts(), opts); err == nil {
		t.Fatal("apply with an interrupted send succeeded")
	}
	p := e.plan()
	resume := false
	for _, a := range p.Actions {
		resume = resume || a.Kind == plan.KindSendResume
	}
	if !resume {
		t.Fatalf("no resume action: %s", kinds(p))
	}
	e.applyWith(p, opts)
	if p2 := e.plan(); !p2.Empty() {
		t.Fatalf("after resume, plan has %d actions", len(p2.Actions))
	}
}
