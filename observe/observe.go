// Package observe reads what exists on the hosts: datasets, snapshots,
// bookmarks, holds and resume tokens, with a fixed number of commands per
// host however many datasets and snapshots there are.
package observe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

// State is everything observed, by host name.
type State struct {
	Hosts map[string]*Host
	// Unobserved are the hosts that could not be observed, with why
	// (a *HostError). They are not in Hosts: nothing is planned on
	// them, and the planner reports what depends on them as conflicts.
	Unobserved map[string]error
}

// HostError is why a host was not observed, with what to do about it.
type HostError struct {
	Host string
	Err  error
}

func (e *HostError) Error() string {
	return fmt.Sprintf("%v (nothing is planned on %s until it is observed: check that it is up, that zplan reaches it as configured (ssh to it by hand) and that zfs list works there, then plan again)", e.Err, e.Host)
}

func (e *HostError) Unwrap() error { return e.Err }

// WhyUnobserved says why host is not in Hosts, for messages.
func (s *State) WhyUnobserved(host string) string {
	if err := s.Unobserved[host]; err != nil {
		return fmt.Sprintf("host %s was not observed: %v", host, err)
	}
	return fmt.Sprintf("host %s was not observed", host)
}

// SetUnobserved records that host could not be observed because of err.
func (s *State) SetUnobserved(host string, err error) {
	if s.Unobserved == nil {
		s.Unobserved = map[string]error{}
	}
	var he *HostError
	if !errors.As(err, &he) {
		err = &HostError{Host: host, Err: err}
	}
	s.Unobserved[host] = err
	delete(s.Hosts, host)
}

// Host is one host's datasets by name.
type Host struct {
	Name     string
	Datasets map[string]*Dataset
	// Unreadable are datasets set aside because something the host
	// printed about them did not parse (an odd name, a hold tag zplan
	// cannot read back, a duplicate line), with why. They are not in
	// Datasets: nothing is planned for them, and the planner reports
	// each one a policy covers.
	Unreadable map[string]string
}

// setAside moves a dataset out of Datasets into Unreadable; the first
// reason given for it is kept.
func (h *Host) setAside(dataset, why string) {
	if h.Unreadable == nil {
		h.Unreadable = map[string]string{}
	}
	if _, ok := h.Unreadable[dataset]; !ok {
		h.Unreadable[dataset] = why
	}
	delete(h.Datasets, dataset)
}

// Dataset is a filesystem or volume with its snapshots and bookmarks.
type Dataset struct {
	Name        string
	Type        zfs.Type
	GUID        uint64
	Written     uint64 // bytes written since the newest snapshot
	Referenced  uint64
	Encryption  string
	KeyStatus   string
	ResumeToken string
	// ReadOnly and CanMount are the readonly and canmount properties
	// ("" when not reported: canmount of a volume).
	ReadOnly, CanMount string
	// Token is the decoded ResumeToken (nil if none or not decodable;
	// TokenErr says why in the latter case).
	Token    *zfs.ResumeToken
	TokenErr string

	Snapshots []*Snapshot // oldest first (createtxg)
	Bookmarks []*Bookmark // oldest first (createtxg)
}

// Encrypted reports whether the dataset uses native encryption.
func (d *Dataset) Encrypted() bool { return d.Encryption != "" && d.Encryption != "off" }

// Newest returns the newest snapshot, or nil.
func (d *Dataset) Newest() *Snapshot {
	if len(d.Snapshots) == 0 {
		return nil
	}
	return d.Snapshots[len(d.Snapshots)-1]
}

// SnapshotByGUID returns the snapshot with guid, or nil.
// It searches from the newest end, where replication's lookups land;
// an index cost more memory than it saved time on large hosts.
func (d *Dataset) SnapshotByGUID(guid uint64) *Snapshot {
	for i := len(d.Snapshots) - 1; i >= 0; i-- {
		if d.Snapshots[i].GUID == guid {
			return d.Snapshots[i]
		}
	}
	return nil
}

// Snapshot is one snapshot. Name is the part after '@'.
type Snapshot struct {
	Name       string
	GUID       uint64
	CreateTXG  uint64
	Creation   time.Time
	Used       uint64
	Referenced uint64
	Written    uint64
	UserRefs   uint64
	Holds      []string // tags, sorted
}

// HasHold reports whether tag holds the snapshot.
func (s *Snapshot) HasHold(tag string) bool {
	for _, h := range s.Holds {
		if h == tag {
			return true
		}
	}
	return false
}

// Bookmark is one bookmark. Name is the part after '#'.
type Bookmark struct {
	Name      string
	GUID      uint64
	CreateTXG uint64
	Creation  time.Time
}

// maxObserving bounds the hosts listed at once: each listing is a
// zfs list streaming over its own connection.
const maxObserving = 8

// ObserveAll lists every host, a few at a time, and returns the
// combined state. A host that fails is recorded in State.Unobserved
// instead of failing the others: one unreachable host degrades only
// what depends on it. The error is only for a cancelled ctx, when no
// failure says anything about a host.
func ObserveAll(ctx context.Context, hosts map[string]remote.Host) (*State, error) {
	type result struct {
		name string
		h    *Host
		err  error
	}
	ch := make(chan result, len(hosts))
	sem := make(chan struct{}, maxObserving)
	for name, h := range hosts {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			oh, err := ObserveHost(ctx, name, h)
			ch <- result{name, oh, err}
		}()
	}
	st := &State{Hosts: map[string]*Host{}}
	for range hosts {
		r := <-ch
		if r.err != nil {
			st.SetUnobserved(r.name, r.err)
			continue
		}
		st.Hosts[r.h.Name] = r.h
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("observe: %w", err)
	}
	return st, nil
}

// Observe is ObserveAll for callers that need every host: any host
// that fails is an error.
func Observe(ctx context.Context, hosts map[string]remote.Host) (*State, error) {
	st, err := ObserveAll(ctx, hosts)
	if err != nil {
		return nil, err
	}
	if len(st.Unobserved) > 0 {
		var errs []string
		for _, err := range st.Unobserved {
			if he, ok := err.(*HostError); ok {
				err = he.Err
			}
			errs = append(errs, err.Error())
		}
		sort.Strings(errs)
		return nil, fmt.Errorf("observe: %s", strings.Join(errs, "; "))
	}
	return st, nil
}

// ObserveHost runs the bulk listing on one host, then asks for holds of
// the snapshots that have any (one command) and decodes resume tokens.
// The listing is parsed while it streams in, so memory stays
// proportional to what zplan keeps, not to the listing's text.
func ObserveHost(ctx context.Context, name string, h remote.Host) (*Host, error) {
	b := newBuilder(name)
	pr, pw := io.Pipe()
	runErr := make(chan error, 1)
	go func() {
		err := h.Run(ctx, remote.Cmd{Argv: zfs.ListArgv(), Stdout: pw})
		pw.CloseWithError(err)
		runErr <- err
	}()
	parseErr := zfs.ScanList(pr, b.add, b.bad)
	pr.CloseWithError(errors.New("listing parser stopped"))
	err := <-runErr
	if parseErr != nil && (err == nil || !errors.Is(parseErr, err)) {
		// The parse error explains a failed write into the closed pipe
		// (unless it is the command's own failure, passed on by the pipe).
		return nil, fmt.Errorf("host %s: %w", name, parseErr)
	}
	if err != nil {
		return nil, fmt.Errorf("host %s: listing datasets: %w", name, err)
	}
	host, held, err := b.finish()
	if err != nil {
		return nil, err
	}
	if len(held) > 0 {
		if err := addHolds(ctx, h, host, held); err != nil {
			return nil, err
		}
	}
	// Resume tokens are decoded here, never by asking the receiving host
	// (zfs send -nvt on the target): a compromised target could print a
	// decode that claims rawok and so get plaintext. The checksum inside
	// the token guards against garbling, not forgery; the planner checks
	// the decode against the edge, and raw edges always resume with -w.
	for _, ds := range host.Datasets {
		if ds.ResumeToken == "" {
			continue
		}
		t, err := zfs.DecodeResumeToken(ds.ResumeToken)
		if err != nil {
			ds.TokenErr = err.Error()
			continue
		}
		ds.Token = &t
	}
	return host, nil
}

// builder assembles the listing into datasets as it streams in.
type builder struct {
	host    *Host
	pending []zfs.Entry // snapshots and bookmarks listed before their dataset
	held    []string    // full names of snapshots with userrefs > 0
	last    *Dataset    // the dataset listed last: its snapshots follow it
	bads    []*zfs.LineError
	dup     []string // datasets listed more than once
}

// bad keeps a listing line that did not parse; finish sets its dataset
// aside. A line whose dataset cannot be told fails the host: zplan
// cannot know what it would be leaving out.
func (b *builder) bad(le *zfs.LineError) error {
	if le.Dataset == "" {
		return fmt.Errorf("%w (no dataset name can be read from it; fix or report what prints it)", le)
	}
	b.bads = append(b.bads, le)
	return nil
}

func newBuilder(name string) *builder {
	return &builder{host: &Host{Name: name, Datasets: map[string]*Dataset{}}}
}

func (b *builder) add(e *zfs.Entry) error {
	if e.Type == zfs.Filesystem || e.Type == zfs.Volume {
		b.last = &Dataset{
			Name: e.Name, Type: e.Type, GUID: e.GUID, Written: e.Written, Referenced: e.Referenced,
			Encryption: e.Encryption, KeyStatus: e.KeyStatus, ResumeToken: e.ResumeToken,
			ReadOnly: e.ReadOnly, CanMount: e.CanMount,
		}
		if b.host.Datasets[e.Name] != nil {
			b.dup = append(b.dup, e.Name)
		}
		b.host.Datasets[e.Name] = b.last
		return nil
	}
	ds := b.last
	if name := e.Dataset(); ds == nil || ds.Name != name {
		ds = b.host.Datasets[name]
	}
	if ds == nil {
		// zfs lists a dataset before its snapshots; keep the odd one for
		// finish, which reports it if its dataset never shows up.
		b.pending = append(b.pending, *e)
		return nil
	}
	b.attach(ds, e)
	return nil
}

func (b *builder) attach(ds *Dataset, e *zfs.Entry) {
	if e.Type == zfs.Snapshot {
		ds.Snapshots = append(ds.Snapshots, &Snapshot{
			Name: e.Short(), GUID: e.GUID, CreateTXG: e.CreateTXG, Creation: e.Creation,
			Used: e.Used, Referenced: e.Referenced, Written: e.Written, UserRefs: e.UserRefs,
		})
		if e.UserRefs > 0 {
			b.held = append(b.held, e.Name)
		}
		return
	}
	ds.Bookmarks = append(ds.Bookmarks, &Bookmark{Name: e.Short(), GUID: e.GUID, CreateTXG: e.CreateTXG, Creation: e.Creation})
}

func (b *builder) finish() (*Host, []string, error) {
	h := b.host
	for i := range b.pending {
		e := &b.pending[i]
		ds := h.Datasets[e.Dataset()]
		if ds == nil {
			h.setAside(e.Dataset(), fmt.Sprintf("zfs list shows %s but not its dataset", e.Name))
			continue
		}
		b.attach(ds, e)
	}
	for _, le := range b.bads {
		h.setAside(le.Dataset, le.Error())
	}
	for _, name := range b.dup {
		h.setAside(name, "zfs list shows the dataset more than once")
	}
	for name, ds := range h.Datasets {
		if !sort.SliceIsSorted(ds.Snapshots, func(i, j int) bool { return ds.Snapshots[i].CreateTXG < ds.Snapshots[j].CreateTXG }) {
			sort.SliceStable(ds.Snapshots, func(i, j int) bool { return ds.Snapshots[i].CreateTXG < ds.Snapshots[j].CreateTXG })
		}
		sort.SliceStable(ds.Bookmarks, func(i, j int) bool { return ds.Bookmarks[i].CreateTXG < ds.Bookmarks[j].CreateTXG })
		if dup := duplicateName(ds); dup != "" {
			h.setAside(name, fmt.Sprintf("zfs list shows %s more than once", dup))
		}
	}
	held := b.held[:0]
	for _, full := range b.held {
		if h.Datasets[zfs.DatasetOf(full)] != nil {
			held = append(held, full)
		}
	}
	return h, held, nil
}

// duplicateName returns a snapshot or bookmark name listed twice, if
// any. Snapshots are sorted by createtxg, and zfs gives each its own
// txg except for one atomic snapshot of several datasets, so neighbours
// with equal createtxg are the only candidates; bookmarks are few.
func duplicateName(ds *Dataset) string {
	for i := 1; i < len(ds.Snapshots); i++ {
		for j := i - 1; j >= 0 && ds.Snapshots[j].CreateTXG == ds.Snapshots[i].CreateTXG; j-- {
			if ds.Snapshots[j].Name == ds.Snapshots[i].Name {
				return ds.Name + "@" + ds.Snapshots[i].Name
			}
		}
	}
	seen := make(map[string]bool, len(ds.Bookmarks))
	for _, bm := range ds.Bookmarks {
		if seen[bm.Name] {
			return ds.Name + "#" + bm.Name
		}
		seen[bm.Name] = true
	}
	return ""
}

// build assembles a parsed listing (for tests).
func build(name string, entries []zfs.Entry) (*Host, []string, error) {
	b := newBuilder(name)
	for i := range entries {
		if err := b.add(&entries[i]); err != nil {
			return nil, nil, err
		}
	}
	return b.finish()
}

func addHolds(ctx context.Context, h remote.Host, host *Host, held []string) error {
	var out bytes.Buffer
	err := h.Run(ctx, remote.Cmd{Argv: zfs.HoldsArgv(), Stdin: bytes.NewReader(zfs.HoldsStdin(held)), Stdout: &out})
	if err != nil {
		// A snapshot destroyed between the listing and this command (by
		// someone else) is reported and skipped by zfs; the state then
		// drops it, which is what the host holds now. Any other failure
		// is an error.
		gone, ok := zfs.Missing(err)
		if !ok {
			return fmt.Errorf("host %s: listing holds: %w", host.Name, err)
		}
		for _, full := range gone {
			dsName, snapName, _ := strings.Cut(full, "@")
			if ds := host.Datasets[dsName]; ds != nil {
				ds.Snapshots = slices.DeleteFunc(ds.Snapshots, func(s *Snapshot) bool { return s.Name == snapName })
			}
		}
	}
	userrefs := make(map[string]uint64, len(held))
	for _, full := range held {
		dsName, snapName, _ := strings.Cut(full, "@")
		if ds := host.Datasets[dsName]; ds != nil {
			if s := ds.SnapshotByName(snapName); s != nil {
				userrefs[full] = s.UserRefs
			}
		}
	}
	holds, err := zfs.ParseHolds(out.Bytes(), userrefs)
	if err != nil {
		return fmt.Errorf("host %s: %w", host.Name, err)
	}
	for full, tags := range holds.Tags {
		dsName, snapName, _ := strings.Cut(full, "@")
		if ds := host.Datasets[dsName]; ds != nil {
			if s := ds.SnapshotByName(snapName); s != nil {
				s.Holds = append(s.Holds, tags...)
				sort.Strings(s.Holds)
			}
		}
	}
	// A snapshot whose holds zplan cannot read back costs its dataset:
	// planning it would mean guessing which holds protect what.
	for full, why := range holds.Bad {
		host.setAside(zfs.DatasetOf(full), full+": "+why)
	}
	return nil
}

// SnapshotByName returns the snapshot named name (after '@'), or nil.
func (d *Dataset) SnapshotByName(name string) *Snapshot {
	for i := len(d.Snapshots) - 1; i >= 0; i-- {
		if d.Snapshots[i].Name == name {
			return d.Snapshots[i]
		}
	}
	return nil
}
