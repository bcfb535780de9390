package zfs

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// SnapshotArgv creates snapshots atomically; all must be in one pool.
func SnapshotArgv(names ...string) []string {
	return append([]string{"zfs", "snapshot"}, names...)
}

// DestroySnapshotsArgv destroys several snapshots of one dataset in one
// transaction group: zfs destroy fs@a,b,c.
func DestroySnapshotsArgv(dataset string, snaps ...string) []string {
	return []string{"zfs", "destroy", dataset + "@" + strings.Join(snaps, ",")}
}

// DestroyBookmarkArgv destroys one bookmark (fs#name).
func DestroyBookmarkArgv(bookmark string) []string {
	return []string{"zfs", "destroy", bookmark}
}

// RollbackArgv rolls dataset back to its most recent snapshot snap,
// discarding changes written since. Without -r it refuses when later
// snapshots exist, so it never destroys more than the plan listed.
func RollbackArgv(dataset, snap string) []string {
	return []string{"zfs", "rollback", dataset + "@" + snap}
}

// HoldArgv puts a hold with tag on each snapshot.
func HoldArgv(tag string, snaps ...string) []string {
	return append([]string{"zfs", "hold", tag}, snaps...)
}

// ReleaseArgv releases the hold tag from each snapshot.
func ReleaseArgv(tag string, snaps ...string) []string {
	return append([]string{"zfs", "release", tag}, snaps...)
}

// BookmarkArgv bookmarks snapshot (fs@snap) as bookmark (fs#name).
func BookmarkArgv(snapshot, bookmark string) []string {
	return []string{"zfs", "bookmark", snapshot, bookmark}
}

// CreatePlaceholderArgv creates an unmountable dataset marked as a
// placeholder, so that replicated children have a parent.
func CreatePlaceholderArgv(dataset string) []string {
	return []string{"zfs", "create", "-o", "canmount=off", "-o", PropPlaceholder + "=" + dataset, dataset}
}

// SendOptions are the flags of a zfs send.
type SendOptions struct {
	Raw         bool // -w
	LargeBlocks bool // -L
	Compressed  bool // -c
	Embedded    bool // -e
	Properties  bool // -p
}

// Flags returns the options as zfs send flags.
func (o SendOptions) Flags() []string {
	var f []string
	if o.Raw {
		f = append(f, "-w")
	}
	if o.LargeBlocks {
		f = append(f, "-L")
	}
	if o.Compressed {
		f = append(f, "-c")
	}
	if o.Embedded {
		f = append(f, "-e")
	}
	if o.Properties {
		f = append(f, "-p")
	}
	return f
}

// SendArgv sends snapshot to (fs@snap) with flags (see SendOptions.Flags),
// incrementally from from (a snapshot fs@x or bookmark fs#x) unless from
// is empty.
func SendArgv(flags []string, from, to string) []string {
	argv := append([]string{"zfs", "send"}, flags...)
	if from != "" {
		argv = append(argv, "-i", from)
	}
	return append(argv, to)
}

// ResumeSendArgv continues an interrupted send from a receive_resume_token,
// given the edge's send flags (SendOptions.Flags). zfs sends with the
// token's flags OR'd with the command line's, and the token comes from
// the receiving host, so -w is passed whenever the edge is raw: a token
// that drops rawok cannot turn a raw edge into a decrypting send. The
// other flags are left to the token (zfs refuses -p with -t, and
// changing -L between the parts of one stream is unsafe); the planner
// checks the decoded token against the edge before resuming.
func ResumeSendArgv(flags []string, token string) []string {
	argv := []string{"zfs", "send"}
	for _, f := range flags {
		if f == "-w" {
			argv = append(argv, f)
		}
	}
	return append(argv, "-t", token)
}

// RecvArgv receives into dataset, resumably (-s) and without mounting
// (-u), setting the properties in set (-o) and keeping those in inherit
// out of the stream (-x). It never forces (-F): see the safety
// invariants.
func RecvArgv(dataset string, set map[string]string, inherit []string) []string {
	argv := []string{"zfs", "recv", "-s", "-u"}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		argv = append(argv, "-o", k+"="+set[k])
	}
	for _, k := range inherit {
		argv = append(argv, "-x", k)
	}
	return append(argv, dataset)
}

// SetArgv sets the properties on dataset in one command (zfs applies
// them together or not at all).
func SetArgv(dataset string, props map[string]string) []string {
	argv := []string{"zfs", "set"}
	for _, k := range slices.Sorted(maps.Keys(props)) {
		argv = append(argv, k+"="+props[k])
	}
	return append(argv, dataset)
}

// RecvAbortArgv discards a partially received stream's saved state.
func RecvAbortArgv(dataset string) []string {
	return []string{"zfs", "recv", "-A", dataset}
}

// ResumeTokenArgv has zfs decode a resume token without sending anything.
// zplan never trusts its output (see DecodeResumeToken); tests use it to
// check the decoder against zfs.
func ResumeTokenArgv(token string) []string {
	return []string{"zfs", "send", "-nv", "-t", token}
}

// GUIDsArgv lists the name, guid, written, receive_resume_token and
// encryption of the given objects, for re-checking preconditions just
// before an action runs, in one command. written is a number with -p
// ("-" for bookmarks), a token has no tab and encryption is a value zfs
// computes, so no column can forge another. Missing objects make zfs
// print "dataset does not exist" for them and exit 1; the lines for the
// others are still printed.
func GUIDsArgv(names ...string) []string {
	return append([]string{"zfs", "list", "-H", "-p", "-t", "filesystem,volume,snapshot,bookmark", "-o", "name,guid,written,receive_resume_token,encryption"}, names...)
}

// GUIDFact is what GUIDsArgv printed about one object.
type GUIDFact struct {
	GUID uint64
	// Written is the bytes written since the newest snapshot (a
	// filesystem's or volume's); HasWritten is false for "-" (bookmarks).
	Written    uint64
	HasWritten bool
	// ResumeToken is the receive_resume_token, "" for "-".
	ResumeToken string
	// Encryption is "off" or a cipher; "" for "-" (bookmarks).
	Encryption string
}

// ParseGUIDs parses the output of GUIDsArgv, keyed by object name.
// Every byte is the host's to choose, so each line must be exactly
// NAME<tab>GUID<tab>WRITTEN<tab>TOKEN<tab>ENCRYPTION: a name zfs could
// print (names hold spaces but never tabs or newlines), a decimal guid, a
// decimal or "-" written, "-" or a token of a token's shape, only on a
// filesystem or volume, and "-", "off" or a cipher name. A name printed twice with different values is
// an error (zfs prints each object once). Any other line is a
// *LineError, and nothing is returned.
func ParseGUIDs(out []byte) (map[string]GUIDFact, error) {
	facts := map[string]GUIDFact{}
	lines := bytes.Split(out, []byte{'\n'})
	if n := len(lines); len(lines[n-1]) == 0 {
		lines = lines[:n-1] // the newline that ends the last line
	}
	for i, line := range lines {
		name, f, err := parseGUIDLine(line)
		if err == nil {
			if prev, dup := facts[name]; dup && prev != f {
				err = fmt.Errorf("%s is printed twice with different values", name)
			}
		}
		if err != nil {
			return nil, lineError(i+1, line, err)
		}
		facts[name] = f
	}
	return facts, nil
}

func parseGUIDLine(line []byte) (string, GUIDFact, error) {
	var f GUIDFact
	cols := bytes.Split(line, []byte{'\t'})
	if len(cols) != 5 {
		return "", f, fmt.Errorf("want 5 tab-separated fields (name, guid, written, receive_resume_token, encryption), got %d", len(cols))
	}
	name := string(cols[0])
	if !ValidName(name) {
		return "", f, fmt.Errorf("name %q is not a ZFS name", name)
	}
	var err error
	if f.GUID, err = parseUint(cols[1]); err != nil {
		return "", f, fmt.Errorf("guid %q is not a number", cols[1])
	}
	if string(cols[2]) != "-" {
		if f.Written, err = parseUint(cols[2]); err != nil {
			return "", f, fmt.Errorf("written %q is not a number", cols[2])
		}
		f.HasWritten = true
	}
	if tok := string(cols[3]); tok != "-" {
		switch {
		case !tokenShape(tok):
			return "", f, fmt.Errorf("receive_resume_token %q is not a resume token", truncate(tok, 40))
		case typeOfName(name) != Filesystem:
			return "", f, fmt.Errorf("a %s cannot have a resume token", typeOfName(name))
		}
		f.ResumeToken = tok
	}
	if enc := string(cols[4]); enc != "-" {
		if !cipherShape(enc) {
			return "", f, fmt.Errorf("encryption %q is not off or a cipher", truncate(enc, 40))
		}
		f.Encryption = enc
	}
	return name, f, nil
}

// cipherShape accepts what zfs prints for encryption: off or a cipher
// such as aes-256-gcm.
func cipherShape(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// PlaceholderArgv reads one object's zplan:placeholder property. User
// properties are free text, so they are never part of the bulk listing
// (see listColumns); this reads one name, and IsPlaceholder accepts
// only the exact output a placeholder gives.
func PlaceholderArgv(name string) []string {
	return []string{"zfs", "list", "-H", "-p", "-o", "name," + PropPlaceholder, name}
}

// IsPlaceholder reports whether out, the output of PlaceholderArgv(name),
// marks name as a placeholder zplan created: the value is the object's
// own name (a child inherits its parent's value, which names the parent).
func IsPlaceholder(out []byte, name string) bool {
	return string(out) == name+"\t"+name+"\n"
}
