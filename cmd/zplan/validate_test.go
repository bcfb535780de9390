package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/iostreams"
	"github.com/zplan/zplan/views"
)

// harness is what a test changes about one run of zplan: its
// standard input, its hosts and a hook after planning.
type harness struct {
	stdin     string
	connect   cmdutil.ConnectFunc
	afterPlan func()
	colour    bool // streams that colour, as a terminal's would
}

// fakeConnect is the in-memory hosts useFakeHosts set up for the
// running test (nil: the real cmdutil.ConnectHosts).
var fakeConnect cmdutil.ConnectFunc

// runCmdline runs zplan in-process as main would, on fresh commands and
// fake streams (no terminal, no colour).
func runCmdline(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runWith(t, harness{connect: fakeConnect}, args...)
}

func runWith(t *testing.T, h harness, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ios, in, out, errb := iostreams.Test()
	in.WriteString(h.stdin)
	ios.SetColorEnabled(h.colour)
	f := newFactory(ios)
	f.AfterPlan = h.afterPlan
	if h.connect != nil {
		f.Connect = h.connect
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	code = int(run(args, f))
	if now, _ := os.Getwd(); now != wd {
		t.Fatalf("zplan %q changed the working directory to %s", args, now)
	}
	return out.String(), errb.String(), code
}

func writeConfig(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const validHCL = `variable "pool" {
  default = "tank"
}

host "local" {}

snapshots "data" {
  host     = host.local
  datasets = ["${var.pool}/data"]
  every    = "15m"
}
`

const invalidHCL = `host "local" {}

snapshots "data" {
  host     = host.nope
  datasets = ["tank/data"]
  every    = "15m"
}
`

func TestValidateCommand(t *testing.T) {
	valid := writeConfig(t, map[string]string{"main.zplan.hcl": validHCL})
	invalid := writeConfig(t, map[string]string{"main.zplan.hcl": invalidHCL})
	required := writeConfig(t, map[string]string{"main.zplan.hcl": strings.Replace(validHCL, `default = "tank"`, "", 1)})
	warning := writeConfig(t, map[string]string{"main.zplan.hcl": strings.Replace(validHCL, `every    = "15m"`, "every = \"15m\"\n  exclude = [\"other/x\"]", 1)})
	cases := []struct {
		name      string
		args      []string
		code      int
		stdout    []string
		stderr    []string
		notStdout string
	}{
		{"valid", []string{"validate", "--config", valid}, 0, []string{"Success! The configuration is valid."}, nil, ""},
		{"terraform-style flags", []string{"validate", "-config=" + valid}, 0, []string{"Success!"}, nil, ""},
		{"chdir", []string{"validate", "-chdir", valid}, 0, []string{"Success!"}, nil, ""},
		{"invalid", []string{"validate", "-config", invalid}, 1, nil,
			[]string{"Error: Reference to undeclared host", "main.zplan.hcl line 4", "host     = host.nope", "No host named nope; declared hosts: local."}, "Success"},
		{"required variable missing", []string{"validate", "-config", required}, 1, nil, []string{"No value for required variable"}, "Success"},
		{"required variable given", []string{"validate", "-config", required, "-var", "pool=zroot"}, 0, []string{"Success!"}, nil, ""},
		{"bad -var", []string{"validate", "-config", valid, "-var", "novalue"}, 1, nil, nil, "Success"}, // main prints this error to os.Stderr
		{"warning only", []string{"validate", "-config", warning}, 0, []string{"Warning: Exclude pattern matches nothing", "Success!"}, nil, ""},
		{"missing dir", []string{"validate", "-config", filepath.Join(valid, "nope")}, 1, nil, []string{"Configuration not found"}, "Success"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCmdline(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tc.notStdout != "" && strings.Contains(out, tc.notStdout) {
				t.Errorf("stdout has %q:\n%s", tc.notStdout, out)
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	for _, tc := range []struct {
		name   string
		src    string
		code   int
		valid  bool
		errors int
	}{
		{"valid", validHCL, 0, true, 0},
		{"invalid", invalidHCL, 1, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeConfig(t, map[string]string{"main.zplan.hcl": tc.src})
			out, errOut, code := runCmdline(t, "validate", "-json", "-config", dir)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %s)", code, tc.code, errOut)
			}
			var got views.ValidateDocument
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, out)
			}
			if got.Valid != tc.valid || got.ErrorCount != tc.errors || len(got.Diagnostics) != tc.errors {
				t.Fatalf("got %+v", got)
			}
			if tc.errors > 0 {
				d := got.Diagnostics[0]
				if d.Severity != "error" || d.Range == nil || d.Range.Start.Line != 4 || !strings.HasSuffix(d.Range.Filename, "main.zplan.hcl") {
					t.Fatalf("diagnostic %+v range %+v", d, d.Range)
				}
			}
		})
	}
}

// TestExamplesValidate keeps every example configuration valid. Each
// file is a configuration of its own (load it with -config FILE).
func TestExamplesValidate(t *testing.T) {
	files, err := filepath.Glob("../../examples/*" + hclspec.FileSuffix)
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, diags := hclspec.Load(f, hclspec.WithLookupEnv(func(string) (string, bool) { return "", false }))
			if len(diags) > 0 {
				var sb strings.Builder
				_ = hclspec.WriteDiagnostics(&sb, cfg.Files, diags, 0, false)
				t.Fatalf("%s", sb.String())
			}
			if len(cfg.Hosts) == 0 || len(cfg.Snapshots) == 0 || len(cfg.Replications) == 0 {
				t.Fatalf("example should show hosts, snapshots and replication: %+v", cfg)
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(src, hclspec.Format(src)) {
				t.Errorf("%s is not formatted; run zplan fmt examples", f)
			}
		})
	}
}
