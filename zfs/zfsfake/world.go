// Package zfsfake is an in-memory model of OpenZFS behind remote.Host, for
// fast tests of observe/apply and for long simulations with injected
// failures (DESIGN.md §5, layer 2).
//
// A World holds hosts; each Host has its own pools, datasets, snapshots,
// bookmarks and holds, and interprets the zfs command lines zplan builds
// (package zfs) with the scripted output and the stderr texts and exit
// codes of OpenZFS 2.2/2.3. Anything it does not model fails with exit 2
// and "fake zfs: unsupported command", so zplan never silently relies on
// behaviour the fake does not have. Programs other than zfs (snapshot
// hooks) run only when a test registers them (AddProgram); any other
// absolute path is "not found" (exit 127).
//
// Space is modelled as chunks of data with a birth and a death txg, which
// gives exact used/referenced/written for snapshots and filesystems.
// Streams are scaled down: one stream byte per KiB of data (DataScale)
// after a small JSON header, so byte counts and progress are meaningful
// but cheap. Stream and resume-token bytes are this package's own format:
// only the fake can read them.
package zfsfake

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zplan/zplan/remote"
)

// DataScale is how many bytes of dataset data one byte of a send stream
// stands for.
const DataScale = 1024

// World is a set of hosts sharing a txg counter, a GUID generator and a
// clock. All state is guarded by one mutex: apply runs actions in
// parallel.
type World struct {
	mu     sync.Mutex
	clock  func() time.Time
	txg    uint64
	rng    *rand.Rand
	nextID uint64 // chunk ids, shared so that replicated data keeps its identity
	hosts  map[string]*Host
}

// NewWorld returns an empty world. clock gives creation times (nil: a
// fixed instant, so runs are reproducible); GUIDs come from a fixed seed.
func NewWorld(clock func() time.Time) *World {
	if clock == nil {
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		clock = func() time.Time { return t0 }
	}
	return &World{clock: clock, txg: 100, rng: rand.New(rand.NewPCG(0x5eed, 0x2f5)), hosts: map[string]*Host{}}
}

// Host returns the host called name, creating it empty on first use.
func (w *World) Host(name string) *Host {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h := w.hosts[name]; h != nil {
		return h
	}
	h := &Host{w: w, name: name, pools: map[string]bool{}, ds: map[string]*dataset{}, busy: map[string]bool{}}
	w.hosts[name] = h
	return h
}

// newTXG advances the shared txg counter; callers hold w.mu.
func (w *World) newTXG() uint64 {
	w.txg++
	return w.txg
}

func (w *World) newGUID() uint64 {
	for {
		if g := w.rng.Uint64(); g != 0 {
			return g
		}
	}
}

// Host is one fake machine. It implements remote.Host.
type Host struct {
	w     *World
	name  string
	pools map[string]bool
	ds    map[string]*dataset
	busy  map[string]bool // datasets with a receive in progress

	usedCache map[*dataset]uint64 // per listing; see used
	children  map[string][]*dataset

	commands [][]string
	failures []failure
	// programs are the non-zfs commands a test registered (programs.go).
	programs     map[string]Program
	programCalls []ProgramCall
	interrupt    int64 // bytes after which the next send breaks; 0: none
}

var _ remote.Host = (*Host)(nil)

type failure struct {
	match  func(argv []string) bool
	stderr string
	code   int
}

// dataset is a filesystem or volume.
type dataset struct {
	name       string
	typ        string // "filesystem" or "volume"
	guid       uint64
	createtxg  uint64
	creation   time.Time
	modified   uint64 // txg of the last change to the live data
	chunks     []*chunk
	snaps      []*snapshot // createtxg order
	bookmarks  map[string]*bookmark
	props      map[string]string // locally set properties, user and native
	encryption string            // "off" or a cipher
	keyRoot    string            // identity of the encryption key ("" when off)
	keyLoaded  bool
	partial    *partial // saved state of an interrupted `zfs recv -s`
	incomplete bool     // created by a full receive that has not finished
}

// chunk is some data written in txg born and overwritten or deleted in
// txg died (0 while live). IDs survive replication.
type chunk struct {
	id         uint64
	size       uint64
	born, died uint64
}

type snapshot struct {
	name      string
	guid      uint64
	createtxg uint64
	creation  time.Time
	holds     map[string]time.Time
	props     map[string]string // user properties set on the snapshot itself (zfs snapshot -o)
}

type bookmark struct {
	name      string
	guid      uint64
	createtxg uint64
	creation  time.Time
}

// Opts are the options of Host.Create.
type Opts struct {
	Encrypted bool              // encryption=aes-256-gcm with its own key, loaded
	Volume    bool              // a volume instead of a filesystem
	Props     map[string]string // properties set locally (user or native)
}

// Name implements remote.Host.
func (h *Host) Name() string { return h.name }

// Close implements remote.Host.
func (h *Host) Close() error { return nil }

// Commands returns the argv of every command run so far, in order.
func (h *Host) Commands() [][]string {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	out := make([][]string, len(h.commands))
	for i, c := range h.commands {
		out[i] = append([]string(nil), c...)
	}
	return out
}

// FailNext makes the next command for which match returns true fail with
// stderr and code, without touching any state. Failures are used once, in
// the order they were added.
func (h *Host) FailNext(match func(argv []string) bool, stderr string, code int) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	h.failures = append(h.failures, failure{match, stderr, code})
}

// InterruptSendAfter makes the next zfs send on this host break after
// writing n bytes of stream, like a lost connection: the sender fails and
// a receiver with -s keeps a resume token.
func (h *Host) InterruptSendAfter(n int64) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	h.interrupt = n
}

// MatchPrefix returns a matcher for FailNext: argv starts with words.
func MatchPrefix(words ...string) func([]string) bool {
	return func(argv []string) bool {
		if len(argv) < len(words) {
			return false
		}
		for i, w := range words {
			if argv[i] != w {
				return false
			}
		}
		return true
	}
}

// Run implements remote.Host: it interprets argv as zfs would.
func (h *Host) Run(ctx context.Context, c remote.Cmd) error {
	argv := append([]string(nil), c.Argv...)
	h.w.mu.Lock()
	h.commands = append(h.commands, argv)
	for i, f := range h.failures {
		if f.match(argv) {
			h.failures = append(h.failures[:i], h.failures[i+1:]...)
			h.w.mu.Unlock()
			return h.exit(argv, f.code, f.stderr)
		}
	}
	h.w.mu.Unlock()
	// A receive counts as started before its context ended: it sees the
	// data its sender wrote, as a real receiver that was already running.
	if err := ctx.Err(); err != nil && !isRecv(argv) {
		return fmt.Errorf("%s: %s: %w", h.name, strings.Join(argv, " "), err)
	}
	if ok, err := h.runProgram(ctx, c); ok {
		return err
	}
	r := &run{h: h, ctx: ctx, argv: argv, cmd: c}
	return r.dispatch()
}

func (h *Host) exit(argv []string, code int, stderr string) error {
	if stderr != "" && !strings.HasSuffix(stderr, "\n") {
		stderr += "\n"
	}
	return &remote.ExitError{Host: h.name, Argv: argv, Code: code, Stderr: stderr}
}

// ---- direct manipulation for test setup ----
// These helpers panic on misuse: they are for setting up tests, where a
// mistake is the test's bug.

// CreatePool creates a pool with its root filesystem.
func (h *Host) CreatePool(pool string) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if h.pools[pool] {
		panic("zfsfake: pool " + pool + " exists on " + h.name)
	}
	h.pools[pool] = true
	h.newDataset(pool, "filesystem", nil)
}

// Create creates a filesystem (or volume); its parent must exist.
func (h *Host) Create(name string, o Opts) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if msg := h.checkCreate(name); msg != "" {
		panic("zfsfake: " + msg)
	}
	typ := "filesystem"
	if o.Volume {
		typ = "volume"
	}
	d := h.newDataset(name, typ, o.Props)
	if o.Encrypted {
		d.encryption, d.keyRoot, d.keyLoaded = "aes-256-gcm", h.name+":"+name, true
	}
}

// Write adds bytes of new data to a dataset.
func (h *Host) Write(name string, bytes uint64) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	h.add(h.mustDS(name), bytes, h.w.newTXG())
}

// Rewrite overwrites bytes of existing live data with new data: the
// referenced size stays, the old data stays referenced by snapshots.
func (h *Host) Rewrite(name string, bytes uint64) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	d := h.mustDS(name)
	t := h.w.newTXG()
	h.kill(d, bytes, t)
	h.add(d, bytes, t)
}

// add writes bytes of new data to d in txg t.
func (h *Host) add(d *dataset, bytes, t uint64) {
	h.w.nextID++
	d.chunks = append(d.chunks, &chunk{id: h.w.nextID, size: bytes, born: t})
	d.modified = t
}

// Delete removes bytes of live data (oldest first).
func (h *Host) Delete(name string, bytes uint64) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	d := h.mustDS(name)
	t := h.w.newTXG()
	h.kill(d, bytes, t)
	d.modified = t
	h.collect(d)
}

// kill ends the life of bytes of live data in txg t, splitting a chunk
// when needed.
func (h *Host) kill(d *dataset, bytes uint64, t uint64) {
	for _, c := range d.chunks {
		if bytes == 0 {
			break
		}
		if c.died != 0 {
			continue
		}
		if c.size > bytes {
			// Split: the dead part keeps the id (it is what snapshots saw),
			// the live rest gets a new one.
			h.w.nextID++
			d.chunks = append(d.chunks, &chunk{id: h.w.nextID, size: c.size - bytes, born: c.born})
			c.size = bytes
		}
		c.died = t
		bytes -= c.size
	}
}

// Snapshot creates snapshots atomically, like zfs snapshot.
func (h *Host) Snapshot(names ...string) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if msg := h.snapshot(names); msg != "" {
		panic("zfsfake: " + msg)
	}
}

// Hold puts a user hold on a snapshot.
func (h *Host) Hold(tag, snap string) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	_, s := h.lookupSnap(snap)
	if s == nil {
		panic("zfsfake: no snapshot " + snap)
	}
	s.holds[tag] = h.w.clock()
}

// Prop is a property set locally on a dataset ("" when not set).
func (h *Host) Prop(name, prop string) string {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	return h.mustDS(name).props[prop]
}

// SetProp sets a property locally on a dataset (user properties such as
// zplan:placeholder, or native ones the fake only stores).
func (h *Host) SetProp(name, prop, value string) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	h.mustDS(name).props[prop] = value
}

// UnloadKey makes an encrypted dataset's key unavailable; LoadKey makes
// it available again.
func (h *Host) UnloadKey(name string) { h.setKey(name, false) }

// LoadKey makes an encrypted dataset's key available.
func (h *Host) LoadKey(name string) { h.setKey(name, true) }

func (h *Host) setKey(name string, loaded bool) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	d := h.mustDS(name)
	if d.encryption == "off" {
		panic("zfsfake: " + name + " is not encrypted")
	}
	for _, o := range h.ds {
		if o.keyRoot == d.keyRoot {
			o.keyLoaded = loaded
		}
	}
}

// Exists reports whether a dataset, snapshot or bookmark exists.
func (h *Host) Exists(name string) bool {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	return h.exists(name)
}

// GUID returns the GUID of a dataset, snapshot or bookmark (0 if absent).
func (h *Host) GUID(name string) uint64 {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if o, ok := h.open(name); ok {
		return h.prop2guid(o)
	}
	return 0
}

func (h *Host) prop2guid(o object) uint64 {
	switch {
	case o.s != nil:
		return o.s.guid
	case o.b != nil:
		return o.b.guid
	}
	return o.d.guid
}

// Snapshots returns the short names of a dataset's snapshots in createtxg
// order.
func (h *Host) Snapshots(name string) []string {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	d := h.ds[name]
	if d == nil {
		return nil
	}
	var out []string
	for _, s := range d.snaps {
		out = append(out, s.name)
	}
	return out
}

// Holds returns the sorted hold tags of a snapshot.
func (h *Host) Holds(snap string) []string {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	_, s := h.lookupSnap(snap)
	if s == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(s.holds))
}

// ResumeToken returns a dataset's receive_resume_token ("" if none).
func (h *Host) ResumeToken(name string) string {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if d := h.ds[name]; d != nil && d.partial != nil {
		return d.partial.token()
	}
	return ""
}

// ---- internals; callers hold w.mu ----

func (h *Host) mustDS(name string) *dataset {
	d := h.ds[name]
	if d == nil {
		panic("zfsfake: no dataset " + name + " on " + h.name)
	}
	return d
}

func (h *Host) newDataset(name, typ string, props map[string]string) *dataset {
	t := h.w.newTXG()
	d := &dataset{
		name: name, typ: typ, guid: h.w.newGUID(), createtxg: t, creation: h.w.clock(), modified: t,
		bookmarks: map[string]*bookmark{}, props: map[string]string{}, encryption: "off",
	}
	for k, v := range props {
		d.props[k] = v
	}
	if p := h.ds[parentOf(name)]; p != nil && p.encryption != "off" {
		// Children inherit encryption and the parent's key.
		d.encryption, d.keyRoot, d.keyLoaded = p.encryption, p.keyRoot, p.keyLoaded
	}
	h.ds[name] = d
	return d
}

// checkCreate returns zfs create's complaint about name, or "".
func (h *Host) checkCreate(name string) string {
	if strings.ContainsAny(name, "@#%") || name == "" {
		return fmt.Sprintf("cannot create '%s': invalid character '%c' in name", name, name[strings.IndexAny(name+"@", "@#%")])
	}
	if h.ds[name] != nil {
		return fmt.Sprintf("cannot create '%s': dataset already exists", name)
	}
	pool, _, _ := strings.Cut(name, "/")
	if !h.pools[pool] {
		return fmt.Sprintf("cannot create '%s': no such pool '%s'", name, pool)
	}
	if parentOf(name) == "" {
		return fmt.Sprintf("cannot create '%s': dataset already exists", name)
	}
	if p := h.ds[parentOf(name)]; p == nil {
		return fmt.Sprintf("cannot create '%s': parent does not exist", name)
	} else if p.typ == "volume" {
		return fmt.Sprintf("cannot create '%s': volume cannot have children", name)
	}
	return ""
}

func (h *Host) exists(name string) bool {
	if _, s := h.lookupSnap(name); s != nil {
		return true
	}
	if _, b := h.lookupBookmark(name); b != nil {
		return true
	}
	return h.ds[name] != nil
}

func (h *Host) lookupSnap(full string) (*dataset, *snapshot) {
	dn, sn, ok := strings.Cut(full, "@")
	if !ok {
		return nil, nil
	}
	d := h.ds[dn]
	if d == nil {
		return nil, nil
	}
	for _, s := range d.snaps {
		if s.name == sn {
			return d, s
		}
	}
	return d, nil
}

func (h *Host) lookupBookmark(full string) (*dataset, *bookmark) {
	dn, bn, ok := strings.Cut(full, "#")
	if !ok {
		return nil, nil
	}
	d := h.ds[dn]
	if d == nil {
		return nil, nil
	}
	return d, d.bookmarks[bn]
}

// snapshot creates snapshots atomically; it returns zfs snapshot's
// complaint, or "" on success.
func (h *Host) snapshot(names []string) string {
	var errs []string
	seenDS := map[string]bool{}
	pool := ""
	for _, n := range names {
		dn, sn, ok := strings.Cut(n, "@")
		if !ok || sn == "" || dn == "" || strings.ContainsAny(sn, "@#/% ") {
			return fmt.Sprintf("cannot create snapshot '%s': invalid character in name", n)
		}
		p, _, _ := strings.Cut(dn, "/")
		if pool != "" && p != pool {
			return "cannot create snapshots : operation crosses datasets or pools"
		}
		pool = p
		if seenDS[dn] {
			return "cannot create snapshots : multiple snapshots of same fs not allowed"
		}
		seenDS[dn] = true
		d, s := h.lookupSnap(n)
		switch {
		case d == nil:
			errs = append(errs, fmt.Sprintf("cannot create snapshot '%s': dataset does not exist", n))
		case s != nil:
			errs = append(errs, fmt.Sprintf("cannot create snapshot '%s': dataset already exists", n))
		}
	}
	if len(errs) > 0 {
		return strings.Join(errs, "\n")
	}
	t := h.w.newTXG()
	now := h.w.clock()
	for _, n := range names {
		dn, sn, _ := strings.Cut(n, "@")
		d := h.ds[dn]
		d.snaps = append(d.snaps, &snapshot{name: sn, guid: h.w.newGUID(), createtxg: t, creation: now, holds: map[string]time.Time{}})
	}
	return ""
}

// collect drops dead chunks no snapshot references any more.
func (h *Host) collect(d *dataset) {
	keep := d.chunks[:0]
	for _, c := range d.chunks {
		if c.died == 0 || refCount(d, c) > 0 {
			keep = append(keep, c)
		}
	}
	d.chunks = keep
}

// refCount is the number of snapshots that see chunk c: those created in
// [born, died), a range of d.snaps, which is in createtxg order.
func refCount(d *dataset, c *chunk) int {
	lo := sort.Search(len(d.snaps), func(i int) bool { return d.snaps[i].createtxg >= c.born })
	hi := len(d.snaps)
	if c.died != 0 {
		hi = sort.Search(len(d.snaps), func(i int) bool { return d.snaps[i].createtxg >= c.died })
	}
	return max(hi-lo, 0)
}

// alive reports whether c is part of the data as of txg t.
func alive(c *chunk, t uint64) bool {
	return c.born <= t && (c.died == 0 || c.died > t)
}

func parentOf(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return ""
}

func isRecv(argv []string) bool {
	return len(argv) > 1 && argv[0] == "zfs" && (argv[1] == "recv" || argv[1] == "receive")
}
