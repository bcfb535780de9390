package planfile

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// KeyEnv names the environment variable holding the key that signs saved
// plans (HMAC-SHA256). With it set, plan -out signs the file and apply
// FILE refuses a file whose signature is missing or wrong: an edit that
// stays within what the configuration allows (destroying a managed
// snapshot a plan kept, say) is then caught too.
const KeyEnv = "ZPLAN_PLAN_KEY"

const sigScheme = "hmac-sha256:"

// ErrSignature marks a plan file whose signature does not verify.
var ErrSignature = errors.New("plan file signature does not verify")

// mac is the HMAC of f's canonical form: compact JSON of f with an empty
// signature and its actions in Sort order, which is the order Decode
// leaves them in, so signer and verifier hash the same bytes.
func (f *File) mac(key string) (string, error) {
	g := *f
	g.Signature = ""
	if f.Plan != nil {
		p := *f.Plan
		p.Actions = append(p.Actions[:0:0], f.Plan.Actions...)
		if err := p.Sort(); err != nil {
			return "", fmt.Errorf("signing plan: %w", err)
		}
		g.Plan = &p
	}
	b, err := json.Marshal(g)
	if err != nil {
		return "", fmt.Errorf("signing plan: %w", err)
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte("zplan-plan-signature-v1\x00"))
	m.Write(b)
	return sigScheme + hex.EncodeToString(m.Sum(nil)), nil
}

// sign sets f's signature with key ("" leaves the file unsigned).
func (f *File) sign(key string) error {
	if key == "" {
		f.Signature = ""
		return nil
	}
	s, err := f.mac(key)
	if err != nil {
		return err
	}
	f.Signature = s
	return nil
}

// Verify checks f's signature with key. An empty key checks nothing:
// signing is opt-in, per controller.
func (f *File) Verify(key string) error {
	if key == "" {
		return nil
	}
	if f.Signature == "" {
		return fmt.Errorf("%w: the file is not signed, and %s is set", ErrSignature, KeyEnv)
	}
	if !strings.HasPrefix(f.Signature, sigScheme) {
		return fmt.Errorf("%w: unknown signature scheme", ErrSignature)
	}
	want, err := f.mac(key)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(want), []byte(f.Signature)) {
		return fmt.Errorf("%w: the file was changed after it was saved, or signed with another %s", ErrSignature, KeyEnv)
	}
	return nil
}
