package render

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/zplan/zplan/plan"
)

// A declared rollback destroys the target's own snapshots: every view a
// policy gate reads must say so (it was labelled "create", counted as no
// destroy, and shown as holds/bookmarks in Markdown).
func TestRollbackCountsAsDestroyEverywhere(t *testing.T) {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Actions: []*plan.Action{{
		Address: `rollback.dst["backup/data"]`, Kind: plan.KindRollback, Host: "dst", Dataset: "backup/data",
		Snapshots: []plan.SnapRef{{Name: "local_change", GUID: 555, Bytes: 4096}},
		Bookmark:  "zplan_20261122T120000Z", Reason: "on_divergence = rollback",
	}}}

	s := NewShowDocument(p).Summary
	if s.DestroySnapshots != 1 || !s.HasDestroys || !s.DestroysSnapshots || s.DestroyBytes != 4096 {
		t.Errorf("show -json summary: %+v", s)
	}

	var stream bytes.Buffer
	NewStream(&stream).Plan(p, "plan")
	var change struct {
		Change struct {
			Action    string          `json:"action"`
			Snapshots []plan.SnapRef  `json:"snapshots"`
			Resource  json.RawMessage `json:"resource"`
		} `json:"change"`
	}
	line, _, _ := strings.Cut(stream.String(), "\n")
	if err := json.Unmarshal([]byte(line), &change); err != nil {
		t.Fatal(err)
	}
	if change.Change.Action != "delete" || len(change.Change.Snapshots) != 1 {
		t.Errorf("-json planned_change: %s", line)
	}

	var md bytes.Buffer
	if err := Markdown(&md, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "destroys **1 snapshot(s)**") || !strings.Contains(md.String(), "| `backup/data` | 0 | 0 | **1** | 0 |") {
		t.Errorf("Markdown does not show the rollback's destroy:\n%s", md.String())
	}
}
