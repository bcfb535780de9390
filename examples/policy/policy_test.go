// Package policy_test evaluates examples/policy/zplan.rego, the
// conftest-style Rego policy, against real `zplan show -json` documents
// of plans made on in-memory hosts. It is a test-only package: nothing
// zplan links imports OPA.
package policy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/internal/cmd/root"
	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/iostreams"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs/zfsfake"
)

const config = `
host "src" {}
host "dst" {}

snapshots "data" {
  host     = host.src
  datasets = ["tank/data/**"]
  every    = "15m"
  retention {
    grid = "1x1h(keep=all) | 24x1h"
  }
}

replication "offsite" {
  source {
    snapshots = snapshots.data
  }
  on_divergence = "rollback"
  target {
    host = host.dst
    root = "backup/src"
  }
}
`

// fleet is an in-memory src and dst and a configuration directory.
type fleet struct {
	t   *testing.T
	w   *zfsfake.World
	dir string
}

func newFleet(t *testing.T) *fleet {
	w := zfsfake.NewWorld(func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) })
	src, dst := w.Host("src"), w.Host("dst")
	src.CreatePool("tank")
	src.Create("tank/data", zfsfake.Opts{})
	src.Create("tank/data/home", zfsfake.Opts{})
	src.Write("tank/data", 1<<20)
	dst.CreatePool("backup")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.zplan.hcl"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return &fleet{t: t, w: w, dir: dir}
}

// zplan runs the CLI in-process on the fake hosts.
func (f *fleet) zplan(args ...string) (string, string, cmdutil.ExitCode) {
	ios, _, out, errOut := iostreams.Test()
	fac := &cmdutil.Factory{IO: ios, Version: "0.1.0-test", Getenv: func(string) string { return "" },
		Connect: func(_ context.Context, cfg *hclspec.Config) (map[string]remote.Host, func(), error) {
			hosts := map[string]remote.Host{}
			for _, h := range cfg.Hosts {
				hosts[h.Name] = f.w.Host(h.Name)
			}
			return hosts, func() {}, nil
		}}
	code := root.Run(args, fac)
	return out.String(), errOut.String(), code
}

func (f *fleet) apply(now string) {
	f.t.Helper()
	if out, errOut, code := f.zplan("apply", "-chdir", f.dir, "-now="+now, "-auto-approve"); code != 0 {
		f.t.Fatalf("apply -now=%s: exit %d\n%s\n%s", now, code, out, errOut)
	}
}

// show saves a plan made with args and returns its `zplan show -json`
// document.
func (f *fleet) show(args ...string) map[string]any {
	f.t.Helper()
	file := filepath.Join(f.t.TempDir(), "plan.zplan")
	if out, errOut, code := f.zplan(append([]string{"plan", "-chdir", f.dir, "-out", file}, args...)...); code != 0 {
		f.t.Fatalf("plan %q: exit %d\n%s\n%s", args, code, out, errOut)
	}
	out, errOut, code := f.zplan("show", "-json", file)
	if code != 0 {
		f.t.Fatalf("show -json: exit %d\n%s", code, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		f.t.Fatalf("show -json: %v\n%s", err, out)
	}
	return doc
}

// deny evaluates data.main.deny of zplan.rego on doc with the data
// conftest would be given (--data).
func deny(t *testing.T, doc, data map[string]any) []string {
	t.Helper()
	src, err := os.ReadFile("zplan.rego")
	if err != nil {
		t.Fatal(err)
	}
	if data == nil {
		data = map[string]any{}
	}
	rs, err := rego.New(rego.Query("data.main.deny"), rego.Module("zplan.rego", string(src)),
		rego.Store(inmem.NewFromObject(data)), rego.Input(doc)).Eval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		t.Fatalf("data.main.deny: %+v", rs)
	}
	var msgs []string
	for _, m := range rs[0].Expressions[0].Value.([]any) {
		msgs = append(msgs, m.(string))
	}
	slices.Sort(msgs)
	return msgs
}

func destroyed(doc map[string]any) []string {
	var names []string
	for _, rc := range doc["resource_changes"].([]any) {
		rc := rc.(map[string]any)
		acts := rc["change"].(map[string]any)["actions"].([]any)
		if rc["type"] == "zfs_snapshot" && len(acts) == 1 && acts[0] == "delete" {
			names = append(names, rc["name"].(string))
		}
	}
	slices.Sort(names)
	return names
}

func TestPolicy(t *testing.T) {
	// A first plan: snapshots and full sends, nothing destroyed.
	clean := newFleet(t).show("-now=2026-11-22T12:00:00Z")

	// Snapshots every 15 minutes for an hour, then a day later the grid
	// prunes: N+1 destroys.
	pruned := newFleet(t)
	for _, now := range []string{"12:00", "12:15", "12:30", "12:45", "13:00"} {
		pruned.apply("2026-11-22T" + now + ":00Z")
	}
	prune := pruned.show("-now=2026-11-24T13:00:00Z")
	gone := destroyed(prune)
	n := len(gone) - 1
	if n < 1 {
		t.Fatalf("the pruning plan destroys %v, want at least 2", gone)
	}

	// A target written to and snapshotted by someone else, planned
	// again in the same schedule slot: only the rollback (and the
	// snapshot it destroys).
	div := newFleet(t)
	div.apply("2026-11-22T12:00:00Z")
	div.w.Host("dst").Write("backup/src/data", 4096)
	div.w.Host("dst").Snapshot("backup/src/data@mine")
	rollback := div.show("-now=2026-11-22T12:05:00Z")

	// A partial plan.
	part := newFleet(t)
	part.apply("2026-11-22T12:00:00Z")
	partial := part.show("-now=2026-11-22T12:15:00Z", "-target", "tank/data/home")

	limit := map[string]any{"zplan": map[string]any{"max_destroy": n}}
	rbAddr := resourceOf(t, rollback, "zfs_rollback")
	cases := []struct {
		name string
		doc  map[string]any
		data map[string]any
		want []string
	}{
		{"clean plan", clean, nil, nil},
		{"clean plan with a limit of N", clean, limit, nil},
		{"N+1 destroys, default limit 10", prune, nil, nil},
		{"N+1 destroys, limit N", prune, limit, []string{
			"the plan destroys " + itoa(n+1) + " snapshots (more than " + itoa(n) + "): " + strings.Join(gone, ", ")}},
		{"N+1 destroys, limit N+1", prune, map[string]any{"zplan": map[string]any{"max_destroy": n + 1}}, nil},
		{"rollback", rollback, nil, []string{`the plan rolls back dst:backup/src/data (` + rbAddr + `)`}},
		{"partial", partial, nil, []string{"the plan is partial (-target tank/data/home); set data.zplan.allow_partial to apply it"}},
		{"partial allowed", partial, map[string]any{"zplan": map[string]any{"allow_partial": true}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := deny(t, c.doc, c.data); !slices.Equal(got, c.want) {
				t.Errorf("deny = %q\nwant   %q", got, c.want)
			}
		})
	}

	// The rollback plan is only a rollback: no send, no new snapshot.
	for _, rc := range rollback["resource_changes"].([]any) {
		rc := rc.(map[string]any)
		acts := rc["change"].(map[string]any)["actions"].([]any)
		if rc["type"] != "zfs_rollback" && !(rc["type"] == "zfs_snapshot" && acts[0] == "delete") {
			t.Errorf("the rollback plan also has %s %v", rc["address"], acts)
		}
	}
	if partial["partial"] != true || clean["partial"] != false {
		t.Errorf("partial: %v, clean: %v", partial["partial"], clean["partial"])
	}
}

func resourceOf(t *testing.T, doc map[string]any, typ string) string {
	t.Helper()
	for _, rc := range doc["resource_changes"].([]any) {
		if rc := rc.(map[string]any); rc["type"] == typ {
			return rc["address"].(string)
		}
	}
	b, _ := json.MarshalIndent(doc["resource_changes"], "", "  ")
	t.Fatalf("no %s in the plan:\n%s", typ, b)
	return ""
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
