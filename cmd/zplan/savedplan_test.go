package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/zfs/zfsfake"
)

// craft loads a saved plan, changes it as an attacker with write access
// to the file would (keeping the config hash), and saves it elsewhere.
func craft(t *testing.T, file string, mod func(p *plan.Plan)) string {
	t.Helper()
	f, err := planfile.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	mod(f.Plan)
	out := filepath.Join(t.TempDir(), "crafted.zplan")
	fh, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := planfile.Encode(fh, f.Plan, time.Now()); err != nil {
		t.Fatal(err)
	}
	return out
}

func actionOf(p *plan.Plan, kind plan.Kind) *plan.Action {
	for _, a := range p.Actions {
		if a.Kind == kind {
			return a
		}
	}
	panic("no " + string(kind) + " action")
}

// Every crafted file is refused before anything runs: no command at all
// reaches either host, and the exit status is 1, as for a stale plan.
func TestSavedPlanRefusesCraftedActions(t *testing.T) {
	add := func(a *plan.Action) func(p *plan.Plan) {
		return func(p *plan.Plan) { p.Actions = append(p.Actions, a) }
	}
	cases := []struct {
		name string
		mod  func(p *plan.Plan)
		want []string // in stderr
	}{
		{"destroy and rollback of an unmanaged dataset", func(p *plan.Plan) {
			add(&plan.Action{Address: `destroy.src["tank/other"]`, Kind: plan.KindDestroy, Host: "src", Dataset: "tank/other", Snapshots: []plan.SnapRef{{Name: "precious"}}})(p)
			add(&plan.Action{Address: `rollback.src["tank/other"]`, Kind: plan.KindRollback, Host: "src", Dataset: "tank/other", Bookmark: "precious"})(p)
		}, []string{`destroy.src["tank/other"]: src:tank/other is not a dataset any retention`, "(rule managed)", `rollback.src["tank/other"]`}},
		{"send -R to an undeclared target", func(p *plan.Plan) {
			s := actionOf(p, plan.KindSendFull).Send
			s.Flags = append([]string{"-R"}, s.Flags...)
			s.TargetDataset = "backup/evil"
		}, []string{"(rule flags)", "sends to dst:backup/evil", "(rule edge)"}},
		{"recv -A on a dataset that is no edge target", add(&plan.Action{Address: `abort_resume.dst["backup/other"]`, Kind: plan.KindAbortResume, Host: "dst", Dataset: "backup/other"}),
			[]string{`abort_resume.dst["backup/other"]`, "(rule abort_resume)"}},
		{"foreign snapshot destroyed", add(&plan.Action{Address: `destroy.src["tank/data"]`, Kind: plan.KindDestroy, Host: "src", Dataset: "tank/data", Snapshots: []plan.SnapRef{{Name: "manual"}}}),
			[]string{`destroy.src["tank/data"]`, "(rule prefix)"}},
		{"range destroyed", add(&plan.Action{Address: `destroy.src["tank/data"]`, Kind: plan.KindDestroy, Host: "src", Dataset: "tank/data", Snapshots: []plan.SnapRef{{Name: "zplan_a%zplan_z"}}}),
			[]string{"(rule unsafe_name)"}},
		{"empty snapshots", func(p *plan.Plan) { actionOf(p, plan.KindSnapshot).Snapshots = nil }, []string{"(rule structure)"}},
		{"nil send", func(p *plan.Plan) { actionOf(p, plan.KindSendFull).Send = nil }, []string{"no send", "(rule structure)"}},
		{"unknown kind", func(p *plan.Plan) { actionOf(p, plan.KindSendFull).Kind = "exec" }, []string{"(rule kind)"}},
		{"unknown depends_on", func(p *plan.Plan) { actionOf(p, plan.KindSendFull).DependsOn = []string{"nowhere"} }, []string{"depends on unknown nowhere"}},
		{"dependency cycle", func(p *plan.Plan) {
			snap := actionOf(p, plan.KindSnapshot)
			snap.DependsOn = []string{actionOf(p, plan.KindSendFull).Address}
		}, []string{"dependency cycle"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := useFakeHosts(t)
			w.Host("src").Create("tank/other", zfsfake.Opts{})
			w.Host("src").Snapshot("tank/other@precious")
			w.Host("src").Snapshot("tank/data@manual")
			w.Host("dst").Create("backup/other", zfsfake.Opts{})
			dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
			file := craft(t, savePlan(t, dir, t0), c.mod)
			before := len(w.Host("src").Commands()) + len(w.Host("dst").Commands())
			out, errOut, code := runCmdline(t, "apply", "-chdir", dir, file)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
			}
			for _, s := range c.want {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if n := len(w.Host("src").Commands()) + len(w.Host("dst").Commands()); n != before {
				t.Errorf("%d commands reached the hosts: %q %q", n-before, w.Host("src").Commands()[before:], w.Host("dst").Commands())
			}
			if !w.Host("src").Exists("tank/other@precious") || len(w.Host("dst").Snapshots("backup/src/data")) != 0 {
				t.Error("the crafted plan changed the hosts")
			}
		})
	}
}

const varConfig = `
variable "root" {
  default = "backup/src"
}
host "src" {}
host "dst" {}

snapshots "data" {
  host     = host.src
  datasets = ["tank/data/**"]
  every    = "15m"
}

replication "offsite" {
  source {
    snapshots = snapshots.data
  }
  target {
    host = host.dst
    root = var.root
  }
}
`

// A plan made with one -var value sends somewhere else than the same
// files with another: the configuration hash covers variables, so such a
// plan is refused, from -var and from ZPLAN_VAR_ alike.
func TestSavedPlanRefusedForOtherVariables(t *testing.T) {
	w := useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": varConfig})
	file := savePlan(t, dir, t0, "-var", "root=backup/a")
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("saved plan mode: %v %v, want 0600", st.Mode().Perm(), err)
	}
	for _, c := range []struct {
		name string
		env  string
		args []string
	}{
		{"default", "", nil},
		{"-var", "", []string{"-var", "root=backup/b"}},
		{"ZPLAN_VAR_root", "backup/b", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv("ZPLAN_VAR_root", c.env)
			}
			_, errOut, code := runCmdline(t, append(append([]string{"apply", "-chdir", dir}, c.args...), file)...)
			if code != 1 || !strings.Contains(errOut, "the configuration changed since the plan was made") {
				t.Fatalf("exit %d\n%s", code, errOut)
			}
		})
	}
	if len(w.Host("src").Snapshots("tank/data")) != 0 {
		t.Fatal("a refused plan created snapshots")
	}
	t.Setenv("ZPLAN_VAR_root", "backup/a")
	out, errOut, code := runCmdline(t, "apply", "-chdir", dir, file)
	if code != 0 || len(w.Host("dst").Snapshots("backup/a/data")) != 1 {
		t.Fatalf("same value from the environment: exit %d\n%s\n%s", code, out, errOut)
	}
}

// With ZPLAN_PLAN_KEY set, plan -out signs the file and apply FILE
// refuses it once edited, even by an edit the configuration allows.
func TestSignedSavedPlan(t *testing.T) {
	w := useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	t.Setenv(planfile.KeyEnv, "controller secret")
	file := savePlan(t, dir, t0)
	b, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(b), `"signature": "hmac-sha256:`) {
		t.Fatalf("saved plan is not signed (%v):\n%s", err, b)
	}
	// A validating edit: the snapshot name and reason stay of zplan's forms.
	edited := filepath.Join(t.TempDir(), "edited.zplan")
	if err := os.WriteFile(edited, []byte(strings.Replace(string(b), `"reason": "snapshots.data`, `"reason": "edited: snapshots.data`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	unsigned := craft(t, file, func(*plan.Plan) {})
	before := len(w.Host("src").Commands()) + len(w.Host("dst").Commands())
	for _, f := range []string{edited, unsigned} {
		_, errOut, code := runCmdline(t, "apply", "-chdir", dir, f)
		if code != 1 || !strings.Contains(errOut, "signature does not verify") {
			t.Fatalf("%s: exit %d\n%s", filepath.Base(f), code, errOut)
		}
	}
	if n := len(w.Host("src").Commands()) + len(w.Host("dst").Commands()); n != before {
		t.Fatalf("%d commands ran for a refused file", n-before)
	}
	t.Setenv(planfile.KeyEnv, "another secret")
	if _, errOut, code := runCmdline(t, "apply", "-chdir", dir, file); code != 1 || !strings.Contains(errOut, "signed with another") {
		t.Fatalf("other key: exit %d\n%s", code, errOut)
	}
	t.Setenv(planfile.KeyEnv, "controller secret")
	if out, errOut, code := runCmdline(t, "apply", "-chdir", dir, file); code != 0 {
		t.Fatalf("signed, unedited: exit %d\n%s\n%s", code, out, errOut)
	}
}
