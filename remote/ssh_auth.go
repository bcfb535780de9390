package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// authSet holds the keys offered to a host.
type authSet struct {
	signers []ssh.Signer
	files   []string // files whose keys were loaded
	notes   []string // why some keys could not be used
	agent   agent.ExtendedAgent
	agentNC net.Conn
}

func newAuthSet(r *resolved) (*authSet, error) {
	a := &authSet{}
	for _, f := range r.identityFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && !r.explicitIDs {
				continue
			}
			a.notes = append(a.notes, fmt.Sprintf("%s: %v", f, err))
			continue
		}
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			var pm *ssh.PassphraseMissingError
			if errors.As(err, &pm) {
				a.notes = append(a.notes, fmt.Sprintf("%s is encrypted (load it into ssh-agent and enable the agent)", f))
			} else {
				a.notes = append(a.notes, fmt.Sprintf("%s: %v", f, err))
			}
			continue
		}
		a.signers = append(a.signers, s)
		a.files = append(a.files, f)
	}
	if r.agentSocket != "" {
		nc, err := net.Dial("unix", r.agentSocket)
		if err != nil {
			a.notes = append(a.notes, fmt.Sprintf("ssh-agent at %s: %v", r.agentSocket, err))
		} else {
			a.agentNC = nc
			a.agent = agent.NewClient(nc)
		}
	}
	if len(a.signers) == 0 && a.agent == nil {
		msg := "no usable private key"
		if len(a.notes) > 0 {
			msg += ": " + strings.Join(a.notes, "; ")
		} else if len(r.identityFiles) > 0 {
			msg += " (looked for " + strings.Join(r.identityFiles, ", ") + ")"
		}
		return nil, fmt.Errorf("host %s: %s", r.name, msg)
	}
	return a, nil
}

// methods offers the key files first, then the agent's keys; one
// publickey method so that the server's MaxAuthTries counts keys, not
// methods.
func (a *authSet) methods() []ssh.AuthMethod {
	return []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		out := append([]ssh.Signer(nil), a.signers...)
		if a.agent != nil {
			as, err := a.agent.Signers()
			if err == nil {
				seen := map[string]bool{}
				for _, s := range out {
					seen[string(s.PublicKey().Marshal())] = true
				}
				for _, s := range as {
					if !seen[string(s.PublicKey().Marshal())] {
						out = append(out, s)
					}
				}
			}
		}
		return out, nil
	})}
}

func (a *authSet) describe() string {
	var parts []string
	if len(a.files) > 0 {
		parts = append(parts, "keys "+strings.Join(a.files, ", "))
	}
	if a.agent != nil {
		n := "?"
		if ks, err := a.agent.List(); err == nil {
			n = fmt.Sprint(len(ks))
		}
		parts = append(parts, "ssh-agent ("+n+" keys)")
	}
	s := strings.Join(parts, " and ")
	if len(a.notes) > 0 {
		s += "; skipped: " + strings.Join(a.notes, "; ")
	}
	return s
}

func (a *authSet) close() {
	if a != nil && a.agentNC != nil {
		a.agentNC.Close()
	}
}
