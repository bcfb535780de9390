package zfsfake

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// object is one listable thing: a dataset, a snapshot or a bookmark.
type object struct {
	name string
	typ  string
	d    *dataset
	s    *snapshot
	b    *bookmark
}

func (o object) createtxg() uint64 {
	switch {
	case o.s != nil:
		return o.s.createtxg
	case o.b != nil:
		return o.b.createtxg
	}
	return o.d.createtxg
}

// lessZFS orders objects like zfs list without -s (zfs_compare in
// cmd/zfs/zfs_iter.c): by name with the "@snap" part cut off, a dataset
// before its snapshots, snapshots by createtxg. Bookmarks are compared by
// their whole name, so "fs#b" sorts after fs's snapshots and before
// "fs/child"; "fs-x" sorts before "fs/child".
func lessZFS(a, b object) bool {
	an, aat, _ := strings.Cut(a.name, "@")
	bn, bat, _ := strings.Cut(b.name, "@")
	if an != bn {
		return an < bn
	}
	as, bs := a.s != nil, b.s != nil
	switch {
	case !as && !bs:
		return false
	case !as:
		return true
	case !bs:
		return false
	}
	if a.s.createtxg != b.s.createtxg {
		return a.s.createtxg < b.s.createtxg
	}
	return aat < bat
}

// objects returns every object of the host whose type is in types.
func (h *Host) objects(types map[string]bool) []object {
	var out []object
	for _, d := range h.ds {
		if types[d.typ] {
			out = append(out, object{name: d.name, typ: d.typ, d: d})
		}
		if types["snapshot"] {
			for _, s := range d.snaps {
				out = append(out, object{name: d.name + "@" + s.name, typ: "snapshot", d: d, s: s})
			}
		}
		if types["bookmark"] {
			for _, b := range d.bookmarks {
				out = append(out, object{name: d.name + "#" + b.name, typ: "bookmark", d: d, b: b})
			}
		}
	}
	sortObjects(out)
	return out
}

func sortObjects(objs []object) {
	sort.Slice(objs, func(i, j int) bool { return lessZFS(objs[i], objs[j]) })
}

// open finds one object by name, like zfs_open.
func (h *Host) open(name string) (object, bool) {
	if d, s := h.lookupSnap(name); s != nil {
		return object{name: name, typ: "snapshot", d: d, s: s}, true
	}
	if d, b := h.lookupBookmark(name); b != nil {
		return object{name: name, typ: "bookmark", d: d, b: b}, true
	}
	if d := h.ds[name]; d != nil && !strings.ContainsAny(name, "@#") {
		return object{name: name, typ: d.typ, d: d}, true
	}
	return object{}, false
}

// openError is what zfs_open prints after "cannot open 'NAME': " when
// name does not open. A bookmark is looked up by iterating its dataset's
// bookmarks, and finding none is EZFS_NOENT, whose text is "no such pool
// or dataset"; a missing dataset or snapshot is ENOENT from
// make_dataset_handle, "dataset does not exist" (OpenZFS 2.3.2
// lib/libzfs/libzfs_dataset.c:767 zfs_open, `zfs_error(hdl, EZFS_NOENT,
// errbuf)` after zfs_iter_bookmarks; lib/libzfs/libzfs_util.c:114
// `case EZFS_NOENT: return "no such pool or dataset"` and :457
// zfs_standard_error_fmt `case ENOENT: "dataset does not exist"`; the same
// in 2.1.11 and 2.2.7).
func (h *Host) openError(name string) string {
	if dn, _, ok := strings.Cut(name, "#"); ok {
		if d := h.ds[dn]; d != nil {
			return "no such pool or dataset"
		}
	}
	return "dataset does not exist"
}

// listProps are the properties zfs list can print here.
var listProps = map[string]bool{
	"name": true, "type": true, "guid": true, "createtxg": true, "creation": true,
	"used": true, "referenced": true, "written": true, "userrefs": true,
	"encryption": true, "keystatus": true, "receive_resume_token": true, "readonly": true, "canmount": true,
}

// prop returns the -H -p value of property p for o ("-" when it does not
// apply).
func (h *Host) prop(o object, p string) string {
	d := o.d
	num := func(v uint64) string { return strconv.FormatUint(v, 10) }
	switch p {
	case "name":
		return o.name
	case "type":
		return o.typ
	case "guid":
		switch {
		case o.s != nil:
			return num(o.s.guid)
		case o.b != nil:
			return num(o.b.guid)
		}
		return num(d.guid)
	case "createtxg":
		return num(o.createtxg())
	case "creation":
		switch {
		case o.s != nil:
			return num(uint64(o.s.creation.Unix()))
		case o.b != nil:
			return num(uint64(o.b.creation.Unix()))
		}
		return num(uint64(d.creation.Unix()))
	case "used":
		switch {
		case o.s != nil:
			return num(snapUsed(d, o.s))
		case o.b != nil:
			return "-"
		}
		return num(h.used(d))
	case "referenced":
		switch {
		case o.s != nil:
			return num(refAt(d, o.s.createtxg))
		case o.b != nil:
			return "-"
		}
		return num(liveRef(d))
	case "written":
		switch {
		case o.s != nil:
			return num(snapWritten(d, o.s))
		case o.b != nil:
			return "-"
		}
		return num(dsWritten(d))
	case "readonly":
		if o.s != nil || o.b != nil {
			return "-"
		}
		return d.nativeProp("readonly", "off")
	case "canmount":
		if o.s != nil || o.b != nil || d.typ == "volume" {
			return "-"
		}
		return d.nativeProp("canmount", "on")
	case "userrefs":
		if o.s == nil {
			return "-"
		}
		return num(uint64(len(o.s.holds)))
	case "encryption":
		if o.b != nil {
			return "-"
		}
		return d.encryption
	case "keystatus":
		if o.b != nil || d.encryption == "off" {
			return "-"
		}
		if d.keyLoaded {
			return "available"
		}
		return "unavailable"
	case "receive_resume_token":
		if o.s != nil || o.b != nil || d.partial == nil {
			return "-"
		}
		return d.partial.token()
	}
	if strings.Contains(p, ":") {
		// User properties are inherited from ancestors; snapshots see
		// their dataset's; bookmarks have none.
		if o.b != nil {
			return "-"
		}
		if v, ok := o.s.propOK(p); ok {
			return v
		}
		for n := d.name; n != ""; n = parentOf(n) {
			if a := h.ds[n]; a != nil {
				if v, ok := a.props[p]; ok {
					return v
				}
			}
		}
		return "-"
	}
	return "-"
}

// nativeProp is a native property's local value, or def. (The fake
// does not model inheritance of native properties: zplan sets them
// only locally.)
func (d *dataset) nativeProp(p, def string) string {
	if v, ok := d.props[p]; ok {
		return v
	}
	return def
}

// propOK is a user property set on the snapshot itself (nil: a dataset).
func (s *snapshot) propOK(p string) (string, bool) {
	if s == nil {
		return "", false
	}
	v, ok := s.props[p]
	return v, ok
}

func liveRef(d *dataset) uint64 {
	var n uint64
	for _, c := range d.chunks {
		if c.died == 0 {
			n += c.size
		}
	}
	return n
}

func refAt(d *dataset, t uint64) uint64 {
	var n uint64
	for _, c := range d.chunks {
		if alive(c, t) {
			n += c.size
		}
	}
	return n
}

// snapUsed is the space only this snapshot holds: data that died after it
// and that no other snapshot sees.
func snapUsed(d *dataset, s *snapshot) uint64 {
	var n uint64
	for _, c := range d.chunks {
		if c.died != 0 && alive(c, s.createtxg) && refCount(d, c) == 1 {
			n += c.size
		}
	}
	return n
}

func snapWritten(d *dataset, s *snapshot) uint64 {
	var prev uint64
	for _, o := range d.snaps {
		if o.createtxg < s.createtxg {
			prev = o.createtxg
		}
	}
	var n uint64
	for _, c := range d.chunks {
		if alive(c, s.createtxg) && (prev == 0 || c.born > prev) {
			n += c.size
		}
	}
	return n
}

func dsWritten(d *dataset) uint64 {
	if len(d.snaps) == 0 {
		return liveRef(d)
	}
	last := d.snaps[len(d.snaps)-1].createtxg
	var n uint64
	for _, c := range d.chunks {
		if c.died == 0 && c.born > last {
			n += c.size
		}
	}
	return n
}

// used is the dataset's data, what its snapshots alone hold, and its
// children's used.
func (h *Host) used(d *dataset) uint64 {
	if h.usedCache == nil {
		h.usedCache = map[*dataset]uint64{}
		h.children = map[string][]*dataset{}
		for _, o := range h.ds {
			h.children[parentOf(o.name)] = append(h.children[parentOf(o.name)], o)
		}
	}
	if n, ok := h.usedCache[d]; ok {
		return n
	}
	n := liveRef(d)
	for _, c := range d.chunks {
		if c.died != 0 && refCount(d, c) > 0 {
			n += c.size
		}
	}
	for _, o := range h.children[d.name] {
		n += h.used(o)
	}
	h.usedCache[d] = n
	return n
}

// list runs zfs list -H -p [-t types] [-o props] [names...].
func (r *run) list(args []string) error {
	var scripted, exact bool
	types := map[string]bool{"filesystem": true, "volume": true}
	props := []string{"name", "used", "available", "referenced", "mountpoint"}
	var names []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-H":
			scripted = true
		case a == "-p":
			exact = true
		case a == "-Hp" || a == "-pH":
			scripted, exact = true, true
		case a == "-t" && i+1 < len(args):
			i++
			types = map[string]bool{}
			for _, t := range strings.Split(args[i], ",") {
				switch t {
				case "filesystem", "volume", "snapshot", "bookmark":
					types[t] = true
				case "all":
					types = map[string]bool{"filesystem": true, "volume": true, "snapshot": true, "bookmark": true}
				default:
					return r.fail(2, fmt.Sprintf("invalid type '%s'", t))
				}
			}
		case a == "-o" && i+1 < len(args):
			i++
			props = strings.Split(args[i], ",")
		case strings.HasPrefix(a, "-"):
			return r.unsupported()
		default:
			names = append(names, a)
		}
	}
	if !scripted || !exact {
		return r.unsupported() // zplan only reads -H -p output
	}
	for _, p := range props {
		if !listProps[p] && !strings.Contains(p, ":") {
			return r.unsupported()
		}
	}

	h := r.h
	h.w.mu.Lock()
	var objs []object
	var stderr strings.Builder
	if len(names) == 0 {
		objs = h.objects(types)
	} else {
		seen := map[string]bool{}
		for _, n := range names {
			o, ok := h.open(n)
			if !ok {
				fmt.Fprintf(&stderr, "cannot open '%s': %s\n", n, h.openError(n))
				continue
			}
			if !types[o.typ] {
				fmt.Fprintf(&stderr, "cannot open '%s': operation not applicable to datasets of this type\n", n)
				continue
			}
			if !seen[o.name] {
				seen[o.name] = true
				objs = append(objs, o)
			}
		}
		sortObjects(objs)
	}
	var out strings.Builder
	h.usedCache, h.children = nil, nil // computed once per listing
	for _, o := range objs {
		for i, p := range props {
			if i > 0 {
				out.WriteByte('\t')
			}
			out.WriteString(h.prop(o, p))
		}
		out.WriteByte('\n')
	}
	h.w.mu.Unlock()
	return r.reply(out.String(), stderr.String())
}
