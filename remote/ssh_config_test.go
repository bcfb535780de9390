package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestResolveSSHConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "/agent.sock")
	conf := filepath.Join(t.TempDir(), "config")
	text := `Host nas
    HostName nas.example.org
    Port 2222
    User backup
    IdentityFile ~/.ssh/nas_%r_%h
    IdentityFile /keys/second
    UserKnownHostsFile ~/.ssh/kh1 /etc/kh2
    ProxyJump bastion,ops@gw:2200
    ConnectTimeout 7
    ServerAliveInterval 9
    HostKeyAlias nas-key
    IdentityAgent none
    GlobalKnownHostsFile /etc/zplan_global %d/kh3 none

Host *.lan
    User lanuser

Host *
    Port 2200
`
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := resolve(SSHConfig{Name: "n", Address: "nas", UseAgent: true, SSHConfigFile: conf})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if fmtAny(got) != fmtAny(want) {
			t.Errorf("%s: got %v, want %v", what, got, want)
		}
	}
	check("addr", r.addr(), "nas.example.org:2222")
	check("user", r.user, "backup")
	check("identity", r.identityFiles, []string{home + "/.ssh/nas_backup_nas.example.org", "/keys/second"})
	check("known hosts", r.knownHosts, []string{home + "/.ssh/kh1", "/etc/kh2", "/etc/zplan_global", home + "/kh3"})
	check("jump", r.proxyJump, []string{"bastion", "ops@gw:2200"})
	check("timeout", r.connectTimeout, 7*time.Second)
	check("keepalive", r.keepAlive, 9*time.Second)
	check("alias", r.hostKeyAlias, "nas-key")
	check("agent", r.agentSocket, "")

	// Explicit settings win; the first matching block wins per key.
	r, err = resolve(SSHConfig{Name: "n", Address: "nas", Port: 22, User: "root",
		IdentityFiles: []string{"~/k"}, KnownHostsFiles: []string{"/kh"}, SSHConfigFile: conf})
	if err != nil {
		t.Fatal(err)
	}
	check("explicit addr", r.addr(), "nas.example.org:22")
	check("explicit user", r.user, "root")
	check("explicit identity", r.identityFiles, []string{home + "/k"})
	// zplan's known_hosts replaces UserKnownHostsFile only.
	check("explicit known hosts", r.knownHosts, []string{"/kh", "/etc/zplan_global", home + "/kh3"})

	// user@host:port in Address; Host patterns; agent from the env.
	r, err = resolve(SSHConfig{Address: "me@box.lan:2022", UseAgent: true, SSHConfigFile: conf})
	if err != nil {
		t.Fatal(err)
	}
	check("inline", r.target(), "me@box.lan:2022")
	check("agent env", r.agentSocket, "/agent.sock")
	check("default known hosts", r.knownHosts, []string{home + "/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"})
	r, err = resolve(SSHConfig{Address: "box.lan", SSHConfigFile: conf})
	if err != nil {
		t.Fatal(err)
	}
	check("pattern", r.target(), "lanuser@box.lan:2200")

	// A missing default ~/.ssh/config is fine, a named one is not.
	if _, err := resolve(SSHConfig{Address: "x"}); err != nil {
		t.Errorf("no ~/.ssh/config: %v", err)
	}
	if _, err := resolve(SSHConfig{Address: "x", SSHConfigFile: conf + ".missing"}); err == nil {
		t.Error("missing named ssh config accepted")
	}
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		return strings.Join(x, " ")
	case time.Duration:
		return x.String()
	}
	panic("fmtAny: unexpected type")
}
