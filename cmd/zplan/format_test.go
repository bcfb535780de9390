package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFormatFlag(t *testing.T) {
	useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"plan markdown", []string{"plan", "-format", "markdown"}, 0, []string{"### zplan plan: 2 to create, 1 to send", "<details>"}, nil},
		{"plan markdown fleet graph", []string{"plan", "-format", "markdown"}, 0,
			[]string{"\n<details><summary>Fleet graph</summary>\n\n```mermaid\nflowchart LR\n", "replication.offsite", "\n```\n\n</details>\n"}, nil},
		{"drift markdown fleet graph", []string{"drift", "-format", "markdown"}, 0,
			[]string{"### zplan drift:", "<details><summary>Fleet graph</summary>", "```mermaid\nflowchart LR\n"}, nil},
		{"plan md alias", []string{"plan", "-format=md"}, 0, []string{"### zplan plan:"}, nil},
		{"plan json", []string{"plan", "-format", "json"}, 0, []string{`"type":"planned_change"`}, nil},
		{"-json with -format json", []string{"plan", "-json", "-format", "json"}, 0, []string{`"type":"change_summary"`}, nil},
		{"-json with -format markdown", []string{"plan", "-json", "-format", "markdown"}, 1, nil, []string{"-json and -format markdown conflict"}},
		{"unknown format", []string{"plan", "-format", "yaml"}, 1, nil, []string{`-format "yaml": want human, json or markdown`}},
		{"drift json", []string{"drift", "-format", "json"}, 0, []string{`"type":"drift_summary"`}, nil},
		{"drift openmetrics", []string{"drift", "-format", "openmetrics"}, 0,
			[]string{"# TYPE zplan_replication_lag_seconds gauge\n", "zplan_snapshot_overdue{", "zplan_pending_actions "}, nil},
		{"drift openmetrics -json", []string{"drift", "-format", "openmetrics", "-json"}, 1, nil, []string{"-json and -format openmetrics conflict"}},
		{"plan openmetrics", []string{"plan", "-format", "openmetrics"}, 1, nil, []string{`-format "openmetrics": want human, json or markdown`}},
		{"drift -json conflicts", []string{"drift", "-json", "-format", "human"}, 1, nil, []string{"conflict"}},
		{"apply markdown needs approval", []string{"apply", "-format", "markdown"}, 1, nil, []string{"-format markdown needs -auto-approve"}},
		{"apply json needs approval", []string{"apply", "-json"}, 1, []string{"-json needs -auto-approve or a saved plan"}, nil},
		{"apply markdown", []string{"apply", "-format", "markdown", "-auto-approve"}, 0,
			[]string{"### zplan plan:", "\n```\n", "creating snapshots...", "**Apply complete: 3 done, 0 failed, 0 refused, 0 skipped.**"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCmdline(t, append(c.args, "-chdir", dir, t0)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, c.code, out, errOut)
			}
			for _, w := range c.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

func TestShowFormatFlag(t *testing.T) {
	useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	file := savePlan(t, dir, t0)
	out, _, code := runCmdline(t, "show", "-json", "-format", "json", file)
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || doc["format_version"] != "1.0" {
		t.Fatalf("show -json -format json: exit %d %v\n%s", code, err, out)
	}
	if _, errOut, code := runCmdline(t, "show", "-json", "-format", "markdown", file); code != 1 || !strings.Contains(errOut, "conflict") {
		t.Fatalf("show -json -format markdown: exit %d\n%s", code, errOut)
	}
	if out, _, code := runCmdline(t, "show", file); code != 0 || !strings.Contains(out, "Saved plan "+file) || !strings.Contains(out, "+ snapshot tank/data@") {
		t.Fatalf("show: exit %d\n%s", code, out)
	}
}

// -chdir resolves -config, plan -out and apply PLANFILE as a chdir
// would, without changing the process's directory (runWith checks).
func TestChdirResolvesRelativePaths(t *testing.T) {
	w := useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	out, errOut, code := runCmdline(t, "plan", "-chdir", dir, t0, "-out", "rel.zplan")
	if code != 0 || !strings.Contains(out, "Saved the plan to: rel.zplan") {
		t.Fatalf("plan -out: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "rel.zplan")); err != nil {
		t.Fatalf("plan -out did not write under -chdir: %v", err)
	}
	if out, errOut, code := runCmdline(t, "apply", "-chdir", dir, "rel.zplan"); code != 0 || !strings.Contains(out, "3 done") {
		t.Fatalf("apply rel.zplan: exit %d\n%s\n%s", code, out, errOut)
	}
	if len(w.Host("dst").Snapshots("backup/src/data")) != 1 {
		t.Fatal("the saved plan was not applied")
	}
	sub := writeConfig(t, map[string]string{"conf/main.zplan.hcl": fakeConfig})
	if out, errOut, code := runCmdline(t, "validate", "-chdir", sub, "-config", "conf"); code != 0 || !strings.Contains(out, "Success!") {
		t.Fatalf("validate -chdir -config relative: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := runCmdline(t, "plan", "-chdir", filepath.Join(dir, "nope")); code != 1 || !strings.Contains(errOut, "-chdir: ") {
		t.Fatalf("missing -chdir: exit %d\n%s", code, errOut)
	}
}

func TestValidateFormats(t *testing.T) {
	invalid := writeConfig(t, map[string]string{"main.zplan.hcl": invalidHCL})
	valid := writeConfig(t, map[string]string{"main.zplan.hcl": validHCL})
	out, _, code := runCmdline(t, "validate", "-chdir", invalid, "-format", "markdown")
	if code != 1 || !strings.Contains(out, "### zplan validate: 1 error(s), 0 warning(s)") ||
		!strings.Contains(out, "- **Error: Reference to undeclared host** (`main.zplan.hcl` line 4)") || !strings.Contains(out, "<details>") {
		t.Fatalf("validate -format markdown: exit %d\n%s", code, out)
	}
	if out, _, code := runCmdline(t, "validate", "-chdir", valid, "-format", "md"); code != 0 || out != "### zplan validate: valid\n" {
		t.Fatalf("valid markdown: exit %d %q", code, out)
	}
	if out, _, code := runCmdline(t, "validate", "-config", valid, "-format", "json"); code != 0 || !strings.Contains(out, `"valid": true`) {
		t.Fatalf("validate -format json: exit %d\n%s", code, out)
	}
	if _, errOut, code := runCmdline(t, "validate", "-config", valid, "-json", "-format", "human"); code != 1 || !strings.Contains(errOut, "conflict") {
		t.Fatalf("validate -json -format human: exit %d\n%s", code, errOut)
	}
}

// -help is a terraform-style flag too (cobra adds it only when it runs).
func TestHelpFlag(t *testing.T) {
	for _, args := range [][]string{{"plan", "-help"}, {"-help"}, {"apply", "--help"}} {
		if out, errOut, code := runCmdline(t, args...); code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%q: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}
}

// Colour is the streams' decision, which -no-color turns off; no
// machine format is ever coloured.
func TestColourFromStreams(t *testing.T) {
	useFakeHosts(t)
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": fakeConfig})
	colour := harness{connect: fakeConnect, colour: true}
	out, _, _ := runWith(t, colour, "plan", "-chdir", dir, t0)
	if !strings.Contains(out, "\x1b[32m  + snapshot tank/data@") {
		t.Errorf("plan on colour streams is not coloured:\n%q", out)
	}
	for _, args := range [][]string{{"plan", "-no-color"}, {"plan", "-json"}, {"plan", "-format", "markdown"}, {"drift", "-no-color"}} {
		out, errOut, _ := runWith(t, colour, append(args, "-chdir", dir, t0)...)
		if strings.Contains(out+errOut, "\x1b[") {
			t.Errorf("%q is coloured:\n%q", args, out)
		}
	}
	if out, _, _ := runCmdline(t, "plan", "-chdir", dir, t0); strings.Contains(out, "\x1b[") {
		t.Errorf("plan on plain streams is coloured:\n%q", out)
	}
}
