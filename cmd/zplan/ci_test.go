package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lock"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs/zfsfake"
)

const t0 = "-now=2026-11-22T12:00:00Z"

func savePlan(t *testing.T, dir string, args ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "plan.zplan")
	out, errOut, code := runCmdline(t, append([]string{"plan", "-chdir", dir, "-out", file, "-detailed-exitcode"}, args...)...)
	if code != 2 || !strings.Contains(out, "Saved the plan to: "+file) {
		t.Fatalf("plan -out: exit %d\n%s\n%s", code, out, errOut)
	}
	return file
}

func TestSavedPlanAppliesExactlyAndReapplies(t *testing.T) {
	w := useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	file := savePlan(t, dir, t0)
	if len(w.Host("src").Snapshots("tank/data")) != 0 {
		t.Fatal("plan -out changed something")
	}
	// The bookmark after the receive fails: the send is half done.
	w.Host("src").FailNext(zfsfake.MatchPrefix("zfs", "bookmark"), "zplan test: controller died", 255)
	out, errOut, code := runCmdline(t, "apply", "-chdir", dir, file)
	if code != 1 || strings.Contains(out, "Enter a value") {
		t.Fatalf("first apply: exit %d\n%s\n%s", code, out, errOut)
	}
	// Applied again, later: same snapshot names (the plan time), the
	// done actions recognised, the bookkeeping finished.
	out, errOut, code = runCmdline(t, "apply", "-chdir", dir, file)
	if code != 0 || !strings.Contains(out, "already done") || !strings.Contains(out, "3 done, 0 failed") {
		t.Fatalf("re-apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := w.Host("dst").Snapshots("backup/src/data"); len(got) != 1 || got[0] != "zplan_20261122T120000Z" {
		t.Fatalf("target snapshots: %v", got)
	}
	out, _, code = runCmdline(t, "plan", "-chdir", dir, t0, "-detailed-exitcode")
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Fatalf("plan after re-apply: exit %d\n%s", code, out)
	}
	if w.Host("src").Exists("tank@zplan-lock") {
		t.Error("apply left its lock behind")
	}
}

func TestSavedPlanRefusedForOtherConfigOrVersion(t *testing.T) {
	useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	file := savePlan(t, dir, t0)
	if err := os.WriteFile(filepath.Join(dir, "main.zplan.hcl"), []byte(fakeConfig+"\n# edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCmdline(t, "apply", "-chdir", dir, file)
	if code != 1 || !strings.Contains(errOut, "the configuration changed since the plan was made") {
		t.Fatalf("changed config: exit %d\n%s", code, errOut)
	}
	dir2 := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	file = savePlan(t, dir2, t0)
	old := version
	version = "9.9.9"
	defer func() { version = old }()
	_, errOut, code = runCmdline(t, "apply", "-chdir", dir2, file)
	if code != 1 || !strings.Contains(errOut, "made by zplan "+old+", this is zplan 9.9.9") {
		t.Fatalf("other version: exit %d\n%s", code, errOut)
	}
}

// staleCase changes the hosts between plan -out and apply FILE.
func TestStaleSavedPlan(t *testing.T) {
	cases := []struct {
		name   string
		before func(t *testing.T, w *zfsfake.World, dir string) // converge first
		now    string
		change func(t *testing.T, w *zfsfake.World)
		want   string
	}{
		{
			name: "source snapshot destroyed",
			before: func(t *testing.T, w *zfsfake.World, dir string) {
				mustApply(t, dir, t0)
			},
			now: "-now=2026-11-22T12:15:00Z",
			change: func(t *testing.T, w *zfsfake.World) {
				mustRun(t, w.Host("src"), "zfs", "destroy", "tank/data@zplan_20261122T120000Z")
			},
			want: "src no longer has tank/data@zplan_20261122T120000Z",
		},
		{
			name: "target received something else",
			now:  t0,
			change: func(t *testing.T, w *zfsfake.World) {
				d := w.Host("dst")
				d.Create("backup/src", zfsfake.Opts{Props: map[string]string{"zplan:placeholder": "backup/src"}})
				d.Create("backup/src/data", zfsfake.Opts{})
				d.Snapshot("backup/src/data@zplan_20261122T120000Z")
			},
			want: "the target received something else",
		},
		{
			name: "resume token changed",
			before: func(t *testing.T, w *zfsfake.World, dir string) {
				mustApply(t, dir, t0)
				w.Host("src").Write("tank/data", 4<<20)
				w.Host("src").InterruptSendAfter(500)
				if _, _, code := runCmdline(t, "apply", "-chdir", dir, "-now=2026-11-22T12:15:00Z", "-auto-approve"); code != 1 {
					t.Fatalf("interrupted apply exited %d", code)
				}
			},
			now: "-now=2026-11-22T12:15:00Z",
			change: func(t *testing.T, w *zfsfake.World) {
				mustRun(t, w.Host("dst"), "zfs", "recv", "-A", "backup/src/data")
			},
			want: "backup/src/data's resume token changed",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := useFakeHosts(t)
			dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
			if c.before != nil {
				c.before(t, w, dir)
			}
			file := savePlan(t, dir, c.now)
			c.change(t, w)
			out, errOut, code := runCmdline(t, "apply", "-chdir", dir, file)
			if code != 1 || !strings.Contains(errOut, "Saved plan is stale: ") || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d, want 1 and %q\n%s\n%s", code, c.want, out, errOut)
			}
		})
	}
}

func mustApply(t *testing.T, dir, now string) {
	t.Helper()
	if out, errOut, code := runCmdline(t, "apply", "-chdir", dir, now, "-auto-approve"); code != 0 {
		t.Fatalf("apply %s: exit %d\n%s\n%s", now, code, out, errOut)
	}
}

func mustRun(t *testing.T, h remote.Host, argv ...string) {
	t.Helper()
	if _, err := remote.Output(context.Background(), h, argv...); err != nil {
		t.Fatal(err)
	}
}

func TestExitCodes(t *testing.T) {
	useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	if _, _, code := runCmdline(t, "plan", "-chdir", dir, t0, "-detailed-exitcode"); code != 2 {
		t.Errorf("plan with changes: exit %d, want 2", code)
	}
	if _, _, code := runCmdline(t, "plan", "-chdir", dir, t0); code != 0 {
		t.Errorf("plan with changes, no -detailed-exitcode: exit %d, want 0", code)
	}
	if _, _, code := runCmdline(t, "show", filepath.Join(dir, "missing.zplan")); code != 1 {
		t.Errorf("show of a missing file: exit %d, want 1", code)
	}
	// A crash must never look like "changes" (2).
	crash := harness{connect: fakeConnect, afterPlan: func() { panic("forced test panic") }}
	_, errOut, code := runWith(t, crash, "plan", "-chdir", dir, t0, "-detailed-exitcode")
	if code != 11 || !strings.Contains(errOut, "zplan crashed: forced test panic") || !strings.Contains(errOut, "goroutine") {
		t.Fatalf("forced panic: exit %d\n%s", code, errOut)
	}
	mustApply(t, dir, t0)
	if _, _, code := runCmdline(t, "plan", "-chdir", dir, t0, "-detailed-exitcode"); code != 0 {
		t.Errorf("converged plan: exit %d, want 0", code)
	}
}

func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		for _, k := range []string{"@level", "@message", "@timestamp", "type"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("line without %s: %q", k, sc.Text())
			}
		}
		out = append(out, m)
	}
	return out
}

func types(lines []map[string]any) map[string]int {
	c := map[string]int{}
	for _, l := range lines {
		c[l["type"].(string)]++
	}
	return c
}

func TestJSONStreams(t *testing.T) {
	w := useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	out, _, code := runCmdline(t, "plan", "-chdir", dir, t0, "-json", "-detailed-exitcode")
	c := types(jsonLines(t, out))
	if code != 2 || c["version"] != 1 || c["planned_change"] != 3 || c["change_summary"] != 1 {
		t.Fatalf("plan -json: exit %d, types %v\n%s", code, c, out)
	}
	out, _, code = runCmdline(t, "apply", "-chdir", dir, t0, "-json", "-auto-approve")
	c = types(jsonLines(t, out))
	if code != 0 || c["apply_start"] != 3 || c["apply_complete"] != 3 || c["apply_errored"] != 0 {
		t.Fatalf("apply -json: exit %d, types %v\n%s", code, c, out)
	}
	// Drift an hour later: missed snapshots and replication lag.
	out, _, code = runCmdline(t, "drift", "-chdir", dir, "-now=2026-11-22T13:00:00Z", "-json", "-detailed-exitcode")
	lines := jsonLines(t, out)
	kinds := map[string]bool{}
	for _, l := range lines {
		if l["type"] == "drift" {
			kinds[l["drift"].(map[string]any)["kind"].(string)] = true
		}
	}
	if code != 2 || !kinds["missing_snapshot"] || types(lines)["drift_summary"] != 1 {
		t.Fatalf("drift -json: exit %d, kinds %v\n%s", code, kinds, out)
	}
	if _, _, code := runCmdline(t, "drift", "-chdir", dir, t0, "-detailed-exitcode"); code != 0 {
		t.Errorf("drift right after apply: exit %d, want 0", code)
	}
	_ = w
}

func TestShowFormatsAndPolicy(t *testing.T) {
	policy, err := filepath.Abs("testdata/policy/max_destroy.jq")
	if err != nil {
		t.Fatal(err)
	}
	useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	// Snapshots every 15 minutes for a while, then a day later the grid
	// prunes some: the plan destroys snapshots.
	for _, now := range []string{"12:00", "12:15", "12:30", "12:45", "13:00"} {
		mustApply(t, dir, "-now=2026-11-22T"+now+":00Z")
	}
	file := savePlan(t, dir, "-now=2026-11-24T13:00:00Z")
	out, errOut, code := runCmdline(t, "show", "-json", file)
	var doc struct {
		FormatVersion   string `json:"format_version"`
		ZplanVersion    string `json:"zplan_version"`
		ResourceChanges []struct {
			Type   string `json:"type"`
			Change struct {
				Actions []string       `json:"actions"`
				Before  map[string]any `json:"before"`
			} `json:"change"`
			ActionReason string `json:"action_reason"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil {
		t.Fatalf("show -json: exit %d, %v\n%s", code, err, errOut)
	}
	deletes := 0
	for _, rc := range doc.ResourceChanges {
		if rc.Type == "zfs_snapshot" && rc.Change.Actions[0] == "delete" {
			deletes++
			if rc.Change.Before["snapshot"] == nil || rc.ActionReason == "" {
				t.Errorf("delete without before or reason: %+v", rc)
			}
		}
	}
	if doc.FormatVersion != "1.0" || doc.ZplanVersion != version || deletes < 2 {
		t.Fatalf("show -json: version %q/%q, %d snapshot deletes\n%s", doc.FormatVersion, doc.ZplanVersion, deletes, out)
	}
	md, _, code := runCmdline(t, "show", "-format", "markdown", file)
	if code != 0 || !strings.Contains(md, "> [!WARNING]") || !strings.Contains(md, "<details>") || !strings.Contains(md, "| `tank/data` |") {
		t.Fatalf("show -format markdown: exit %d\n%s", code, md)
	}

	// The conftest-style policy: deny plans destroying more than N snapshots.
	jq, lookErr := exec.LookPath("jq")
	if lookErr != nil {
		t.Skip("jq not installed (scripts/ci-deps.sh installs it)")
	}
	check := func(max int) (string, int) {
		cmd := exec.Command(jq, "-r", "-e", "--argjson", "max", strings.TrimSpace(itoa(max)), "-f", policy)
		cmd.Stdin = strings.NewReader(out)
		b, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(b), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(b), 0
	}
	if msg, code := check(deletes - 1); code != 1 || !strings.Contains(msg, "deny") {
		t.Errorf("policy with max %d: exit %d %q, want a denial", deletes-1, code, msg)
	}
	if msg, code := check(deletes); code != 0 || !strings.Contains(msg, "allow") {
		t.Errorf("policy with max %d: exit %d %q, want allow", deletes, code, msg)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestTargetAndLockFlags(t *testing.T) {
	w := useFakeHosts(t)
	w.Host("src").Create("tank/data/home", zfsfake.Opts{})
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	mustApply(t, dir, t0)
	later := "-now=2026-11-22T12:15:00Z"
	out, errOut, code := runCmdline(t, "plan", "-chdir", dir, later, "-target", "tank/data/home")
	if code != 0 || strings.Count(out, "Warning: Partial plan") != 2 || strings.Contains(out, "+ snapshot tank/data@") ||
		!strings.Contains(out, "+ snapshot tank/data/home@") || !strings.Contains(out, "-> dst:backup/src/data/home") {
		t.Fatalf("-target: exit %d\n%s\n%s", code, out, errOut)
	}
	// Another controller's zplan holds the source pool's lock.
	other := lock.Owner{Host: "other-ci", MachineID: strings.Repeat("1", 32), BootID: strings.Repeat("2", 32), PIDNS: 1, PID: 4242, Start: 5, Since: time.Now(), User: "ci"}
	mustRun(t, w.Host("src"), "zfs", "snapshot", "-o", lock.Property+"="+other.Record(), "tank@zplan-lock")
	mustRun(t, w.Host("src"), "zfs", "hold", other.Tag(), "tank@zplan-lock")
	_, errOut, code = runCmdline(t, "apply", "-chdir", dir, later, "-auto-approve")
	if code != 1 || !strings.Contains(errOut, "src:tank is locked by zplan pid 4242 on other-ci") {
		t.Fatalf("apply while locked: exit %d\n%s", code, errOut)
	}
	if len(w.Host("src").Snapshots("tank/data")) != 1 {
		t.Fatal("apply acted without the lock")
	}
	out, _, code = runCmdline(t, "force-unlock", "-chdir", dir, "src:tank")
	if code != 0 || !strings.Contains(out, "Removed the lock of src:tank (held by zplan pid 4242 on other-ci") {
		t.Fatalf("force-unlock: exit %d\n%s", code, out)
	}
	// A lock left by a dead zplan of this controller is broken, saying so.
	dead := lock.Me(nil, time.Now())
	if dead.MachineID == "" || dead.BootID == "" || dead.PIDNS == 0 {
		t.Skip("this controller has no machine id, boot id or PID namespace to prove an owner dead")
	}
	dead.PID = 1<<22 - 1 // above pid_max: no such process
	mustRun(t, w.Host("src"), "zfs", "snapshot", "-o", lock.Property+"="+dead.Record(), "tank@zplan-lock")
	mustRun(t, w.Host("src"), "zfs", "hold", dead.Tag(), "tank@zplan-lock")
	_, errOut, code = runCmdline(t, "apply", "-chdir", dir, later, "-auto-approve")
	if code != 0 || strings.Count(errOut, "Broke the lock of src:tank left by zplan pid 4194303") != 1 {
		t.Fatalf("apply over a dead lock: exit %d\n%s", code, errOut)
	}
	mustApply(t, dir, later)
}
