package remote

import (
	"bytes"
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
// host), revoked, or a host certificate that is not valid for it.
// zplan never trusts a key on first use.
type HostKeyError struct {
	Host        string // name in the zplan config
	Address     string // what known_hosts was searched for, host:port
	KeyType     string // offered key's type, e.g. ssh-ed25519
	Fingerprint string // offered key's SHA256 fingerprint
	Changed     bool   // known_hosts holds other keys for the host
	Revoked     bool
	Cert        bool     // the offered key is a host certificate
	CA          string   // SHA256 fingerprint of the certificate's signer
	Reason      string   // why a certificate (or a plain key where only a CA is trusted) is refused
	Known       []string // file:line of the recorded keys when Changed, of the @revoked line when Revoked
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
	entry := host
	if port != "22" {
		entry = "[" + host + "]:" + port
	}
	switch {
	case e.Revoked:
		return fmt.Sprintf("host %s: the host key of %s (%s %s) is marked @revoked in known_hosts (%s); refusing to connect",
			e.Host, e.Address, e.KeyType, e.Fingerprint, strings.Join(e.Known, ", "))
	case e.Cert:
		return fmt.Sprintf("host %s: host certificate of %s (%s for key %s, signed by %s) refused: %s. "+
			"If the authority is yours, trust it for the host with a line '@cert-authority %s <CA public key>' in %s; "+
			"if the certificate is wrong, issue a new one on the host (ssh-keygen -s CA_KEY -h -n %s /etc/ssh/ssh_host_*_key.pub)",
			e.Host, e.Address, e.KeyType, e.Fingerprint, e.CA, e.Reason, entry, file, host)
	case e.Reason != "":
		return fmt.Sprintf("host %s: host key of %s (%s %s) refused: %s; set HostCertificate in the host's sshd_config, "+
			"or add its key with: %s", e.Host, e.Address, e.KeyType, e.Fingerprint, e.Reason, scan)
	case e.Changed:
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
	onlyCA     bool     // known_hosts trusts CAs for the host but has none of its keys
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

// certAlgorithms are the host certificate types asked for when
// known_hosts trusts a certificate authority for the host: the CA's own
// key type says nothing about the type of the host keys it signs.
var certAlgorithms = []string{
	ssh.CertAlgoED25519v01,
	ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
}

// knownHostsMarks records, per file:line, the known_hosts lines with a
// marker, which knownhosts does not report: its KeyError lists
// @cert-authority keys among the host's keys, as if they were host keys.
type knownHostsMarks struct {
	ca      map[string]bool   // file:line of @cert-authority lines
	revoked map[string]string // key blob → file:line of its @revoked line
}

func readMarks(files []string) (*knownHostsMarks, error) {
	m := &knownHostsMarks{ca: map[string]bool{}, revoked: map[string]string{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		// Numbered like knownhosts does: every line counts.
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "@") {
				continue
			}
			marker, _, key, _, _, err := ssh.ParseKnownHosts([]byte(line))
			if err != nil {
				continue // knownhosts.New has already refused bad lines
			}
			at := fmt.Sprintf("%s:%d", f, i+1)
			switch marker {
			case "cert-authority":
				m.ca[at] = true
			case "revoked":
				m.revoked[string(key.Marshal())] = at
			}
		}
	}
	return m, nil
}

// revokedAt is where key, or the key a certificate certifies or was
// signed by, is marked @revoked ("" if nowhere).
func (m *knownHostsMarks) revokedAt(key ssh.PublicKey) string {
	if c, ok := key.(*ssh.Certificate); ok {
		if at := m.revoked[string(c.Key.Marshal())]; at != "" {
			return at
		}
		return m.revoked[string(c.SignatureKey.Marshal())]
	}
	return m.revoked[string(key.Marshal())]
}

func describeKnown(k knownhosts.KnownKey, ca bool) string {
	s := fmt.Sprintf("%s:%d %s %s", k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key))
	if ca {
		s += " (@cert-authority)"
	}
	return s
}

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
	marks, err := readMarks(files)
	if err != nil {
		return nil, fmt.Errorf("host %s: read known_hosts: %w", r.name, err)
	}
	// The probe lists every line whose host pattern matches: the host's
	// own keys and the certificate authorities trusted for it.
	var plain, cas []knownhosts.KnownKey
	fake := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: r.port}
	var ke *knownhosts.KeyError
	if err := db(hk.lookupAddr, fake, probeKey); errors.As(err, &ke) {
		for _, k := range ke.Want {
			ca := marks.ca[fmt.Sprintf("%s:%d", k.Filename, k.Line)]
			hk.known = append(hk.known, describeKnown(k, ca))
			if ca {
				cas = append(cas, k)
			} else {
				plain = append(plain, k)
			}
		}
	}
	// Offer only the key types we can check, certificates first (like
	// OpenSSH), then the recorded key types in their order, so the server
	// presents a key we can verify rather than its preferred type (which
	// would look like a changed key).
	seen := map[string]bool{}
	add := func(algs ...string) {
		for _, a := range algs {
			if !seen[a] {
				seen[a] = true
				hk.algorithms = append(hk.algorithms, a)
			}
		}
	}
	if len(cas) > 0 {
		add(certAlgorithms...)
		hk.onlyCA = len(plain) == 0
	}
	for _, k := range plain {
		add(hostKeyAlgorithms(k.Key.Type())...)
	}

	newErr := func(key ssh.PublicKey) *HostKeyError {
		e := &HostKeyError{
			Host:        r.name,
			Address:     hk.lookupAddr,
			KeyType:     key.Type(),
			Fingerprint: ssh.FingerprintSHA256(key),
			KnownHosts:  r.knownHosts,
		}
		if c, ok := key.(*ssh.Certificate); ok {
			// The certified key is what ssh-keygen -lf shows on the host.
			e.Fingerprint = ssh.FingerprintSHA256(c.Key)
			e.Cert = true
			e.CA = ssh.FingerprintSHA256(c.SignatureKey)
		}
		return e
	}
	checker := &ssh.CertChecker{
		// Only the authorities whose @cert-authority pattern matches
		// this host may sign its certificate.
		IsHostAuthority: func(auth ssh.PublicKey, _ string) bool {
			for _, k := range cas {
				if bytes.Equal(k.Key.Marshal(), auth.Marshal()) {
					return true
				}
			}
			return false
		},
		IsRevoked: func(c *ssh.Certificate) bool { return marks.revokedAt(c) != "" },
		// A plain key must be one of the host's own keys: a CA key
		// offered as a host key is not trusted.
		HostKeyFallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			for _, k := range plain {
				if bytes.Equal(k.Key.Marshal(), key.Marshal()) {
					return nil
				}
			}
			e := newErr(key)
			if len(plain) > 0 {
				e.Changed = true
				for _, k := range plain {
					e.Known = append(e.Known, describeKnown(k, false))
				}
			} else if len(cas) > 0 {
				e.Reason = "known_hosts trusts only a certificate authority for it, but the server offered a plain key"
			}
			return e
		},
	}
	hk.callback = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		if at := marks.revokedAt(key); at != "" {
			e := newErr(key)
			e.Revoked = true
			e.Known = []string{at}
			hk.err = e
			return e
		}
		err := checker.CheckHostKey(hk.lookupAddr, remote, key)
		if err == nil {
			return nil
		}
		var e *HostKeyError
		if !errors.As(err, &e) {
			// A certificate the authorities did not sign, or not valid
			// now or for this host name. Like OpenSSH, the key it
			// certifies is still good if known_hosts lists it.
			if c, ok := key.(*ssh.Certificate); ok {
				for _, k := range plain {
					if bytes.Equal(k.Key.Marshal(), c.Key.Marshal()) {
						return nil
					}
				}
			}
			e = newErr(key)
			e.Reason = strings.TrimPrefix(err.Error(), "ssh: ")
			if strings.HasPrefix(e.Reason, "no authorities for hostname") {
				e.Reason = "no @cert-authority line in known_hosts for " + hk.lookupAddr + " has its signer"
			}
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
