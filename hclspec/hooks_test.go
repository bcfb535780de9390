package hclspec

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// hookSnap is a snapshots block with the given hook blocks; the first
// hook line is line 10 of main.hcl.
func hookSnap(hooks string) map[string]string {
	return snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\n" + hooks)
}

func TestLoadHooks(t *testing.T) {
	cfg, diags := load(t, hookSnap(`hook "freeze" {
  pre     = ["/usr/local/bin/db-freeze", "--wait"]
  post    = ["/usr/local/bin/db-thaw"]
  timeout = "30s"
}
hook "flush" {
  pre            = ["/bin/sync"]
  on_pre_failure = "continue"
}
hook "notify" {
  post = ["/usr/bin/logger", "zplan took a snapshot"]
}`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := cfg.Snapshots[0].Hooks
	for i := range got {
		got[i].DefRange = hcl.Range{}
	}
	want := []Hook{
		{Name: "freeze", Pre: []string{"/usr/local/bin/db-freeze", "--wait"}, Post: []string{"/usr/local/bin/db-thaw"}, Timeout: 30 * time.Second, OnPreFailure: PreFailureSkip},
		{Name: "flush", Pre: []string{"/bin/sync"}, Timeout: DefaultHookTimeout, OnPreFailure: PreFailureContinue},
		{Name: "notify", Post: []string{"/usr/bin/logger", "zplan took a snapshot"}, Timeout: DefaultHookTimeout, OnPreFailure: PreFailureSkip},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hooks\n got %+v\nwant %+v", got, want)
	}
}

func TestLoadHookErrors(t *testing.T) {
	cases := []struct {
		name, hooks, summary, detail string
		line                         int
	}{
		{"no commands", "hook \"h\" {\n timeout = \"5s\"\n}", "Hook without commands", "needs pre, post or both", 10},
		{"empty pre", "hook \"h\" {\n pre = []\n}", "Empty command", "pre must name a program", 11},
		{"shell string", "hook \"h\" {\n pre = \"/bin/freeze --wait\"\n}", "Incorrect attribute value type", "a list of strings", 11},
		{"number in argv", "hook \"h\" {\n pre = [\"/bin/x\", {a = 1}]\n}", "Incorrect attribute value type", "pre must be a list of strings", 11},
		{"relative path", "hook \"h\" {\n post = [\"db-thaw\"]\n}", "Command not an absolute path", `post[0] = "db-thaw"`, 11},
		{"dot path", "hook \"h\" {\n pre = [\"./freeze\"]\n}", "Command not an absolute path", "absolute path", 11},
		{"equals in path", "hook \"h\" {\n pre = [\"/opt/a=b/freeze\"]\n}", "Invalid command", "cannot contain '='", 11},
		{"nul byte", "hook \"h\" {\n pre = [\"/bin/x\", \"a\\u0000b\"]\n}", "Invalid command", "pre[1] contains a NUL byte", 11},
		{"bad timeout", "hook \"h\" {\n pre = [\"/bin/x\"]\n timeout = \"soon\"\n}", "Invalid timeout", "", 12},
		{"zero timeout", "hook \"h\" {\n pre = [\"/bin/x\"]\n timeout = \"0s\"\n}", "Invalid timeout", "longer than zero", 12},
		{"negative timeout", "hook \"h\" {\n pre = [\"/bin/x\"]\n timeout = \"-5s\"\n}", "Invalid timeout", "", 12},
		{"bad on_pre_failure", "hook \"h\" {\n pre = [\"/bin/x\"]\n on_pre_failure = \"ignore\"\n}", "Invalid on_pre_failure", `"skip", "continue" (default "skip")`, 12},
		{"duplicate name", "hook \"h\" {\n pre = [\"/bin/x\"]\n}\nhook \"h\" {\n post = [\"/bin/y\"]\n}", "Duplicate hook block", `already has a hook named "h"`, 13},
		{"bad name", "hook \"my hook\" {\n pre = [\"/bin/x\"]\n}", "Invalid hook name", "must start with a letter", 10},
		{"unknown argument", "hook \"h\" {\n pre = [\"/bin/x\"]\n command = \"x\"\n}", "Unsupported argument", "pre, post, timeout, on_pre_failure", 12},
		{"no label", "hook {\n pre = [\"/bin/x\"]\n}", "Missing name for hook", "", 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := load(t, hookSnap(tc.hooks))
			for _, d := range diags {
				if d.Summary != tc.summary {
					continue
				}
				if !strings.Contains(d.Detail, tc.detail) {
					t.Fatalf("detail %q does not contain %q", d.Detail, tc.detail)
				}
				if d.Subject == nil || d.Subject.Start.Line != tc.line || !strings.HasSuffix(d.Subject.Filename, "main.hcl") {
					t.Fatalf("subject %v, want main.hcl line %d", d.Subject, tc.line)
				}
				return
			}
			t.Fatalf("no diagnostic %q among:\n%v", tc.summary, diags)
		})
	}
}
