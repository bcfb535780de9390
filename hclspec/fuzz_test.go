package hclspec

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: any configuration text gives diagnostics or a configuration,
// never a panic; a configuration without errors has its hash.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`host "a" {}
snapshots "s" {
  host     = host.a
  datasets = ["tank/**"]
  every    = "15m"
  retention {
    grid      = "1x1h(keep=all) | 24x1h"
    keep_last = 3
  }
}
`))
	f.Add([]byte(`variable "x" { default = "y" }
host "b" { address = var.x }
replication "r" {
  source { snapshots = snapshots.s }
  target { host = host.b, root = "t/b" }
}
`))
	f.Fuzz(func(t *testing.T, src []byte) {
		path := filepath.Join(t.TempDir(), "main.zplan.hcl")
		if err := os.WriteFile(path, src, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, diags := Load(path, WithLookupEnv(func(string) (string, bool) { return "", false }))
		if cfg == nil {
			t.Fatal("Load returned no Config")
		}
		if !diags.HasErrors() && cfg.Hash == "" {
			t.Fatal("a configuration without errors has no hash")
		}
		if !diags.HasErrors() {
			checkCompiles(t, cfg)
		}
	})
}
