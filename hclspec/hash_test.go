package hclspec

import (
	"testing"
)

// A saved plan records the configuration hash; -var and ZPLAN_VAR_ values
// change what the files mean, so they must change the hash too.
func TestHashCoversVariables(t *testing.T) {
	files := map[string]string{"main.hcl": `
variable "pool" {
  default = "tank"
}
variable "port" {
  default = 22
}
host "a" {
  address = "a.example"
  port    = var.port
}
snapshots "s" {
  host     = host.a
  datasets = ["${var.pool}/data"]
  every    = "1h"
}
`}
	dir := writeFiles(t, files)
	env := func(m map[string]string) Option {
		return WithLookupEnv(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
	}
	hash := func(opts ...Option) string {
		t.Helper()
		cfg, diags := Load(dir, append([]Option{env(nil)}, opts...)...)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return cfg.Hash
	}
	def := hash()
	cases := []struct {
		name string
		opts []Option
		same bool // hash equals the one with the defaults
	}{
		{"no variables set", nil, true},
		{"-var equal to the default", []Option{WithVars(map[string]string{"pool": "tank"})}, true},
		{"-var pool", []Option{WithVars(map[string]string{"pool": "other"})}, false},
		{"ZPLAN_VAR_pool", []Option{env(map[string]string{"ZPLAN_VAR_pool": "other"})}, false},
		{"-var port", []Option{WithVars(map[string]string{"port": "2222"})}, false},
		{"unrelated environment variable", []Option{env(map[string]string{"ZPLAN_VAR_nope": "x", "HOME": "/x"})}, true},
	}
	for _, c := range cases {
		if got := hash(c.opts...); (got == def) != c.same {
			t.Errorf("%s: hash %s, defaults %s, want same=%v", c.name, got, def, c.same)
		}
	}
	if a, b := hash(WithVars(map[string]string{"pool": "other"})), hash(env(map[string]string{"ZPLAN_VAR_pool": "other"})); a != b {
		t.Errorf("the same value from -var and from the environment hashes differently: %s %s", a, b)
	}
	if a, b := hash(WithVars(map[string]string{"pool": "x", "port": "1"})), hash(WithVars(map[string]string{"pool": "x", "port": "2"})); a == b {
		t.Error("two values of port, one hash")
	}
}

// Without variables the hash stays that of the files, so plans saved
// before variables counted still match.
func TestHashWithoutVariablesIsFilesOnly(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.hcl": "host \"a\" {}\n"})
	c1, d1 := Load(dir, WithLookupEnv(func(string) (string, bool) { return "", false }))
	c2, d2 := Load(dir, WithLookupEnv(func(k string) (string, bool) { return "x", true }))
	if d1.HasErrors() || d2.HasErrors() || c1.Hash != c2.Hash || len(c1.Hash) != 64 {
		t.Fatalf("hash %q vs %q (%v %v)", c1.Hash, c2.Hash, d1, d2)
	}
}
