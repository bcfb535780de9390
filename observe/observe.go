// Package observe reads what exists on the hosts: datasets, snapshots,
// bookmarks, holds and resume tokens, with a fixed number of commands per
// host however many datasets and snapshots there are.
package observe

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

// State is everything observed, by host name.
type State struct {
	Hosts map[string]*Host
}

// Host is one host's datasets by name.
type Host struct {
	Name     string
	Datasets map[string]*Dataset
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
	Placeholder bool
	ResumeToken string
	// Token is the decoded ResumeToken (nil if none or not decodable;
	// TokenErr says why in the latter case).
	Token    *zfs.ResumeToken
	TokenErr string

	Snapshots []*Snapshot // oldest first (createtxg)
	Bookmarks []*Bookmark // oldest first (createtxg)

	// byGUID and byName index Snapshots; built on first use, rebuilt if
	// Snapshots changed length (tests build datasets by hand).
	byGUID map[uint64]*Snapshot
	byName map[string]*Snapshot
}

func (d *Dataset) index() {
	if d.byGUID != nil && len(d.byGUID) == len(d.Snapshots) {
		return
	}
	d.byGUID = make(map[uint64]*Snapshot, len(d.Snapshots))
	d.byName = make(map[string]*Snapshot, len(d.Snapshots))
	for _, s := range d.Snapshots {
		d.byGUID[s.GUID] = s
		d.byName[s.Name] = s
	}
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
func (d *Dataset) SnapshotByGUID(guid uint64) *Snapshot {
	d.index()
	return d.byGUID[guid]
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

// Observe lists every host concurrently and returns the combined state.
func Observe(ctx context.Context, hosts map[string]remote.Host) (*State, error) {
	type result struct {
		h   *Host
		err error
	}
	ch := make(chan result, len(hosts))
	for name, h := range hosts {
		go func() {
			oh, err := ObserveHost(ctx, name, h)
			ch <- result{oh, err}
		}()
	}
	st := &State{Hosts: map[string]*Host{}}
	var errs []string
	for range hosts {
		r := <-ch
		if r.err != nil {
			errs = append(errs, r.err.Error())
			continue
		}
		st.Hosts[r.h.Name] = r.h
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("observe: %s", strings.Join(errs, "; "))
	}
	return st, nil
}

// ObserveHost runs the bulk listing on one host, then asks for holds of
// the snapshots that have any (one command) and decodes resume tokens.
func ObserveHost(ctx context.Context, name string, h remote.Host) (*Host, error) {
	out, err := remote.Output(ctx, h, zfs.ListArgv()...)
	if err != nil {
		return nil, fmt.Errorf("host %s: listing datasets: %w", name, err)
	}
	entries, err := zfs.ParseList(out)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", name, err)
	}
	host, held, err := build(name, entries)
	if err != nil {
		return nil, err
	}
	if len(held) > 0 {
		if err := addHolds(ctx, h, host, held); err != nil {
			return nil, err
		}
	}
	for _, ds := range sortedDatasets(host) {
		if ds.ResumeToken == "" {
			continue
		}
		out, err := remote.Output(ctx, h, zfs.ResumeTokenArgv(ds.ResumeToken)...)
		if err == nil {
			var t zfs.ResumeToken
			if t, err = zfs.ParseResumeToken(out); err == nil {
				ds.Token = &t
				continue
			}
		}
		ds.TokenErr = err.Error()
	}
	return host, nil
}

// build assembles the listing into datasets; held lists the full names
// of snapshots with userrefs > 0.
func build(name string, entries []zfs.Entry) (*Host, []string, error) {
	host := &Host{Name: name, Datasets: map[string]*Dataset{}}
	var held []string
	// Datasets first, so snapshots find their parent whatever the order.
	for _, e := range entries {
		if e.Type != zfs.Filesystem && e.Type != zfs.Volume {
			continue
		}
		host.Datasets[e.Name] = &Dataset{
			Name: e.Name, Type: e.Type, GUID: e.GUID, Written: e.Written, Referenced: e.Referenced,
			Encryption: e.Encryption, KeyStatus: e.KeyStatus,
			Placeholder: e.Placeholder, ResumeToken: e.ResumeToken,
		}
	}
	for _, e := range entries {
		if e.Type != zfs.Snapshot && e.Type != zfs.Bookmark {
			continue
		}
		ds := host.Datasets[e.Dataset()]
		if ds == nil {
			return nil, nil, fmt.Errorf("host %s: zfs list shows %s but not its dataset", name, e.Name)
		}
		if e.Type == zfs.Snapshot {
			ds.Snapshots = append(ds.Snapshots, &Snapshot{
				Name: e.Short(), GUID: e.GUID, CreateTXG: e.CreateTXG, Creation: e.Creation,
				Used: e.Used, Referenced: e.Referenced, Written: e.Written, UserRefs: e.UserRefs,
			})
			if e.UserRefs > 0 {
				held = append(held, e.Name)
			}
		} else {
			ds.Bookmarks = append(ds.Bookmarks, &Bookmark{Name: e.Short(), GUID: e.GUID, CreateTXG: e.CreateTXG, Creation: e.Creation})
		}
	}
	for _, ds := range host.Datasets {
		sort.SliceStable(ds.Snapshots, func(i, j int) bool { return ds.Snapshots[i].CreateTXG < ds.Snapshots[j].CreateTXG })
		sort.SliceStable(ds.Bookmarks, func(i, j int) bool { return ds.Bookmarks[i].CreateTXG < ds.Bookmarks[j].CreateTXG })
	}
	return host, held, nil
}

func addHolds(ctx context.Context, h remote.Host, host *Host, held []string) error {
	var out strings.Builder
	err := h.Run(ctx, remote.Cmd{Argv: zfs.HoldsArgv(), Stdin: strings.NewReader(string(zfs.HoldsStdin(held))), Stdout: &out})
	if err != nil {
		return fmt.Errorf("host %s: listing holds: %w", host.Name, err)
	}
	holds, err := zfs.ParseHolds([]byte(out.String()))
	if err != nil {
		return fmt.Errorf("host %s: %w", host.Name, err)
	}
	for full, tags := range holds {
		dsName, snapName, _ := strings.Cut(full, "@")
		ds := host.Datasets[dsName]
		if ds == nil {
			return fmt.Errorf("host %s: zfs holds names %s, which the listing did not show", host.Name, full)
		}
		if s := ds.SnapshotByName(snapName); s != nil {
			s.Holds = append(s.Holds, tags...)
			sort.Strings(s.Holds)
		}
	}
	return nil
}

func sortedDatasets(h *Host) []*Dataset {
	out := make([]*Dataset, 0, len(h.Datasets))
	for _, d := range h.Datasets {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SnapshotByName returns the snapshot named name (after '@'), or nil.
func (d *Dataset) SnapshotByName(name string) *Snapshot {
	d.index()
	return d.byName[name]
}
