package desired

import (
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/hclspec"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestCompileScheduleErrors(t *testing.T) {
	cases := []struct {
		name string
		in   hclspec.Schedule
		want string
	}{
		{"both", hclspec.Schedule{Every: time.Hour, Cron: "0 * * * *"}, "both every and cron"},
		{"neither", hclspec.Schedule{}, "neither every nor cron"},
		{"negative", hclspec.Schedule{Every: -time.Minute}, "negative"},
		{"too short", hclspec.Schedule{Every: 30 * time.Second}, "shorter than the minimum"},
		{"fractional", hclspec.Schedule{Every: time.Minute + 500*time.Millisecond}, "whole number of seconds"},
		{"feb 30", hclspec.Schedule{Cron: "0 0 30 2 *"}, "never fires"},
		{"apr 31", hclspec.Schedule{Cron: "0 0 31 4 *"}, "never fires"},
		{"four fields", hclspec.Schedule{Cron: "0 0 * *"}, "want 5 fields"},
		{"minute 60", hclspec.Schedule{Cron: "60 * * * *"}, "minute field"},
		{"hour 24", hclspec.Schedule{Cron: "0 24 * * *"}, "hour field"},
		{"backwards range", hclspec.Schedule{Cron: "0 5-2 * * *"}, "backwards"},
		{"bad step", hclspec.Schedule{Cron: "*/0 * * * *"}, "step"},
		{"bad name", hclspec.Schedule{Cron: "0 0 * foo *"}, "month field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileSchedule(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CompileSchedule(%+v) = %v, want error containing %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestSchedulePrevNext(t *testing.T) {
	cases := []struct {
		name       string
		in         hclspec.Schedule
		at         string
		prev, next string
	}{
		{"15m on a slot", hclspec.Schedule{Every: 15 * time.Minute}, "2026-11-22T12:15:00Z", "2026-11-22T12:15:00Z", "2026-11-22T12:30:00Z"},
		{"15m between", hclspec.Schedule{Every: 15 * time.Minute}, "2026-11-22T12:29:59Z", "2026-11-22T12:15:00Z", "2026-11-22T12:30:00Z"},
		{"1d is midnight UTC", hclspec.Schedule{Every: 24 * time.Hour}, "2026-11-22T23:59:00Z", "2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z"},
		// 7h does not divide a day: slots are multiples of 7h since the
		// epoch (2026-11-22T00:00Z is 498,696h = 71,242*7h + 2h after it).
		{"7h epoch aligned", hclspec.Schedule{Every: 7 * time.Hour}, "2026-11-22T04:59:00Z", "2026-11-21T22:00:00Z", "2026-11-22T05:00:00Z"},
		{"non-UTC input", hclspec.Schedule{Every: time.Hour}, "2026-11-22T12:30:00+02:00", "2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"},
		{"cron every 6h", hclspec.Schedule{Cron: "0 */6 * * *"}, "2026-11-22T11:59:00Z", "2026-11-22T06:00:00Z", "2026-11-22T12:00:00Z"},
		{"cron on a firing", hclspec.Schedule{Cron: "0 */6 * * *"}, "2026-11-22T12:00:00Z", "2026-11-22T12:00:00Z", "2026-11-22T18:00:00Z"},
		{"cron seconds ignored", hclspec.Schedule{Cron: "30 2 * * *"}, "2026-11-22T02:30:45Z", "2026-11-22T02:30:00Z", "2026-11-23T02:30:00Z"},
		{"cron minute list", hclspec.Schedule{Cron: "5,35 * * * *"}, "2026-11-22T12:20:00Z", "2026-11-22T12:05:00Z", "2026-11-22T12:35:00Z"},
		{"cron across year", hclspec.Schedule{Cron: "@yearly"}, "2026-06-01T00:00:00Z", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"cron feb 29", hclspec.Schedule{Cron: "0 0 29 feb *"}, "2026-03-01T00:00:00Z", "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"cron weekday names", hclspec.Schedule{Cron: "0 9 * * mon-fri"}, "2026-11-22T12:00:00Z" /* Sunday */, "2026-11-20T09:00:00Z", "2026-11-23T09:00:00Z"},
		{"cron sunday as 7", hclspec.Schedule{Cron: "0 0 * * 7"}, "2026-11-24T00:00:00Z", "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"},
		// Both day fields restricted: either matches (the 1st, or a Monday).
		{"cron dom or dow", hclspec.Schedule{Cron: "0 0 1 * 1"}, "2026-11-25T00:00:00Z", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"},
		{"cron step from value", hclspec.Schedule{Cron: "10/20 * * * *"}, "2026-11-22T12:09:00Z", "2026-11-22T11:50:00Z", "2026-11-22T12:10:00Z"},
		// In UTC, the Europe/Berlin DST change (2026-03-29 01:00Z) neither
		// skips nor repeats a slot.
		{"dst irrelevant", hclspec.Schedule{Cron: "30 1 * * *"}, "2026-03-29T01:45:00Z", "2026-03-29T01:30:00Z", "2026-03-30T01:30:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := CompileSchedule(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			at := ts(tc.at)
			if got := s.Prev(at); !got.Equal(ts(tc.prev)) {
				t.Errorf("Prev(%s) = %s, want %s", tc.at, got, tc.prev)
			}
			if got := s.Next(at); !got.Equal(ts(tc.next)) {
				t.Errorf("Next(%s) = %s, want %s", tc.at, got, tc.next)
			}
			if got := s.Prev(at); got.Location() != time.UTC {
				t.Errorf("Prev returned a %s time, want UTC", got.Location())
			}
		})
	}
}

func TestScheduleDue(t *testing.T) {
	every, _ := CompileSchedule(hclspec.Schedule{Every: 15 * time.Minute})
	cron, _ := CompileSchedule(hclspec.Schedule{Cron: "0 0 * * *"})
	now := ts("2026-11-22T12:20:00Z")
	cases := []struct {
		name   string
		s      *Schedule
		newest string
		has    bool
		due    bool
		slot   string
	}{
		{"no snapshot yet", every, "", false, true, "2026-11-22T12:15:00Z"},
		{"newest before slot", every, "2026-11-22T12:14:59Z", true, true, "2026-11-22T12:15:00Z"},
		{"newest exactly on slot", every, "2026-11-22T12:15:00Z", true, false, "2026-11-22T12:15:00Z"},
		{"newest after slot", every, "2026-11-22T12:19:00Z", true, false, "2026-11-22T12:15:00Z"},
		{"newest in the future", every, "2026-11-23T00:00:00Z", true, false, "2026-11-22T12:15:00Z"},
		{"cron daily taken", cron, "2026-11-22T00:00:00Z", true, false, "2026-11-22T00:00:00Z"},
		{"cron daily missed", cron, "2026-11-21T23:59:00Z", true, true, "2026-11-22T00:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var newest time.Time
			if tc.newest != "" {
				newest = ts(tc.newest)
			}
			due, slot := tc.s.Due(newest, tc.has, now)
			if due != tc.due || !slot.Equal(ts(tc.slot)) {
				t.Fatalf("Due = %v, %s; want %v, %s", due, slot, tc.due, tc.slot)
			}
		})
	}
}

func TestScheduleString(t *testing.T) {
	for _, tc := range []struct {
		in   hclspec.Schedule
		want string
	}{
		{hclspec.Schedule{Every: 15 * time.Minute}, "every 15m"},
		{hclspec.Schedule{Every: 48 * time.Hour}, "every 2d"},
		{hclspec.Schedule{Every: 90 * time.Second}, "every 90s"},
		{hclspec.Schedule{Cron: "0 */6 * * *"}, `cron "0 */6 * * *"`},
	} {
		s, err := CompileSchedule(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if s.String() != tc.want {
			t.Errorf("String() = %q, want %q", s.String(), tc.want)
		}
	}
}
