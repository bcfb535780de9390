package main

import (
	"strings"
	"testing"

	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/zfs/zfsfake"
)

var hookConfig = strings.Replace(fakeConfig, `  every    = "15m"
`, `  every    = "15m"
  hook "freeze" {
    pre     = ["/usr/local/bin/db-freeze", "--wait"]
    post    = ["/usr/local/bin/db-thaw"]
    timeout = "30s"
  }
`, 1)

func TestHooksPlanShowApply(t *testing.T) {
	w := useFakeHosts(t)
	src := w.Host("src")
	src.AddProgram("/usr/local/bin/db-freeze", zfsfake.ExitProgram(0, ""))
	src.AddProgram("/usr/local/bin/db-thaw", zfsfake.ExitProgram(0, ""))
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": hookConfig})
	file := savePlan(t, dir, t0)

	out, errOut, code := runCmdline(t, "show", file)
	if code != 0 || !strings.Contains(out, "hook freeze: pre /usr/local/bin/db-freeze --wait, post /usr/local/bin/db-thaw (timeout 30s)") {
		t.Fatalf("show: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = runCmdline(t, "show", "-json", file)
	if code != 0 || !strings.Contains(out, `"hooks"`) || !strings.Contains(out, `"/usr/local/bin/db-freeze"`) {
		t.Fatalf("show -json: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = runCmdline(t, "apply", "-chdir", dir, file)
	if code != 0 || !strings.Contains(out, "hook freeze pre done") || !strings.Contains(out, "hook freeze post done") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("apply:\n%s", out)
	if n := len(src.ProgramCalls()); n != 2 {
		t.Fatalf("%d hook commands ran, want 2", n)
	}
}

func TestSavedPlanRefusesCraftedHooks(t *testing.T) {
	for name, mod := range map[string]func(a *plan.Action){
		"added": func(a *plan.Action) {
			a.Hooks = append(a.Hooks, plan.Hook{Policy: "data", Name: "x", Pre: []string{"/bin/sh", "-c", "id"}, Timeout: "1m0s", OnPreFailure: plan.PreFailureSkip, Datasets: a.Datasets})
		},
		"altered": func(a *plan.Action) { a.Hooks[0].Post = []string{"/bin/sh", "-c", "id"} },
	} {
		t.Run(name, func(t *testing.T) {
			w := useFakeHosts(t)
			src := w.Host("src")
			for _, p := range []string{"/usr/local/bin/db-freeze", "/usr/local/bin/db-thaw", "/bin/sh"} {
				src.AddProgram(p, zfsfake.ExitProgram(0, ""))
			}
			dir := writeConfig(t, map[string]string{"main.zplan.hcl": hookConfig})
			file := craft(t, savePlan(t, dir, t0), func(p *plan.Plan) { mod(actionOf(p, plan.KindSnapshot)) })
			before := len(src.Commands()) + len(w.Host("dst").Commands())
			out, errOut, code := runCmdline(t, "apply", "-chdir", dir, file)
			if code != 1 || !strings.Contains(errOut, "(rule hooks)") {
				t.Fatalf("exit %d, want 1 naming rule hooks\n%s\n%s", code, out, errOut)
			}
			t.Logf("refused:\n%s", errOut)
			if n := len(src.Commands()) + len(w.Host("dst").Commands()); n != before || len(src.ProgramCalls()) != 0 {
				t.Fatalf("commands reached the hosts: %q", src.Commands()[before:])
			}
		})
	}
}
