package hclspec

import (
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/zplan/zplan/hclspec/timespec"
)

var snapshotsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "host", Required: true}, {Name: "datasets", Required: true}, {Name: "exclude"},
		{Name: "prefix"}, {Name: "every"}, {Name: "cron"}, {Name: "skip_unchanged"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "retention"}, {Type: "hook", LabelNames: []string{"name"}}},
}

func (d *decoder) snapshots(b *hcl.Block) *SnapshotPolicy {
	name := b.Labels[0]
	where := fmt.Sprintf("snapshots %q", name)
	c := d.content(b.Body, snapshotsSchema, where)
	at := c.Attributes
	p := &SnapshotPolicy{Name: name, DefRange: b.DefRange}
	ok := true
	if a := at["host"]; a != nil {
		p.Host, ok = d.hostRef(a)
	}
	p.Datasets = d.selector(at, true)
	var prefixAttr *hcl.Attribute
	p.Prefix, prefixAttr = d.str(at, "prefix", DefaultPrefix)
	d.checkPrefix(p.Prefix, prefixAttr, false)
	p.Schedule = d.schedule(b, at)
	p.SkipUnchanged, _ = d.boolean(at, "skip_unchanged", false)
	p.Retention = d.retentionBlock(c.Blocks, where, true)
	p.Hooks = d.hooks(c.Blocks, where)
	_ = ok // an invalid policy still counts as declared, so references to it do not cascade into more errors
	return p
}

func (d *decoder) schedule(b *hcl.Block, at hcl.Attributes) Schedule {
	var s Schedule
	everyA, cronA := at["every"], at["cron"]
	switch {
	case everyA != nil && cronA != nil:
		d.errorf(cronA.NameRange.Ptr(), "Both every and cron",
			"A snapshots block takes either every (an interval, e.g. \"15m\") or cron (e.g. \"0 */6 * * *\"), not both: remove one.")
		return s
	case everyA == nil && cronA == nil:
		d.errorf(b.DefRange.Ptr(), "Missing schedule",
			"Set every (an interval aligned to the UTC epoch, e.g. every = \"15m\") or cron (5 fields, UTC, e.g. cron = \"0 */6 * * *\").")
		return s
	case everyA != nil:
		txt, _ := d.str(at, "every", "")
		dur, err := timespec.ParseDuration(txt)
		rng := everyA.Expr.Range().Ptr()
		if err != nil {
			d.errorf(rng, "Invalid every", "%v.", err)
			break
		}
		var se *timespec.ScheduleError
		_, err = timespec.EverySchedule(dur)
		switch {
		case errors.As(err, &se) && se.Problem == timespec.EveryFraction:
			d.errorf(rng, "Invalid every", "every = %q is not a whole number of seconds.", txt)
		case err != nil:
			d.errorf(rng, "Interval too short", "every = %q is shorter than the minimum of %s; snapshot at most once a minute.", txt, timespec.FormatDuration(MinEvery))
		default:
			s.Every = dur
		}
	default:
		txt, _ := d.str(at, "cron", "")
		var se *timespec.ScheduleError
		if _, err := timespec.CronSchedule(txt); errors.As(err, &se) {
			d.errorf(cronA.Expr.Range().Ptr(), "Invalid cron expression",
				"cron %q: %v. The format is minute hour day-of-month month day-of-week, evaluated in UTC (e.g. \"0 */6 * * *\", \"30 2 * * mon-fri\", or @daily).", txt, se.Err)
		} else {
			s.Cron = txt
		}
	}
	return s
}
