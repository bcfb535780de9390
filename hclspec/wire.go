package hclspec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// WireOptions say how the controller relays a replication's streams.
// They change only how fast bytes move, never which bytes, so they stay
// out of the plan: apply reads them from the configuration (which a
// saved plan's hash already pins).
type WireOptions struct {
	// Bandwidth caps all of the replication's sends together, in bytes
	// per second (0: no cap).
	Bandwidth int64
	// Buffer is how many bytes of a stream the controller holds between
	// send and receive (0: the default, 8 MiB).
	Buffer int64
}

// Bounds of the wire settings: below MinBandwidth a stream of any size
// takes days, which is more likely a typo ("50B/s") than a wish; the
// buffer is held in memory for each send that runs.
const (
	MinBandwidth = 1 << 10
	MinBuffer    = 1 << 20
	MaxBuffer    = 16 << 30
)

// byteUnits are the accepted units: binary (KiB = 1024) and decimal
// (KB = 1000), as in zfs and most tools.
var byteUnits = []struct {
	name string
	mult float64
}{
	{"B", 1},
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
}

const unitList = "B, KiB, MiB, GiB, TiB (1024) or KB, MB, GB, TB (1000)"

// ParseSize parses a byte count such as "256MiB", "1.5GiB" or "500MB".
// A unit is required, so "8" is not silently read as 8 bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	if i <= 0 {
		if i < 0 && t != "" {
			return 0, fmt.Errorf("%q has no unit; write it with one of %s", s, unitList)
		}
		return 0, fmt.Errorf("%q is not a number with a unit (e.g. \"256MiB\")", s)
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %q is not a number", s, num)
	}
	for _, u := range byteUnits {
		if unit == u.name {
			b := v * u.mult
			if b >= math.MaxInt64 {
				return 0, fmt.Errorf("%q is too large", s)
			}
			return int64(b), nil
		}
	}
	return 0, fmt.Errorf("%q: unknown unit %q; use %s", s, unit, unitList)
}

// ParseRate parses a rate in bytes per second such as "50MiB/s"; the
// "/s" may be left out ("50MiB").
func ParseRate(s string) (int64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(t, "/s")
	if strings.Contains(t, "/") {
		return 0, fmt.Errorf("%q: a rate is per second, e.g. \"50MiB/s\"", s)
	}
	b, err := ParseSize(t)
	if err != nil {
		return 0, err
	}
	if b < MinBandwidth {
		return 0, fmt.Errorf("%q is below the minimum of 1KiB/s", s)
	}
	return b, nil
}

// wire reads the send block's bandwidth and buffer.
func (d *decoder) wire(at hcl.Attributes, w *WireOptions) {
	if s, a := d.str(at, "bandwidth", ""); a != nil {
		v, err := ParseRate(s)
		if err != nil {
			d.errorf(a.Expr.Range().Ptr(), "Invalid bandwidth", "bandwidth: %s. It caps this replication's sends together, in bytes per second.", err)
		} else {
			w.Bandwidth = v
		}
	}
	if s, a := d.str(at, "buffer", ""); a != nil {
		v, err := ParseSize(s)
		if err == nil && (v < MinBuffer || v > MaxBuffer) {
			err = fmt.Errorf("%q is outside 1MiB to 16GiB", s)
		}
		if err != nil {
			d.errorf(a.Expr.Range().Ptr(), "Invalid buffer", "buffer: %s. The controller holds that much of each running send in memory.", err)
		} else {
			w.Buffer = v
		}
	}
	if a := at["compress"]; a != nil {
		d.errorf(a.NameRange.Ptr(), "Stream compression not supported yet",
			"compress needs zstd run on both hosts around zfs send and zfs recv, which zplan does not do yet (the controller only relays the bytes, so compressing there would help neither link). Remove compress; zfs send -c (compressed = true, the default) already sends blocks as stored on disk.")
	}
}
