package desired

import (
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/hclspec/timespec"
)

// MinEvery is the shortest interval a schedule may have (see timespec).
const MinEvery = timespec.MinEvery

// Schedule answers when snapshots are due; see timespec.Schedule. It
// lives in timespec so that the configuration decoder validates schedules
// with the same code that compiles them here.
type Schedule = timespec.Schedule

// CompileSchedule checks s and compiles it (timespec.CompileSchedule).
func CompileSchedule(s hclspec.Schedule) (*Schedule, error) {
	return timespec.CompileSchedule(s.Every, s.Cron)
}
