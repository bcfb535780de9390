package apply_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/diff"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs/zfsfake"
)

// Fault types the year simulation injects.
const (
	faultFail        = "fail"             // the command fails before it does anything
	faultLostReply   = "lost-reply"       // the command runs, then its exit status is lost
	faultHang        = "hang-then-cancel" // the command blocks until the apply's context ends
	faultPartial     = "partial-stream"   // a send breaks after some bytes
	faultCrash       = "crash"            // the controller dies between two commands
	faultUnreachable = "unreachable"      // a command to the away host, while it is away
)

var faultTypes = []string{faultFail, faultLostReply, faultHang, faultPartial, faultCrash, faultUnreachable}

// yearSim is a source host and two targets: "flaky", whose commands and
// streams fail often, and "away", unreachable for two weeks.
type yearSim struct {
	t          *testing.T
	seed       uint64
	rng        *rand.Rand
	now        time.Time
	world      *zfsfake.World
	src        *zfsfake.Host
	flaky      *zfsfake.Host
	away       *zfsfake.Host
	cfg        *hclspec.Config
	awayFrom   time.Time
	awayUntil  time.Time
	step       int
	faults     map[string]int
	fromBM     map[string]int // incremental sends planned from a cursor bookmark, per edge
	checks     int
	runs       int
	failedRuns int

	mu        sync.Mutex // guards the per-apply state below (apply runs actions in parallel)
	inApply   bool
	cancel    context.CancelFunc
	cmdN      int                   // commands of this apply so far
	hostN     map[*zfsfake.Host]int // commands of this apply so far, per host
	faultHost *zfsfake.Host         // the host where faultAt and crashAt count
	crashAt   int                   // crash before this command of faultHost (0: no crash)
	crashed   bool
	faultAt   int // inject faultKind at this command of faultHost (0: none)
	faultKind string
	argvs     [][]string // every command of this apply, as run on a host
}

// edges of the simulation: source dataset -> target dataset, per edge.
var yearEdges = []struct{ id, host, root string }{{"flaky", "flaky", "backup/src"}, {"away", "away", "vault/src"}}

var yearDatasets = []string{"tank/data", "tank/data/home"}

func (s *yearSim) target(edge int, ds string) string {
	return yearEdges[edge].root + strings.TrimPrefix(ds, "tank")
}

func newYearSim(t *testing.T, seed uint64, days int) *yearSim {
	s := &yearSim{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), faults: map[string]int{}, fromBM: map[string]int{}}
	s.world = zfsfake.NewWorld(func() time.Time { return s.now })
	s.src, s.flaky, s.away = s.world.Host("src"), s.world.Host("flaky"), s.world.Host("away")
	s.src.CreatePool("tank")
	for _, ds := range yearDatasets {
		s.src.Create(ds, zfsfake.Opts{})
		s.src.Write(ds, 4<<20)
	}
	s.src.Snapshot("tank/data@manual_keep_forever") // foreign: never destroyed
	s.flaky.CreatePool("backup")
	s.away.CreatePool("vault")
	// The absence: two weeks from a third of the way in, leaving at least
	// three days to catch up; spans shorter than 18 days get a third of
	// the span.
	start, absence := days/3, 14
	if days < 18 {
		absence = days / 3
	} else {
		start = min(start, days-17)
	}
	s.awayFrom = s.now.Add(time.Duration(start) * 24 * time.Hour)
	s.awayUntil = s.awayFrom.Add(time.Duration(absence) * 24 * time.Hour)
	s.cfg = &hclspec.Config{
		Hosts: []*hclspec.Host{{Name: "src"}, {Name: "flaky"}, {Name: "away"}},
		Snapshots: []*hclspec.SnapshotPolicy{{
			Name: "data", Host: "src", Prefix: "zplan_",
			Datasets:  hclspec.DatasetSelector{Include: []string{"tank/data/**"}},
			Schedule:  hclspec.Schedule{Every: 15 * time.Minute},
			Retention: &hclspec.Retention{Grid: "1x1h(keep=all) | 24x1h | 7x1d"},
		}},
	}
	for _, e := range yearEdges {
		s.cfg.Replications = append(s.cfg.Replications, &hclspec.Replication{
			Name: e.id, ID: e.id, SnapshotsPolicy: "data",
			TargetHost: e.host, TargetRoot: e.root, Initial: "most_recent", Raw: "auto", OnDivergence: "refuse",
			TargetRetention: &hclspec.Retention{Grid: "24x1h | 30x1d"},
		})
	}
	return s
}

func (s *yearSim) isAway() bool { return !s.now.Before(s.awayFrom) && s.now.Before(s.awayUntil) }

// faultHost runs commands on a fake host, injecting the simulation's
// faults while an apply runs.
type faultHost struct {
	*zfsfake.Host
	s *yearSim
}

var errUnreachable = errors.New("ssh: connect to host away port 22: No route to host")

func (f *faultHost) Run(ctx context.Context, c remote.Cmd) error {
	s := f.s
	if f.Host == s.away && s.isAway() {
		s.mu.Lock()
		s.faults[faultUnreachable]++
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", f.Name(), errUnreachable)
	}
	s.mu.Lock()
	if !s.inApply {
		s.mu.Unlock()
		return f.Host.Run(ctx, c)
	}
	s.argvs = append(s.argvs, append([]string{f.Name()}, c.Argv...))
	if s.crashed {
		s.mu.Unlock()
		return fmt.Errorf("%s: controller crashed", f.Name())
	}
	// Faults are decided per host and per command index on that host, not
	// from one stream shared by all: a send and its receive run at once,
	// and their order must not change what the seed does. Apply runs one
	// action at a time, so each host's commands come in a fixed order.
	s.cmdN++
	s.hostN[f.Host]++
	n := s.hostN[f.Host]
	rng := rand.New(rand.NewPCG(s.seed^uint64(s.step)<<20, uint64(n)<<8|uint64(len(f.Name()))))
	if f.Host == s.faultHost && n == s.crashAt {
		// The controller dies here: this command and every later one never run.
		s.crashed = true
		s.faults[faultCrash]++
		s.cancel()
		s.mu.Unlock()
		return fmt.Errorf("%s: controller crashed", f.Name())
	}
	// One seeded fault at a chosen command of a faulty run, on any host;
	// the flaky target's commands fail besides, one in 60.
	fault := ""
	if f.Host == s.faultHost && n == s.faultAt {
		fault = s.faultKind
	} else if f.Host == s.flaky && rng.IntN(60) == 0 {
		fault = []string{faultFail, faultLostReply, faultPartial}[rng.IntN(3)]
	}
	isStream := len(c.Argv) > 1 && (c.Argv[1] == "send" || c.Argv[1] == "recv" || c.Argv[1] == "receive")
	if fault == faultPartial && !isStream {
		fault = faultFail
	}
	if fault != "" {
		s.faults[fault]++
	}
	budget := int64(1 + rng.IntN(4000))
	s.mu.Unlock()
	switch fault {
	case faultFail:
		return &remote.ExitError{Host: f.Name(), Argv: c.Argv, Code: 1, Stderr: "simulated failure\n"}
	case faultLostReply:
		_ = f.Host.Run(ctx, c)
		return fmt.Errorf("%s: %s: connection lost before the exit status", f.Name(), strings.Join(c.Argv, " "))
	case faultHang:
		// The command never answers; the controller gives up (a timeout,
		// a signal) and cancels the apply.
		go s.cancel()
		<-ctx.Done()
		return fmt.Errorf("%s: %s: %w", f.Name(), strings.Join(c.Argv, " "), ctx.Err())
	case faultPartial:
		if c.Argv[1] == "send" {
			// Apply runs one send at a time: this one breaks.
			f.Host.InterruptSendAfter(budget)
		} else {
			// The stream into the receive ends early, as a cut connection.
			c.Stdin = &cutReader{r: c.Stdin, left: budget}
		}
	}
	return f.Host.Run(ctx, c)
}

// cutReader returns n bytes of r, then fails as a lost connection does.
type cutReader struct {
	r    io.Reader
	left int64
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (s *yearSim) hosts() map[string]remote.Host {
	return map[string]remote.Host{"src": &faultHost{s.src, s}, "flaky": &faultHost{s.flaky, s}, "away": &faultHost{s.away, s}}
}

// observeAll lists every host directly (no faults) for the invariants.
func (s *yearSim) observeAll() map[string]*observe.Host {
	out := map[string]*observe.Host{}
	for name, h := range map[string]*zfsfake.Host{"src": s.src, "flaky": s.flaky, "away": s.away} {
		oh, err := observe.ObserveHost(context.Background(), name, h)
		if err != nil {
			s.fatalf("observe %s: %v", name, err)
		}
		out[name] = oh
	}
	return out
}

func (s *yearSim) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("ZPLAN_SIM_SEED=%d step %d (%s): %s", s.seed, s.step, s.now.Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// plan observes the hosts as the controller does (observe.ObserveAll):
// an unreachable target's edges become conflicts, the rest is planned.
func (s *yearSim) plan() *plan.Plan {
	st, err := observe.ObserveAll(context.Background(), s.hosts())
	if err != nil {
		s.fatalf("observe: %v", err)
	}
	for name, err := range st.Unobserved {
		if name != "away" || !errors.Is(err, errUnreachable) {
			s.fatalf("observe %s: %v", name, err)
		}
	}
	pol, err := desired.Resolve(s.cfg, st)
	if err != nil {
		s.fatalf("resolve: %v", err)
	}
	p, err := diff.Plan(pol, st, s.now, diff.Options{})
	if err != nil {
		s.fatalf("plan: %v", err)
	}
	return p
}

func (s *yearSim) apply(p *plan.Plan, faults bool) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.mu.Lock()
	s.inApply, s.cancel, s.cmdN, s.crashAt, s.crashed, s.argvs = faults, cancel, 0, 0, false, nil
	s.faultAt, s.faultKind, s.faultHost, s.hostN = 0, "", nil, map[*zfsfake.Host]int{}
	if faults && s.rng.IntN(3) == 0 {
		s.faultHost = []*zfsfake.Host{s.src, s.src, s.flaky, s.away}[s.rng.IntN(4)]
		n := 1 + s.rng.IntN(max(1, len(p.Actions)+2))
		switch k := []string{faultFail, faultLostReply, faultHang, faultPartial, faultPartial, faultCrash}[s.rng.IntN(6)]; k {
		case faultCrash:
			s.crashAt = n
		default:
			s.faultAt, s.faultKind = n, k
		}
	}
	s.mu.Unlock()
	// One action at a time, so that a seed replays the same commands.
	_, err := apply.Apply(ctx, p, s.hosts(), apply.Options{Parallelism: 1})
	s.mu.Lock()
	s.inApply = false
	s.mu.Unlock()
	return err
}

// edgeState is what the invariants remember of an edge between runs.
type edgeState struct {
	commonTXG   uint64            // source createtxg of the newest common snapshot
	cursorTXG   uint64            // createtxg of the newest cursor bookmark
	targetGUID  uint64            // the target dataset's GUID once it has a snapshot
	unsent      map[uint64]string // source snapshots newer than the target's newest
	hasSnapshot bool
}

type dsKey struct {
	edge int
	ds   string
}

func TestSimulateYearWithFaults(t *testing.T) {
	// By default six days (a two-day absence): every fault type in under
	// a minute of CI. ZPLAN_SIM_DAYS=20 gives the two-week absence with
	// three days to catch up, 365 the year.
	days := 6
	if v := os.Getenv("ZPLAN_SIM_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ZPLAN_SIM_DAYS=%q: want a number of days", v)
		}
		days = n
	}
	seed := uint64(20261202)
	if v := os.Getenv("ZPLAN_SIM_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("ZPLAN_SIM_SEED=%q: want an unsigned integer", v)
		}
		seed = n
	}
	start := time.Now()
	s := newYearSim(t, seed, days)
	prev := map[dsKey]*edgeState{}
	awayCameBack := false
	before := s.observeAll() // no snapshot changes between runs but the ones apply makes
	for s.step = 0; s.step < days*96; s.step++ {
		s.now = s.now.Add(15 * time.Minute)
		for _, ds := range yearDatasets {
			if s.rng.IntN(3) == 0 {
				s.src.Write(ds, uint64(s.rng.IntN(256))<<10)
			}
		}
		p := s.plan()
		s.checkPlan(p, before)
		err := s.apply(p, true)
		s.runs++
		if err != nil {
			s.failedRuns++
			if os.Getenv("ZPLAN_SIM_DEBUG") != "" {
				t.Logf("step %d: %d cmds, fault %s@%d crash@%d: %v", s.step, s.cmdN, s.faultKind, s.faultAt, s.crashAt, err)
			}
		}
		s.mu.Lock()
		argvs := s.argvs
		s.mu.Unlock()
		after := s.observeAll()
		s.checkRun(p, err, argvs, before, after, prev)
		before = after
		if s.step%(30*96) == 30*96-1 {
			t.Logf("day %d: %d runs, %d failed, %d invariant checks, %s", s.step/96+1, s.runs, s.failedRuns, s.checks, time.Since(start).Round(time.Second))
		}
		if !s.isAway() && !s.now.Before(s.awayUntil) && !awayCameBack {
			awayCameBack = true
		}
	}
	// The faults stop: the next runs succeed and converge (a run that
	// receives snapshots changes what target retention keeps, so the
	// destroys it leads to come one run later), and each edge ends with
	// exactly one cursor per dataset and the source's newest snapshot.
	s.now = s.now.Add(15 * time.Minute)
	for i := 0; ; i++ {
		p := s.plan()
		if p.Empty() {
			break
		}
		if i == 3 {
			s.fatalf("no convergence after the faults stopped: %d actions, first %s (%s)", len(p.Actions), p.Actions[0].Address, p.Actions[0].Reason)
		}
		s.checkPlan(p, before)
		err := s.apply(p, false)
		s.runs++
		after := s.observeAll()
		s.checkRun(p, err, nil, before, after, prev)
		before = after
		if err != nil {
			s.fatalf("run %d after the faults stopped failed: %v", i+1, err)
		}
	}
	if s.failedRuns == 0 {
		s.fatalf("no run failed: the simulation injected nothing")
	}
	s.checkConverged(s.observeAll())
	if !awayCameBack {
		s.fatalf("the away host never came back")
	}
	var fs []string
	for _, f := range faultTypes {
		fs = append(fs, fmt.Sprintf("%s=%d", f, s.faults[f]))
	}
	t.Logf("seed %d, %d days: %d runs (%d failed), faults %s, %d invariant checks, incremental sends from a cursor bookmark %v, %s wall",
		seed, days, s.runs, s.failedRuns, strings.Join(fs, " "), s.checks, s.fromBM, time.Since(start).Round(time.Millisecond))
	for _, f := range faultTypes {
		if s.faults[f] == 0 {
			s.fatalf("no %s fault was injected: the simulation does not exercise it", f)
		}
	}
}

// checkPlan checks what every plan must be, before it runs.
func (s *yearSim) checkPlan(p *plan.Plan, obs map[string]*observe.Host) {
	s.t.Helper()
	// apply FILE refuses what the configuration cannot produce.
	if pol, err := planfile.PolicyFor(s.cfg, p); err != nil {
		s.fatalf("%v", err)
	} else if errs := planfile.Validate(p, pol); len(errs) > 0 {
		s.fatalf("the plan fails saved-plan validation: %v", errors.Join(errs...))
	}
	s.checks++
	for _, c := range p.Conflicts {
		// The only conflict allowed: the away host cannot be observed.
		if !(c.Kind == plan.ConflictHostUnobserved && c.Host == "away" && s.isAway()) {
			s.fatalf("conflict %+v", *c)
		}
	}
	s.checks++
	for _, a := range p.Actions {
		if a.Kind == plan.KindDestroy {
			for _, sn := range a.Snapshots {
				// Invariant 1: only managed snapshots.
				if !strings.HasPrefix(sn.Name, "zplan_") {
					s.fatalf("plan destroys foreign snapshot %s@%s", a.Dataset, sn.Name)
				}
			}
		}
		if a.Kind == plan.KindSendFull {
			// Invariant 5: no full resend where an incremental was possible.
			if d := obs[a.Send.TargetHost].Datasets[a.Send.TargetDataset]; d != nil && len(d.Snapshots) > 0 {
				s.fatalf("full send %s into %s:%s, which has %d snapshots", a.Address, a.Send.TargetHost, a.Send.TargetDataset, len(d.Snapshots))
			}
		}
		if a.Kind == plan.KindSendIncremental && strings.HasPrefix(a.Send.From, "#") {
			s.fromBM[a.Send.Edge]++
		}
		if a.Kind == plan.KindRollback {
			s.fatalf("rollback planned: %s", a.Address)
		}
	}
	s.checks += 2
}

func holdsStep(sn *observe.Snapshot) string {
	for _, h := range sn.Holds {
		if _, ok := plan.ParseStepTag(h); ok {
			return h
		}
	}
	return ""
}

// checkRun checks the invariants after one apply.
func (s *yearSim) checkRun(p *plan.Plan, runErr error, argvs [][]string, before, after map[string]*observe.Host, prev map[dsKey]*edgeState) {
	s.t.Helper()
	src := after["src"]
	// Invariant 1: the foreign snapshot survives.
	if src.Datasets["tank/data"].SnapshotByName("manual_keep_forever") == nil {
		s.fatalf("the foreign snapshot was destroyed")
	}
	s.checks++
	// Invariant 3: never recv -F.
	for _, a := range argvs {
		if len(a) > 2 && (a[2] == "recv" || a[2] == "receive") && slices.Contains(a, "-F") {
			s.fatalf("%s ran %v", a[0], a[1:])
		}
	}
	s.checks++
	// Apply never improvises: every snapshot gone since the run started was
	// named by a destroy action of the plan (retention decided it). And the
	// last hour is kept whole on the source (1x1h(keep=all)).
	planned := map[string]bool{}
	for _, a := range p.Actions {
		if a.Kind == plan.KindDestroy {
			for _, sn := range a.Snapshots {
				planned[a.Host+":"+a.Dataset+"@"+sn.Name] = true
			}
		}
	}
	for host, bh := range before {
		for name, bd := range bh.Datasets {
			ad := after[host].Datasets[name]
			for _, sn := range bd.Snapshots {
				if ad != nil && ad.SnapshotByGUID(sn.GUID) != nil {
					continue
				}
				if !planned[host+":"+name+"@"+sn.Name] {
					s.fatalf("%s:%s@%s vanished but the plan did not destroy it", host, name, sn.Name)
				}
				if host == "src" && s.now.Sub(sn.Creation) < time.Hour {
					s.fatalf("%s:%s@%s is %s old and retention keeps the last hour", host, name, sn.Name, s.now.Sub(sn.Creation))
				}
			}
			s.checks++
		}
	}
	// Invariant 6 (step holds): none left after a successful run.
	if runErr == nil {
		for host, ah := range after {
			for name, d := range ah.Datasets {
				for _, sn := range d.Snapshots {
					if tag := holdsStep(sn); tag != "" {
						s.fatalf("successful run left hold %s on %s:%s@%s", tag, host, name, sn.Name)
					}
				}
			}
		}
		s.checks++
	}
	for ei, e := range yearEdges {
		tgt := after[e.host]
		for _, ds := range yearDatasets {
			k := dsKey{ei, ds}
			st := prev[k]
			if st == nil {
				st = &edgeState{}
				prev[k] = st
			}
			sd, td := src.Datasets[ds], tgt.Datasets[s.target(ei, ds)]
			var cursors []*observe.Bookmark
			for _, b := range sd.Bookmarks {
				if edge, _, ok := plan.ParseCursor(b.Name); ok && edge == e.id {
					cursors = append(cursors, b)
				}
			}
			// The cursor is never lost: the newest one is at least as new
			// as the newest one before the run (invariant 2).
			var cursorTXG uint64
			for _, b := range cursors {
				cursorTXG = max(cursorTXG, b.CreateTXG)
			}
			if cursorTXG < st.cursorTXG {
				s.fatalf("edge %s %s: the cursor went back from txg %d to %d", e.id, ds, st.cursorTXG, cursorTXG)
			}
			st.cursorTXG = cursorTXG
			s.checks++
			if td == nil || len(td.Snapshots) == 0 {
				if st.hasSnapshot {
					s.fatalf("edge %s: %s lost all its snapshots", e.id, s.target(ei, ds))
				}
				continue
			}
			// The target dataset is never re-created (a full resend would).
			if st.hasSnapshot && td.GUID != st.targetGUID {
				s.fatalf("edge %s: %s was re-created (guid %d -> %d)", e.id, s.target(ei, ds), st.targetGUID, td.GUID)
			}
			st.hasSnapshot, st.targetGUID = true, td.GUID
			s.checks++
			// Invariant 2: the newest common snapshot survives on both
			// sides, or a newer one replaces it; on the source as a
			// snapshot or a bookmark.
			var common uint64
			for _, ts := range td.Snapshots {
				if !strings.HasPrefix(ts.Name, "zplan_") {
					s.fatalf("edge %s: target has a snapshot zplan did not send: %s", e.id, ts.Name)
				}
				if ss := sd.SnapshotByGUID(ts.GUID); ss != nil {
					common = max(common, ss.CreateTXG)
				}
				for _, b := range sd.Bookmarks {
					if b.GUID == ts.GUID {
						common = max(common, b.CreateTXG)
					}
				}
			}
			if common == 0 || common < st.commonTXG {
				s.fatalf("edge %s %s: the newest common snapshot went from txg %d to %d: the chain is broken", e.id, ds, st.commonTXG, common)
			}
			st.commonTXG = common
			newest := td.Newest()
			ok := sd.SnapshotByGUID(newest.GUID) != nil
			for _, b := range sd.Bookmarks {
				ok = ok || b.GUID == newest.GUID
			}
			if !ok {
				s.fatalf("edge %s: %s@%s has neither a snapshot nor a bookmark on the source", e.id, s.target(ei, ds), newest.Name)
			}
			s.checks += 2
			// Invariant 9: what was unsent before the run is on the source
			// still, or has reached this target.
			for guid, name := range st.unsent {
				if sd.SnapshotByGUID(guid) == nil && td.SnapshotByGUID(guid) == nil {
					s.fatalf("edge %s: %s was destroyed on the source before it was sent", e.id, name)
				}
			}
			s.checks++
			st.unsent = map[uint64]string{}
			base := sd.SnapshotByGUID(newest.GUID)
			var baseTXG uint64
			if base != nil {
				baseTXG = base.CreateTXG
			} else {
				baseTXG = common
			}
			for _, sn := range sd.Snapshots {
				if strings.HasPrefix(sn.Name, "zplan_") && sn.CreateTXG > baseTXG {
					st.unsent[sn.GUID] = ds + "@" + sn.Name
				}
			}
		}
	}
}

// checkConverged checks the end state: one cursor per edge and dataset,
// the target up to date, the source's last hold gone.
func (s *yearSim) checkConverged(obs map[string]*observe.Host) {
	src := obs["src"]
	for ei, e := range yearEdges {
		for _, ds := range yearDatasets {
			sd, td := src.Datasets[ds], obs[e.host].Datasets[s.target(ei, ds)]
			n := 0
			for _, b := range sd.Bookmarks {
				if edge, guid, ok := plan.ParseCursor(b.Name); ok && edge == e.id {
					n++
					if td.Newest() == nil || guid != td.Newest().GUID {
						s.fatalf("edge %s %s: cursor %s is not the target's newest snapshot", e.id, ds, b.Name)
					}
				}
			}
			if n != 1 {
				s.fatalf("edge %s %s: %d cursors after convergence, want 1", e.id, ds, n)
			}
			if td.Newest().GUID != sd.Newest().GUID {
				s.fatalf("edge %s %s: target's newest %s is not the source's newest %s", e.id, ds, td.Newest().Name, sd.Newest().Name)
			}
			lasts := 0
			for _, sn := range td.Snapshots {
				if sn.HasHold(plan.LastTag(e.id)) {
					lasts++
				}
			}
			if lasts != 1 || !td.Newest().HasHold(plan.LastTag(e.id)) {
				s.fatalf("edge %s %s: %d last-received holds, want 1 on the newest", e.id, ds, lasts)
			}
			s.checks += 3
		}
	}
}
