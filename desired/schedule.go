package desired

import (
	"errors"
	"fmt"
	"time"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/hclspec/timespec"
)

// MinEvery is the shortest interval a schedule may have: snapshot names
// carry seconds, but a snapshot per second would be a denial of service
// on the pool's txg syncs, and a minute matches cron's resolution.
const MinEvery = time.Minute

// Schedule answers when snapshots are due. It is pure: every question
// takes the time as a parameter, and all arithmetic is in UTC, so daylight
// saving time never shifts or repeats a slot.
type Schedule struct {
	every time.Duration  // > 0 for an interval grid
	cron  *timespec.Cron // non-nil for a cron expression
	text  string
}

// CompileSchedule checks s and compiles it. An interval must be at least
// a minute and a whole number of seconds; its slots are the multiples of
// the interval since the Unix epoch (1970-01-01T00:00:00Z), so "15m"
// fires at :00, :15, :30, :45 and "1d" at midnight UTC. A cron expression
// must fire at least once (an impossible date such as "0 0 30 2 *" is
// rejected).
func CompileSchedule(s hclspec.Schedule) (*Schedule, error) {
	switch {
	case s.Every != 0 && s.Cron != "":
		return nil, errors.New("schedule has both every and cron; set exactly one")
	case s.Cron != "":
		c, err := timespec.ParseCron(s.Cron)
		if err != nil {
			return nil, fmt.Errorf("cron %q: %w", s.Cron, err)
		}
		return &Schedule{cron: c, text: fmt.Sprintf("cron %q", s.Cron)}, nil
	case s.Every < 0:
		return nil, fmt.Errorf("every %s is negative", s.Every)
	case s.Every == 0:
		return nil, errors.New("schedule has neither every nor cron; set exactly one")
	case s.Every < MinEvery:
		return nil, fmt.Errorf("every %s is shorter than the minimum of %s", s.Every, MinEvery)
	case s.Every%time.Second != 0:
		return nil, fmt.Errorf("every %s is not a whole number of seconds", s.Every)
	}
	return &Schedule{every: s.Every, text: "every " + timespec.FormatDuration(s.Every)}, nil
}

// String describes the schedule for plan reasons: `every 15m` or
// `cron "0 */6 * * *"`.
func (s *Schedule) String() string { return s.text }

// Prev returns the latest slot at or before t.
func (s *Schedule) Prev(t time.Time) time.Time {
	t = t.UTC()
	if s.cron != nil {
		return s.cron.Prev(t)
	}
	step := int64(s.every / time.Second)
	sec := t.Unix()
	q := sec / step
	if sec%step < 0 { // floor division for times before the epoch
		q--
	}
	return time.Unix(q*step, 0).UTC()
}

// Next returns the first slot strictly after t.
func (s *Schedule) Next(t time.Time) time.Time {
	t = t.UTC()
	if s.cron != nil {
		return s.cron.Next(t)
	}
	return s.Prev(t).Add(s.every)
}

// Due reports whether a snapshot should be taken at now: when there is no
// managed snapshot yet, or the newest one is older than the latest slot at
// or before now. slot is that latest slot (the zero time if a cron
// schedule has never fired before now).
func (s *Schedule) Due(newestManaged time.Time, has bool, now time.Time) (due bool, slot time.Time) {
	slot = s.Prev(now)
	if !has {
		return true, slot
	}
	if slot.IsZero() {
		return false, slot
	}
	return newestManaged.Before(slot), slot
}
