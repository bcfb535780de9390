package zfsfake

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

// BenchmarkList lists 200 datasets with 100 snapshots each, for
// simulations that observe a host at every step.
func BenchmarkList(b *testing.B) {
	w := NewWorld(func() time.Time { return t0 })
	h := w.Host("h")
	h.CreatePool("tank")
	for d := 0; d < 200; d++ {
		name := fmt.Sprintf("tank/d%d", d)
		h.Create(name, Opts{})
		for s := 0; s < 100; s++ {
			h.Rewrite(name, 4096)
			h.Write(name, 4096)
			h.Snapshot(fmt.Sprintf("%s@s%d", name, s))
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := remote.Output(context.Background(), h, zfs.ListArgv()...); err != nil {
			b.Fatal(err)
		}
	}
}
