package desired

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/hclspec"
)

var retNow = ts("2026-11-22T12:00:00Z")

// at builds a snapshot named after its creation time, with a CreateTXG
// that follows creation order.
func at(hhmm string) Snap {
	t := ts("2026-11-22T" + hhmm + ":00Z")
	return Snap{Name: "zplan_" + t.Format("20060102T1504Z"), Created: t, CreateTXG: uint64(t.Unix())}
}

func named(name string, s Snap) Snap { s.Name = name; return s }

func kept(snaps []Snap, v []Verdict) []string {
	var out []string
	for i, s := range snaps {
		if v[i].Keep {
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out
}

func names(snaps ...Snap) []string {
	var out []string
	for _, s := range snaps {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

func TestRetentionEvaluate(t *testing.T) {
	manual := named("manual_before_upgrade", at("03:00"))
	future := Snap{Name: "zplan_future", Created: ts("2026-11-22T12:05:00Z"), CreateTXG: 1} // low txg: skewed clock
	cases := []struct {
		name  string
		ret   hclspec.Retention
		snaps []Snap
		keep  []string
		// reasons maps a snapshot name to a substring of its Reason.
		reasons map[string]string
		rules   map[string]string
	}{
		{
			name:  "keep=all keeps the whole first hour, not its older edge",
			ret:   hclspec.Retention{Grid: "1x1h(keep=all)"},
			snaps: []Snap{at("10:45"), at("11:00"), at("11:15"), at("11:30"), at("11:45"), at("12:00")},
			keep:  names(at("11:15"), at("11:30"), at("11:45"), at("12:00")),
			reasons: map[string]string{
				at("11:00").Name: "older than the grid's 1h span (1x1h(keep=all))",
				at("11:15").Name: "grid 1x1h(keep=all): bucket 2026-11-22T11:00Z..2026-11-22T12:00Z keeps all its snapshots",
				at("12:00").Name: "newest",
			},
		},
		{
			// Buckets are (now-end, now-start]: 11:00 is exactly 1h old and
			// belongs to the second bucket, 10:00 is exactly the span old.
			name:  "bucket edges",
			ret:   hclspec.Retention{Grid: "2x1h"},
			snaps: []Snap{at("10:00"), at("10:30"), at("11:00"), at("11:30"), at("12:00")},
			keep:  names(at("10:30"), at("11:30"), at("12:00")),
			reasons: map[string]string{
				at("10:00").Name: "grid: older than the grid's 2h span",
				at("10:30").Name: "grid 2x1h: bucket 2026-11-22T10:00Z..2026-11-22T11:00Z keeps its oldest",
				at("11:00").Name: "grid 2x1h: bucket 2026-11-22T10:00Z..2026-11-22T11:00Z already keeps zplan_20261122T1030Z",
				at("11:30").Name: "bucket 2026-11-22T11:00Z..2026-11-22T12:00Z keeps its oldest",
			},
			rules: map[string]string{at("11:00").Name: "grid 2x1h", at("10:00").Name: "grid", at("12:00").Name: "newest"},
		},
		{
			name:  "keep=2 keeps the two oldest of a bucket",
			ret:   hclspec.Retention{Grid: "1x1h(keep=2)"},
			snaps: []Snap{at("11:10"), at("11:20"), at("11:30"), at("11:40")},
			keep:  names(at("11:10"), at("11:20"), at("11:40")),
			reasons: map[string]string{
				at("11:30").Name: "already keeps zplan_20261122T1110Z, zplan_20261122T1120Z",
				at("11:20").Name: "keeps its 2 oldest",
			},
		},
		{
			name:  "empty buckets in between",
			ret:   hclspec.Retention{Grid: "3x1h"},
			snaps: []Snap{at("09:30"), at("12:00")},
			keep:  names(at("09:30"), at("12:00")),
		},
		{
			name:  "mixed intervals",
			ret:   hclspec.Retention{Grid: "1x1h(keep=all) | 2x2h"},
			snaps: []Snap{at("06:00"), at("06:30"), at("07:30"), at("08:00"), at("09:00"), at("10:30"), at("11:30")},
			// first hour: 11:30; 2h buckets (09:00,11:00] keeps 10:30 and
			// (07:00,09:00] keeps 07:30 (09:00 is on its newer edge).
			keep: names(at("07:30"), at("10:30"), at("11:30")),
			reasons: map[string]string{
				at("08:00").Name: "grid 2x2h: bucket 2026-11-22T07:00Z..2026-11-22T09:00Z already keeps zplan_20261122T0730Z",
				at("09:00").Name: "bucket 2026-11-22T07:00Z..2026-11-22T09:00Z already keeps zplan_20261122T0730Z",
				at("06:30").Name: "older than the grid's 5h span",
			},
		},
		{
			name:  "clock skew: future snapshot kept and newest by txg kept",
			ret:   hclspec.Retention{Grid: "1x1h"},
			snaps: []Snap{future, at("10:00"), at("11:10"), at("11:20")},
			keep:  names(future, at("11:10"), at("11:20")),
			reasons: map[string]string{
				"zplan_future":   "in the future (clock skew)",
				at("11:20").Name: "the newest snapshot is always kept",
			},
		},
		{
			name: "keep_last and grid are a union",
			ret:  hclspec.Retention{Grid: "1x1h", KeepLast: 3},
			snaps: []Snap{at("10:00"), at("10:10"), at("10:20"), at("10:30"), at("10:40"), at("10:50"),
				at("11:00"), at("11:10"), at("11:20"), at("11:30"), at("11:40"), at("11:50"), at("12:00")},
			keep: names(at("11:10"), at("11:40"), at("11:50"), at("12:00")),
			reasons: map[string]string{
				at("11:40").Name: "keep_last 3: number 3 from the newest",
				at("11:20").Name: "already keeps zplan_20261122T1110Z; keep_last 3: it is number 5 from the newest",
			},
			rules: map[string]string{at("11:50").Name: "keep_last 3", at("11:20").Name: "grid 1x1h"},
		},
		{
			name:  "keep_last alone",
			ret:   hclspec.Retention{KeepLast: 2},
			snaps: []Snap{at("09:00"), at("10:00"), at("11:00")},
			keep:  names(at("10:00"), at("11:00")),
			rules: map[string]string{at("09:00").Name: "keep_last 2"},
		},
		{
			name:  "keep_matching keeps a manual snapshot outside the grid",
			ret:   hclspec.Retention{Grid: "1x1h", KeepMatching: []string{"^manual_"}},
			snaps: []Snap{at("02:00"), manual, at("11:30"), at("12:00")},
			keep:  names(manual, at("11:30"), at("12:00")),
			reasons: map[string]string{
				manual.Name:      "keep_matching: name matches ^manual_",
				at("02:00").Name: "older than the grid's 1h span (1x1h); keep_matching: name matches no pattern",
			},
			rules: map[string]string{manual.Name: "keep_matching ^manual_"},
		},
		{
			name:  "single snapshot outside every rule is still the newest",
			ret:   hclspec.Retention{Grid: "1x1h"},
			snaps: []Snap{at("01:00")},
			keep:  names(at("01:00")),
		},
		{
			name: "equal txg falls back to creation then name",
			ret:  hclspec.Retention{KeepLast: 1},
			snaps: []Snap{
				{Name: "b", Created: ts("2026-11-22T11:00:00Z"), CreateTXG: 7},
				{Name: "a", Created: ts("2026-11-22T11:00:00Z"), CreateTXG: 7},
				{Name: "c", Created: ts("2026-11-22T10:00:00Z"), CreateTXG: 7},
			},
			keep: []string{"b"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := CompileRetention(&tc.ret)
			if err != nil {
				t.Fatal(err)
			}
			v := r.Evaluate(tc.snaps, retNow)
			if len(v) != len(tc.snaps) {
				t.Fatalf("got %d verdicts for %d snapshots", len(v), len(tc.snaps))
			}
			if got := kept(tc.snaps, v); strings.Join(got, " ") != strings.Join(tc.keep, " ") {
				t.Errorf("kept %v\nwant %v", got, tc.keep)
			}
			for i, s := range tc.snaps {
				if v[i].Reason == "" || v[i].Rule == "" {
					t.Errorf("%s: empty rule or reason: %+v", s.Name, v[i])
				}
				if want, ok := tc.reasons[s.Name]; ok && !strings.Contains(v[i].Reason, want) {
					t.Errorf("%s: reason %q, want it to contain %q", s.Name, v[i].Reason, want)
				}
				if want, ok := tc.rules[s.Name]; ok && v[i].Rule != want {
					t.Errorf("%s: rule %q, want %q", s.Name, v[i].Rule, want)
				}
			}
		})
	}
}

func TestRetentionNilKeepsAll(t *testing.T) {
	r, err := CompileRetention(nil)
	if err != nil || r != nil {
		t.Fatalf("CompileRetention(nil) = %v, %v; want nil, nil", r, err)
	}
	snaps := []Snap{at("01:00"), at("02:00")}
	for i, v := range r.Evaluate(snaps, retNow) {
		if !v.Keep {
			t.Errorf("%s destroyed by a nil retention", snaps[i].Name)
		}
	}
}

func TestCompileRetentionErrors(t *testing.T) {
	cases := []struct {
		in   hclspec.Retention
		want string
	}{
		{hclspec.Retention{}, "no rule"},
		{hclspec.Retention{AdoptForeign: true}, "no rule"},
		{hclspec.Retention{KeepLast: -1}, "negative"},
		{hclspec.Retention{KeepMatching: []string{"("}}, `keep_matching "("`},
		{hclspec.Retention{Grid: "24x1h | 7xd"}, `grid part 2 "7xd"`},
		{hclspec.Retention{Grid: "24x1h | 0x1d"}, `grid part 2 "0x1d": count and length must be positive`},
		{hclspec.Retention{Grid: "1x1y"}, `grid part 1 "1x1y"`},
		{hclspec.Retention{Grid: "1x1h(keep=0)"}, "keep must be a positive integer or all"},
		{hclspec.Retention{Grid: "1x1h |"}, `grid part 2 ""`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			_, err := CompileRetention(&tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CompileRetention(%+v) = %v, want error containing %q", tc.in, err, tc.want)
			}
		})
	}
}

// TestRetentionLongSeries takes an hourly snapshot for 60 days, pruning
// after each one as apply would, and checks the steady state: 24 hourly
// survivors, one per day bucket, nothing older than the span, and a
// bounded count at every step.
func TestRetentionLongSeries(t *testing.T) {
	r, err := CompileRetention(&hclspec.Retention{Grid: "24x1h | 7x1d"})
	if err != nil {
		t.Fatal(err)
	}
	start := ts("2026-01-01T00:00:00Z")
	var live []Snap
	now := start
	for h := 0; h < 60*24; h++ {
		now = start.Add(time.Duration(h) * time.Hour)
		live = append(live, Snap{Name: fmt.Sprintf("zplan_%05d", h), Created: now, CreateTXG: uint64(h + 1)})
		v := r.Evaluate(live, now)
		var next []Snap
		for i, s := range live {
			if v[i].Keep {
				next = append(next, s)
			}
		}
		live = next
		if len(live) > 24+7+1 {
			t.Fatalf("hour %d: %d survivors, want at most 32", h, len(live))
		}
	}
	// Ages now: 0..23h hourly, then one per day bucket [24h+d*24h, 48h+d*24h).
	perBucket := map[int]int{}
	for _, s := range live {
		age := now.Sub(s.Created)
		switch {
		case age < 24*time.Hour:
			perBucket[-1]++
		case age < 8*24*time.Hour:
			perBucket[int((age-24*time.Hour)/(24*time.Hour))]++
		default:
			t.Errorf("%s is %s old, beyond the 8d span", s.Name, age)
		}
	}
	if perBucket[-1] != 24 {
		t.Errorf("%d snapshots in the last day, want 24", perBucket[-1])
	}
	for d := 0; d < 7; d++ {
		if perBucket[d] != 1 {
			t.Errorf("day bucket %d holds %d snapshots, want 1 (%v)", d, perBucket[d], perBucket)
		}
	}
}
