package hclspec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

const hostsHCL = `
host "local" {}
host "nas" {
  address = "nas.example.org"
}
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func noEnv(string) (string, bool) { return "", false }

func load(t *testing.T, files map[string]string, opts ...Option) (*Config, hcl.Diagnostics) {
	t.Helper()
	return Load(writeFiles(t, files), append([]Option{WithLookupEnv(noEnv)}, opts...)...)
}

func TestLoadFull(t *testing.T) {
	cfg, diags := load(t, map[string]string{
		"a.zplan.hcl": fullA,
		"b.hcl":       fullB,
	})
	if diags.HasErrors() || len(diags) != 0 {
		t.Fatalf("unexpected diagnostics: %v", diags)
	}
	if len(cfg.Files) != 2 || len(cfg.Hash) != 64 {
		t.Errorf("Files %d, Hash %q", len(cfg.Files), cfg.Hash)
	}
	nas := cfg.Hosts[1]
	wantNas := Host{Name: "nas", Address: "nas.example.org", Port: 22, User: "zplan",
		IdentityFiles: []string{"~/.ssh/id_ed25519"}, KnownHostsFiles: []string{"~/.ssh/known_hosts"},
		CommandPrefix: []string{"sudo", "-n"}, ConnectTimeout: 10 * time.Second, CommandTimeout: 2 * time.Hour, SSHConfigFile: "~/.ssh/config"}
	nas.DefRange = hcl.Range{}
	if !reflect.DeepEqual(*nas, wantNas) {
		t.Errorf("host nas = %+v\nwant %+v", *nas, wantNas)
	}
	if l := cfg.Hosts[0]; l.Name != "local" || !l.Local() || !l.UseAgent {
		t.Errorf("host local = %+v", l)
	}
	sp := cfg.Snapshots[0]
	if sp.Host != "local" || !sp.SkipUnchanged || sp.Prefix != "Z_" || sp.Schedule != (Schedule{Every: 15 * time.Minute}) ||
		!reflect.DeepEqual(sp.Datasets, DatasetSelector{Include: []string{"tank/data", "tank/home/**"}, Exclude: []string{"tank/home/tmp/**"}}) {
		t.Errorf("snapshots = %+v", sp)
	}
	ret := *sp.Retention
	ret.DefRange = hcl.Range{}
	wantRet := Retention{Grid: "1x1h(keep=all) | 24x1h | 14x1d", KeepLast: 10, KeepMatching: []string{"^manual_"}, AdoptForeign: true, PruneUnsent: true}
	if !reflect.DeepEqual(ret, wantRet) {
		t.Errorf("retention = %+v\nwant %+v", ret, wantRet)
	}
	r := cfg.Replications[0]
	if r.ID != "offsite" || r.SnapshotsPolicy != "data" || r.SourceHost != "local" || r.Prefix != "Z_" ||
		r.TargetHost != "nas" || r.TargetRoot != "backup/laptop" || r.StripPrefix != "tank" ||
		r.Initial != "most_recent" || r.Raw != "auto" || r.OnDivergence != "refuse" || r.AllowDecrypt ||
		r.SendOptions != (SendOptions{LargeBlocks: true, Compressed: true, Embedded: true}) ||
		r.TargetRetention == nil || r.TargetRetention.Grid != "24x1h | 30x1d | 12x30d" ||
		!reflect.DeepEqual(r.SourceDatasets, sp.Datasets) {
		t.Errorf("replication offsite = %+v", r)
	}
	r = cfg.Replications[1]
	if r.ID != "raw:v2" || r.SnapshotsPolicy != "" || r.SourceHost != "local" || r.Prefix != "auto_" ||
		r.Initial != "all" || r.Raw != "always" || !r.AllowDecrypt || r.OnDivergence != "rollback" || r.TargetRetention != nil {
		t.Errorf("replication raw = %+v", r)
	}
}

const fullA = `
variable "pool" { default = "tank" }
variable "port" { default = 22 }
locals {
  home  = "${local.base}/home"
  base  = var.pool
  every = "15m"
}
host "local" {}
host "nas" {
  address         = "nas.example.org"
  port            = var.port
  user            = "zplan"
  identity_files  = ["~/.ssh/id_ed25519"]
  agent           = false
  known_hosts     = ["~/.ssh/known_hosts"]
  command_prefix  = ["sudo", "-n"]
  connect_timeout = "10s"
  command_timeout = "2h"
  ssh_config      = "~/.ssh/config"
}
`

const fullB = `
snapshots "data" {
  host     = host.local
  datasets = ["${var.pool}/data", "${local.home}/**"]
  exclude  = [format("%s/tmp/**", local.home)]
  prefix   = "${upper("z")}_"
  every    = local.every
  skip_unchanged = true
  retention {
    grid          = "1x1h(keep=all) | 24x1h | 14x1d"
    keep_last     = 10
    keep_matching = ["^manual_"]
    adopt_foreign = true
    prune_unsent  = true
  }
}
replication "offsite" {
  source { snapshots = snapshots.data }
  target {
    host         = host.nas
    root         = "backup/laptop"
    strip_prefix = "tank"
    retention { grid = "24x1h | 30x1d | 12x30d" }
  }
  send {
    embedded = true
  }
}
replication "raw" {
  id = "raw:v2"
  source {
    host     = host.local
    datasets = ["tank/vm"]
    prefix   = "auto_"
  }
  target {
    host = host.nas
    root = "backup/vm"
  }
  initial       = "all"
  raw           = "always"
  allow_decrypt = true
  on_divergence = "rollback"
}
`

// snap wraps a snapshots block body with the hosts it may refer to.
func snap(body string) map[string]string {
	return map[string]string{"main.hcl": hostsHCL + "snapshots \"s\" {\n" + body + "\n}\n"}
}

func repl(body string) map[string]string {
	return map[string]string{"main.hcl": hostsHCL + `
snapshots "s" {
  host     = host.local
  datasets = ["tank/data/**"]
  every    = "1h"
}
replication "r" {
` + body + "\n}\n"}
}

func TestLoadCommandTimeout(t *testing.T) {
	for _, c := range []struct {
		attr string
		want time.Duration
	}{
		{"", 0}, // the transport's default
		{`command_timeout = "45m"`, 45 * time.Minute},
		{`command_timeout = "none"`, -1},
	} {
		cfg, diags := load(t, map[string]string{"main.hcl": "host \"nas\" {\n  address = \"nas\"\n  " + c.attr + "\n}\n"})
		if diags.HasErrors() {
			t.Fatalf("%s: %v", c.attr, diags)
		}
		if got := cfg.Hosts[0].CommandTimeout; got != c.want {
			t.Errorf("%s: CommandTimeout %v, want %v", c.attr, got, c.want)
		}
	}
}

func TestLoadSettings(t *testing.T) {
	for _, c := range []struct {
		files map[string]string
		want  Orphans
	}{
		{map[string]string{"main.hcl": "host \"nas\" {}\n"}, OrphansKeep},
		{map[string]string{"main.hcl": "settings {\n  orphans = \"release\"\n}\n"}, OrphansRelease},
	} {
		cfg, diags := load(t, c.files)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if got := cfg.Orphans.OrDefault(); got != c.want {
			t.Errorf("orphans %q, want %q", got, c.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		summary string
		detail  string // substring
		line    int    // 0: no subject expected / not checked
	}{
		{"syntax", map[string]string{"main.hcl": "host \"x\" {\n  address = \n}\n"}, "Invalid expression", "", 2},
		{"unknown block", map[string]string{"main.hcl": "hosts \"x\" {}\n"}, "Unsupported block type", "variable, locals, host, snapshots, replication, settings", 1},
		{"bad orphans", map[string]string{"main.hcl": "settings {\n  orphans = \"destroy\"\n}\n"}, "Invalid orphans", `"keep", "release"`, 2},
		{"two settings", map[string]string{"a.hcl": "settings {}\n", "b.hcl": "\nsettings {}\n"}, "Duplicate settings block", "only one settings block", 2},
		{"unknown argument", map[string]string{"main.hcl": "host \"x\" {\n  adress = \"a\"\n}\n"}, "Unsupported argument", `Did you mean "address"?`, 2},
		{"duplicate host", map[string]string{"a.hcl": "host \"x\" {}\n", "b.hcl": "\n\nhost \"x\" {}\n"}, "Duplicate host block", "already declared at", 3},
		{"bad name", map[string]string{"main.hcl": "host \"my nas\" {}\n"}, "Invalid host name", "must start with a letter", 1},
		{"wrong type", map[string]string{"main.hcl": "host \"x\" {\n  address = \"a\"\n  port = \"ssh\"\n}\n"}, "Incorrect attribute value type", "port must be a whole number", 3},
		{"port range", map[string]string{"main.hcl": "host \"x\" {\n  address = \"a\"\n  port = 70000\n}\n"}, "Invalid port", "1 to 65535", 3},
		{"command_timeout", map[string]string{"main.hcl": "host \"x\" {\n  address = \"a\"\n  command_timeout = \"0s\"\n}\n"}, "Invalid command_timeout", "\"none\"", 3},
		{"ssh setting on local", map[string]string{"main.hcl": "host \"x\" {\n  port = 22\n}\n"}, "SSH setting on a local host", "Set address", 2},
		{"user@host", map[string]string{"main.hcl": "host \"x\" {\n  address = \"me@nas\"\n}\n"}, "Invalid address", "set the login name with user", 2},
		{"dangling host", snap("host = host.nope\ndatasets = [\"tank\"]\nevery = \"1h\""), "Reference to undeclared host", "No host named nope; declared hosts: local, nas.", 7},
		{"host as string", snap("host = \"nas\"\ndatasets = [\"tank\"]\nevery = \"1h\""), "Invalid reference", "Write host = host.nas, without quotes.", 7},
		{"missing datasets", snap("host = host.local\nevery = \"1h\""), "Missing required argument", `"datasets" is required`, 0},
		{"empty datasets", snap("host = host.local\ndatasets = []\nevery = \"1h\""), "No datasets", "", 8},
		{"dataset with @", snap("host = host.local\ndatasets = [\"tank/a@b\"]\nevery = \"1h\""), "Invalid dataset pattern", "cannot contain @ or #", 8},
		{"dataset empty component", snap("host = host.local\ndatasets = [\"tank//a\"]\nevery = \"1h\""), "Invalid dataset pattern", "empty components", 8},
		{"dataset bad char", snap("host = host.local\ndatasets = [\"tank/a b\"]\nevery = \"1h\""), "Invalid dataset pattern", `component "a b"`, 8},
		{"dataset too long", snap("host = host.local\ndatasets = [\"tank/" + strings.Repeat("a", 260) + "\"]\nevery = \"1h\""), "Invalid dataset pattern", "at most 255", 8},
		{"inner wildcard", snap("host = host.local\ndatasets = [\"tank/*/data\"]\nevery = \"1h\""), "Invalid dataset pattern", "trailing /**", 8},
		{"pool starts with digit", snap("host = host.local\ndatasets = [\"1tank\"]\nevery = \"1h\""), "Invalid dataset pattern", "must start with a letter", 8},
		{"bad prefix", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\nprefix = \"z@\""), "Invalid prefix", "letters, digits", 10},
		{"empty prefix", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\nprefix = \"\""), "Empty prefix", "only destroys snapshots that carry it", 10},
		{"both schedules", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\ncron = \"@daily\""), "Both every and cron", "remove one", 10},
		{"no schedule", snap("host = host.local\ndatasets = [\"tank\"]"), "Missing schedule", "every", 6},
		{"every too short", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"30s\""), "Interval too short", "minimum of 1m", 9},
		{"every zero", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"0s\""), "Interval too short", "", 9},
		{"every garbage", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"often\""), "Invalid every", "units", 9},
		{"cron never", snap("host = host.local\ndatasets = [\"tank\"]\ncron = \"0 0 30 2 *\""), "Invalid cron expression", "never fires", 9},
		{"bad grid", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\nretention {\n  grid = \"24x1h | 7x1q\"\n}"), "Invalid retention grid", `grid part 2 "7x1q"`, 11},
		{"bad regexp", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\nretention {\n  keep_matching = [\"(\"]\n}"), "Invalid regular expression", "RE2", 11},
		{"empty retention", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\nretention {\n}"), "Retention without rules", "remove the block to keep every snapshot", 10},
		{"two retentions", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\nretention {\n keep_last = 1\n}\nretention {\n keep_last = 2\n}"), "Duplicate retention block", "already has a retention block", 13},
		{"negative keep_last", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\nretention {\n  keep_last = -1\n}"), "Invalid keep_last", "", 11},
		{"exclude outside", snap("host = host.local\ndatasets = [\"tank/a/**\"]\nexclude = [\"tank/b\"]\nevery = \"1h\""), "Exclude pattern matches nothing", "no effect", 9},
		{"missing source", repl("target {\n host = host.nas\n root = \"b\"\n}"), "Missing source block", "", 0},
		{"dangling snapshots", repl("source { snapshots = snapshots.nope }\ntarget {\n host = host.nas\n root = \"b\"\n}"), "Reference to undeclared snapshots block", "No snapshots block named nope; declared snapshots blocks: s.", 13},
		{"source conflict", repl("source {\n snapshots = snapshots.s\n host = host.local\n}\ntarget {\n host = host.nas\n root = \"b\"\n}"), "Conflicting source settings", "remove host", 15},
		{"incomplete source", repl("source {\n host = host.local\n}\ntarget {\n host = host.nas\n root = \"b\"\n}"), "Incomplete source", "both host", 13},
		{"bad id", repl("id = \"a/b\"\nsource { snapshots = snapshots.s }\ntarget {\n host = host.nas\n root = \"b\"\n}"), "Invalid replication id", "hold tags", 13},
		{"long id", repl("id = \"" + strings.Repeat("x", 65) + "\"\nsource { snapshots = snapshots.s }\ntarget {\n host = host.nas\n root = \"b\"\n}"), "Invalid replication id", "longer than 64", 13},
		{"bad enum", repl("raw = \"sometimes\"\nsource { snapshots = snapshots.s }\ntarget {\n host = host.nas\n root = \"b\"\n}"), "Invalid raw", `"auto", "always", "never"`, 13},
		{"bad initial", repl("initial = \"newest\"\nsource { snapshots = snapshots.s }\ntarget {\n host = host.nas\n root = \"b\"\n}"), "Invalid initial", `initial = "newest" is not one of: "most_recent", "all" (default "most_recent").`, 13},
		{"bad on_divergence", repl("on_divergence = \"overwrite\"\nsource { snapshots = snapshots.s }\ntarget {\n host = host.nas\n root = \"b\"\n}"), "Invalid on_divergence", `"refuse", "rollback" (default "refuse")`, 13},
		{"bad root", repl("source { snapshots = snapshots.s }\ntarget {\n host = host.nas\n root = \"b/\"\n}"), "Invalid target root", "trailing /", 16},
		{"strip outside", repl("source { snapshots = snapshots.s }\ntarget {\n host = host.nas\n root = \"b\"\n strip_prefix = \"other\"\n}"), "Source outside strip_prefix", "tank/data is not other", 17},
		{"target in source", repl("source { snapshots = snapshots.s }\ntarget {\n host = host.local\n root = \"tank/data/backup\"\n}"), "Target inside the source", "exclude", 14},
		{"skip_unchanged not a bool", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\nskip_unchanged = 3"), "Incorrect attribute value type", "skip_unchanged must be true or false", 10},
		{"keep_unsent_for garbage", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\nretention {\n keep_last = 1\n keep_unsent_for = \"soon\"\n}"), "Invalid keep_unsent_for", "units", 12},
		{"keep_unsent_for zero", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\nretention {\n keep_last = 1\n keep_unsent_for = \"0s\"\n}"), "Invalid keep_unsent_for", "prune_unsent = true", 12},
		{"keep_unsent_for and prune_unsent", snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\nretention {\n keep_last = 1\n prune_unsent = true\n keep_unsent_for = \"14d\"\n}"), "Both prune_unsent and keep_unsent_for", "Remove one", 13},
		{"keep_unsent_for on target", repl("source { snapshots = snapshots.s }\ntarget {\n host = host.nas\n root = \"b\"\n retention {\n keep_last = 1\n keep_unsent_for = \"14d\"\n}\n}"), "Unsupported argument", "grid, keep_last, keep_matching, adopt_foreign", 19},
		{"prune_unsent on target", repl("source { snapshots = snapshots.s }\ntarget {\n host = host.nas\n root = \"b\"\n retention {\n keep_last = 1\n prune_unsent = true\n}\n}"), "Unsupported argument", "grid, keep_last, keep_matching, adopt_foreign", 19},
		{"duplicate ids", map[string]string{"main.hcl": hostsHCL + `
replication "a" {
  id = "x"
  source {
    host     = host.local
    datasets = ["tank"]
  }
  target {
    host = host.nas
    root = "b1"
  }
}
replication "x" {
  source {
    host     = host.local
    datasets = ["tank"]
  }
  target {
    host = host.nas
    root = "b2"
  }
}
`}, "Duplicate replication id", `both have the id "x"`, 18},
		{"local cycle", map[string]string{"main.hcl": "locals {\n  a = local.b\n  b = local.a\n}\n"}, "Cycle in local values", "local.a, local.b", 2},
		{"undefined var", map[string]string{"main.hcl": "host \"x\" {\n  address = var.nope\n}\n"}, "Unsupported attribute", "", 2},
		{"required variable", map[string]string{"main.hcl": "variable \"v\" {}\n"}, "No value for required variable", "-var v=VALUE or the environment variable ZPLAN_VAR_v", 1},
		{"no files", map[string]string{"README": "x"}, "No configuration files", "main.zplan.hcl", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := load(t, tc.files)
			for _, d := range diags {
				if d.Summary != tc.summary {
					continue
				}
				if !strings.Contains(d.Detail, tc.detail) {
					t.Fatalf("detail %q does not contain %q", d.Detail, tc.detail)
				}
				if tc.line != 0 && (d.Subject == nil || d.Subject.Start.Line != tc.line) {
					t.Fatalf("subject %v, want line %d", d.Subject, tc.line)
				}
				if d.Subject != nil && !strings.HasSuffix(d.Subject.Filename, ".hcl") {
					t.Fatalf("subject file %q", d.Subject.Filename)
				}
				return
			}
			t.Fatalf("no diagnostic %q among:\n%v", tc.summary, diags)
		})
	}
}

func TestLoadKeepUnsentFor(t *testing.T) {
	cfg, diags := load(t, snap("host = host.local\ndatasets = [\"tank\"]\nevery = \"1h\"\nretention {\n keep_last = 1\n keep_unsent_for = \"14d\"\n}"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := cfg.Snapshots[0].Retention.KeepUnsentFor; got != 14*24*time.Hour {
		t.Errorf("keep_unsent_for = %v, want 336h", got)
	}
	if cfg.Snapshots[0].SkipUnchanged {
		t.Error("skip_unchanged defaults to true, want false")
	}
}

func TestLoadVariables(t *testing.T) {
	files := map[string]string{"main.hcl": `
variable "pool" { default = "tank" }
variable "port" { default = 22 }
variable "keys" { default = ["a"] }
host "h" {
  address        = "x"
  port           = var.port
  identity_files = var.keys
  user           = var.pool
}
`}
	env := func(m map[string]string) Option {
		return WithLookupEnv(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
	}
	cases := []struct {
		name string
		opts []Option
		user string
		port int
		keys []string
		err  string
	}{
		{"defaults", nil, "tank", 22, []string{"a"}, ""},
		{"env", []Option{env(map[string]string{"ZPLAN_VAR_pool": "envpool", "ZPLAN_VAR_port": "2222"})}, "envpool", 2222, []string{"a"}, ""},
		{"-var wins over env", []Option{env(map[string]string{"ZPLAN_VAR_pool": "envpool"}), WithVars(map[string]string{"pool": "clipool"})}, "clipool", 22, []string{"a"}, ""},
		{"list from -var", []Option{WithVars(map[string]string{"keys": `["k1", "k2"]`})}, "tank", 22, []string{"k1", "k2"}, ""},
		{"bad number", []Option{WithVars(map[string]string{"port": "ssh"})}, "", 0, nil, "does not fit variable"},
		{"undeclared", []Option{WithVars(map[string]string{"poool": "x"})}, "", 0, nil, `no variable "poool" is declared`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := load(t, files, tc.opts...)
			if tc.err != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.err) {
					t.Fatalf("diags %v, want error containing %q", diags, tc.err)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			h := cfg.Hosts[0]
			if h.User != tc.user || h.Port != tc.port || !reflect.DeepEqual(h.IdentityFiles, tc.keys) {
				t.Fatalf("host = %+v", h)
			}
		})
	}
}

func TestLoadHashAndFiles(t *testing.T) {
	files := map[string]string{"a.hcl": "host \"a\" {}\n", "b.zplan.hcl": "host \"b\" {}\n", "notes.txt": "not config", ".hidden.hcl": "garbage {"}
	dir1, dir2 := writeFiles(t, files), writeFiles(t, files)
	c1, d1 := Load(dir1)
	c2, d2 := Load(dir2)
	if d1.HasErrors() || d2.HasErrors() {
		t.Fatal(d1, d2)
	}
	if c1.Hash != c2.Hash {
		t.Errorf("same files in two directories hash differently")
	}
	if len(c1.Files) != 2 || c1.Hosts[0].Name != "a" || c1.Hosts[1].Name != "b" {
		t.Errorf("files %v hosts %v", c1.Files, c1.Hosts)
	}
	files["b.zplan.hcl"] = "host \"b\" { }\n"
	c3, _ := Load(writeFiles(t, files))
	if c3.Hash == c1.Hash {
		t.Errorf("changed file, same hash")
	}
	one, d := Load(filepath.Join(dir1, "a.hcl"))
	if d.HasErrors() || len(one.Hosts) != 1 || len(one.Files) != 1 {
		t.Errorf("single file: %v %v", one.Hosts, d)
	}
}

func TestFormat(t *testing.T) {
	got := string(Format([]byte("host \"a\" {\naddress=\"x\"\n    port = 22\n}\n")))
	want := "host \"a\" {\n  address = \"x\"\n  port    = 22\n}\n"
	if got != want {
		t.Fatalf("Format = %q, want %q", got, want)
	}
}

func TestWriteDiagnosticsSnippet(t *testing.T) {
	cfg, diags := load(t, snap("host = host.nope\ndatasets = [\"tank\"]\nevery = \"1h\""))
	var sb strings.Builder
	if err := WriteDiagnostics(&sb, cfg.Files, diags, 0, false); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{"Error: Reference to undeclared host", "main.hcl line 7", "host = host.nope", "declared hosts: local, nas"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
