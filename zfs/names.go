package zfs

import "strings"

// MaxNameLen is ZFS_MAX_DATASET_NAME_LEN minus its terminating NUL.
const MaxNameLen = 255

// ValidName reports whether name is a dataset, snapshot or bookmark name
// as ZFS spells them: '/'-separated components of letters, digits and
// "_-.: %", with at most one '@' or '#' part at the end. Names from a host
// are checked with it before anything else is believed about them: a
// name outside this alphabet (a tab, a newline, a quote, a ',') is not
// one zfs printed for an object, or not one zplan can safely hand back.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLen {
		return false
	}
	ds := name
	if i := strings.IndexAny(name, "@#"); i >= 0 {
		ds = name[:i]
		if !validComponent(name[i+1:]) {
			return false
		}
	}
	// Scanned in place: this runs for every line of listings with
	// millions of snapshots, where strings.Split's slices showed.
	for {
		i := strings.IndexByte(ds, '/')
		if i < 0 {
			return validComponent(ds)
		}
		if !validComponent(ds[:i]) {
			return false
		}
		ds = ds[i+1:]
	}
}

func validComponent(c string) bool {
	if c == "" || c == "." || c == ".." {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case b == '_', b == '-', b == '.', b == ':', b == ' ', b == '%':
		default:
			return false
		}
	}
	return true
}

// DatasetOf returns the dataset part of a dataset, snapshot or bookmark
// name.
func DatasetOf(name string) string {
	if i := strings.IndexAny(name, "@#"); i >= 0 {
		return name[:i]
	}
	return name
}

// DestroySafe reports whether a snapshot name (after '@') can be handed
// to zfs destroy: zfs reads '%' as a range (a%b destroys a through b)
// and ',' as a list, so a snapshot whose name holds either cannot be
// destroyed by name at all.
func DestroySafe(snap string) bool { return !strings.ContainsAny(snap, "%,") }

// tokenShape reports whether s looks like a receive_resume_token:
// "VERSION-CHECKSUM-LENGTH-PAYLOAD", all hexadecimal. The token is
// decoded and verified elsewhere; this only keeps odd text out.
func tokenShape(s string) bool {
	parts := strings.SplitN(s, "-", 4)
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for i := 0; i < len(p); i++ {
			if !(p[i] >= '0' && p[i] <= '9' || p[i] >= 'a' && p[i] <= 'f') {
				return false
			}
		}
	}
	return true
}
