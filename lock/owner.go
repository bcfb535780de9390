package lock

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Owner is who holds a lock: enough to tell, on the controller that took
// it, whether that process still runs.
type Owner struct {
	Host      string    // hostname of the controller (cleaned, at most 48 characters)
	MachineID string    // /etc/machine-id, 32 hex digits; "" unknown
	BootID    string    // kernel boot id without dashes, 32 hex digits; "" unknown
	PIDNS     uint64    // inode of the PID namespace the PID lives in; 0 unknown
	PID       int       // zplan's process id
	Start     uint64    // the process's start time in clock ticks since boot; 0 unknown
	Since     time.Time // when the lock was taken (whole seconds, UTC)
	User      string    // login name, informative (cleaned, at most 24 characters)
}

const (
	recordVersion = "v1"
	// tagPrefix starts the owner's hold tag; the rest is the record.
	tagPrefix = "zplan_lock:"
	maxHost   = 48
	maxUser   = 24
)

var (
	unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)
	hex32       = regexp.MustCompile(`^[0-9a-f]{32}$`)
	tameField   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	decimal     = regexp.MustCompile(`^(?:0|[1-9][0-9]{0,19})$`)
)

// clean makes s a record field: only [A-Za-z0-9._-], at most n bytes,
// never empty.
func clean(s string, n int) string {
	s = unsafeChars.ReplaceAllString(s, "_")
	if len(s) > n {
		s = s[:n]
	}
	if s == "" {
		s = "_"
	}
	return s
}

// Record is the owner as one line of tame characters: the value of the
// lock snapshot's zplan:lock property and, after tagPrefix, its hold tag.
// Unknown fields are "-" or 0.
func (o Owner) Record() string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return strings.Join([]string{recordVersion, clean(o.Host, maxHost), dash(o.MachineID), dash(o.BootID),
		strconv.FormatUint(o.PIDNS, 10), strconv.Itoa(o.PID), strconv.FormatUint(o.Start, 10),
		strconv.FormatInt(o.Since.Unix(), 10), clean(o.User, maxUser)}, ":")
}

// Tag is the owner's hold tag on the lock snapshot.
func (o Owner) Tag() string { return tagPrefix + o.Record() }

// ParseRecord reads a record strictly: it comes from a host, and a
// property value or hold tag there can be set by anyone who may set
// properties or holds on the pool's root. Every field must be exactly
// what Record writes, so no value can pass for another field.
func ParseRecord(s string) (Owner, error) {
	if len(s) > 255 {
		return Owner{}, fmt.Errorf("owner record too long (%d bytes)", len(s))
	}
	f := strings.Split(s, ":")
	if len(f) != 9 || f[0] != recordVersion {
		return Owner{}, fmt.Errorf("owner record %q: not a %s record of 9 fields", s, recordVersion)
	}
	bad := func(what string) (Owner, error) { return Owner{}, fmt.Errorf("owner record %q: bad %s", s, what) }
	var o Owner
	if !tameField.MatchString(f[1]) || len(f[1]) > maxHost {
		return bad("host")
	}
	o.Host = f[1]
	for i, dst := range []*string{&o.MachineID, &o.BootID} {
		switch {
		case f[2+i] == "-":
		case hex32.MatchString(f[2+i]):
			*dst = f[2+i]
		default:
			return bad([]string{"machine id", "boot id"}[i])
		}
	}
	nums := make([]uint64, 4)
	for i, name := range []string{"pid namespace", "pid", "start time", "time"} {
		v := f[4+i]
		if !decimal.MatchString(v) {
			return bad(name)
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return bad(name)
		}
		nums[i] = n
	}
	if nums[1] == 0 || nums[1] > 1<<22 || nums[3] > 1<<40 {
		return bad("pid or time")
	}
	o.PIDNS, o.PID, o.Start, o.Since = nums[0], int(nums[1]), nums[2], time.Unix(int64(nums[3]), 0).UTC()
	if !tameField.MatchString(f[8]) || len(f[8]) > maxUser {
		return bad("user")
	}
	o.User = f[8]
	return o, nil
}

func (o Owner) String() string {
	return fmt.Sprintf("zplan pid %d on %s (user %s) since %s", o.PID, o.Host, o.User, o.Since.Format(time.RFC3339))
}

// System is what the controller knows about itself and its processes.
// Tests replace it; the default reads Linux's /proc.
type System interface {
	// Self describes this process (Since is left to the caller).
	Self() Owner
	// ProcStart is the start time of pid in this PID namespace;
	// ok is false when no such process exists.
	ProcStart(pid int) (start uint64, ok bool, err error)
	// BootTime is when this controller booted.
	BootTime() (time.Time, error)
}

// Me describes this process on sys (nil: this Linux controller).
func Me(sys System, now time.Time) Owner {
	if sys == nil {
		sys = linux{}
	}
	o := sys.Self()
	o.Since = now.UTC().Truncate(time.Second)
	return o
}

// Verdict is what the controller can tell about a lock's owner.
type Verdict int

const (
	Unknown Verdict = iota // another controller, or not enough to tell
	Alive                  // the owner process runs here
	Dead                   // provably gone: the lock can be broken
)

// Judge tells whether owner o still runs, seen from this process me on
// sys, and why. It says Dead only with proof: the same controller
// (hostname and machine id) and either the same boot and PID namespace
// with the PID gone or now another process (other start time), or
// another boot id while the lock was taken before this boot began (a
// clone of this machine that booted later would not pass that).
func Judge(o, me Owner, sys System) (Verdict, string) {
	if sys == nil {
		sys = linux{}
	}
	switch {
	case o.MachineID == "" || o.BootID == "":
		return Unknown, "its controller " + o.Host + " recorded no machine or boot id"
	case me.MachineID == "" || me.BootID == "":
		return Unknown, "this controller has no machine or boot id to compare"
	case o.Host != clean(me.Host, maxHost) || o.MachineID != me.MachineID:
		return Unknown, fmt.Sprintf("it is another controller (%s, machine id %s)", o.Host, o.MachineID)
	case o.BootID != me.BootID:
		boot, err := sys.BootTime()
		if err != nil {
			return Unknown, "this controller's boot time is unknown: " + err.Error()
		}
		if o.Since.Before(boot) {
			return Dead, fmt.Sprintf("%s has rebooted since (boot id %s, now %s)", o.Host, o.BootID, me.BootID)
		}
		return Unknown, fmt.Sprintf("same machine id but another boot id (%s), taken after this boot: a clone of this machine?", o.BootID)
	case o.PIDNS == 0 || o.PIDNS != me.PIDNS:
		return Unknown, fmt.Sprintf("it runs in another PID namespace (%d) on %s", o.PIDNS, o.Host)
	}
	start, ok, err := sys.ProcStart(o.PID)
	switch {
	case err != nil:
		return Unknown, fmt.Sprintf("cannot read process %d: %v", o.PID, err)
	case !ok:
		return Dead, fmt.Sprintf("process %d is gone", o.PID)
	case o.Start == 0:
		return Unknown, fmt.Sprintf("process %d runs, and the lock recorded no start time", o.PID)
	case start != o.Start:
		return Dead, fmt.Sprintf("process %d is gone (pid %d now belongs to a process started later)", o.PID, o.PID)
	}
	return Alive, fmt.Sprintf("process %d still runs on %s", o.PID, o.Host)
}

// linux reads identity and processes from /proc and /etc.
type linux struct{}

func (linux) Self() Owner {
	host, _ := os.Hostname()
	user := os.Getenv("USER")
	if user == "" {
		user = strconv.Itoa(os.Getuid())
	}
	o := Owner{Host: clean(host, maxHost), PID: os.Getpid(), User: clean(user, maxUser)}
	o.MachineID = readHex32("/etc/machine-id")
	if o.MachineID == "" {
		o.MachineID = readHex32("/var/lib/dbus/machine-id")
	}
	o.BootID = readHex32("/proc/sys/kernel/random/boot_id")
	if ns, err := os.Readlink("/proc/self/ns/pid"); err == nil {
		// "pid:[4026531836]"
		if v, ok := strings.CutPrefix(ns, "pid:["); ok {
			o.PIDNS, _ = strconv.ParseUint(strings.TrimSuffix(v, "]"), 10, 64)
		}
	}
	if st, ok, err := (linux{}).ProcStart(o.PID); err == nil && ok {
		o.Start = st
	}
	return o
}

// readHex32 reads a 128-bit id file (boot_id has dashes), "" if it
// is missing or not one.
func readHex32(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	s := strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	if !hex32.MatchString(s) {
		return ""
	}
	return s
}

func (linux) ProcStart(pid int) (uint64, bool, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if os.IsNotExist(err) {
		if _, err := os.Stat("/proc/self/stat"); err != nil {
			return 0, false, fmt.Errorf("no /proc on this controller: %w", err)
		}
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return parseStatStart(b)
}

// parseStatStart reads field 22 (starttime) of /proc/PID/stat. The
// command name (field 2) is in parentheses and may hold spaces and ')',
// so fields are counted after the last ')'.
func parseStatStart(b []byte) (uint64, bool, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("unreadable /proc stat line")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false, fmt.Errorf("short /proc stat line")
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("/proc stat start time: %w", err)
	}
	return st, true, nil
}

func (linux) BootTime() (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("/proc/stat btime: %w", err)
			}
			return time.Unix(n, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("no btime in /proc/stat")
}
