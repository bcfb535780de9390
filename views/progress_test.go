package views

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/render"
)

// Every kind's progress line says the kinds table's verb.
func TestProgressVerbFromKindTable(t *testing.T) {
	for _, k := range plan.Kinds() {
		info, _ := k.Info()
		if info.Verb == "" {
			t.Errorf("%s has no verb", k)
		}
		var out, errw bytes.Buffer
		p := NewProgress(&out, &errw, false)
		p.Report(apply.Event{Kind: apply.EventStart, Action: &plan.Action{Address: "a", Kind: k}})
		if got, want := out.String(), "a: "+info.Verb+"...\n"; got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
}

func TestProgressLines(t *testing.T) {
	var out, errw bytes.Buffer
	p := NewProgress(&out, &errw, false)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	a := &plan.Action{Address: "send.x", Kind: plan.KindSendFull, Estimate: 4 << 20}
	p.Report(apply.Event{Kind: apply.EventStart, Action: a})
	now = now.Add(20 * time.Second)
	p.Report(apply.Event{Kind: apply.EventProgress, Action: a, Bytes: 1 << 20})
	p.Report(apply.Event{Kind: apply.EventProgress, Action: a, Bytes: 1 << 20}) // within 10s: dropped
	now = now.Add(10 * time.Second)
	p.Report(apply.Event{Kind: apply.EventProgress, Action: a, Bytes: 3 << 19}) // the same rate: now an ETA
	p.Report(apply.Event{Kind: apply.EventDone, Action: a})
	p.Report(apply.Event{Kind: apply.EventFailed, Action: a, Err: errors.New("boom")})
	// No ETA from the first sample: the rate has not been seen steady.
	want := "send.x: sending...\nsend.x: 1.0 MiB of ~4.0 MiB (25%), 51.2 KiB/s\n" +
		"send.x: 1.5 MiB of ~4.0 MiB (38%), 51.2 KiB/s, ETA 50s\nsend.x: done after 30s\n"
	if out.String() != want || errw.String() != "send.x: failed: boom\n" {
		t.Fatalf("stdout %q\nwant   %q\nstderr %q", out.String(), want, errw.String())
	}
}

func TestBar(t *testing.T) {
	for _, c := range []struct {
		n, total int64
		want     string
	}{
		{0, 0, "[????????????????????]"},
		{0, 10, "[>                   ]"},
		{5, 10, "[==========>         ]"},
		{10, 10, "[====================]"},
		{20, 10, "[====================]"},
	} {
		if got := bar(c.n, c.total); got != c.want {
			t.Errorf("bar(%d, %d) = %q, want %q", c.n, c.total, got, c.want)
		}
	}
}

func TestJSONProgressAction(t *testing.T) {
	var out bytes.Buffer
	s := render.NewStream(&out)
	j := NewJSONProgress(s)
	j.Report(apply.Event{Kind: apply.EventStart, Action: &plan.Action{Address: "rollback.x", Kind: plan.KindRollback}})
	if !strings.Contains(out.String(), `"action":"delete"`) || !strings.Contains(out.String(), "rollback.x: rolling back...") {
		t.Fatalf("%s", out.String())
	}
}
