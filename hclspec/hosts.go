package hclspec

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/zplan/zplan/hclspec/timespec"
)

var hostSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "address"}, {Name: "port"}, {Name: "user"}, {Name: "identity_files"}, {Name: "agent"},
	{Name: "known_hosts"}, {Name: "command_prefix"}, {Name: "connect_timeout"}, {Name: "ssh_config"},
	{Name: "insecure_ignore_host_key"}, {Name: "command_timeout"},
}}

func (d *decoder) host(b *hcl.Block) *Host {
	name := b.Labels[0]
	c := d.content(b.Body, hostSchema, fmt.Sprintf("host %q", name))
	at := c.Attributes
	h := &Host{Name: name, DefRange: b.DefRange}
	h.Address, _ = d.str(at, "address", "")
	h.User, _ = d.str(at, "user", "")
	h.IdentityFiles, _ = d.strList(at, "identity_files")
	h.UseAgent, _ = d.boolean(at, "agent", true)
	h.KnownHostsFiles, _ = d.strList(at, "known_hosts")
	h.CommandPrefix, _ = d.strList(at, "command_prefix")
	h.SSHConfigFile, _ = d.str(at, "ssh_config", "")
	h.InsecureIgnoreHostKey, _ = d.boolean(at, "insecure_ignore_host_key", false)
	var portAttr *hcl.Attribute
	h.Port, portAttr = d.integer(at, "port", 0)
	if portAttr != nil && (h.Port < 1 || h.Port > 65535) {
		d.errorf(portAttr.Expr.Range().Ptr(), "Invalid port", "port %d is not a TCP port; use a number from 1 to 65535 (default: 22, or Port from the ssh config).", h.Port)
	}
	if a := at["connect_timeout"]; a != nil {
		if s, _ := d.str(at, "connect_timeout", ""); s != "" {
			dur, err := timespec.ParseDuration(s)
			if err != nil {
				d.errorf(a.Expr.Range().Ptr(), "Invalid connect_timeout", "%v.", err)
			}
			h.ConnectTimeout = dur
		}
	}
	if a := at["command_timeout"]; a != nil {
		if s, _ := d.str(at, "command_timeout", ""); s == "none" {
			h.CommandTimeout = -1 // no limit
		} else if s != "" {
			dur, err := timespec.ParseDuration(s)
			if err != nil || dur <= 0 {
				d.errorf(a.Expr.Range().Ptr(), "Invalid command_timeout", "command_timeout %q: write a duration such as 30m or 2h, or \"none\" for no limit.", s)
			}
			h.CommandTimeout = dur
		}
	}
	if h.Address == "" {
		// A host without an address is the controller itself; SSH settings
		// on it are almost certainly a forgotten address.
		for _, n := range []string{"port", "user", "identity_files", "known_hosts", "connect_timeout", "ssh_config", "insecure_ignore_host_key", "agent", "command_timeout"} {
			if a := at[n]; a != nil {
				d.errorf(a.NameRange.Ptr(), "SSH setting on a local host",
					"host %q has no address, so zplan runs its commands locally and %s does not apply. Set address (a DNS name, IP address or ~/.ssh/config alias) to reach it over SSH, or remove %s.", name, n, n)
			}
		}
	} else if strings.ContainsAny(h.Address, " \t@") {
		d.errorf(at["address"].Expr.Range().Ptr(), "Invalid address",
			"address %q must be a host name, IP address or ssh config alias, without spaces; set the login name with user, not user@host.", h.Address)
	}
	if h.InsecureIgnoreHostKey {
		d.warnf(at["insecure_ignore_host_key"].Expr.Range().Ptr(), "Host key checking is disabled",
			"host %q accepts any SSH host key, so anyone on the network path can impersonate it. Use this only in a lab; list the key in known_hosts instead.", name)
	}
	return h
}

// hostRef resolves an expression like host.nas.
func (d *decoder) hostRef(a *hcl.Attribute) (string, bool) {
	return d.ref(a, "host", keys(d.hosts))
}
