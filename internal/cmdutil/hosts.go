package cmdutil

import (
	"context"
	"fmt"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/remote"
)

// ConnectHosts opens every host the configuration declares. SSH hosts
// are checked now but dialled on their first command, so hosts a plan
// never uses cost nothing.
func ConnectHosts(ctx context.Context, cfg *hclspec.Config) (map[string]remote.Host, func(), error) {
	hosts := map[string]remote.Host{}
	closeAll := func() {
		for _, h := range hosts {
			h.Close()
		}
	}
	for _, h := range cfg.Hosts {
		if h.Local() {
			hosts[h.Name] = remote.NewLocal(h.Name, h.CommandPrefix...)
			continue
		}
		sh, err := remote.DialSSH(ctx, remote.SSHConfig{
			Name: h.Name, Address: h.Address, Port: h.Port, User: h.User,
			IdentityFiles: h.IdentityFiles, UseAgent: h.UseAgent,
			KnownHostsFiles: h.KnownHostsFiles, InsecureIgnoreHostKey: h.InsecureIgnoreHostKey,
			CommandPrefix: h.CommandPrefix, ConnectTimeout: h.ConnectTimeout, CommandTimeout: h.CommandTimeout,
			SSHConfigFile: h.SSHConfigFile, Lazy: true,
		})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("host %q: %w", h.Name, err)
		}
		hosts[h.Name] = sh
	}
	return hosts, closeAll, nil
}

// usedHosts returns only the hosts a policy refers to, so that plan does
// not observe (or fail on) hosts nothing uses.
func usedHosts(cfg *hclspec.Config, all map[string]remote.Host) map[string]remote.Host {
	used := map[string]remote.Host{}
	for _, s := range cfg.Snapshots {
		used[s.Host] = all[s.Host]
	}
	for _, r := range cfg.Replications {
		for _, n := range []string{r.SourceHost, r.TargetHost} {
			if n != "" {
				used[n] = all[n]
			}
		}
	}
	for n, h := range used {
		if h == nil {
			delete(used, n)
		}
	}
	return used
}
