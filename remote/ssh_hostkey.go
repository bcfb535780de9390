package remote

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError reports a host key that is not trusted: unknown (not in
// any known_hosts file), changed (a different key is recorded for the
// host), or revoked. zplan never trusts a key on first use.
type HostKeyError struct {
	Host        string // name in the zplan config
	Address     string // what known_hosts was searched for, host:port
	KeyType     string // offered key's type, e.g. ssh-ed25519
	Fingerprint string // offered key's SHA256 fingerprint
	Changed     bool   // known_hosts holds other keys for the host
	Revoked     bool
	Known       []string // file:line of the recorded keys, when Changed
	KnownHosts  []string // files searched
}

func (e *HostKeyError) Error() string {
	host, port := splitHostPort(e.Address)
	file := "~/.ssh/known_hosts"
	if len(e.KnownHosts) > 0 {
		file = e.KnownHosts[0]
	}
	scan := fmt.Sprintf("ssh-keyscan -p %s -t %s %s >> %s", port, keyscanType(e.KeyType), host, file)
	if e.Fingerprint == "" {
		scan = fmt.Sprintf("ssh-keyscan -p %s %s >> %s", port, host, file)
	}
	switch {
	case e.Revoked:
		return fmt.Sprintf("host %s: the host key of %s (%s %s) is marked @revoked in known_hosts; refusing to connect",
			e.Host, e.Address, e.KeyType, e.Fingerprint)
	case e.Changed:
		entry := host
		if port != "22" {
			entry = "[" + host + "]:" + port
		}
		return fmt.Sprintf("host %s: HOST KEY MISMATCH for %s: the server offers %s %s but known_hosts has other keys (%s). "+
			"Someone may be intercepting the connection, or the host was reinstalled. Check the fingerprint on the host "+
			"(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub); if the change is expected, remove the old entry with "+
			"ssh-keygen -R '%s' -f %s and add the new key with: %s",
			e.Host, e.Address, e.KeyType, e.Fingerprint, strings.Join(e.Known, ", "), entry, file, scan)
	}
	return fmt.Sprintf("host %s: unknown host key for %s: %s %s is not in %s. zplan does not trust keys on first use: "+
		"check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then add it with: %s",
		e.Host, e.Address, e.KeyType, e.Fingerprint, strings.Join(e.KnownHosts, ", "), scan)
}

func splitHostPort(a string) (string, string) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return a, "22"
	}
	return h, p
}

func keyscanType(t string) string {
	switch {
	case strings.Contains(t, "ed25519"):
		return "ed25519"
	case strings.Contains(t, "ecdsa"):
		return "ecdsa"
	case strings.Contains(t, "rsa"):
		return "rsa"
	}
	return t
}

type hostKeyChecker struct {
	lookupAddr string // host:port (or HostKeyAlias:port) searched in known_hosts
	algorithms []string
	known      []string // file:line of the keys known_hosts has for the host
	callback   ssh.HostKeyCallback
	err        error // the verdict on the offered key, for a clear message
}

// probeKey never matches a real host key; checking it makes knownhosts
// list the keys it has for a host.
var probeKey = func() ssh.PublicKey {
	k, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		panic(err)
	}
	return k
}()

func newHostKeyChecker(r *resolved) (*hostKeyChecker, error) {
	hk := &hostKeyChecker{lookupAddr: r.addr()}
	if r.hostKeyAlias != "" {
		hk.lookupAddr = net.JoinHostPort(r.hostKeyAlias, strconv.Itoa(r.port))
	}
	if r.insecure {
		hk.callback = ssh.InsecureIgnoreHostKey()
		return hk, nil
	}
	var files []string
	for _, f := range r.knownHosts {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("host %s: known_hosts: %w", r.name, err)
		}
	}
	db, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("host %s: read known_hosts: %w", r.name, err)
	}
	// Offer only the key types known for this host, in the order they
	// are recorded, so the server presents a key we can check rather than
	// its preferred type (which would look like a changed key).
	fake := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: r.port}
	var ke *knownhosts.KeyError
	if err := db(hk.lookupAddr, fake, probeKey); errors.As(err, &ke) {
		seen := map[string]bool{}
		for _, k := range ke.Want {
			hk.known = append(hk.known, fmt.Sprintf("%s:%d %s %s", k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key)))
			for _, a := range hostKeyAlgorithms(k.Key.Type()) {
				if !seen[a] {
					seen[a] = true
					hk.algorithms = append(hk.algorithms, a)
				}
			}
		}
	}
	hk.callback = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := db(hk.lookupAddr, remote, key)
		if err == nil {
			return nil
		}
		e := &HostKeyError{
			Host:        r.name,
			Address:     hk.lookupAddr,
			KeyType:     key.Type(),
			Fingerprint: ssh.FingerprintSHA256(key),
			KnownHosts:  r.knownHosts,
		}
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			e.Revoked = true
		case errors.As(err, &ke):
			if len(ke.Want) > 0 {
				e.Changed = true
				for _, k := range ke.Want {
					e.Known = append(e.Known, fmt.Sprintf("%s:%d %s %s", k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key)))
				}
			}
		default:
			return fmt.Errorf("host %s: check host key: %w", r.name, err)
		}
		hk.err = e
		return e
	}
	return hk, nil
}

// hostKeyAlgorithms maps a key type to the signature algorithms that
// prove it, best first.
func hostKeyAlgorithms(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{keyType}
}
