package desired

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/hclspec/timespec"
)

// Snap is one snapshot as retention sees it.
type Snap struct {
	Name      string // the part after '@'
	Created   time.Time
	CreateTXG uint64
}

// Verdict is retention's decision on one snapshot.
type Verdict struct {
	Keep bool
	// Rule names the rule that decided: "grid 24x1h", "keep_last 10",
	// "keep_matching ^manual_", "newest", "clock skew"; for a destroy,
	// the rule that came closest to keeping it.
	Rule string
	// Reason is for humans: which rule and bucket keeps the snapshot, or
	// why no rule does.
	Reason string
	// Keepers, for a snapshot retention lets go, names the snapshots
	// that make it redundant; nil for kept ones. Shared between
	// verdicts: read it, never modify it.
	Keepers *Keepers
}

// Keepers are indices into the snaps given to Decide: the keepers of a
// dropped snapshot's grid bucket (oldest first) and the keep_last window
// (newest first). The planner asserts they still exist before it
// destroys, since a snapshot destroyed because others cover its time
// must not go once those others are gone.
type Keepers struct {
	Bucket []int
	Window []int
}

// Retention is a compiled retention block. The rules combine as a union:
// a snapshot is kept if any rule keeps it. Two rules are implicit and
// always on: the newest snapshot is kept (so pruning never leaves a
// dataset without one), and snapshots created after now (clock skew
// between hosts) are kept, since their age is meaningless.
type Retention struct {
	grid     []timespec.Interval
	gridText string
	keepLast int
	matching []*regexp.Regexp
}

// CompileRetention checks r and compiles it; nil compiles to a nil
// *Retention, which keeps everything. The rules are checked by
// hclspec's Retention.Rules, the same code the configuration decoder
// reports from; the first problem is returned.
func CompileRetention(r *hclspec.Retention) (*Retention, error) {
	rules, errs := r.Rules()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	if rules == nil {
		return nil, nil // a nil *Retention keeps everything
	}
	out := &Retention{grid: rules.Grid, keepLast: rules.KeepLast, matching: rules.Matching}
	if out.grid != nil {
		parts := make([]string, len(out.grid))
		for i, iv := range out.grid {
			parts[i] = iv.Text
		}
		out.gridText = strings.Join(parts, " | ")
	}
	return out, nil
}

// Evaluate decides, for each snapshot, whether it stays. The result is
// parallel to snaps. It reads no clock: now is the plan time.
//
// Snapshots are ordered by CreateTXG, then Created, then Name; "newest"
// and "last" refer to that order. The rules:
//
//   - newest: the last snapshot in that order is always kept.
//   - clock skew: a snapshot created after now is always kept and takes
//     no place in the grid.
//   - grid: the intervals are laid back to back going back from now. An
//     interval NxD is N buckets of length D. A snapshot of age
//     a = now - Created falls in the bucket whose age range [start, end)
//     contains a, so in wall-clock terms buckets are half-open
//     (now-end, now-start]: a snapshot taken exactly at now is in the
//     first bucket, one exactly D old is in the second. Each bucket keeps
//     its K oldest snapshots (keep=all keeps all). Keeping the oldest means
//     a kept snapshot stays kept as it ages through a bucket instead of
//     being replaced by each newer one. Snapshots at least as old as the
//     whole grid's span are not kept by the grid.
//   - keep_last N: the N last snapshots are kept.
//   - keep_matching: snapshots whose name matches any expression are kept.
func (r *Retention) Evaluate(snaps []Snap, now time.Time) []Verdict {
	return r.Decide(snaps, now, true)
}

// Decide is Evaluate, but when explainKept is false the grid leaves the
// Reason of kept snapshots empty: a plan only shows why snapshots go,
// and formatting a reason for each of millions of kept snapshots
// dominated the time of large plans.
func (r *Retention) Decide(snaps []Snap, now time.Time, explainKept bool) []Verdict {
	out := make([]Verdict, len(snaps))
	if len(snaps) == 0 {
		return out
	}
	if r == nil {
		for i := range out {
			out[i] = Verdict{Keep: true, Rule: "none", Reason: "no retention configured"}
		}
		return out
	}
	order := make([]int, len(snaps))
	for i := range order {
		order[i] = i
	}
	less := func(a, b int) bool {
		x, y := snaps[order[a]], snaps[order[b]]
		if x.CreateTXG != y.CreateTXG {
			return x.CreateTXG < y.CreateTXG
		}
		if !x.Created.Equal(y.Created) {
			return x.Created.Before(y.Created)
		}
		return x.Name < y.Name
	}
	// Listings arrive in createtxg order; sort only when they do not.
	if !sort.SliceIsSorted(order, less) {
		sort.SliceStable(order, less)
	}
	rank := make([]int32, len(snaps)) // position from the end: 0 is newest
	for pos, i := range order {
		rank[i] = int32(len(snaps) - 1 - pos)
	}
	// The keep_last window, newest first, shared by every verdict that
	// names it.
	var window []int
	for pos := len(order) - 1; pos >= 0 && len(window) < r.keepLast; pos-- {
		window = append(window, order[pos])
	}
	windowOnly := &Keepers{Window: window}
	grid := r.evaluateGrid(snaps, order, now, explainKept, window)

	for i, s := range snaps {
		var v Verdict
		switch {
		case s.Created.After(now):
			v = Verdict{Keep: true, Rule: "clock skew", Reason: fmt.Sprintf("in the future (clock skew): created %s, after the plan time %s", stamp(s.Created), stamp(now))}
		case rank[i] == 0:
			v = Verdict{Keep: true, Rule: "newest", Reason: "the newest snapshot is always kept"}
		case grid != nil && grid[i].Keep:
			v = grid[i]
		case int(rank[i]) < r.keepLast:
			v = Verdict{Keep: true, Rule: r.keepLastRule(), Reason: fmt.Sprintf("keep_last %d: number %d from the newest", r.keepLast, rank[i]+1)}
		default:
			if re := r.matchingRule(s.Name); re != nil {
				v = Verdict{Keep: true, Rule: "keep_matching " + re.String(), Reason: fmt.Sprintf("keep_matching: name matches %s", re)}
				break
			}
			// Destroy: say why each rule lets it go.
			var why []string
			v.Keepers = windowOnly
			if grid != nil && grid[i].Keepers != nil {
				v.Keepers = grid[i].Keepers
			}
			if grid != nil {
				v.Rule = grid[i].Rule
				why = append(why, grid[i].Reason)
			}
			if r.keepLast > 0 {
				if v.Rule == "" {
					v.Rule = r.keepLastRule()
				}
				why = append(why, fmt.Sprintf("keep_last %d: it is number %d from the newest", r.keepLast, rank[i]+1))
			}
			if len(r.matching) > 0 {
				if v.Rule == "" {
					v.Rule = "keep_matching"
				}
				why = append(why, "keep_matching: name matches no pattern")
			}
			v.Reason = strings.Join(why, "; ")
		}
		out[i] = v
	}
	return out
}

func (r *Retention) keepLastRule() string { return fmt.Sprintf("keep_last %d", r.keepLast) }

func (r *Retention) matchingRule(name string) *regexp.Regexp {
	for _, re := range r.matching {
		if re.MatchString(name) {
			return re
		}
	}
	return nil
}

// evaluateGrid returns the grid's verdict for every snapshot (nil without
// a grid). Future snapshots get a zero verdict; Evaluate keeps them anyway.
// Buckets are numbered globally (interval offset + index) and counted in
// one pass over the snapshots, oldest first; strings are built only for
// what a plan shows.
func (r *Retention) evaluateGrid(snaps []Snap, order []int, now time.Time, explainKept bool, window []int) []Verdict {
	if r.grid == nil {
		return nil
	}
	var span time.Duration
	firstBucket := make([]int, len(r.grid)) // global number of each interval's first bucket
	nb := 0
	for k, iv := range r.grid {
		firstBucket[k] = nb
		nb += iv.Count
		span += time.Duration(iv.Count) * iv.Length
	}
	out := make([]Verdict, len(snaps))
	tooOld := Verdict{Rule: "grid", Reason: fmt.Sprintf("grid: older than the grid's %s span (%s)", timespec.FormatDuration(span), r.gridText)}
	const future, old = -2, -1
	bucketOf := make([]int, len(snaps))
	interval := make([]int32, len(snaps))
	kept := make([]bool, len(snaps))
	count := map[int]int{}
	drops := map[int]bool{} // buckets that let some snapshot go
	for _, i := range order {
		s := snaps[i]
		if s.Created.After(now) {
			bucketOf[i] = future
			continue
		}
		age := now.Sub(s.Created)
		bucketOf[i] = old
		var off time.Duration
		for k, iv := range r.grid {
			ivSpan := time.Duration(iv.Count) * iv.Length
			if age < off+ivSpan {
				g := firstBucket[k] + int((age-off)/iv.Length)
				bucketOf[i], interval[i] = g, int32(k)
				n := count[g]
				count[g] = n + 1
				kept[i] = iv.Keep == timespec.KeepAll || n < iv.Keep
				if !kept[i] {
					drops[g] = true
				}
				break
			}
			off += ivSpan
		}
	}
	// Names each dropping bucket keeps, for the reasons of what it drops.
	keptNames := map[int][]string{}
	keepers := map[int]*Keepers{}
	if len(drops) > 0 {
		for _, i := range order {
			if g := bucketOf[i]; g >= 0 && kept[i] && drops[g] {
				keptNames[g] = append(keptNames[g], snaps[i].Name)
				if keepers[g] == nil {
					keepers[g] = &Keepers{Window: window}
				}
				keepers[g].Bucket = append(keepers[g].Bucket, i)
			}
		}
	}
	bucketText := map[int]string{}
	describe := func(i int) string {
		g := bucketOf[i]
		if t, ok := bucketText[g]; ok {
			return t
		}
		k := interval[i]
		iv := r.grid[k]
		var off time.Duration
		for _, prev := range r.grid[:k] {
			off += time.Duration(prev.Count) * prev.Length
		}
		newer := now.Add(-(off + time.Duration(g-firstBucket[k])*iv.Length))
		t := fmt.Sprintf("bucket %s..%s", stamp(newer.Add(-iv.Length)), stamp(newer))
		bucketText[g] = t
		return t
	}
	rules := make([]string, len(r.grid))
	for k, iv := range r.grid {
		rules[k] = "grid " + iv.Text
	}
	for i := range snaps {
		g := bucketOf[i]
		switch {
		case g == future:
			continue
		case g == old:
			out[i] = tooOld
			continue
		}
		iv := r.grid[interval[i]]
		rule := rules[interval[i]]
		if kept[i] {
			out[i] = Verdict{Keep: true, Rule: rule}
			if explainKept {
				what := "its oldest"
				switch {
				case iv.Keep == timespec.KeepAll:
					what = "all its snapshots"
				case iv.Keep > 1:
					what = fmt.Sprintf("its %d oldest", iv.Keep)
				}
				out[i].Reason = fmt.Sprintf("%s: %s keeps %s", rule, describe(i), what)
			}
			continue
		}
		out[i] = Verdict{Rule: rule, Reason: fmt.Sprintf("%s: %s already keeps %s", rule, describe(i), strings.Join(keptNames[g], ", ")), Keepers: keepers[g]}
	}
	return out
}

// stamp formats a time compactly in UTC for reasons: 2026-11-21T10:00Z,
// with seconds only when they are not zero.
func stamp(t time.Time) string {
	t = t.UTC()
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04Z")
}
