// Package timespec parses the time notations of zplan's configuration:
// durations with day and week units, 5-field cron expressions and
// retention grids, and compiles snapshot schedules. It is a leaf package
// so that both hclspec (to report errors with their position) and desired
// (to evaluate) use the same code: a schedule is validated only by
// CompileSchedule, EverySchedule and CronSchedule.
package timespec

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// FormatDuration prints d in the units the configuration accepts, using
// the largest unit that divides it: 15m, 6h, 1d, 2w, 90s.
func FormatDuration(d time.Duration) string {
	units := []struct {
		d    time.Duration
		name string
	}{{7 * 24 * time.Hour, "w"}, {24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	for _, u := range units {
		if d != 0 && d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return d.String()
}

// Cron is a parsed 5-field cron expression, evaluated in UTC. Each field is a bit set
// of the values it allows.
type Cron struct {
	minute, hour, dom, month, dow uint64
	// domStar/dowStar record a '*' (or '?') day field: classic cron
	// matches a day when both day fields match, unless both are
	// restricted, in which case either one suffices.
	domStar, dowStar bool
}

var cronMacros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

var monthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
var dowNames = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// cronHorizon bounds the search for a firing. Any satisfiable expression
// fires at least once in 8 years (Feb 29 skips 2100 but not two leap
// years in a row); 9 leaves room.
const cronHorizonYears = 9

func ParseCron(expr string) (*Cron, error) {
	expr = strings.TrimSpace(expr)
	if m, ok := cronMacros[strings.ToLower(expr)]; ok {
		expr = m
	}
	f := strings.Fields(expr)
	if len(f) != 5 {
		return nil, fmt.Errorf("want 5 fields (minute hour day-of-month month day-of-week), got %d", len(f))
	}
	c := &Cron{}
	var err error
	if c.minute, err = parseCronField(f[0], 0, 59, nil, "minute"); err != nil {
		return nil, err
	}
	if c.hour, err = parseCronField(f[1], 0, 23, nil, "hour"); err != nil {
		return nil, err
	}
	if c.dom, err = parseCronField(f[2], 1, 31, nil, "day-of-month"); err != nil {
		return nil, err
	}
	if c.month, err = parseCronField(f[3], 1, 12, monthNames, "month"); err != nil {
		return nil, err
	}
	if c.dow, err = parseCronField(f[4], 0, 7, dowNames, "day-of-week"); err != nil {
		return nil, err
	}
	if c.dow&(1<<7) != 0 { // 7 is Sunday too
		c.dow = c.dow&^(1<<7) | 1
	}
	c.domStar = f[2] == "*" || f[2] == "?"
	c.dowStar = f[4] == "*" || f[4] == "?"
	// Reject expressions that never fire, such as February 30.
	ref := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if c.Next(ref).IsZero() {
		return nil, errors.New("never fires (no month has such a day); check the day-of-month and month fields")
	}
	return c, nil
}

func parseCronField(field string, lo, hi int, names map[string]int, what string) (uint64, error) {
	var set uint64
	for _, part := range strings.Split(field, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("%s field %q: step %q must be a positive integer", what, field, stepText)
			}
			step = n
		}
		var a, b int
		switch {
		case rng == "*" || rng == "?":
			a, b = lo, hi
			if what == "day-of-week" {
				b = 6
			}
		default:
			from, to, isRange := strings.Cut(rng, "-")
			var err error
			if a, err = cronValue(from, lo, hi, names, what, field); err != nil {
				return 0, err
			}
			b = a
			if isRange {
				if b, err = cronValue(to, lo, hi, names, what, field); err != nil {
					return 0, err
				}
				if b < a {
					return 0, fmt.Errorf("%s field %q: range %s is backwards", what, field, rng)
				}
			} else if hasStep {
				b = hi // "5/15" means 5-hi/15, as in Vixie cron
			}
		}
		for v := a; v <= b; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

func cronValue(s string, lo, hi int, names map[string]int, what, field string) (int, error) {
	if v, ok := names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%s field %q: %q is not a value from %d to %d", what, field, s, lo, hi)
	}
	return v, nil
}

func bit(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }

func (c *Cron) dayMatches(t time.Time) bool {
	d, w := bit(c.dom, t.Day()), bit(c.dow, int(t.Weekday()))
	if !c.domStar && !c.dowStar {
		return d || w
	}
	return d && w
}

// Next finds the first firing strictly after t, skipping whole months,
// days and hours that cannot match, so a search costs at most a few
// hundred steps per year. It returns the zero time if there is none
// within the horizon.
func (c *Cron) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(cronHorizonYears, 0, 0)
	for t.Before(limit) {
		switch {
		case !bit(c.month, int(t.Month())):
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		case !bit(c.hour, t.Hour()):
			t = t.Truncate(time.Hour).Add(time.Hour)
		case !bit(c.minute, t.Minute()):
			// Jump straight to the next allowed minute of this hour.
			rest := c.minute >> uint(t.Minute())
			if rest == 0 {
				t = t.Truncate(time.Hour).Add(time.Hour)
			} else {
				t = t.Add(time.Duration(bits.TrailingZeros64(rest)) * time.Minute)
			}
		default:
			return t
		}
	}
	return time.Time{}
}

// Prev finds the latest firing at or before t, mirroring Next: a field
// that does not match moves t to the last minute of the previous month,
// day or hour. It returns the zero time if there is none within the horizon.
func (c *Cron) Prev(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute)
	limit := t.AddDate(-cronHorizonYears, 0, 0)
	for t.After(limit) {
		switch {
		case !bit(c.month, int(t.Month())):
			t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).Add(-time.Minute)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Add(-time.Minute)
		case !bit(c.hour, t.Hour()):
			t = t.Truncate(time.Hour).Add(-time.Minute)
		case !bit(c.minute, t.Minute()):
			below := c.minute & (1<<uint(t.Minute()) - 1)
			if below == 0 {
				t = t.Truncate(time.Hour).Add(-time.Minute)
			} else {
				t = t.Truncate(time.Hour).Add(time.Duration(63-bits.LeadingZeros64(below)) * time.Minute)
			}
		default:
			return t
		}
	}
	return time.Time{}
}

var dayUnits = regexp.MustCompile(`^(\d+)\s*([dw])$`)

// ParseDuration accepts Go durations ("90s", "15m", "1h30m") and whole
// days and weeks ("1d" = 24h, "2w" = 14d), which Go's parser lacks.
// Negative durations are rejected: no setting wants one.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration; write e.g. 15m, 6h or 1d")
	}
	if m := dayUnits.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		unit := 24 * time.Hour
		if m[2] == "w" {
			unit *= 7
		}
		if time.Duration(n) > math.MaxInt64/unit {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("duration %q: want a number with one of the units s, m, h, d, w (e.g. 90s, 15m, 6h, 1d, 2w, 1h30m)", s)
	}
	return d, nil
}
