package timespec

import (
	"fmt"
	"time"
)

// MinEvery is the shortest interval a schedule may have: snapshot names
// carry seconds, but a snapshot per second would be a denial of service
// on the pool's txg syncs, and a minute matches cron's resolution.
const MinEvery = time.Minute

// Schedule answers when snapshots are due. It is pure: every question
// takes the time as a parameter, and all arithmetic is in UTC, so daylight
// saving time never shifts or repeats a slot.
type Schedule struct {
	every time.Duration // > 0 for an interval grid
	cron  *Cron         // non-nil for a cron expression
	text  string
}

// ScheduleProblem tells the reasons a schedule is invalid apart, so the
// configuration's diagnostics can word each one for the attribute at fault.
type ScheduleProblem int

const (
	ScheduleBoth    ScheduleProblem = iota + 1 // both every and cron
	ScheduleNeither                            // neither every nor cron
	CronInvalid                                // the cron expression does not parse or never fires
	EveryNegative
	EveryTooShort // shorter than MinEvery
	EveryFraction // not a whole number of seconds
)

// ScheduleError is why CompileSchedule, EverySchedule or CronSchedule
// refused a schedule. Err is the cron parser's error for CronInvalid.
type ScheduleError struct {
	Problem ScheduleProblem
	Err     error
	msg     string
}

func (e *ScheduleError) Error() string { return e.msg }
func (e *ScheduleError) Unwrap() error { return e.Err }

// CompileSchedule checks a schedule given as an interval or a cron
// expression (exactly one of them; 0 and "" mean unset) and compiles it.
// It, with EverySchedule and CronSchedule, is the only place schedules
// are validated: the configuration decoder reports its errors, and the
// policy compiles with it.
func CompileSchedule(every time.Duration, cron string) (*Schedule, error) {
	switch {
	case every != 0 && cron != "":
		return nil, &ScheduleError{Problem: ScheduleBoth, msg: "schedule has both every and cron; set exactly one"}
	case cron != "":
		return CronSchedule(cron)
	case every < 0:
		return EverySchedule(every)
	case every == 0:
		return nil, &ScheduleError{Problem: ScheduleNeither, msg: "schedule has neither every nor cron; set exactly one"}
	}
	return EverySchedule(every)
}

// EverySchedule compiles an interval schedule. An interval must be at
// least a minute and a whole number of seconds; its slots are the
// multiples of the interval since the Unix epoch (1970-01-01T00:00:00Z),
// so "15m" fires at :00, :15, :30, :45 and "1d" at midnight UTC.
func EverySchedule(every time.Duration) (*Schedule, error) {
	switch {
	case every < 0:
		return nil, &ScheduleError{Problem: EveryNegative, msg: fmt.Sprintf("every %s is negative", every)}
	case every < MinEvery:
		return nil, &ScheduleError{Problem: EveryTooShort, msg: fmt.Sprintf("every %s is shorter than the minimum of %s", every, MinEvery)}
	case every%time.Second != 0:
		return nil, &ScheduleError{Problem: EveryFraction, msg: fmt.Sprintf("every %s is not a whole number of seconds", every)}
	}
	return &Schedule{every: every, text: "every " + FormatDuration(every)}, nil
}

// CronSchedule compiles a cron schedule. The expression must fire at
// least once (an impossible date such as "0 0 30 2 *" is rejected).
func CronSchedule(expr string) (*Schedule, error) {
	c, err := ParseCron(expr)
	if err != nil {
		return nil, &ScheduleError{Problem: CronInvalid, Err: err, msg: fmt.Sprintf("cron %q: %v", expr, err)}
	}
	return &Schedule{cron: c, text: fmt.Sprintf("cron %q", expr)}, nil
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
