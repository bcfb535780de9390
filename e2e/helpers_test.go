package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/lab"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/remote"
)

// snapTimeFormat is how zplan names its snapshots after the plan time
// (diff.SnapshotTimeFormat).
const snapTimeFormat = "20060102T150405Z"

// zenv runs the zplan binary against the lab with a configuration
// written for one test: hosts "src" and "dst" are both the lab guest.
type zenv struct {
	t   *testing.T
	l   *lab.Lab
	cfg string
	now time.Time
}

// newZenv writes the host blocks plus body to a temporary configuration
// file. The plan time starts at a 5-minute boundary in the past, so
// every advance of 5 minutes makes a "5m" policy due once more.
func newZenv(t *testing.T, l *lab.Lab, body string) *zenv {
	t.Helper()
	hosts := ""
	for _, h := range []string{"src", "dst"} {
		hosts += fmt.Sprintf(`host %q {
  address                  = "127.0.0.1"
  port                     = %d
  user                     = "root"
  identity_files           = [%q]
  agent                    = false
  known_hosts              = [%q]
  connect_timeout          = "60s"
}
`, h, l.Port, l.IdentityFile, l.KnownHostsFile)
	}
	path := filepath.Join(t.TempDir(), "main.zplan.hcl")
	if err := os.WriteFile(path, []byte(hosts+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return &zenv{t: t, l: l, cfg: path, now: time.Now().UTC().Truncate(5 * time.Minute).Add(-time.Hour)}
}

// advance moves the plan time on; a "5m" policy takes a new snapshot.
func (z *zenv) advance(d time.Duration) { z.now = z.now.Add(d) }

// snapName is the name zplan gives a snapshot taken at the plan time.
func (z *zenv) snapName() string { return "zplan_" + z.now.Format(snapTimeFormat) }

func (z *zenv) args(args ...string) []string {
	return append(args, "-config", z.cfg, "-no-color", "-now", z.now.Format(time.RFC3339))
}

// zplan runs the binary to completion and returns its combined output
// and exit code.
func (z *zenv) zplan(args ...string) (string, int) {
	z.t.Helper()
	cmd := exec.Command(zplanBinary(z.t), z.args(args...)...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		z.t.Fatalf("zplan %s: %v", strings.Join(args, " "), err)
	}
	z.t.Logf("zplan %s (%s, exit %d):\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), code, out)
	return string(out), code
}

// plan runs zplan plan -detailed-exitcode: exit 0 no changes, 2 changes,
// 1 error or conflicts.
func (z *zenv) plan() (string, int) {
	z.t.Helper()
	return z.zplan("plan", "-detailed-exitcode")
}

// mustApply runs apply -auto-approve and fails the test unless it exits 0.
func (z *zenv) mustApply() string {
	z.t.Helper()
	out, code := z.zplan("apply", "-auto-approve")
	if code != 0 {
		z.t.Fatalf("apply exited %d:\n%s", code, out)
	}
	return out
}

// mustNoChanges fails the test unless a plan at the current time says
// "No changes." with exit code 0.
func (z *zenv) mustNoChanges() {
	z.t.Helper()
	out, code := z.plan()
	if code != 0 || !strings.Contains(out, "No changes.") {
		z.t.Fatalf("want No changes (exit 0), got exit %d:\n%s", code, out)
	}
}

// applyProc is a zplan apply running in the background.
type applyProc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   strings.Builder
	lines chan string
	done  chan struct{}
	err   error
}

// startApply starts zplan apply -auto-approve (and extra flags) with
// its output read line by line.
func (z *zenv) startApply(extra ...string) *applyProc {
	z.t.Helper()
	cmd := exec.Command(zplanBinary(z.t), z.args(append([]string{"apply", "-auto-approve"}, extra...)...)...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		z.t.Fatal(err)
	}
	p := &applyProc{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	z.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *applyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *applyProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill9 sends SIGKILL to zplan (only to the process we started) and
// waits for it to be gone.
func (p *applyProc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 zplan: %v", err)
	}
	<-p.done
}

// ---- facts read straight from the guest ----

type snapInfo struct {
	name string // after @
	guid string
}

// snapshots lists ds's own snapshots, oldest first.
func snapshots(t *testing.T, l *lab.Lab, ds string) []snapInfo {
	t.Helper()
	out := l.Run(t, "zfs", "list", "-H", "-p", "-t", "snapshot", "-d", "1", "-s", "createtxg", "-o", "name,guid", ds)
	var res []snapInfo
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		n, g, _ := strings.Cut(line, "\t")
		_, short, _ := strings.Cut(n, "@")
		res = append(res, snapInfo{name: short, guid: g})
	}
	return res
}

func snapNamesOf(ss []snapInfo) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.name)
	}
	return out
}

// bookmarks lists ds's bookmark names (after #).
func bookmarks(t *testing.T, l *lab.Lab, ds string) []string {
	t.Helper()
	out := l.Run(t, "zfs", "list", "-H", "-t", "bookmark", "-d", "1", "-o", "name", ds)
	var res []string
	for _, line := range strings.Fields(out) {
		_, b, _ := strings.Cut(line, "#")
		res = append(res, b)
	}
	sort.Strings(res)
	return res
}

// cursors lists the zplan cursor bookmarks of edge on ds.
func cursors(t *testing.T, l *lab.Lab, ds, edge string) []string {
	t.Helper()
	var res []string
	for _, b := range bookmarks(t, l, ds) {
		if strings.HasPrefix(b, "zplan_cursor_") && strings.HasSuffix(b, "_"+edge) {
			res = append(res, b)
		}
	}
	return res
}

// holdsUnder maps every snapshot at or below root that has holds to its
// hold tags.
func holdsUnder(t *testing.T, l *lab.Lab, root string) map[string][]string {
	t.Helper()
	return holdsList(t, l, "-r", root)
}

// holdsList maps the snapshots zfs list -t snapshot ARGS lists to their
// hold tags (those without holds are left out).
func holdsList(t *testing.T, l *lab.Lab, args ...string) map[string][]string {
	t.Helper()
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	// Names may contain spaces: one name per line through xargs.
	out := l.Sh(t, "zfs list -H -o name -t snapshot "+strings.Join(quoted, " ")+" | xargs -r -d '\n' zfs holds -H")
	res := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) >= 2 {
			res[f[0]] = append(res[f[0]], f[1])
		}
	}
	return res
}

// snapsWithTag lists the snapshots of ds (not of its children) held
// with tag.
func snapsWithTag(t *testing.T, l *lab.Lab, ds, tag string) []string {
	t.Helper()
	var res []string
	for s, tags := range holdsList(t, l, "-d", "1", ds) {
		for _, tg := range tags {
			if tg == tag {
				res = append(res, s)
			}
		}
	}
	sort.Strings(res)
	return res
}

// prop reads one property's value.
func prop(t *testing.T, l *lab.Lab, name, property string) string {
	t.Helper()
	return strings.TrimSpace(l.Run(t, "zfs", "get", "-H", "-p", "-o", "value", property, name))
}

// exists reports whether a dataset, snapshot or bookmark exists.
func exists(t *testing.T, l *lab.Lab, name string) bool {
	t.Helper()
	_, err := l.Exec(t.Context(), "zfs", "list", "-H", "-t", "all", "-o", "name", name)
	return err == nil
}

// writeRandom writes mib MiB of random data to a new file in the
// mounted dataset ds.
func writeRandom(t *testing.T, l *lab.Lab, ds string, mib int) {
	t.Helper()
	// zpool sync: written and referenced count the data only once its
	// txg is synced (a plan right after the write would see 0).
	pool, _, _ := strings.Cut(ds, "/")
	l.Sh(t, fmt.Sprintf("dd if=/dev/urandom of=/%s/f%d bs=1M count=%d status=none && zpool sync %s", ds, time.Now().UnixNano(), mib, pool))
}

// checkEdgeInSync asserts the bookkeeping of one edge after a successful
// apply: the target's newest snapshot is the source's snapshot of that
// name (same GUID), the source has exactly one cursor of the edge and it
// names that GUID, the target has exactly one last-received hold and it
// is on that snapshot, and no step hold of the edge is left on the
// source. It returns the newest snapshot's name.
func checkEdgeInSync(t *testing.T, l *lab.Lab, srcDS, tgtDS, edge string) string {
	t.Helper()
	tsnaps := snapshots(t, l, tgtDS)
	if len(tsnaps) == 0 {
		t.Fatalf("target %s has no snapshots", tgtDS)
	}
	newest := tsnaps[len(tsnaps)-1]
	var srcGUID string
	for _, s := range snapshots(t, l, srcDS) {
		if s.name == newest.name {
			srcGUID = s.guid
		}
	}
	if srcGUID == "" {
		// the source may have pruned it; the cursor still names it
	} else if srcGUID != newest.guid {
		t.Errorf("%s@%s guid %s, source's %s", tgtDS, newest.name, newest.guid, srcGUID)
	}
	g, _ := strconv.ParseUint(newest.guid, 10, 64)
	wantCursor := fmt.Sprintf("zplan_cursor_%016x_%s", g, edge)
	if cs := cursors(t, l, srcDS, edge); len(cs) != 1 || cs[0] != wantCursor {
		t.Errorf("cursors of edge %s on %s: %v, want exactly [%s]", edge, srcDS, cs, wantCursor)
	}
	if hs := snapsWithTag(t, l, tgtDS, "zplan_last_"+edge); len(hs) != 1 || hs[0] != tgtDS+"@"+newest.name {
		t.Errorf("zplan_last_%s holds under %s: %v, want exactly [%s@%s]", edge, tgtDS, hs, tgtDS, newest.name)
	}
	if hs := snapsWithTag(t, l, srcDS, "zplan_step_"+edge); len(hs) != 0 {
		t.Errorf("step holds left on the source: %v", hs)
	}
	return newest.name
}

// zfsProcs lists zfs send/recv processes in the guest whose command line
// mentions pattern (a pool name, or "-t" for resumed sends).
func zfsProcs(t *testing.T, l *lab.Lab, pattern string) string {
	t.Helper()
	out, _ := l.Exec(t.Context(), "sh", "-c", "pgrep -af 'zfs (send|recv|receive)' | grep -v pgrep | grep -F -- \"$1\" || true", "sh", pattern)
	return strings.TrimSpace(out)
}

// resumeTokenBytes decodes a resume token in the guest and returns the
// bytes the interrupted receive already has and the decoded text.
func resumeTokenBytes(t *testing.T, l *lab.Lab, token string) (int64, string) {
	t.Helper()
	out, err := l.Exec(t.Context(), "sh", "-c", `zfs send -nv -t "$1" 2>&1`, "sh", token)
	if err != nil {
		t.Fatalf("decoding resume token: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^\s*bytes = (0x[0-9a-f]+|\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no bytes in decoded token:\n%s", out)
	}
	n, err := strconv.ParseInt(m[1], 0, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n, out
}

// lastSentBytes parses apply's progress lines ("ADDR: 12.0 MiB sent,
// ..." or "ADDR: 12.0 MiB of ~48.1 MiB ...") and returns the largest figure reported for sends whose address
// contains addrPart, in bytes (approximate: the line is rounded).
func lastSentBytes(out, addrPart string) int64 {
	re := regexp.MustCompile(`(?m)^(\S+): ([0-9.]+) (B|KiB|MiB|GiB) (sent,|of )`)
	var best int64
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		if !strings.Contains(m[1], addrPart) {
			continue
		}
		f, _ := strconv.ParseFloat(m[2], 64)
		mult := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m[3]]
		if n := int64(f * mult); n > best {
			best = n
		}
	}
	return best
}

// sent reports whether apply's progress started a send: "sending..."
// for a full or incremental one, "resuming send..." for a resume (the
// progress verbs of plan's kinds table).
func sent(out string) bool {
	return strings.Contains(out, "sending...") || strings.Contains(out, "resuming send...")
}

// countLines counts output lines containing all of parts.
func countLines(out string, parts ...string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				ok = false
				break
			}
		}
		if ok {
			n++
		}
	}
	return n
}

// inProcessApply plans and applies in this process (observe on the lab's
// shared connection, desired.Resolve, diff.Plan, apply.Apply) with the
// same configuration file and plan time as the binary, and returns the
// plan and the exact number of stream bytes relayed per send action.
func (z *zenv) inProcessApply() (*plan.Plan, map[string]int64) {
	z.t.Helper()
	cfg, diags := hclspec.Load(z.cfg)
	if diags.HasErrors() {
		z.t.Fatalf("loading %s: %v", z.cfg, diags)
	}
	hosts := map[string]remote.Host{"src": z.l.Host("src"), "dst": z.l.Host("dst")}
	st, err := observe.Observe(z.t.Context(), hosts)
	if err != nil {
		z.t.Fatal(err)
	}
	pol, err := desired.Resolve(cfg, st)
	if err != nil {
		z.t.Fatal(err)
	}
	p, err := diff.Plan(pol, st, z.now, diff.Options{})
	if err != nil {
		z.t.Fatal(err)
	}
	var mu sync.Mutex
	sent := map[string]int64{}
	res, err := apply.Apply(z.t.Context(), p, hosts, apply.Options{
		Reporter: apply.ReporterFunc(func(ev apply.Event) {
			mu.Lock()
			defer mu.Unlock()
			if ev.Kind == apply.EventProgress && ev.Bytes > sent[ev.Action.Address] {
				sent[ev.Action.Address] = ev.Bytes
			}
			if ev.Err != nil {
				z.t.Logf("%s: %s: %v", ev.Action.Address, ev.Kind, ev.Err)
			}
		}),
	})
	if err != nil {
		z.t.Fatalf("in-process apply: %v (%+v)", err, res)
	}
	return p, sent
}

// busy reports whether zfs refused a destroy because of a hold: "dataset
// is busy" (OpenZFS 2.1) or "it's being held" (2.2 and later).
func busy(stderr string) bool {
	return strings.Contains(stderr, "dataset is busy") || strings.Contains(stderr, "being held")
}
