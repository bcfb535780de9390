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

func TestProgressHookLines(t *testing.T) {
	var out, errw bytes.Buffer
	p := NewProgress(&out, &errw, false)
	a := &plan.Action{Address: "snapshot.src[\"tank@z\"]", Kind: plan.KindSnapshot}
	h := plan.Hook{Policy: "db", Name: "freeze", Pre: []string{"/bin/freeze"}, OnPreFailure: plan.PreFailureContinue}
	p.Report(apply.Event{Kind: apply.EventHook, Action: a, Hook: &apply.HookRun{Hook: h, Phase: apply.HookPre, Elapsed: 1500 * time.Millisecond}})
	p.Report(apply.Event{Kind: apply.EventHook, Action: a, Hook: &apply.HookRun{Hook: h, Phase: apply.HookPre, Continued: true}, Err: errors.New("exit status 1")})
	if got, want := out.String(), "snapshot.src[\"tank@z\"]: hook freeze pre done after 1.5s\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if got := errw.String(); !strings.Contains(got, "hook freeze pre failed, snapshotting anyway") || !strings.Contains(got, "exit status 1") {
		t.Errorf("stderr %q", got)
	}
}

func TestJSONProgressHook(t *testing.T) {
	var out bytes.Buffer
	j := NewJSONProgress(render.NewStream(&out))
	a := &plan.Action{Address: "snapshot.src[\"tank@z\"]", Kind: plan.KindSnapshot}
	h := plan.Hook{Policy: "db", Name: "freeze", Pre: []string{"/bin/freeze"}, OnPreFailure: plan.PreFailureSkip}
	j.Report(apply.Event{Kind: apply.EventHook, Action: a, Hook: &apply.HookRun{Hook: h, Phase: apply.HookPre}, Err: errors.New("exit status 3")})
	for _, want := range []string{`"type":"apply_snapshot_hook"`, `"@level":"error"`, `"name":"freeze"`, `"phase":"pre"`, `"error":"exit status 3"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("%s lacks %s", out.String(), want)
		}
	}
}
