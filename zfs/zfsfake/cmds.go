package zfsfake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/zplan/zplan/remote"
)

// run is one command being interpreted.
type run struct {
	h    *Host
	ctx  context.Context
	argv []string
	cmd  remote.Cmd
}

func (r *run) fail(code int, stderr string) error { return r.h.exit(r.argv, code, stderr) }

func (r *run) unsupported() error {
	return r.fail(2, "fake zfs: unsupported command: "+strings.Join(r.argv, " "))
}

func (r *run) write(s string) error {
	if r.cmd.Stdout == nil || s == "" {
		return nil
	}
	_, err := io.WriteString(r.cmd.Stdout, s)
	return err
}

// reply prints out, then fails with status 1 if there is a stderr: zfs
// prints what it could and complains about the rest.
func (r *run) reply(out, stderr string) error {
	if err := r.write(out); err != nil {
		return err
	}
	if stderr != "" {
		return r.fail(1, stderr)
	}
	return nil
}

func (r *run) dispatch() error {
	a := r.argv
	if len(a) >= 1 && a[0] == "xargs" {
		return r.xargs()
	}
	if len(a) < 2 || a[0] != "zfs" {
		return r.unsupported()
	}
	args := a[2:]
	switch a[1] {
	case "list":
		return r.list(args)
	case "snapshot", "snap":
		return r.snapshot(args)
	case "destroy":
		return r.destroy(args)
	case "hold":
		return r.holdRelease(args, true)
	case "release":
		return r.holdRelease(args, false)
	case "holds":
		return r.holds(args)
	case "bookmark":
		return r.bookmark(args)
	case "create":
		return r.create(args)
	case "send":
		return r.send(args)
	case "recv", "receive":
		return r.recv(args)
	case "rollback":
		return r.rollback(args)
	case "set":
		return r.set(args)
	}
	return r.unsupported()
}

// rollback runs zfs rollback fs@snap (no -r/-R): snap must be the newest
// snapshot; data written after it is discarded, data overwritten or
// deleted after it comes back.
func (r *run) rollback(args []string) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return r.unsupported()
	}
	h := r.h
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	d, s := h.lookupSnap(args[0])
	if s == nil {
		return r.fail(1, fmt.Sprintf("cannot open '%s': dataset does not exist", args[0]))
	}
	if d.snaps[len(d.snaps)-1] != s {
		return r.fail(1, fmt.Sprintf("cannot rollback to '%s': more recent snapshots or bookmarks exist\nuse '-r' to force deletion of the following snapshots and bookmarks:", args[0]))
	}
	var live []*chunk
	for _, c := range d.chunks {
		if c.born > s.createtxg {
			continue
		}
		if c.died > s.createtxg {
			c.died = 0
		}
		live = append(live, c)
	}
	d.chunks = live
	d.modified = s.createtxg
	return nil
}

// xargs runs `xargs -0 -r zfs ...` with the NUL-separated words on stdin
// appended, as one zfs invocation. Like xargs, it exits 123 when zfs
// exits 1-125.
func (r *run) xargs() error {
	a := r.argv
	if len(a) < 4 || a[1] != "-0" || a[2] != "-r" || a[3] != "zfs" {
		return r.unsupported()
	}
	var in []byte
	if r.cmd.Stdin != nil {
		var err error
		if in, err = io.ReadAll(r.cmd.Stdin); err != nil {
			return r.fail(1, "xargs: read error: "+err.Error())
		}
	}
	var words []string
	for _, w := range bytes.Split(in, []byte{0}) {
		if len(w) > 0 {
			words = append(words, string(w))
		}
	}
	if len(words) == 0 {
		return nil // -r: no input, no command
	}
	sub := &run{h: r.h, ctx: r.ctx, argv: append(append([]string(nil), a[3:]...), words...), cmd: remote.Cmd{Stdout: r.cmd.Stdout}}
	err := sub.dispatch()
	var ee *remote.ExitError
	if errors.As(err, &ee) && ee.Code >= 1 && ee.Code <= 125 {
		return r.fail(123, ee.Stderr)
	}
	return err
}

func (r *run) snapshot(args []string) error {
	// -o NAME=VALUE sets user properties on the new snapshots.
	props := map[string]string{}
	for len(args) >= 2 && args[0] == "-o" {
		k, v, ok := strings.Cut(args[1], "=")
		if !ok || !strings.Contains(k, ":") {
			return r.unsupported()
		}
		props[k] = v
		args = args[2:]
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return r.unsupported()
	}
	r.h.w.mu.Lock()
	defer r.h.w.mu.Unlock()
	if msg := r.h.snapshot(args); msg != "" {
		return r.fail(1, msg)
	}
	for _, n := range args {
		if _, s := r.h.lookupSnap(n); s != nil && len(props) > 0 {
			s.props = maps.Clone(props)
		}
	}
	return nil
}

func (r *run) destroy(args []string) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return r.unsupported()
	}
	name := args[0]
	h := r.h
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	switch {
	case strings.Contains(name, "#"):
		d, b := h.lookupBookmark(name)
		if b == nil {
			return r.fail(1, fmt.Sprintf("bookmark '%s' does not exist.", name))
		}
		delete(d.bookmarks, b.name)
		return nil
	case strings.Contains(name, "@"):
		dn, list, _ := strings.Cut(name, "@")
		d := h.ds[dn]
		if d == nil {
			return r.fail(1, fmt.Sprintf("cannot open '%s': dataset does not exist", dn))
		}
		if strings.Contains(list, "%") {
			return r.unsupported()
		}
		// Names that do not exist are skipped, like zfs does; the rest
		// are destroyed all or none.
		var victims []*snapshot
		seen := map[string]bool{}
		for _, sn := range strings.Split(list, ",") {
			if _, s := h.lookupSnap(dn + "@" + sn); s != nil && !seen[sn] {
				seen[sn] = true
				victims = append(victims, s)
			}
		}
		if len(victims) == 0 {
			return r.fail(1, "could not find any snapshots to destroy; check snapshot names.")
		}
		var errs []string
		for _, s := range victims {
			switch {
			case len(s.holds) > 0:
				errs = append(errs, fmt.Sprintf("cannot destroy snapshot %s@%s: dataset is busy", dn, s.name))
			case d.partial != nil && d.partial.fromGUID == s.guid:
				// The saved partial receive is a clone of it.
				errs = append(errs, fmt.Sprintf("cannot destroy snapshot %s@%s: snapshot is cloned", dn, s.name))
			}
		}
		if len(errs) > 0 {
			return r.fail(1, strings.Join(errs, "\n"))
		}
		keep := d.snaps[:0]
		for _, s := range d.snaps {
			if !seen[s.name] {
				keep = append(keep, s)
			}
		}
		d.snaps = keep
		h.w.newTXG()
		h.collect(d)
		return nil
	}
	d := h.ds[name]
	if d == nil {
		return r.fail(1, fmt.Sprintf("cannot open '%s': dataset does not exist", name))
	}
	if parentOf(name) == "" {
		return r.fail(1, fmt.Sprintf("cannot destroy '%s': operation does not apply to pools\nuse 'zfs destroy -r %s' to destroy all datasets in the pool\nuse 'zpool destroy %s' to destroy the pool itself", name, name, name))
	}
	var deps []string
	for _, o := range h.objects(map[string]bool{"filesystem": true, "volume": true, "snapshot": true}) {
		if strings.HasPrefix(o.name, name+"/") || strings.HasPrefix(o.name, name+"@") {
			deps = append(deps, o.name)
		}
	}
	if len(deps) > 0 {
		what := "children"
		if strings.Contains(deps[0], "@") {
			what = "snapshots"
		}
		return r.fail(1, fmt.Sprintf("cannot destroy '%s': filesystem has %s\nuse '-r' to destroy the following datasets:\n%s", name, what, strings.Join(deps, "\n")))
	}
	delete(h.ds, name)
	return nil
}

// holdRelease runs zfs hold/release TAG snap...: each snapshot on its own,
// like zfs (not atomic across arguments).
func (r *run) holdRelease(args []string, hold bool) error {
	if len(args) < 2 || strings.HasPrefix(args[0], "-") {
		return r.unsupported()
	}
	tag := args[0]
	h := r.h
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	var errs []string
	verb := "cannot hold snapshot"
	if !hold {
		verb = "cannot release hold from snapshot"
	}
	for _, name := range args[1:] {
		dn, _, ok := strings.Cut(name, "@")
		if !ok {
			errs = append(errs, fmt.Sprintf("'%s' is not a snapshot", name))
			continue
		}
		if h.ds[dn] == nil {
			errs = append(errs, fmt.Sprintf("cannot open '%s': dataset does not exist", dn))
			continue
		}
		_, s := h.lookupSnap(name)
		switch {
		case s == nil:
			errs = append(errs, fmt.Sprintf("%s '%s': dataset does not exist", verb, name))
		case hold && hasKey(s.holds, tag):
			errs = append(errs, fmt.Sprintf("%s '%s': tag already exists on this dataset", verb, name))
		case hold:
			s.holds[tag] = h.w.clock()
		case !hasKey(s.holds, tag):
			errs = append(errs, fmt.Sprintf("%s '%s': no such tag on this dataset", verb, name))
		default:
			delete(s.holds, tag)
		}
	}
	if len(errs) > 0 {
		return r.fail(1, strings.Join(errs, "\n"))
	}
	return nil
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// holds runs zfs holds -H snap...: NAME<tab>TAG<tab>TIME lines, snapshots
// in zfs list order, tags sorted. Times are printed in UTC.
func (r *run) holds(args []string) error {
	if len(args) < 2 || args[0] != "-H" {
		return r.unsupported()
	}
	h := r.h
	h.w.mu.Lock()
	var objs []object
	var stderr strings.Builder
	seen := map[string]bool{}
	for _, n := range args[1:] {
		if strings.HasPrefix(n, "-") {
			h.w.mu.Unlock()
			return r.unsupported()
		}
		o, ok := h.open(n)
		switch {
		case !ok:
			fmt.Fprintf(&stderr, "cannot open '%s': dataset does not exist\n", n)
		case o.s == nil:
			fmt.Fprintf(&stderr, "'%s' is not a snapshot\n", n)
		case !seen[n]:
			seen[n] = true
			objs = append(objs, o)
		}
	}
	sortObjects(objs)
	var out strings.Builder
	for _, o := range objs {
		for _, tag := range slices.Sorted(maps.Keys(o.s.holds)) {
			fmt.Fprintf(&out, "%s\t%s\t%s\n", o.name, tag, o.s.holds[tag].UTC().Format("Mon Jan _2 15:04 2006"))
		}
	}
	h.w.mu.Unlock()
	return r.reply(out.String(), stderr.String())
}

// bookmark runs zfs bookmark fs@snap|fs#bm fs#new.
func (r *run) bookmark(args []string) error {
	if len(args) != 2 || strings.HasPrefix(args[0], "-") {
		return r.unsupported()
	}
	src, dst := args[0], args[1]
	h := r.h
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	dn, bn, ok := strings.Cut(dst, "#")
	if !ok || bn == "" || strings.ContainsAny(bn, "@#/%") {
		return r.fail(1, fmt.Sprintf("cannot create bookmark '%s': invalid character in name", dst))
	}
	o, found := h.open(src)
	if !found {
		// zfs_do_bookmark opens the source with zfs_open and, when that
		// fails, prints its usage and exits 2 (OpenZFS 2.3.2
		// cmd/zfs/zfs_main.c:8323 `zhp = zfs_open(g_zfs, source,
		// source_type); if (zhp == NULL) goto usage;`, usage() :550-551 and
		// `exit(requested ? 0 : 2)` :633, HELP_BOOKMARK :413): see openError.
		// The epilogue after the usage line is what zfs 2.3.2 printed in
		// the lab (TestFakeMatchesReal).
		return r.fail(2, fmt.Sprintf("cannot open '%s': %s\nusage:\n\tbookmark <snapshot|bookmark> <newbookmark>\n\n"+
			"For the property list, run: zfs set|get\n\nFor the delegated permission list, run: zfs allow|unallow\n\n"+
			"For further help on a command or topic, run: zfs help [<topic>]", src, h.openError(src)))
	}
	if o.s == nil && o.b == nil {
		return r.fail(1, fmt.Sprintf("cannot create bookmark '%s': invalid argument", dst))
	}
	if o.d.name != dn {
		return r.fail(1, fmt.Sprintf("cannot create bookmark '%s': source is not an ancestor of the new bookmark's dataset", dst))
	}
	if hasKey(o.d.bookmarks, bn) {
		return r.fail(1, fmt.Sprintf("cannot create bookmark '%s': bookmark exists", dst))
	}
	// A bookmark keeps its snapshot's GUID, createtxg and creation.
	b := &bookmark{name: bn}
	if o.s != nil {
		b.guid, b.createtxg, b.creation = o.s.guid, o.s.createtxg, o.s.creation
	} else {
		b.guid, b.createtxg, b.creation = o.b.guid, o.b.createtxg, o.b.creation
	}
	o.d.bookmarks[bn] = b
	return nil
}

// set runs zfs set prop=value... fs: all or nothing, as in zfs
// (lab-checked on 2.3: canmount on a volume fails the whole command
// with exit 255).
func (r *run) set(args []string) error {
	if len(args) < 2 {
		return r.fail(2, "missing arguments")
	}
	name := args[len(args)-1]
	h := r.h
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	d := h.ds[name]
	if d == nil {
		return r.fail(1, fmt.Sprintf("cannot open '%s': dataset does not exist", name))
	}
	props := map[string]string{}
	for _, a := range args[:len(args)-1] {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return r.fail(2, "missing '=' for property=value argument")
		}
		if k == "canmount" && d.typ == "volume" {
			return r.fail(255, fmt.Sprintf("cannot set property for '%s': 'canmount' does not apply to datasets of this type", name))
		}
		props[k] = v
	}
	for k, v := range props {
		d.props[k] = v
	}
	return nil
}

// create runs zfs create [-p] [-o k=v]... [-V size] name.
func (r *run) create(args []string) error {
	props := map[string]string{}
	volume, parents := false, false
	var name string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-o" && i+1 < len(args):
			i++
			k, v, ok := strings.Cut(args[i], "=")
			if !ok {
				return r.fail(2, "missing '=' for property=value argument")
			}
			props[k] = v
		case a == "-V" && i+1 < len(args):
			i++
			volume = true
		case a == "-p":
			parents = true
		case strings.HasPrefix(a, "-"):
			return r.unsupported()
		default:
			if name != "" {
				return r.fail(2, "too many arguments")
			}
			name = a
		}
	}
	if name == "" {
		return r.fail(2, "missing dataset argument")
	}
	enc := props["encryption"]
	delete(props, "encryption")
	delete(props, "keyformat")
	delete(props, "keylocation")
	h := r.h
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if parents {
		var missing []string
		for p := parentOf(name); p != "" && h.ds[p] == nil; p = parentOf(p) {
			missing = append([]string{p}, missing...)
		}
		for _, p := range missing {
			if msg := h.checkCreate(p); msg != "" {
				return r.fail(1, msg)
			}
			h.newDataset(p, "filesystem", nil)
		}
		if h.ds[name] != nil {
			return nil
		}
	}
	if msg := h.checkCreate(name); msg != "" {
		return r.fail(1, msg)
	}
	if p := h.ds[parentOf(name)]; p.encryption != "off" && !p.keyLoaded && (enc == "" || enc == "inherit") {
		return r.fail(1, fmt.Sprintf("cannot create '%s': encryption root's key is not loaded or provided", name))
	}
	if p := h.ds[parentOf(name)]; enc == "off" && p.encryption != "off" {
		return r.fail(1, fmt.Sprintf("cannot create '%s': Invalid encryption value. Dataset must be encrypted.", name))
	}
	typ := "filesystem"
	if volume {
		typ = "volume"
	}
	d := h.newDataset(name, typ, props)
	switch enc {
	case "", "inherit", "off":
	default:
		if enc == "on" {
			enc = "aes-256-gcm"
		}
		d.encryption, d.keyRoot, d.keyLoaded = enc, h.name+":"+name, true
	}
	return nil
}
