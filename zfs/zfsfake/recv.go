package zfsfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zplan/zplan/remote"
)

// recv runs zfs recv [-s] [-u] [-F] [-o prop=value]... [-x prop]... fs
// and zfs recv -A fs.
func (r *run) recv(args []string) error {
	var abort, resumable, force bool
	var target string
	set, exclude := map[string]string{}, map[string]bool{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if (a == "-o" || a == "-x") && i+1 < len(args) {
			i++
			if a == "-x" {
				exclude[args[i]] = true
				continue
			}
			k, v, ok := strings.Cut(args[i], "=")
			if !ok {
				return r.unsupported()
			}
			set[k] = v
			continue
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			for _, c := range a[1:] {
				switch c {
				case 'A':
					abort = true
				case 's':
					resumable = true
				case 'F':
					force = true
				case 'u':
				default:
					return r.unsupported()
				}
			}
			continue
		}
		if target != "" {
			return r.unsupported()
		}
		target = a
	}
	if target == "" || strings.ContainsAny(target, "@#") {
		return r.unsupported()
	}
	if abort {
		return r.abort(target)
	}
	rd := newReader(r)
	defer rd.close()
	line, err := rd.line(64 << 20)
	if err != nil {
		if !errors.Is(err, errTruncated) {
			return r.killed()
		}
		return r.fail(1, "cannot receive: failed to read from stream")
	}
	var hdr streamHeader
	if json.Unmarshal(line, &hdr) != nil || hdr.Magic != streamMagic {
		return r.fail(1, "cannot receive: invalid stream (bad magic number)")
	}
	prefix := "cannot receive incremental stream"
	switch {
	case hdr.Resume:
		prefix = "cannot receive resume stream"
	case hdr.FromGUID == 0:
		prefix = "cannot receive new filesystem stream"
	}
	snapName := hdr.ToName[strings.IndexByte(hdr.ToName, '@')+1:]

	if _, ok := set["canmount"]; ok && hdr.Type == "volume" {
		return r.fail(1, prefix+": property 'canmount' does not apply to datasets of this type")
	}
	h := r.h
	h.w.mu.Lock()
	if msg := h.checkRecv(target, snapName, &hdr, force, prefix); msg != "" {
		h.w.mu.Unlock()
		return r.fail(1, msg)
	}
	h.busy[target] = true
	var prevBytes int64
	if hdr.Resume {
		prevBytes = h.ds[target].partial.bytes
	}
	h.w.mu.Unlock()

	got, err := rd.skip(hdr.Filler - hdr.Offset)
	if err == nil {
		var tail []byte
		if tail, err = rd.line(16); err == nil && string(tail) != "END\n" {
			err = errTruncated
		}
	}

	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	delete(h.busy, target)
	if err != nil {
		tok := ""
		if resumable && hdr.Offset+got > 0 {
			tok = h.savePartial(target, &hdr, hdr.Offset+got, prevBytes+rd.n)
		}
		if !errors.Is(err, errTruncated) {
			return r.killed()
		}
		if tok != "" {
			return r.fail(1, prefix+": checksum mismatch or incomplete stream.\nPartially received snapshot is saved.\nA resuming stream can be generated on the sending system by running:\n    zfs send -t "+tok)
		}
		return r.fail(1, prefix+": incomplete stream")
	}
	for k := range exclude {
		delete(hdr.Props, k) // -x: the target's own (or inherited) value stays
	}
	h.applyRecv(target, snapName, &hdr, force)
	for k, v := range set {
		h.ds[target].props[k] = v
	}
	return nil
}

// killed is what a receive ended by its context reports: the process was
// killed, as the real transports do.
func (r *run) killed() error {
	return &remote.ExitError{Host: r.h.name, Argv: r.argv, Code: -1, Signal: "TERM"}
}

// checkRecv is what zfs decides from the stream header before it reads
// any data; it returns the full stderr, or "". Callers hold w.mu.
func (h *Host) checkRecv(target, snapName string, hdr *streamHeader, force bool, prefix string) string {
	d := h.ds[target]
	pool, _, _ := strings.Cut(target, "/")
	switch {
	case !h.pools[pool]:
		return prefix + ": dataset does not exist"
	case h.busy[target]:
		return prefix + ": dataset is busy"
	}
	partialState := fmt.Sprintf("%s: destination %s contains partially-complete state from \"zfs receive -s\".", prefix, target)
	if hdr.Resume {
		switch {
		case d == nil:
			return prefix + ": dataset does not exist"
		case d.partial == nil || d.partial.toGUID != hdr.ToGUID || d.partial.fromGUID != hdr.FromGUID || d.partial.offset != hdr.Offset:
			return prefix + ": invalid backup stream"
		case hdr.Raw && hdr.Encryption != "off" && !d.partial.raw:
			// zfs send -w -t on a token of a decrypting send (lab-checked on 2.3)
			return prefix + ": cannot perform raw receive on top of existing unencrypted dataset"
		}
		return ""
	}
	if hdr.FromGUID == 0 {
		if d != nil {
			switch {
			case !force:
				return fmt.Sprintf("%s: destination '%s' exists\nmust specify -F to overwrite it", prefix, target)
			case len(d.snaps) > 0:
				return fmt.Sprintf("%s: destination has snapshots (eg. %s@%s)\nmust destroy them to overwrite it", prefix, target, d.snaps[0].name)
			case d.partial != nil:
				return partialState
			}
			return ""
		}
		p := h.ds[parentOf(target)]
		switch {
		case p == nil:
			return prefix + ": dataset does not exist"
		case !(hdr.Raw && hdr.Encryption != "off") && p.encryption != "off" && !p.keyLoaded:
			return prefix + ": inherited key must be loaded"
		}
		return ""
	}
	// Incremental.
	if d == nil {
		return prefix + ": dataset does not exist"
	}
	if d.partial != nil {
		return partialState
	}
	for _, s := range d.snaps {
		if s.name == snapName {
			return fmt.Sprintf("cannot restore to %s@%s: destination already exists", target, snapName)
		}
	}
	if hdr.Raw && hdr.Encryption != "off" {
		if d.keyRoot != hdr.KeyRoot {
			return prefix + ": encryption key does not match existing key"
		}
	} else if d.encryption != "off" && !d.keyLoaded {
		return prefix + ": inherited key must be loaded"
	}
	mismatch := fmt.Sprintf("%s: most recent snapshot of %s does not\nmatch incremental source", prefix, target)
	if len(d.snaps) == 0 {
		return mismatch
	}
	newest := d.snaps[len(d.snaps)-1]
	if force {
		i := d.snapIndex(hdr.FromGUID)
		if i < 0 {
			return mismatch
		}
		for _, s := range d.snaps[i+1:] {
			if len(s.holds) > 0 {
				return prefix + ": dataset is busy"
			}
		}
		return ""
	}
	if newest.guid != hdr.FromGUID {
		// zfs accepts an older from snapshot when nothing changed after
		// it: the later snapshots are all empty.
		ok := false
		for i := len(d.snaps) - 1; i >= 0; i-- {
			s := d.snaps[i]
			if s.createtxg < d.modified {
				break
			}
			if s.guid == hdr.FromGUID {
				ok = true
				break
			}
		}
		if !ok {
			return mismatch
		}
	}
	if d.modified > newest.createtxg {
		return fmt.Sprintf("%s: destination %s has been modified\nsince most recent snapshot", prefix, target)
	}
	return ""
}

func (d *dataset) snapIndex(guid uint64) int {
	for i, s := range d.snaps {
		if s.guid == guid {
			return i
		}
	}
	return -1
}

// savePartial keeps what an interrupted `zfs recv -s` got, and returns
// the resume token. Callers hold w.mu.
func (h *Host) savePartial(target string, hdr *streamHeader, offset, nbytes int64) string {
	d := h.ds[target]
	if d == nil {
		// A new filesystem exists, incomplete, from the first byte on.
		d = h.newDataset(target, hdr.Type, nil)
		d.incomplete = true
		if hdr.Raw && hdr.Encryption != "off" {
			d.encryption, d.keyRoot, d.keyLoaded = hdr.Encryption, hdr.KeyRoot, false
		}
	}
	d.partial = &partial{
		toName: hdr.ToName, toGUID: hdr.ToGUID, fromGUID: hdr.FromGUID,
		raw: hdr.Raw, compress: hdr.Compress, large: hdr.Large, embed: hdr.Embed,
		offset: offset, bytes: nbytes,
	}
	return d.partial.token()
}

// applyRecv makes the received snapshot real. Callers hold w.mu.
func (h *Host) applyRecv(target, snapName string, hdr *streamHeader, force bool) {
	d := h.ds[target]
	if d == nil {
		d = h.newDataset(target, hdr.Type, nil)
	}
	if hdr.FromGUID == 0 && hdr.Raw && hdr.Encryption != "off" {
		// The target never sees the key.
		d.encryption, d.keyRoot, d.keyLoaded = hdr.Encryption, hdr.KeyRoot, false
	}
	if i := d.snapIndex(hdr.FromGUID); force && hdr.FromGUID != 0 && i >= 0 {
		// -F rolls back to the from snapshot. Without it, later empty
		// snapshots stay, as in zfs.
		d.snaps = d.snaps[:i+1]
	}
	t := h.w.newTXG()
	want := map[uint64]uint64{}
	for _, c := range hdr.Chunks {
		want[c[0]] = c[1]
	}
	for _, c := range d.chunks {
		if c.died != 0 {
			continue
		}
		if _, ok := want[c.id]; ok {
			delete(want, c.id)
		} else {
			c.died = t
		}
	}
	for _, c := range hdr.Chunks {
		if _, ok := want[c[0]]; ok {
			d.chunks = append(d.chunks, &chunk{id: c[0], size: c[1], born: t})
		}
	}
	d.modified = t
	d.snaps = append(d.snaps, &snapshot{
		name: snapName, guid: hdr.ToGUID, createtxg: t,
		creation: time.Unix(hdr.Creation, 0).UTC(), holds: map[string]time.Time{},
	})
	for k, v := range hdr.Props {
		d.props[k] = v
	}
	d.partial, d.incomplete = nil, false
	h.collect(d)
}

// abort runs zfs recv -A fs.
func (r *run) abort(target string) error {
	h := r.h
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	d := h.ds[target]
	switch {
	case d == nil:
		return r.fail(1, fmt.Sprintf("cannot open '%s': dataset does not exist", target))
	case d.partial == nil:
		return r.fail(1, fmt.Sprintf("'%s' does not have any resumable receive state to abort", target))
	case h.busy[target]:
		return r.fail(1, fmt.Sprintf("cannot destroy '%s': dataset is busy", target))
	}
	if d.incomplete {
		delete(h.ds, target)
		return nil
	}
	d.partial = nil
	return nil
}
