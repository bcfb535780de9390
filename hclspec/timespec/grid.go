package timespec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Interval is one COUNTxLENGTH(keep=K) part of a retention grid: Count
// adjacent buckets of Length, each keeping Keep snapshots (KeepAll: all).
type Interval struct {
	Count  int
	Length time.Duration
	Keep   int
	Text   string // canonical form, e.g. "24x1h" or "1x1h(keep=all)"
}

// MaxGridSpan bounds a grid's total length, far below where durations
// overflow (292 years).
const MaxGridSpan = 200 * 365 * 24 * time.Hour

// KeepAll is Interval.Keep for keep=all.
const KeepAll = -1

var gridPart = regexp.MustCompile(`^(\d+)\s*x\s*(\d+)\s*([smhdw])\s*(?:\(\s*keep\s*=\s*(all|\d+)\s*\))?$`)

// ParseGrid parses "1x1h(keep=all) | 24x1h | 14x1d". Each part is
// COUNTxLENGTH with an optional (keep=K) or (keep=all); K defaults to 1.
// LENGTH is an integer with a unit: s, m, h, d (24h) or w (7d).
// The error names the offending part.
func ParseGrid(s string) ([]Interval, error) {
	var out []Interval
	var total time.Duration
	for i, raw := range strings.Split(s, "|") {
		part := strings.TrimSpace(raw)
		m := gridPart.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("grid part %d %q: want COUNTxLENGTH or COUNTxLENGTH(keep=K|all), e.g. 24x1h or 1x1h(keep=all); units s, m, h, d, w", i+1, part)
		}
		count, err1 := strconv.Atoi(m[1])
		n, err2 := strconv.Atoi(m[2])
		if err1 != nil || err2 != nil || count < 1 || n < 1 {
			return nil, fmt.Errorf("grid part %d %q: count and length must be positive integers", i+1, part)
		}
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[3]]
		iv := Interval{Count: count, Length: time.Duration(n) * unit, Keep: 1}
		switch {
		case m[4] == "all":
			iv.Keep = KeepAll
		case m[4] != "":
			k, err := strconv.Atoi(m[4])
			if err != nil || k < 1 {
				return nil, fmt.Errorf("grid part %d %q: keep must be a positive integer or all", i+1, part)
			}
			iv.Keep = k
		}
		if time.Duration(n) > MaxGridSpan/unit || time.Duration(count) > MaxGridSpan/iv.Length || time.Duration(count)*iv.Length > MaxGridSpan-total {
			return nil, fmt.Errorf("grid part %d %q: the grid would span more than %d years", i+1, part, MaxGridSpan/(365*24*time.Hour))
		}
		total += time.Duration(count) * iv.Length
		iv.Text = fmt.Sprintf("%dx%d%s", count, n, m[3])
		switch {
		case iv.Keep == KeepAll:
			iv.Text += "(keep=all)"
		case iv.Keep != 1:
			iv.Text += fmt.Sprintf("(keep=%d)", iv.Keep)
		}
		out = append(out, iv)
	}
	return out, nil
}
