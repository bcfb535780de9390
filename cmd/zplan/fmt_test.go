package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const unformatted = "host \"a\" {\naddress=\"x\"\n    port = 22\n}\n"
const formatted = "host \"a\" {\n  address = \"x\"\n  port    = 22\n}\n"

func TestFmtCommand(t *testing.T) {
	cases := []struct {
		name     string
		files    map[string]string
		args     []string // the directory is appended
		code     int
		stdout   []string
		stderr   []string
		wantFile map[string]string // contents after the run
	}{
		{"check reports and changes nothing", map[string]string{"a.hcl": unformatted, "b.hcl": formatted}, []string{"fmt", "-check"}, 3,
			[]string{"a.hcl"}, nil, map[string]string{"a.hcl": unformatted}},
		{"check on formatted files", map[string]string{"b.hcl": formatted}, []string{"fmt", "-check"}, 0, nil, nil, nil},
		{"diff", map[string]string{"a.hcl": unformatted}, []string{"fmt", "-check", "-diff"}, 3,
			[]string{"@@ -1,4 +1,4 @@", "-address=\"x\"", "+  address = \"x\"", "-    port = 22", "+  port    = 22", " host \"a\" {"}, nil, map[string]string{"a.hcl": unformatted}},
		{"rewrite", map[string]string{"a.hcl": unformatted, "notes.txt": unformatted}, []string{"fmt"}, 0,
			[]string{"a.hcl"}, nil, map[string]string{"a.hcl": formatted, "notes.txt": unformatted}},
		{"not recursive by default", map[string]string{"sub/a.hcl": unformatted}, []string{"fmt"}, 0,
			nil, nil, map[string]string{"sub/a.hcl": unformatted}},
		{"recursive", map[string]string{"sub/a.hcl": unformatted, ".git/x.hcl": unformatted}, []string{"fmt", "-recursive"}, 0,
			[]string{"a.hcl"}, nil, map[string]string{"sub/a.hcl": formatted, ".git/x.hcl": unformatted}},
		{"syntax error left alone", map[string]string{"a.hcl": "host \"a\" {\naddress=\n}\n"}, []string{"fmt"}, 1,
			nil, []string{"Error:", "a.hcl line"}, map[string]string{"a.hcl": "host \"a\" {\naddress=\n}\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeConfig(t, tc.files)
			out, errOut, code := runCmdline(t, append(tc.args, dir)...)
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
			for name, want := range tc.wantFile {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestFmtSingleFileThenCheckIsClean(t *testing.T) {
	dir := writeConfig(t, map[string]string{"main.zplan.hcl": unformatted})
	file := filepath.Join(dir, "main.zplan.hcl")
	if _, errOut, code := runCmdline(t, "fmt", file); code != 0 {
		t.Fatalf("fmt exit %d: %s", code, errOut)
	}
	if out, _, code := runCmdline(t, "fmt", "-check", file); code != 0 || out != "" {
		t.Fatalf("second check exit %d, output %q", code, out)
	}
}
