package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
	"github.com/zplan/zplan/plan"
)

const mib = 1 << 20

// killDuringSend starts zplan apply, waits until it reports send progress
// (the stream is flowing into the target), and kills it with SIGKILL.
// It then waits for the guest's zfs send/recv of these pools to go away
// and returns how long they outlived zplan.
func killDuringSend(t *testing.T, z *zenv, srcPool, dstPool string) time.Duration {
	t.Helper()
	p := z.startApply()
	deadline := time.After(5 * time.Minute)
wait:
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("apply ended before any send progress was reported (send too fast to interrupt?):\n%s", p.output())
			}
			// Well into the stream: beyond the controller's 8 MiB relay
			// buffer, so the target has received a good part.
			if lastSentBytes(line, "send.") >= 24*mib {
				break wait
			}
		case <-deadline:
			t.Fatalf("no send progress after 5 minutes:\n%s", p.output())
		}
	}
	p.kill9(t)
	killed := time.Now()
	t.Logf("killed zplan -9 during the send; its output:\n%s", p.output())
	for first := true; ; first = false {
		procs := strings.TrimSpace(zfsProcs(t, z.l, srcPool) + "\n" + zfsProcs(t, z.l, dstPool))
		if procs == "" {
			break
		}
		if first {
			t.Logf("%s after kill -9, still running in the guest:\n%s", time.Since(killed).Round(100*time.Millisecond), procs)
		}
		if time.Since(killed) > 90*time.Second {
			t.Errorf("zfs processes still running in the guest 90s after kill -9 of zplan:\n%s", procs)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	left := time.Since(killed)
	t.Logf("zfs send/recv of the test pools were gone %s after kill -9", left.Round(100*time.Millisecond))
	return left
}

// streamSize asks zfs for the size of a send stream (zfs send -nvP ARGS).
func streamSize(t *testing.T, l *lab.Lab, args ...string) int64 {
	t.Helper()
	out := l.Run(t, append([]string{"sh", "-c", `zfs send -nvP "$@" 2>&1`, "sh"}, args...)...)
	m := regexp.MustCompile(`(?m)^size\s+(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("zfs send -nvP %v: no size in:\n%s", args, out)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// checkInterrupted checks the state a killed send leaves and returns the
// token and the bytes the target already has.
func checkInterrupted(t *testing.T, l *lab.Lab, sds, tds string, stepHeld []string) (string, int64) {
	t.Helper()
	token := prop(t, l, tds, "receive_resume_token")
	if token == "" || token == "-" {
		t.Fatalf("%s has no receive_resume_token after the kill", tds)
	}
	got, decoded := resumeTokenBytes(t, l, token)
	t.Logf("resume token: %d bytes already received\n%s", got, decoded)
	if got < mib {
		t.Errorf("the token says only %d bytes were received", got)
	}
	var want []string
	for _, s := range stepHeld {
		want = append(want, sds+"@"+s)
	}
	if held := snapsWithTag(t, l, sds, "zplan_step_r1"); strings.Join(held, " ") != strings.Join(want, " ") {
		t.Errorf("step holds after the kill: %v, want %v", held, want)
	}
	// Invariant: what the interrupted send needs cannot be destroyed.
	for _, s := range want {
		if ee := l.Fails(t, "zfs", "destroy", s); !busy(ee.Stderr) {
			t.Errorf("destroy %s: %q, want dataset is busy", s, ee.Stderr)
		}
	}
	return token, got
}

// resumeAndMeasure plans (binary: must show the resume), then applies in
// process and returns the exact bytes relayed by the resumed send.
func resumeAndMeasure(t *testing.T, z *zenv, sds, tds, snap string) int64 {
	t.Helper()
	out, code := z.plan()
	want := "~ send " + sds + "@" + snap + " -> dst:" + tds + " (resume"
	if code != 2 || !strings.Contains(out, want) || strings.Contains(out, "(full") || strings.Contains(out, "(incremental") {
		t.Fatalf("plan after the kill (exit %d) lacks %q or sends afresh:\n%s", code, want, out)
	}
	p, sent := z.inProcessApply()
	var resumed int64 = -1
	for _, a := range p.Actions {
		switch a.Kind {
		case plan.KindSendResume:
			resumed = sent[a.Address]
		case plan.KindSendFull, plan.KindSendIncremental:
			t.Errorf("in-process plan also sends afresh: %s", a.Address)
		}
	}
	if resumed < 0 {
		t.Fatalf("in-process plan has no send_resume action")
	}
	return resumed
}

func TestResumeAfterKill9DuringFullSend(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 256), l.NewPool(t, 256)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Run(t, "zfs", "create", sds)
	writeRandom(t, l, sds, 96)
	z := newZenv(t, l, oneEdgeConfig(src, dst))
	snap := z.snapName()

	killDuringSend(t, z, src, dst)
	if !exists(t, l, sds+"@"+snap) {
		t.Fatalf("the snapshot was not made before the send")
	}
	full := streamSize(t, l, "-L", "-c", sds+"@"+snap)
	token, before := checkInterrupted(t, l, sds, tds, []string{snap})
	remaining := streamSize(t, l, "-t", token)
	if len(snapshots(t, l, tds)) != 0 {
		t.Errorf("target has snapshots after an interrupted full receive")
	}

	resumed := resumeAndMeasure(t, z, sds, tds, snap)
	t.Logf("full stream ~%d bytes (%.1f MiB); received before kill %d (%.1f MiB); zfs estimates the rest at %d; resume relayed %d (%.1f MiB)",
		full, float64(full)/mib, before, float64(before)/mib, remaining, resumed, float64(resumed)/mib)
	if resumed <= 0 || resumed > full-before+2*mib {
		t.Errorf("resume relayed %d bytes; the stream is ~%d and the target already had %d", resumed, full, before)
	}
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != snap {
		t.Fatalf("newest on target %s, want %s", got, snap)
	}
	if tok := prop(t, l, tds, "receive_resume_token"); tok != "-" {
		t.Errorf("token left after the resume: %s", tok)
	}
	z.mustNoChanges()
}

func TestResumeAfterKill9DuringIncremental(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	z, src, dst, sds, tds := syncedEdgeOn(t, l, l.NewPool(t, 256), l.NewPool(t, 256), 1)
	base := z.snapName()

	writeRandom(t, l, sds, 96)
	z.advance(5 * time.Minute)
	snap := z.snapName()
	killDuringSend(t, z, src, dst)
	full := streamSize(t, l, "-L", "-c", "-i", sds+"@"+base, sds+"@"+snap)
	token, before := checkInterrupted(t, l, sds, tds, []string{base, snap})
	remaining := streamSize(t, l, "-t", token)
	// The edge's bookkeeping is untouched by the interrupted step.
	if ts := snapNamesOf(snapshots(t, l, tds)); strings.Join(ts, " ") != base {
		t.Errorf("target snapshots %v after the kill, want [%s]", ts, base)
	}
	if hs := snapsWithTag(t, l, tds, "zplan_last_r1"); strings.Join(hs, " ") != tds+"@"+base {
		t.Errorf("last-received hold after the kill: %v", hs)
	}

	resumed := resumeAndMeasure(t, z, sds, tds, snap)
	t.Logf("incremental stream ~%d bytes (%.1f MiB); received before kill %d (%.1f MiB); zfs estimates the rest at %d; resume relayed %d (%.1f MiB)",
		full, float64(full)/mib, before, float64(before)/mib, remaining, resumed, float64(resumed)/mib)
	if resumed <= 0 || resumed > full-before+2*mib {
		t.Errorf("resume relayed %d bytes; the stream is ~%d and the target already had %d", resumed, full, before)
	}
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != snap {
		t.Fatalf("newest on target %s, want %s", got, snap)
	}
	z.mustNoChanges()
}

// TestCrashBetweenReceiveAndCursorIsRepaired does the receive of a step
// by hand, as if zplan died right after zfs recv finished: the target has
// the new snapshot, but the source has no cursor of it and the target's
// last-received hold is still on the old one.
func TestCrashBetweenReceiveAndCursorIsRepaired(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	z, _, _, sds, tds := syncedEdge(t, l, 1)
	base := z.snapName()
	oldCursor := cursors(t, l, sds, "r1")[0]

	writeRandom(t, l, sds, 1)
	z.advance(5 * time.Minute)
	snap := z.snapName()
	l.Sh(t, fmt.Sprintf("zfs snapshot %[1]s@%[3]s && zfs send -L -c -i @%[2]s %[1]s@%[3]s | zfs recv -s -u %[4]s", sds, base, snap, tds))

	out, code := z.plan()
	for _, want := range []string{
		"+ bookmark " + sds + "@" + snap + " as #zplan_cursor_",
		"+ hold zplan_last_r1 on " + tds + "@" + snap,
		"- release zplan_last_r1 on " + tds + "@" + base,
		"- destroy bookmark " + sds + "#" + oldCursor,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("repair plan lacks %q", want)
		}
	}
	if code != 2 || strings.Contains(out, "~ send") || strings.Contains(out, "+ snapshot") {
		t.Fatalf("repair plan (exit %d) sends or snapshots:\n%s", code, out)
	}
	z.mustApply()
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != snap {
		t.Fatalf("newest on target %s, want %s", got, snap)
	}
	z.mustNoChanges()
}

func TestRawEncryptedFullIncrementalResume(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Sh(t, "echo 'correct horse battery' | zfs create -o encryption=on -o keyformat=passphrase -o keylocation=prompt "+sds)
	writeRandom(t, l, sds, 2)
	z := newZenv(t, l, oneEdgeConfig(src, dst))
	checkTarget := func(when string) {
		t.Helper()
		if enc := prop(t, l, tds, "encryption"); enc == "off" || enc == "" {
			t.Errorf("%s: target encryption=%q", when, enc)
		}
		if ks := prop(t, l, tds, "keystatus"); ks != "unavailable" {
			t.Errorf("%s: target keystatus=%q, want unavailable (the key must never reach the target)", when, ks)
		}
	}

	first := z.snapName()
	out, code := z.plan()
	if code != 2 || !strings.Contains(out, "~ send "+sds+"@"+first+" -> dst:"+tds+" (full, -w") {
		t.Fatalf("first plan (exit %d) is not a raw full send:\n%s", code, out)
	}
	z.mustApply()
	checkTarget("after the full send")
	checkEdgeInSync(t, l, sds, tds, "r1")

	writeRandom(t, l, sds, 1)
	z.advance(5 * time.Minute)
	second := z.snapName()
	out, code = z.plan()
	if code != 2 || !strings.Contains(out, "(incremental from @"+first+", -w") {
		t.Fatalf("second plan (exit %d) is not a raw incremental:\n%s", code, out)
	}
	z.mustApply()
	checkTarget("after the incremental")
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != second {
		t.Fatalf("newest on target %s, want %s", got, second)
	}

	// A raw incremental cut off mid-stream: the target keeps a raw token.
	writeRandom(t, l, sds, 6)
	z.advance(5 * time.Minute)
	third := z.snapName()
	l.Sh(t, fmt.Sprintf("zfs snapshot %[1]s@%[3]s && zfs hold zplan_step_r1 %[1]s@%[2]s %[1]s@%[3]s && "+
		"{ zfs send -w -i @%[2]s %[1]s@%[3]s | head -c 3000000 | zfs recv -s -u %[4]s || true; }", sds, second, third, tds))
	token := prop(t, l, tds, "receive_resume_token")
	if token == "-" {
		t.Fatalf("no resume token after the cut raw stream")
	}
	before, decoded := resumeTokenBytes(t, l, token)
	if !strings.Contains(decoded, "rawok") {
		t.Errorf("token is not raw:\n%s", decoded)
	}
	checkTarget("with a partial raw receive")
	out, code = z.plan()
	if code != 2 || !strings.Contains(out, "~ send "+sds+"@"+third+" -> dst:"+tds+" (resume, -w") {
		t.Fatalf("plan (exit %d) does not resume raw:\n%s", code, out)
	}
	full := streamSize(t, l, "-w", "-i", sds+"@"+second, sds+"@"+third)
	p, sent := z.inProcessApply()
	for _, a := range p.Actions {
		if a.Kind == plan.KindSendResume {
			t.Logf("raw stream ~%d bytes, %d received before the cut, resume relayed %d", full, before, sent[a.Address])
			if sent[a.Address] > full-before+mib {
				t.Errorf("resume relayed %d bytes of a ~%d stream whose first %d had arrived", sent[a.Address], full, before)
			}
		}
	}
	checkTarget("after the resume")
	if got := checkEdgeInSync(t, l, sds, tds, "r1"); got != third {
		t.Fatalf("newest on target %s, want %s", got, third)
	}
	z.mustNoChanges()
}
