package apply_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs/zfsfake"
)

// counting wraps a remote.Host and counts the commands run through it.
type counting struct {
	remote.Host
	mu     sync.Mutex
	byVerb map[string]int
	// tasks counts the sync tasks of txg-syncing commands: zfs hold and
	// release loop over their snapshots, one ioctl (so one txg wait) each
	// (zfs_do_hold_rele_impl in OpenZFS's zfs_main.c).
	tasks int
}

func (c *counting) Run(ctx context.Context, cmd remote.Cmd) error {
	c.mu.Lock()
	v := verb(cmd.Argv)
	c.byVerb[v]++
	switch {
	case v == "hold" || v == "release":
		c.tasks += len(cmd.Argv) - 3
	case txgSyncing[v]:
		c.tasks++
	}
	c.mu.Unlock()
	return c.Host.Run(ctx, cmd)
}

func verb(argv []string) string {
	if len(argv) >= 4 && argv[0] == "xargs" {
		return verb(argv[3:]) // xargs -0 -r zfs holds -H
	}
	if len(argv) >= 2 && argv[0] == "zfs" {
		return argv[1]
	}
	return strings.Join(argv, " ")
}

// txgSyncing are the zfs verbs that change the pool, so wait for a txg
// to sync; list, get, holds and send only read.
var txgSyncing = map[string]bool{
	"hold": true, "release": true, "bookmark": true, "destroy": true, "snapshot": true,
	"rollback": true, "rename": true, "set": true, "program": true, "recv": true, "receive": true,
	"create": true, "inherit": true,
}

// counts is what the counting hosts saw.
type counts struct {
	commands, syncing, tasks int
	byVerb                   map[string]int
}

func tally(hs ...*counting) counts {
	c := counts{byVerb: map[string]int{}}
	for _, h := range hs {
		h.mu.Lock()
		c.tasks += h.tasks
		for v, n := range h.byVerb {
			c.byVerb[v] += n
			c.commands += n
			if txgSyncing[v] {
				c.syncing += n
			}
		}
		h.mu.Unlock()
	}
	return c
}

func (c counts) String() string {
	var vs []string
	for v := range c.byVerb {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, " %s=%d", v, c.byVerb[v])
	}
	return b.String()
}

// TestBulkBookkeeping replicates n datasets with one incremental step
// each, parallelism 4, and reports the zfs commands the apply ran per
// dataset and how many of them wait for a txg sync (issue 13).
func TestBulkBookkeeping(t *testing.T) {
	const n = 20
	e := newEnv(t)
	datasets := []string{"tank/data", "tank/data/home"}
	for i := len(datasets); i < n; i++ {
		ds := fmt.Sprintf("tank/data/d%02d", i)
		e.src.Create(ds, zfsfake.Opts{})
		e.src.Write(ds, 1<<20)
		datasets = append(datasets, ds)
	}
	e.mustConverge() // full sends
	e.now = e.now.Add(15 * time.Minute)
	for _, ds := range datasets {
		e.src.Write(ds, 64<<10)
	}
	p := e.plan()
	incr := 0
	for _, a := range p.Actions {
		if a.Kind == "send_incremental" {
			incr++
		}
	}
	if incr != n {
		t.Fatalf("%d incremental sends planned, want %d: %s", incr, n, kinds(p))
	}
	src := &counting{Host: e.src, byVerb: map[string]int{}}
	dst := &counting{Host: e.dst, byVerb: map[string]int{}}
	hosts := map[string]remote.Host{"src": src, "dst": dst}
	if _, err := apply.Apply(context.Background(), p, hosts, apply.Options{Parallelism: 4}); err != nil {
		t.Fatal(err)
	}
	c := tally(src, dst)
	t.Logf("%d datasets, %d actions, per dataset: %.2f commands, %.2f txg-syncing commands, %.2f txg sync tasks;%s",
		n, len(p.Actions), float64(c.commands)/n, float64(c.syncing)/n, float64(c.tasks)/n, c)
	// Three lookups per send: its preconditions on each host and the GUID
	// check after the receive (one more for the snapshot action).
	if got := c.byVerb["list"]; got > 3*n+1 {
		t.Errorf("%d zfs list for %d sends, want at most %d", got, n, 3*n+1)
	}
	if p2 := e.plan(); !p2.Empty() {
		t.Fatalf("not converged: %s", kinds(p2))
	}
}
