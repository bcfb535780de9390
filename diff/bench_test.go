package diff_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/remote"
)

// listingHost answers the bulk listing with prepared bytes.
type listingHost struct {
	name    string
	listing []byte
}

func (h *listingHost) Name() string { return h.name }
func (h *listingHost) Close() error { return nil }
func (h *listingHost) Run(_ context.Context, c remote.Cmd) error {
	_, err := c.Stdout.Write(h.listing)
	return err
}

// syntheticListing: pool/fs0..fsN-1, each with snaps zplan snapshots an
// hour apart ending at end; GUIDs depend only on (fs, snap) so source and
// target listings share them.
func syntheticListing(pool string, filesystems, snaps int, end time.Time) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\tfilesystem\t1\t1\t%d\t0\t0\t0\t-\toff\t-\t-\t-\t-\n", pool, end.Unix())
	for f := 0; f < filesystems; f++ {
		fmt.Fprintf(&b, "%s/fs%d\tfilesystem\t%d\t2\t%d\t4096\t4096\t0\t-\toff\t-\t-\t-\t-\n", pool, f, 2+f, end.Unix())
		for s := 0; s < snaps; s++ {
			t := end.Add(-time.Duration(snaps-1-s) * time.Hour)
			fmt.Fprintf(&b, "%s/fs%d@zplan_%s\tsnapshot\t%d\t%d\t%d\t4096\t4096\t4096\t0\toff\t-\t-\t-\t-\n",
				pool, f, t.Format(diff.SnapshotTimeFormat), 1_000_000+f*snaps+s, 10+s, t.Unix())
		}
	}
	return b.Bytes()
}

// BenchmarkPlanLarge plans 2 hosts × 1,000 filesystems × 1,000 snapshots
// from synthetic listings: parse, assemble, resolve and diff, in steady
// state (retention keeps the 1,000 hourly snapshots, target in sync).
// Target on a 2-core machine: < 1 s and < 1 GiB per operation.
func BenchmarkPlanLarge(b *testing.B) {
	benchmarkPlan(b, "1x1h(keep=all) | 1200x1h", "1200x1h")
}

// BenchmarkPlanLargePrune is the same with a grid that lets 97% of the
// snapshots go on each side: a plan of about 1.9 million destroys.
func BenchmarkPlanLargePrune(b *testing.B) {
	benchmarkPlan(b, "1x1h(keep=all) | 24x1h | 30x1d", "24x1h | 60x1d")
}

func benchmarkPlan(b *testing.B, srcGrid, dstGrid string) {
	end := now.Truncate(time.Hour)
	src := &listingHost{"src", syntheticListing("tank", 1000, 1000, end)}
	dst := &listingHost{"dst", syntheticListing("backup", 1000, 1000, end)}
	cfg := &hclspec.Config{
		Hosts: []*hclspec.Host{{Name: "src"}, {Name: "dst"}},
		Snapshots: []*hclspec.SnapshotPolicy{{
			Name: "all", Host: "src", Prefix: "zplan_",
			Datasets:  hclspec.DatasetSelector{Include: []string{"tank/**"}, Exclude: []string{"tank"}},
			Schedule:  hclspec.Schedule{Every: time.Hour},
			Retention: &hclspec.Retention{Grid: srcGrid},
		}},
		Replications: []*hclspec.Replication{{
			Name: "r", ID: "r", SnapshotsPolicy: "all", TargetHost: "dst", TargetRoot: "backup",
			TargetRetention: &hclspec.Retention{Grid: dstGrid},
		}},
	}
	b.ReportAllocs()
	for b.Loop() {
		st, err := observe.Observe(context.Background(), map[string]remote.Host{"src": src, "dst": dst})
		if err != nil {
			b.Fatal(err)
		}
		pol, err := desired.Resolve(cfg, st)
		if err != nil {
			b.Fatal(err)
		}
		p, err := diff.Plan(pol, st, now, diff.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Conflicts) > 0 {
			b.Fatalf("conflict: %+v", p.Conflicts[0])
		}
	}
}
