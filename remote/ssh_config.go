package remote

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sshconfig "github.com/kevinburke/ssh_config"
)

// resolved is an SSHConfig merged with ~/.ssh/config: explicit settings
// win, the ssh config fills the gaps, OpenSSH's defaults fill the rest.
type resolved struct {
	name          string
	alias         string // what the user wrote (for ssh config and messages)
	hostname      string // what we dial
	port          int
	user          string
	identityFiles []string
	explicitIDs   bool // identity files were named, not defaults
	agentSocket   string
	knownHosts    []string
	// explicitKnownHosts are the known_hosts files set in zplan
	// (expanded), also trusted for the host's jump hosts.
	explicitKnownHosts []string
	hostKeyAlias       string
	proxyJump          []string // jump hosts, outermost first
	connectTimeout     time.Duration
	keepAlive          time.Duration
	prefix             []string
	insecure           bool
	maxSessions        int
	commandTimeout     time.Duration // 0: none
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "/"
}

func expandTilde(p string) string {
	if p == "~" {
		return homeDir()
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(), p[2:])
	}
	return p
}

// loadSSHConfig parses the user's ssh config. A missing default file is
// fine; a missing file that was named explicitly is an error.
func loadSSHConfig(path string) (*sshconfig.Config, string, error) {
	explicit := path != ""
	if !explicit {
		path = filepath.Join(homeDir(), ".ssh", "config")
	}
	path = expandTilde(path)
	f, err := os.Open(path)
	if err != nil {
		if !explicit && os.IsNotExist(err) {
			return nil, path, nil
		}
		return nil, path, fmt.Errorf("read ssh config: %w", err)
	}
	defer f.Close()
	c, err := sshconfig.Decode(f)
	if err != nil {
		return nil, path, fmt.Errorf("parse ssh config %s: %w", path, err)
	}
	return c, path, nil
}

type sshCfgLookup struct {
	c    *sshconfig.Config
	path string
}

func (l sshCfgLookup) get(alias, key string) (string, error) {
	if l.c == nil {
		return "", nil
	}
	v, err := l.c.Get(alias, key)
	if err != nil {
		return "", fmt.Errorf("ssh config %s: %s for %s: %w", l.path, key, alias, err)
	}
	return strings.TrimSpace(v), nil
}

func (l sshCfgLookup) getAll(alias, key string) ([]string, error) {
	if l.c == nil {
		return nil, nil
	}
	v, err := l.c.GetAll(alias, key)
	if err != nil {
		return nil, fmt.Errorf("ssh config %s: %s for %s: %w", l.path, key, alias, err)
	}
	return v, nil
}

// expandTokens handles the ssh_config(5) tokens that make sense here.
func expandTokens(s string, r *resolved, localUser string) string {
	if !strings.Contains(s, "%") {
		return expandTilde(s)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case 'h':
			b.WriteString(r.hostname)
		case 'n':
			b.WriteString(r.alias)
		case 'p':
			b.WriteString(strconv.Itoa(r.port))
		case 'r':
			b.WriteString(r.user)
		case 'u':
			b.WriteString(localUser)
		case 'd':
			b.WriteString(homeDir())
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return expandTilde(b.String())
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// resolve merges cfg with the ssh config file.
func resolve(cfg SSHConfig) (*resolved, error) {
	if cfg.Address == "" {
		return nil, fmt.Errorf("host %s: no address", cfg.Name)
	}
	c, path, err := loadSSHConfig(cfg.SSHConfigFile)
	if err != nil {
		return nil, err
	}
	return resolveWith(cfg, sshCfgLookup{c: c, path: path})
}

func resolveWith(cfg SSHConfig, l sshCfgLookup) (*resolved, error) {
	alias := cfg.Address
	userPart := ""
	// Accept user@host and host:port in Address, like ssh does for
	// ProxyJump entries; explicit fields still win.
	if i := strings.LastIndex(alias, "@"); i >= 0 {
		userPart, alias = alias[:i], alias[i+1:]
	}
	portPart := 0
	if h, p, err := net.SplitHostPort(alias); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("host %s: bad port in address %q", cfg.Name, cfg.Address)
		}
		alias, portPart = h, n
	}
	localUser := currentUser()
	r := &resolved{
		name:     cfg.Name,
		alias:    alias,
		prefix:   cfg.CommandPrefix,
		insecure: cfg.InsecureIgnoreHostKey,
	}
	if r.name == "" {
		r.name = alias
	}
	get := func(key string) (string, error) { return l.get(alias, key) }

	hn, err := get("HostName")
	if err != nil {
		return nil, err
	}
	r.hostname = alias
	if hn != "" {
		r.hostname = strings.ReplaceAll(hn, "%h", alias)
	}

	switch {
	case cfg.Port != 0:
		r.port = cfg.Port
	case portPart != 0:
		r.port = portPart
	default:
		r.port = 22
		p, err := get("Port")
		if err != nil {
			return nil, err
		}
		if p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return nil, fmt.Errorf("ssh config %s: bad Port %q for %s", l.path, p, alias)
			}
			r.port = n
		}
	}

	switch {
	case cfg.User != "":
		r.user = cfg.User
	case userPart != "":
		r.user = userPart
	default:
		u, err := get("User")
		if err != nil {
			return nil, err
		}
		if u == "" {
			u = localUser
		}
		r.user = u
	}

	if len(cfg.IdentityFiles) > 0 {
		r.explicitIDs = true
		for _, f := range cfg.IdentityFiles {
			r.identityFiles = append(r.identityFiles, expandTokens(f, r, localUser))
		}
	} else {
		ids, err := l.getAll(alias, "IdentityFile")
		if err != nil {
			return nil, err
		}
		for _, f := range ids {
			r.explicitIDs = true
			r.identityFiles = append(r.identityFiles, expandTokens(f, r, localUser))
		}
		if len(ids) == 0 {
			for _, f := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
				r.identityFiles = append(r.identityFiles, filepath.Join(homeDir(), ".ssh", f))
			}
		}
	}

	if cfg.UseAgent {
		r.agentSocket = os.Getenv("SSH_AUTH_SOCK")
		ia, err := get("IdentityAgent")
		if err != nil {
			return nil, err
		}
		switch {
		case ia == "none":
			r.agentSocket = ""
		case ia == "SSH_AUTH_SOCK" || ia == "":
		case strings.HasPrefix(ia, "$"):
			r.agentSocket = os.Getenv(strings.TrimPrefix(ia, "$"))
		default:
			r.agentSocket = expandTokens(ia, r, localUser)
		}
	}

	// Like OpenSSH, the user's files (zplan's known_hosts, else
	// UserKnownHostsFile) come first, for the messages that say where to
	// add a key, and the system-wide GlobalKnownHostsFile is read too.
	if len(cfg.KnownHostsFiles) > 0 {
		for _, f := range cfg.KnownHostsFiles {
			r.explicitKnownHosts = append(r.explicitKnownHosts, expandTokens(f, r, localUser))
		}
		r.knownHosts = append(r.knownHosts, r.explicitKnownHosts...)
	} else {
		files, err := knownHostsSetting(get, "UserKnownHostsFile", filepath.Join(homeDir(), ".ssh", "known_hosts"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			r.knownHosts = append(r.knownHosts, expandTokens(f, r, localUser))
		}
	}
	global, err := knownHostsSetting(get, "GlobalKnownHostsFile", "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2")
	if err != nil {
		return nil, err
	}
	for _, f := range global {
		r.knownHosts = append(r.knownHosts, expandTokens(f, r, localUser))
	}
	if hka, err := get("HostKeyAlias"); err != nil {
		return nil, err
	} else if hka != "" {
		r.hostKeyAlias = hka
	}

	pc, err := get("ProxyCommand")
	if err != nil {
		return nil, err
	}
	pj, err := get("ProxyJump")
	if err != nil {
		return nil, err
	}
	if pj != "" && pj != "none" {
		for _, j := range strings.Split(pj, ",") {
			if j = strings.TrimSpace(j); j != "" {
				r.proxyJump = append(r.proxyJump, strings.TrimPrefix(j, "ssh://"))
			}
		}
	} else if pc != "" && pc != "none" {
		// Silently connecting directly would bypass what the user set up.
		return nil, fmt.Errorf("host %s: ssh config %s sets ProxyCommand for %s, which zplan does not support; use ProxyJump", r.name, l.path, alias)
	}

	if r.connectTimeout, err = secondsSetting(cfg.ConnectTimeout, get, "ConnectTimeout"); err != nil {
		return nil, err
	}
	if r.keepAlive, err = secondsSetting(cfg.KeepAlive, get, "ServerAliveInterval"); err != nil {
		return nil, err
	}
	switch {
	case cfg.CommandTimeout < 0:
	case cfg.CommandTimeout == 0:
		r.commandTimeout = defaultCommandTimeout
	default:
		r.commandTimeout = cfg.CommandTimeout
	}
	r.maxSessions = cfg.MaxSessions
	if r.maxSessions <= 0 {
		// OpenSSH's MaxSessions defaults to 10 per connection.
		r.maxSessions = 8
	}
	return r, nil
}

// secondsSetting is set when it is not 0, else the ssh config's key (a
// positive number of seconds), else 15s.
func secondsSetting(set time.Duration, get func(string) (string, error), key string) (time.Duration, error) {
	if set != 0 {
		return set, nil
	}
	v, err := get(key)
	if err != nil {
		return 0, err
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	return 15 * time.Second, nil
}

// knownHostsSetting is the files a known_hosts option of the ssh config
// names, else def; "none" names no file.
func knownHostsSetting(get func(string) (string, error), key, def string) ([]string, error) {
	v, err := get(key)
	if err != nil {
		return nil, err
	}
	if v == "" {
		v = def
	}
	var files []string
	for _, f := range strings.Fields(v) {
		if f != "none" {
			files = append(files, f)
		}
	}
	return files, nil
}

func (r *resolved) addr() string { return net.JoinHostPort(r.hostname, strconv.Itoa(r.port)) }

// target is user@host:port for messages.
func (r *resolved) target() string { return r.user + "@" + r.addr() }
