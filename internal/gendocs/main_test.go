package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestGenerateEveryCommandHasAPage(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	var want []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		want = append(want, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() && !sub.IsAdditionalHelpTopicCommand() {
				walk(sub)
			}
		}
	}
	walk(command("1.2.3"))
	// The commands README documents must be among them, so an empty
	// walk cannot pass.
	for _, name := range []string{"zplan.1", "zplan-plan.1", "zplan-apply.1", "zplan-show.1", "zplan-drift.1",
		"zplan-validate.1", "zplan-fmt.1", "zplan-force-unlock.1", "zplan-version.1", "zplan-completion.1"} {
		if !slices.Contains(want, name) {
			t.Errorf("command tree has no %s (have %v)", name, want)
		}
	}
	got, err := filepath.Glob(filepath.Join(dir, "man1", "*.1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i] = filepath.Base(got[i])
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("no man page %s", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("pages %v, commands %v", got, want)
	}
	page, err := os.ReadFile(filepath.Join(dir, "man1", "zplan-plan.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`.TH "ZPLAN-PLAN" "1"`, "zplan 1.2.3", `\fB--chdir\fP`, `\fB--detailed-exitcode\fP`} {
		if !bytes.Contains(page, []byte(s)) {
			t.Errorf("zplan-plan.1 lacks %q", s)
		}
	}
	if bytes.Contains(page, []byte("Auto generated")) {
		t.Error("zplan-plan.1 has cobra's dated auto-generated tag")
	}
	for file, want := range map[string]string{
		"zplan.bash": "__start_zplan",
		"_zplan":     "#compdef zplan",
		"zplan.fish": "complete -c zplan",
	} {
		b, err := os.ReadFile(filepath.Join(dir, "completions", file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s lacks %q", file, want)
		}
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		if out, err := exec.Command(bash, "-n", filepath.Join(dir, "completions", "zplan.bash")).CombinedOutput(); err != nil {
			t.Errorf("bash -n zplan.bash: %v\n%s", err, out)
		}
	}
}

// TestManPageRenders renders zplan-plan(1) as man would and fails on any
// warning from the formatter.
func TestManPageRenders(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "man1", "zplan-plan.1")
	var cmd *exec.Cmd
	if _, err := exec.LookPath("man"); err == nil {
		cmd = exec.Command("man", "--warnings", "-l", page)
	} else if _, err := exec.LookPath("groff"); err == nil {
		cmd = exec.Command("groff", "-man", "-Tutf8", "-ww", page)
	} else {
		t.Skip("neither man (Debian man-db) nor groff is installed: scripts/ci-deps.sh installs man-db")
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat", "LANG=C.UTF-8")
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, errOut.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("%v warned:\n%s", cmd.Args, errOut.String())
	}
	text := out.String()
	for _, s := range []string{"zplan-plan - Show the actions", "SYNOPSIS", "zplan plan [flags]", "--chdir", "zplan(1)"} {
		if !strings.Contains(text, s) {
			t.Errorf("rendered page lacks %q:\n%s", s, text)
		}
	}
}
