// Package planfile saves a plan for a later `zplan apply FILE` and loads
// it back, refusing files made for another configuration or zplan.
//
// The file is one JSON object (UTF-8, indented, newline-terminated):
//
//	{
//	  "kind": "zplan-plan",          // identifies the file
//	  "file_version": 1,              // version of this envelope
//	  "zplan_version": "0.1.0",       // zplan that made the plan
//	  "config_hash": "3f2a…",         // cfg.Hash (hex SHA-256) of the configuration
//	  "created": "2026-11-22T12:00:03Z", // wall clock when saved (informative)
//	  "plan": { … plan.Plan … }       // format_version, time, actions with
//	                                  // preconditions, conflicts, kept, targets
//	}
//
// plan.time is the plan time that names new snapshots; apply uses it, not
// the clock, so re-applying the same file creates the same names.
package planfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/zplan/zplan/plan"
)

// Kind identifies a saved plan file.
const Kind = "zplan-plan"

// FileVersion is the version of the envelope. A change that old zplan
// versions would misread bumps it.
const FileVersion = 1

// File is the saved form.
type File struct {
	Kind         string     `json:"kind"`
	FileVersion  int        `json:"file_version"`
	ZplanVersion string     `json:"zplan_version"`
	ConfigHash   string     `json:"config_hash"`
	Created      time.Time  `json:"created"`
	Plan         *plan.Plan `json:"plan"`
	// Signature is the HMAC with ZPLAN_PLAN_KEY (see KeyEnv), if set
	// when the plan was saved.
	Signature string `json:"signature,omitempty"`
}

// Encode writes p as an unsigned plan file.
func Encode(w io.Writer, p *plan.Plan, created time.Time) error {
	return EncodeSigned(w, p, created, "")
}

// EncodeSigned writes p as a plan file signed with key ("" for none).
func EncodeSigned(w io.Writer, p *plan.Plan, created time.Time, key string) error {
	f := File{Kind: Kind, FileVersion: FileVersion, ZplanVersion: p.ZplanVersion, ConfigHash: p.ConfigHash, Created: created.UTC().Truncate(time.Second), Plan: p}
	if err := f.sign(key); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding plan: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Save writes p to path atomically, so a pipeline never picks up half a
// plan: an exclusive temporary file in the same directory (never a
// predictable name another user could plant first), readable by the
// owner only (a plan lists every dataset and snapshot), then renamed.
// With ZPLAN_PLAN_KEY set, the file is signed with it.
func Save(path string, p *plan.Plan, created time.Time) error {
	var buf bytes.Buffer
	if err := EncodeSigned(&buf, p, created, os.Getenv(KeyEnv)); err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	fh, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("saving plan %s: %w", path, err)
	}
	tmp := fh.Name()
	fail := func(err error) error {
		fh.Close()
		os.Remove(tmp)
		return fmt.Errorf("saving plan %s: %w", path, err)
	}
	// CreateTemp makes the file 0600 already; Chmod keeps it so under any
	// future change there.
	if err := fh.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := fh.Write(buf.Bytes()); err != nil {
		return fail(err)
	}
	if err := fh.Sync(); err != nil {
		return fail(err)
	}
	if err := fh.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("saving plan %s: %w", path, err)
	}
	return nil
}

// ErrNotPlan marks input that is not a zplan plan file.
var ErrNotPlan = errors.New("not a zplan plan file")

// Decode reads a plan file and checks its envelope.
func Decode(r io.Reader) (*File, error) {
	var f File
	dec := json.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotPlan, err)
	}
	if f.Kind != Kind || f.Plan == nil {
		return nil, fmt.Errorf("%w (kind %q)", ErrNotPlan, f.Kind)
	}
	if f.FileVersion != FileVersion {
		return nil, fmt.Errorf("plan file version %d is not supported (this zplan reads version %d)", f.FileVersion, FileVersion)
	}
	if f.Plan.FormatVersion != plan.FormatVersion {
		return nil, fmt.Errorf("plan format version %d is not supported (this zplan reads version %d)", f.Plan.FormatVersion, plan.FormatVersion)
	}
	// Null entries would crash whatever reads the plan next.
	for _, a := range f.Plan.Actions {
		if a == nil {
			return nil, fmt.Errorf("%w: a null action", ErrNotPlan)
		}
	}
	for _, c := range f.Plan.Conflicts {
		if c == nil {
			return nil, fmt.Errorf("%w: a null conflict", ErrNotPlan)
		}
	}
	for _, k := range f.Plan.Kept {
		if k == nil {
			return nil, fmt.Errorf("%w: a null kept entry", ErrNotPlan)
		}
	}
	for _, k := range f.Plan.Skipped {
		if k == nil {
			return nil, fmt.Errorf("%w: a null skipped entry", ErrNotPlan)
		}
	}
	for _, o := range f.Plan.Orphans {
		if o == nil {
			return nil, fmt.Errorf("%w: a null orphan entry", ErrNotPlan)
		}
	}
	if f.Plan.ZplanVersion != f.ZplanVersion || f.Plan.ConfigHash != f.ConfigHash {
		return nil, errors.New("plan file is inconsistent: envelope and plan disagree on version or config hash")
	}
	if err := f.Plan.Sort(); err != nil {
		return nil, fmt.Errorf("plan file: %w", err)
	}
	return &f, nil
}

// Load reads the plan file at path.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading plan: %w", err)
	}
	defer fh.Close()
	f, err := Decode(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// CheckApplicable refuses a plan made by another zplan version or for
// another configuration: its actions were decided by other rules.
func (f *File) CheckApplicable(zplanVersion, configHash string) error {
	if f.ZplanVersion != zplanVersion {
		return fmt.Errorf("the saved plan was made by zplan %s, this is zplan %s; make a new plan with this version", f.ZplanVersion, zplanVersion)
	}
	if f.ConfigHash != configHash {
		return fmt.Errorf("the configuration changed since the plan was made (config hash %s, now %s); make a new plan", short(f.ConfigHash), short(configHash))
	}
	return nil
}

func short(h string) string {
	if len(h) > 19 {
		return h[:19] + "…"
	}
	return h
}
