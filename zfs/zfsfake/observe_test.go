package zfsfake

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/zfs"
)

// observe reads the fake in three commands: listing, holds, one token.
func TestObserveReadsTheFake(t *testing.T) {
	src, dst := pair(t)
	src.Hold("zplan_step", "tank/src@a")
	src.InterruptSendAfter(400)
	_ = replicate(src, zfs.SendArgv(nil, "", "tank/src@a"), dst, "backup/src")
	dst.Create("backup/other", Opts{})
	dst.Snapshot("backup/other@s")
	dst.Hold("keep", "backup/other@s")

	st, err := observe.ObserveHost(context.Background(), "src", src)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Datasets["tank/src"].SnapshotByName("a"); s == nil || !s.HasHold("zplan_step") || s.GUID != src.GUID("tank/src@a") {
		t.Errorf("source snapshot: %+v", s)
	}
	before := len(dst.Commands())
	ot, err := observe.ObserveHost(context.Background(), "dst", dst)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(dst.Commands()) - before; n != 2 {
		t.Errorf("observe ran %d commands on dst, want 2 (list, holds: tokens are decoded by zplan)", n)
	}
	// The fake's tokens are real-format tokens: observe decodes them
	// itself, asking the target nothing.
	ds := ot.Datasets["backup/src"]
	if ds == nil || ds.ResumeToken == "" || ds.Token == nil || ds.TokenErr != "" || !strings.HasPrefix(ds.Token.ToName, "tank/src@") || ds.Token.ToGUID == 0 {
		t.Fatalf("partial receive: %+v", ds)
	}
	if s := ot.Datasets["backup/other"].SnapshotByName("s"); s == nil || !s.HasHold("keep") {
		t.Errorf("held target snapshot: %+v", s)
	}
}

// apply runs actions in parallel: the fake must stay consistent.
func TestConcurrentCommands(t *testing.T) {
	_, h := newHost(t)
	const n = 20
	for i := 0; i < n; i++ {
		h.Create(fmt.Sprintf("tank/d%d", i), Opts{})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			snap := fmt.Sprintf("tank/d%d@s", i)
			for _, argv := range [][]string{zfs.SnapshotArgv(snap), zfs.HoldArgv("t", snap), zfs.ListArgv()} {
				if _, err := remoteOutput(ctx, h, argv); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	m := list(t, h)
	for i := 0; i < n; i++ {
		if e := m[fmt.Sprintf("tank/d%d@s", i)]; e.UserRefs != 1 {
			t.Errorf("tank/d%d@s: %+v", i, e)
		}
	}
}
