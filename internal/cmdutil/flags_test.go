package cmdutil

import (
	"strings"
	"testing"

	"github.com/zplan/zplan/hclspec"
)

func TestResolveHostPaths(t *testing.T) {
	cfg := &hclspec.Config{Hosts: []*hclspec.Host{{Name: "h",
		IdentityFiles: []string{"keys/id", "/abs/id", "~/.ssh/id"}, KnownHostsFiles: []string{"known"}, SSHConfigFile: ""}}}
	ResolveHostPaths("/etc/zplan", cfg)
	h := cfg.Hosts[0]
	if got := strings.Join(h.IdentityFiles, ","); got != "/etc/zplan/keys/id,/abs/id,~/.ssh/id" || h.KnownHostsFiles[0] != "/etc/zplan/known" || h.SSHConfigFile != "" {
		t.Fatalf("identity %s known %v ssh_config %q", got, h.KnownHostsFiles, h.SSHConfigFile)
	}
}

func TestPath(t *testing.T) {
	c := ConfigFlags{Chdir: "d"}
	for in, want := range map[string]string{"f": "d/f", "/a/f": "/a/f", "-": "-", "": ""} {
		if got := c.Path(in); got != want {
			t.Errorf("Path(%q) = %q, want %q", in, got, want)
		}
	}
	if got := (&ConfigFlags{}).Path("f"); got != "f" {
		t.Errorf("without -chdir: %q", got)
	}
}
