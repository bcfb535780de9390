package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var tPlan = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func samplePlan() *plan.Plan {
	p := &plan.Plan{FormatVersion: 1, ZplanVersion: "0.1.0-test", Time: tPlan, ConfigHash: "0123456789abcdef0123",
		Targets: []string{"tank/data"},
		Actions: []*plan.Action{
			{Address: `snapshot.src["tank@zplan_20261122T120000Z"]`, Kind: plan.KindSnapshot, Host: "src", Dataset: "tank",
				Snapshots: []plan.SnapRef{{Name: "zplan_20261122T120000Z"}}, Datasets: []string{"tank/data", "tank/data/home"},
				Reason: "snapshots.data: every 15m slot 2026-11-22T12:00:00Z, newest is 2026-11-22T11:45:00Z",
				Hooks: []plan.Hook{
					{Policy: "data", Name: "freeze", Pre: []string{"/usr/local/bin/db-freeze", "--wait"}, Post: []string{"/usr/local/bin/db-thaw"},
						Timeout: "1m0s", OnPreFailure: plan.PreFailureSkip, Datasets: []string{"tank/data", "tank/data/home"}},
					{Policy: "data", Name: "notify", Post: []string{"/usr/bin/logger", "snapshot taken"},
						Timeout: "30s", OnPreFailure: plan.PreFailureContinue, Datasets: []string{"tank/data", "tank/data/home"}},
				}},
			{Address: `send.offsite["tank/data@zplan_20261122T120000Z"]`, Kind: plan.KindSendIncremental, Host: "src", Dataset: "tank/data",
				DependsOn: []string{`snapshot.src["tank@zplan_20261122T120000Z"]`}, Estimate: 3 << 20,
				Send: &plan.Send{Edge: "offsite", SourceHost: "src", SourceDataset: "tank/data", From: "@zplan_20261122T114500Z", FromGUID: 11,
					To: "zplan_20261122T120000Z", TargetHost: "dst", TargetDataset: "backup/src/data", Flags: []string{"-L", "-c"},
					StepTag: "zplan_step_offsite", Cursor: "zplan_cursor_x_offsite", LastTag: "zplan_last_offsite"},
				Reason: "replication.offsite: dst:backup/src/data lacks @zplan_20261122T120000Z"},
			{Address: `destroy.src["tank/data"]`, Kind: plan.KindDestroy, Host: "src", Dataset: "tank/data",
				Snapshots: []plan.SnapRef{
					{Name: "zplan_20261120T090000Z", GUID: 7, Rule: "snapshots.data", Reason: "grid: older than the grid's 25h span", Bytes: 1 << 20},
					{Name: "zplan_20261120T091500Z", GUID: 8, Rule: "snapshots.data", Reason: "grid: older than the grid's 25h span", Bytes: 2 << 20}},
				Reason: "retention"},
			{Address: `release.dst["backup/src/data@zplan_last_offsite"]`, Kind: plan.KindRelease, Host: "dst", Dataset: "backup/src/data",
				Tag: "zplan_last_offsite", Snapshots: []plan.SnapRef{{Name: "zplan_20261122T114500Z", GUID: 11}}, Reason: "no longer the last received snapshot"},
			{Address: `bookmark.src["tank/data#zplan_cursor_000000000000000b_offsite"]`, Kind: plan.KindBookmark, Host: "src", Dataset: "tank/data",
				Bookmark: "zplan_cursor_000000000000000b_offsite", Snapshots: []plan.SnapRef{{Name: "zplan_20261122T114500Z", GUID: 11}}, Reason: "replication cursor"},
		},
		Conflicts: []*plan.Conflict{{Edge: "offsite", Host: "dst", Dataset: "backup/src/other", Message: "target has snapshots after the common base", Resolution: "roll back the target"}},
		Skipped:   []*plan.Skipped{{Host: "src", Dataset: "tank/data/idle", Policy: "data", Slot: tPlan, Since: "zplan_20261122T114500Z"}},
		Orphans: []*plan.Orphan{
			{Host: "dst", Dataset: "backup/src/data", Kind: plan.OrphanHold, Name: "zplan_last_old", Snapshot: "zplan_20261122T114500Z", Edge: "old", Why: "replication id old is not configured"},
			{Host: "src", Dataset: "tank/data/tmp", Kind: plan.OrphanCursor, Name: "zplan_cursor_000000000000000b_offsite", Edge: "offsite", Why: "dataset no longer replicated by offsite"},
		},
	}
	g := &plan.GivenUp{Edges: []string{"offsite"}, KeepUnsentFor: "2w"}
	p.Actions[2].Snapshots[0].Unsent = g
	p.Actions[2].Snapshots[0].Reason += "; " + g.String()
	return p
}

func sampleDrift() *drift.Report {
	since := tPlan.Add(-90 * time.Minute)
	return &drift.Report{Time: tPlan, PendingActions: 4, Findings: []drift.Finding{
		{Kind: drift.ReplicationLag, Severity: "warning", Host: "dst", Dataset: "backup/src/data", Edge: "offsite", Object: "tank/data@zplan_20261122T120000Z",
			Message: "2 snapshot(s) behind src:tank/data; newest received @zplan_20261122T103000Z is 1h30m old", Since: &since, Age: 5400, Fix: "zplan apply sends the missing snapshots"},
		{Kind: drift.Conflict, Severity: "error", Host: "dst", Dataset: "backup/src/other", Edge: "offsite", Message: "target has snapshots after the common base", Fix: "roll back the target"},
		{Kind: drift.MissingSnapshot, Severity: "warning", Host: "src", Dataset: "tank/data", Message: "newest zplan_ snapshot is 1h30m0s old", Since: &since, Age: 5400},
		{Kind: drift.Orphan, OrphanKind: plan.OrphanHold, Severity: "warning", Host: "dst", Dataset: "backup/src/data", Edge: "old", Object: "backup/src/data@zplan_20261122T114500Z zplan_last_old",
			Message: "orphaned hold zplan_last_old: replication id old is not configured", Fix: plan.OrphansHint},
	}}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./render -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./render -update rewrites it):\n%s", name, got)
	}
}

func TestGolden(t *testing.T) {
	var b bytes.Buffer
	Human(&b, samplePlan(), false)
	golden(t, "plan.human.golden", b.Bytes())

	b.Reset()
	if err := ShowJSON(&b, samplePlan()); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.show.json.golden", b.Bytes())

	b.Reset()
	if err := Markdown(&b, samplePlan()); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.md.golden", b.Bytes())

	b.Reset()
	s := NewStream(&b)
	s.Now = func() time.Time { return tPlan }
	s.Version("0.1.0-test")
	s.Plan(samplePlan(), "plan")
	s.Drift(sampleDrift())
	golden(t, "stream.jsonl.golden", b.Bytes())

	b.Reset()
	DriftHuman(&b, sampleDrift())
	golden(t, "drift.human.golden", b.Bytes())

	b.Reset()
	if err := DriftMarkdown(&b, sampleDrift()); err != nil {
		t.Fatal(err)
	}
	golden(t, "drift.md.golden", b.Bytes())
}

func TestShowDocumentCounts(t *testing.T) {
	d := NewShowDocument(samplePlan())
	s := d.Summary
	if s.DestroySnapshots != 2 || s.DestroyBytes != 3<<20 || s.Create != 2 || s.Send != 1 || s.HoldChanges != 1 || s.BookmarkChanges != 1 || !d.Partial {
		t.Fatalf("summary %+v partial %v", s, d.Partial)
	}
	if n := len(d.ResourceChanges); n != s.TotalChangeCount || n != 7 {
		t.Fatalf("%d resource changes, summary says %d, want 7 (2 snapshots, send, 2 destroys, release, bookmark)", n, s.TotalChangeCount)
	}
}

func TestMarkdownStaysBelowLimit(t *testing.T) {
	p := samplePlan()
	p.Targets = nil
	big := p.Actions[2]
	for i := 0; i < 5000; i++ {
		big.Snapshots = append(big.Snapshots, plan.SnapRef{Name: "zplan_2026" + strings.Repeat("x", 10), Reason: "grid: older than the grid's 25h span (a long reason to make the plan big)"})
	}
	var b bytes.Buffer
	if err := Markdown(&b, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if len(out) >= MarkdownLimit || !strings.Contains(out, "lines (") || !strings.Contains(out, "omitted") ||
		!strings.Contains(out, "</details>") || !strings.Contains(out, "Plan: 2 to create") {
		t.Fatalf("markdown of %d characters, want < %d with the middle cut and the summary kept:\n%.2000s", len(out), MarkdownLimit, out)
	}
}
