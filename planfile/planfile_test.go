package planfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zplan/zplan/plan"
)

func twoDatasets() *plan.Plan {
	snap := `snapshot.src["tank@s"]`
	return &plan.Plan{FormatVersion: plan.FormatVersion, ZplanVersion: "1.0", ConfigHash: "abc", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Actions: []*plan.Action{
			{Address: snap, Kind: plan.KindSnapshot, Host: "src", Dataset: "tank", Snapshots: []plan.SnapRef{{Name: "s"}},
				Datasets: []string{"tank/a", "tank/b"}, Preconditions: []plan.Precondition{
					{Host: "src", Kind: plan.PreAbsent, Object: "tank/a@s"}, {Host: "src", Kind: plan.PreAbsent, Object: "tank/b@s"}}},
			{Address: `send.e["tank/a@s"]`, Kind: plan.KindSendFull, Host: "src", Dataset: "tank/a", DependsOn: []string{snap},
				Send: &plan.Send{Edge: "e", SourceHost: "src", SourceDataset: "tank/a", To: "s", TargetHost: "dst", TargetDataset: "bk/a"}},
			{Address: `send.e["tank/b@s"]`, Kind: plan.KindSendFull, Host: "src", Dataset: "tank/b", DependsOn: []string{snap},
				Send: &plan.Send{Edge: "e", SourceHost: "src", SourceDataset: "tank/b", To: "s", TargetHost: "dst", TargetDataset: "bk/b"}},
			{Address: `destroy.src["tank/b"]`, Kind: plan.KindDestroy, Host: "src", Dataset: "tank/b", Snapshots: []plan.SnapRef{{Name: "old"}}},
		},
		Conflicts: []*plan.Conflict{{Host: "dst", Dataset: "bk/b", Edge: "e", Message: "diverged"}},
	}
}

func TestRoundTripAndChecks(t *testing.T) {
	var b bytes.Buffer
	if err := Encode(&b, twoDatasets(), time.Now()); err != nil {
		t.Fatal(err)
	}
	f, err := Decode(bytes.NewReader(b.Bytes()))
	if err != nil || len(f.Plan.Actions) != 4 {
		t.Fatalf("decode: %v %+v", err, f)
	}
	pre := 0
	for _, a := range f.Plan.Actions {
		pre += len(a.Preconditions)
	}
	if pre != 2 || !f.Plan.Time.Equal(twoDatasets().Time) {
		t.Fatalf("decoded plan lost preconditions (%d) or its time (%s)", pre, f.Plan.Time)
	}
	if err := f.CheckApplicable("1.0", "abc"); err != nil {
		t.Errorf("same version and config refused: %v", err)
	}
	if err := f.CheckApplicable("1.1", "abc"); err == nil || !strings.Contains(err.Error(), "made by zplan 1.0") {
		t.Errorf("other version: %v", err)
	}
	if err := f.CheckApplicable("1.0", "abd"); err == nil || !strings.Contains(err.Error(), "configuration changed") {
		t.Errorf("other config: %v", err)
	}
	bad := strings.Replace(b.String(), `"file_version": 1`, `"file_version": 2`, 1)
	if _, err := Decode(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "version 2 is not supported") {
		t.Errorf("future file version: %v", err)
	}
	if _, err := Decode(strings.NewReader(`{"resource_changes": []}`)); err == nil {
		t.Error("a show -json document decoded as a plan file")
	}
}

// A plan file lists every dataset and snapshot: owner-only, and written
// through a temporary file nobody can plant in advance.
func TestSaveIsPrivateAndExclusive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.zplan")
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The old predictable name, planted as a symlink by someone else.
	if err := os.Symlink(victim, path+".tmp"); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for i := 0; i < 2; i++ { // the second Save replaces the first file
		if err := Save(path, twoDatasets(), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %v, want 0600", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Errorf("Save wrote through the planted %s.tmp: victim now %q", path, b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 { // plan.zplan, the planted symlink, victim
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("temporary files left behind: %v", names)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("saved file does not load: %v", err)
	}
	if err := Save(filepath.Join(dir, "missing", "plan.zplan"), twoDatasets(), time.Now()); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("save into a missing directory: %v", err)
	}
}

func TestSignedPlanFiles(t *testing.T) {
	const key = "s3cret"
	var signed, unsigned bytes.Buffer
	// Actions out of Sort order: the signature must not depend on it.
	p := twoDatasets()
	p.Actions[0], p.Actions[3] = p.Actions[3], p.Actions[0]
	if err := EncodeSigned(&signed, p, time.Now(), key); err != nil {
		t.Fatal(err)
	}
	if err := Encode(&unsigned, twoDatasets(), time.Now()); err != nil {
		t.Fatal(err)
	}
	decode := func(s string) *File {
		t.Helper()
		f, err := Decode(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	tampered := strings.Replace(signed.String(), `"name": "old"`, `"name": "zplan_keep"`, 1)
	if tampered == signed.String() {
		t.Fatal("tampering changed nothing")
	}
	cases := []struct {
		name, file, key string
		ok              bool
	}{
		{"signed, right key", signed.String(), key, true},
		{"signed, no key set", signed.String(), "", true},
		{"signed, other key", signed.String(), "other", false},
		{"tampered", tampered, key, false},
		{"unsigned, key set", unsigned.String(), key, false},
		{"unsigned, no key", unsigned.String(), "", true},
		{"signature removed", strings.Replace(signed.String(), `"signature": "hmac-sha256:`, `"signature": "x`, 1), key, false},
	}
	for _, c := range cases {
		err := decode(c.file).Verify(c.key)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrSignature)) {
			t.Errorf("%s: Verify = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// A saved plan keeps what skip_unchanged left out and what retention
// gives up unsent, as data; a null skipped entry is not a plan.
func TestRoundTripSkippedAndGivenUp(t *testing.T) {
	p := twoDatasets()
	p.Skipped = []*plan.Skipped{{Host: "src", Dataset: "tank/c", Policy: "data", Slot: p.Time, Since: "old"}}
	p.Actions[3].Snapshots[0].Unsent = &plan.GivenUp{Edges: []string{"e"}, KeepUnsentFor: "2w"}
	var b bytes.Buffer
	if err := Encode(&b, p, time.Now()); err != nil {
		t.Fatal(err)
	}
	f, err := Decode(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Plan.Skipped) != 1 || *f.Plan.Skipped[0] != *p.Skipped[0] {
		t.Errorf("skipped %+v, want %+v", f.Plan.Skipped, p.Skipped)
	}
	var u *plan.GivenUp
	for _, a := range f.Plan.Actions {
		if a.Kind == plan.KindDestroy {
			u = a.Snapshots[0].Unsent
		}
	}
	if u == nil || u.KeepUnsentFor != "2w" || len(u.Edges) != 1 || u.Edges[0] != "e" {
		t.Errorf("given up %+v", u)
	}
	bad := strings.Replace(b.String(), `"skipped": [`, `"skipped": [null, `, 1)
	if _, err := Decode(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "null skipped") {
		t.Errorf("null skipped entry: %v", err)
	}
}
