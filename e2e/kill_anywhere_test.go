package e2e

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

// killRuns is how many kill -9 runs TestKillAnywhere makes:
// ZPLAN_KILL_RUNS, default 1. Under emulation one run (a killed apply,
// the apply that repairs it, a plan) takes about 4 minutes, so CI makes
// one and longer soaks are asked for.
func killRuns(t *testing.T) int {
	s := os.Getenv("ZPLAN_KILL_RUNS")
	if s == "" {
		return 1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("ZPLAN_KILL_RUNS=%q: want a positive number", s)
	}
	return n
}

// killSeed is ZPLAN_KILL_SEED, or the clock; the test logs it, so a
// failing run is reproduced with ZPLAN_KILL_SEED=<seed>.
func killSeed(t *testing.T) uint64 {
	if s := os.Getenv("ZPLAN_KILL_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ZPLAN_KILL_SEED=%q: want a number", s)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// TestKillAnywhere is invariant 5 at random instants: three datasets
// replicate with keep_last = 2 on both sides, so every round snapshots,
// sends incrementally and destroys on both hosts. Each run writes to the
// datasets, moves the plan time on, starts apply and kills it with
// SIGKILL after a random delay drawn from the length of an unkilled
// apply; then applies run until the plan says "No changes.". After each
// run every dataset must hold exactly the two newest snapshots on both
// sides with the source's GUIDs, the target's snapshots from earlier
// runs and the target datasets themselves must be the ones received
// before (nothing re-created, no full resend), no step hold may remain,
// each edge has exactly one cursor and one last-received hold, and no
// force-unlock was needed. At the end the newest snapshots' files are
// compared byte for byte.
func TestKillAnywhere(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	runs, seed := killRuns(t), killSeed(t)
	t.Logf("ZPLAN_KILL_RUNS=%d ZPLAN_KILL_SEED=%d", runs, seed)
	rng := rand.New(rand.NewPCG(seed, 0x7a706c616e))

	src, dst := l.NewPool(t, 256), l.NewPool(t, 256)
	sources := []string{src + "/data", src + "/data/a", src + "/data/b"}
	target := func(sds string) string { return dst + "/backup/" + strings.TrimPrefix(sds, src+"/") }
	for _, ds := range sources {
		l.Run(t, "zfs", "create", ds)
		writeRandom(t, l, ds, 1)
	}
	z := newZenv(t, l, keepLastConfig(src, dst, 2))
	z.mustApply()

	// One unkilled round measures how long an apply takes.
	round := func() {
		for _, ds := range sources {
			if rng.IntN(3) > 0 {
				writeRandom(t, l, ds, 1+rng.IntN(4))
			}
		}
		z.advance(5 * time.Minute)
	}
	round()
	start := time.Now()
	z.mustApply()
	window := time.Since(start)
	t.Logf("an unkilled incremental apply took %s; kills fall in [0, %s)", window.Round(time.Millisecond), (window * 6 / 5).Round(time.Millisecond))

	// What was received must stay received: GUIDs of the target datasets
	// and of every target snapshot seen so far.
	dsGUID := map[string]string{}
	seen := map[string]string{} // target fs@snap -> guid
	for _, sds := range sources {
		dsGUID[target(sds)] = prop(t, l, target(sds), "guid")
	}

	killed, converges := 0, 0
	for run := 0; run < runs; run++ {
		round()
		p := z.startApply()
		delay := time.Duration(rng.Int64N(int64(window * 6 / 5)))
		select {
		case <-p.done:
		case <-time.After(delay):
		}
		if p.exited() {
			t.Logf("run %d: apply finished before the kill at %s", run, delay.Round(time.Millisecond))
		} else {
			p.kill9(t)
			killed++
			t.Logf("run %d: killed apply -9 after %s; its output:\n%s", run, delay.Round(time.Millisecond), p.output())
		}
		// zplan breaks the dead apply's lock itself; a lingering zfs
		// recv of the killed apply may make one apply fail as busy.
		for try := 0; ; try++ {
			out, code := z.zplan("apply", "-auto-approve")
			if strings.Contains(out, "force-unlock") && code != 0 {
				t.Fatalf("run %d: apply asked for a human step:\n%s", run, out)
			}
			if code == 0 {
				if plan, pcode := z.plan(); pcode == 0 && strings.Contains(plan, "No changes.") {
					break
				}
			}
			if try == 4 {
				t.Fatalf("run %d (seed %d): no convergence after %d applies", run, seed, try+1)
			}
			converges++
			time.Sleep(2 * time.Second)
		}
		for _, sds := range sources {
			tds := target(sds)
			newest := checkEdgeInSync(t, l, sds, tds, "r1")
			if newest != z.snapName() {
				t.Errorf("run %d: %s newest %s, want %s", run, tds, newest, z.snapName())
			}
			ss, ts := snapshots(t, l, sds), snapshots(t, l, tds)
			if len(ss) != 2 || len(ts) != 2 {
				t.Errorf("run %d: keep_last = 2 but %s has %v and %s has %v", run, sds, snapNamesOf(ss), tds, snapNamesOf(ts))
			}
			for i := range min(len(ss), len(ts)) {
				if ss[i] != ts[i] {
					t.Errorf("run %d: %s@%s (guid %s) differs from the source's %s@%s (guid %s)", run, tds, ts[i].name, ts[i].guid, sds, ss[i].name, ss[i].guid)
				}
			}
			for _, s := range ts {
				if g, ok := seen[tds+"@"+s.name]; ok && g != s.guid {
					t.Errorf("run %d: %s@%s was re-created (guid %s, earlier %s)", run, tds, s.name, s.guid, g)
				}
				seen[tds+"@"+s.name] = s.guid
			}
			if g := prop(t, l, tds, "guid"); g != dsGUID[tds] {
				t.Errorf("run %d: target dataset %s was re-created (guid %s, was %s): a full resend", run, tds, g, dsGUID[tds])
			}
		}
		for snap, tags := range holdsUnder(t, l, src) {
			for _, tag := range tags {
				if strings.HasPrefix(tag, "zplan_step_") {
					t.Errorf("run %d: step hold %s left on %s", run, tag, snap)
				}
			}
		}
		if t.Failed() {
			t.Fatalf("run %d of seed %d broke an invariant; reproduce with ZPLAN_KILL_SEED=%d ZPLAN_KILL_RUNS=%d", run, seed, seed, run+1)
		}
	}
	for _, sds := range sources {
		snap := "@" + z.snapName()
		if a, b := treeSum(t, l, sds+snap), treeSum(t, l, target(sds)+snap); a != b {
			t.Errorf("files of %s%s and its replica differ:\n%s\n---\n%s", sds, snap, a, b)
		}
	}
	t.Logf("kill-anywhere: %d runs, %d killed mid-apply, %d extra applies to converge, seed %d", runs, killed, converges, seed)
}

// treeSum mounts a snapshot read-only in the guest and lists the
// sha256 of every file in it, sorted by path.
func treeSum(t *testing.T, l *lab.Lab, snap string) string {
	t.Helper()
	return l.Sh(t, `set -e; d=$(mktemp -d); mount -t zfs -o ro '`+snap+`' "$d"; (cd "$d" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); umount "$d"; rmdir "$d"`)
}
