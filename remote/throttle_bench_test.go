package remote

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkPipeWire relays N MiB from head(1) to cat(1) on this machine
// through the default relay, a 256 MiB buffer, a limit far above the
// machine's speed (so only its cost shows) and one of 64 MiB/s, side by
// side in each iteration, and reports each rate and its ratio to the
// default (and, for the 64 MiB/s one, to its limit).
// A loaded machine moves all three alike; the ratios are what to read.
func BenchmarkPipeWire(b *testing.B) {
	n := benchMiB() << 20
	h := NewLocal("local")
	send := []string{"head", "-c", fmt.Sprint(n), "/dev/zero"}
	recv := []string{"sh", "-c", "cat >/dev/null"}
	variants := []struct {
		name string
		opts func() PipeOptions
	}{
		{"default", func() PipeOptions { return PipeOptions{} }},
		{"buffer256MiB", func() PipeOptions { return PipeOptions{Buffer: 256 << 20} }},
		{"limit1TiB/s", func() PipeOptions { return PipeOptions{Limits: []*Limiter{NewLimiter(1 << 40)}} }},
		{"limit64MiB/s", func() PipeOptions { return PipeOptions{Limits: []*Limiter{NewLimiter(64 << 20)}} }},
		// The default again, last: how much the order and the load alone move.
		{"default-again", func() PipeOptions { return PipeOptions{} }},
	}
	took := make([]time.Duration, len(variants))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, v := range variants {
			var got int64
			o := v.opts()
			o.Progress = func(t int64) { got = t }
			start := time.Now()
			if err := PipeWith(context.Background(), h, send, h, recv, o); err != nil || got != n {
				b.Fatalf("%s: %d bytes, %v", v.name, got, err)
			}
			took[j] += time.Since(start)
		}
	}
	b.StopTimer()
	base := mibps(n*int64(b.N), took[0])
	for j, v := range variants {
		r := mibps(n*int64(b.N), took[j])
		b.ReportMetric(r, v.name+"-MiB/s")
		if j > 0 {
			b.ReportMetric(r/base, v.name+"/default")
		}
		if v.name == "limit64MiB/s" {
			// Near 1 when the machine can go faster than the limit.
			b.ReportMetric(r/64, v.name+"-achieved/limit")
		}
		b.Logf("%s: %.0f MiB/s (%.2f of default)", v.name, r, r/base)
	}
}
