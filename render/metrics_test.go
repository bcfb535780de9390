package render

import (
	"bytes"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/plan"
)

// metricsDrift is sampleDrift with the measurements drift.Detect adds:
// one edge behind, one blocked, a policy dataset overdue, and an
// interrupted receive.
func metricsDrift() *drift.Report {
	r := sampleDrift()
	r.Findings[1].ConflictKind = plan.ConflictDiverged
	r.Findings = append(r.Findings, drift.Finding{Kind: drift.InterruptedReceive, Severity: "warning", Host: "dst", Dataset: "backup/src/data",
		Message: "an interrupted receive left a resume token"})
	r.Edges = []drift.EdgeStatus{
		{Edge: "offsite", SourceHost: "src", SourceDataset: "tank/data", TargetHost: "dst", TargetDataset: "backup/src/data",
			LagKnown: true, Lag: 90 * time.Minute, Behind: 2, UnsentBytes: 12 << 20, CursorCreation: tPlan.Add(-89 * time.Minute)},
		{Edge: "offsite", SourceHost: "src", SourceDataset: "tank/other", TargetHost: "dst", TargetDataset: "backup/src/other",
			Blocked: true, Conflicts: 1, OldestUnsent: tPlan.Add(-12 * 24 * time.Hour), KeepUnsentFor: 14 * 24 * time.Hour},
	}
	r.Datasets = []drift.DatasetStatus{
		{Policy: "data", Host: "src", Dataset: "tank/data", Prefix: "zplan_", Newest: tPlan.Add(-90 * time.Minute), Overdue: true},
		{Policy: "data", Host: "src", Dataset: "tank/other", Prefix: "zplan_", Newest: tPlan.Add(-5 * time.Minute)},
	}
	r.LastApply = tPlan.Add(-5 * time.Minute)
	return r
}

func TestDriftMetricsGolden(t *testing.T) {
	var b bytes.Buffer
	if err := DriftMetrics(&b, metricsDrift()); err != nil {
		t.Fatal(err)
	}
	golden(t, "drift.prom.golden", b.Bytes())
	var again bytes.Buffer
	if err := DriftMetrics(&again, metricsDrift()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), again.Bytes()) {
		t.Error("two renderings of one report differ")
	}
}

// The output parses back with expfmt's text parser (what node_exporter's
// textfile collector uses) to the report's values.
func TestDriftMetricsParse(t *testing.T) {
	var b bytes.Buffer
	if err := DriftMetrics(&b, metricsDrift()); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(&b)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		mf := mfs[name]
		if mf == nil {
			return 0, false
		}
		if mf.GetType() != dto.MetricType_GAUGE || mf.GetHelp() == "" {
			t.Errorf("%s: type %v, help %q", name, mf.GetType(), mf.GetHelp())
		}
	next:
		for _, m := range mf.Metric {
			if m.TimestampMs != nil {
				t.Errorf("%s has a timestamp (the textfile collector refuses them)", name)
			}
			got := map[string]string{}
			for _, l := range m.Label {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
		return 0, false
	}
	edge := map[string]string{"edge": "offsite", "host": "dst", "dataset": "backup/src/data", "source_host": "src", "source_dataset": "tank/data"}
	other := map[string]string{"edge": "offsite", "dataset": "backup/src/other"}
	cases := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"zplan_replication_lag_seconds", edge, 5400},
		{"zplan_replication_unsent_bytes", edge, 12 << 20},
		{"zplan_replication_snapshots_behind", edge, 2},
		{"zplan_replication_blocked", edge, 0},
		{"zplan_replication_blocked", other, 1},
		{"zplan_replication_last_success_timestamp_seconds", edge, float64(tPlan.Add(-89 * time.Minute).Unix())},
		{"zplan_snapshot_newest_age_seconds", map[string]string{"host": "src", "dataset": "tank/data", "policy": "data"}, 5400},
		{"zplan_snapshot_overdue", map[string]string{"dataset": "tank/data"}, 1},
		{"zplan_snapshot_overdue", map[string]string{"dataset": "tank/other"}, 0},
		{"zplan_conflicts", map[string]string{"host": "dst", "kind": "diverged"}, 1},
		{"zplan_conflicts", map[string]string{"host": "src", "kind": "diverged"}, 0},
		{"zplan_interrupted_receives", map[string]string{"host": "dst"}, 1},
		{"zplan_stale_holds", map[string]string{"host": "src"}, 0},
		{"zplan_foreign_holds", map[string]string{"host": "dst"}, 0},
		{"zplan_drift_findings", map[string]string{"kind": "conflict"}, 1},
		{"zplan_drift_findings", map[string]string{"kind": "stale_hold"}, 0},
		{"zplan_pending_actions", nil, 4},
		{"zplan_last_apply_timestamp_seconds", nil, float64(tPlan.Add(-5 * time.Minute).Unix())},
		{"zplan_drift_time_seconds", nil, float64(tPlan.Unix())},
	}
	for _, c := range cases {
		got, ok := value(c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := value("zplan_replication_lag_seconds", other); ok {
		t.Error("a blocked edge without a base has a lag sample; want none")
	}
	for name := range mfs {
		if len(name) < 6 || name[:6] != "zplan_" {
			t.Errorf("metric %s lacks the zplan_ prefix", name)
		}
	}
}
