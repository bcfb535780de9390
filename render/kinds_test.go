package render

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/zplan/zplan/plan"
)

// kindAction is a small action of kind k with the fields its row says it
// needs.
func kindAction(k plan.Kind) *plan.Action {
	info, _ := k.Info()
	a := &plan.Action{Address: string(k) + `.h["pool/ds"]`, Kind: k, Host: "h", Dataset: "pool/ds", Reason: "because " + string(k)}
	if info.Needs&(plan.NeedSnapshots|plan.NeedOneSnapshot) != 0 || info.DestroysSnapshots {
		a.Snapshots = []plan.SnapRef{{Name: "zplan_1", GUID: 1, Bytes: 1024, Reason: "old"}}
	}
	if info.Needs&plan.NeedDatasets != 0 {
		a.Datasets = []string{"pool/ds"}
	}
	if info.Needs&plan.NeedTag != 0 {
		a.Tag = "zplan_tag"
	}
	if info.Needs&plan.NeedBookmark != 0 {
		a.Bookmark = "zplan_bm"
	}
	if info.Needs&plan.NeedProperties != 0 {
		a.Properties = map[string]string{"readonly": "on"}
	}
	if info.Needs&plan.NeedSend != 0 {
		a.Send = &plan.Send{Edge: "e", SourceHost: "h", SourceDataset: "pool/ds", To: "zplan_1", TargetHost: "t", TargetDataset: "back/ds"}
		if k == plan.KindSendIncremental {
			a.Send.From = "@zplan_0"
		}
		if k == plan.KindSendResume {
			a.Send.Token = "1-abc"
		}
		a.Estimate = 2048
	}
	return a
}

// Every kind zplan plans renders in every view with what its row in the
// kinds table says: a new kind without its wording here fails.
func TestEveryKindRenders(t *testing.T) {
	for _, k := range plan.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			info, ok := k.Info()
			if !ok {
				t.Fatal("plan.Kinds lists a kind Info does not know")
			}
			a := kindAction(k)
			if err := a.CheckShape(); err != nil {
				t.Fatalf("test action: %v", err)
			}
			p := &plan.Plan{FormatVersion: plan.FormatVersion, Time: tPlan, Actions: []*plan.Action{a}}

			var h bytes.Buffer
			Human(&h, p, false)
			sym, _ := Plain.mark(k)
			reason := a.Reason
			if k == plan.KindDestroy {
				reason = a.Snapshots[0].Reason // a destroy gives each snapshot's
			}
			if strings.Contains(h.String(), "  ? ") || !strings.Contains(h.String(), "\n  "+sym+" ") || !strings.Contains(h.String(), "      "+reason+"\n") {
				t.Errorf("human view has no wording for %s (want a %q line and the reason):\n%s", k, sym, h.String())
			}

			d := NewShowDocument(p)
			found, deletes := false, 0
			for _, rc := range d.ResourceChanges {
				// The default case of NewShowDocument's switch (a kind
				// without its attributes) has neither before nor after.
				if rc.Type == string(info.Object) && rc.Change.Actions[0] == string(info.Change) && (rc.Change.Before != nil || rc.Change.After != nil) {
					found = true
				}
				if rc.Type == string(plan.ObjectSnapshot) && rc.Change.Actions[0] == "delete" {
					deletes++
				}
			}
			if !found && k != plan.KindDestroy { // a destroy is its snapshots' deletes
				t.Errorf("show -json has no %s %s resource: %+v", info.Object, info.Change, d.ResourceChanges)
			}
			s := d.Summary
			if info.DestroysSnapshots && (deletes != len(a.Snapshots) || s.DestroySnapshots != len(a.Snapshots)) {
				t.Errorf("show -json: %d snapshot deletes, summary %d, want %d", deletes, s.DestroySnapshots, len(a.Snapshots))
			}
			if s.HasDestroys != k.Destroys() {
				t.Errorf("has_destroys = %v, kind destroys %v", s.HasDestroys, k.Destroys())
			}
			if s.Create+s.Send+s.DestroySnapshots+s.DestroyBookmarks+s.HoldChanges+s.BookmarkChanges+s.AbortedReceives+s.PropertyChanges == 0 {
				t.Errorf("the summary counts nothing: %+v", s)
			}

			var st bytes.Buffer
			NewStream(&st).Plan(p, "plan")
			var line struct {
				Change struct {
					Action string `json:"action"`
				} `json:"change"`
			}
			first, _, _ := strings.Cut(st.String(), "\n")
			if err := json.Unmarshal([]byte(first), &line); err != nil || line.Change.Action != string(info.Change) {
				t.Errorf("-json planned_change %s (%v), want action %s", first, err, info.Change)
			}

			var md bytes.Buffer
			if err := Markdown(&md, p); err != nil {
				t.Fatal(err)
			}
			if info.DestroysSnapshots != strings.Contains(md.String(), "destroys **") {
				t.Errorf("Markdown banner for %s (destroys snapshots %v):\n%s", k, info.DestroysSnapshots, md.String())
			}
		})
	}
}

// Styles colour only when asked, whatever fatih/color's global says.
func TestStylesOwnTheColourDecision(t *testing.T) {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Time: tPlan, Actions: []*plan.Action{kindAction(plan.KindDestroy)}}
	var on, off bytes.Buffer
	NewStyles(true).Human(&on, p, false)
	NewStyles(false).Human(&off, p, false)
	if !strings.Contains(on.String(), "\x1b[31m") || strings.Contains(off.String(), "\x1b[") {
		t.Fatalf("colour on:\n%q\ncolour off:\n%q", on.String(), off.String())
	}
}
