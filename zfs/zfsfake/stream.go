package zfsfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

// A fake send stream is one JSON header line (streamHeader), then
// Filler-Offset filler bytes standing for the data (one per DataScale
// bytes, plus streamOverhead), then "END\n".
const (
	streamMagic    = "zfsfake-stream-1"
	streamOverhead = 16 // bytes of "metadata records" in every stream
	writeChunk     = 32 << 10
)

type streamHeader struct {
	Magic      string            `json:"magic"`
	ToName     string            `json:"toname"` // fs@snap on the source
	ToGUID     uint64            `json:"toguid"`
	FromGUID   uint64            `json:"fromguid,omitempty"` // 0: full stream
	Raw        bool              `json:"raw,omitempty"`
	Compress   bool              `json:"compress,omitempty"`
	Large      bool              `json:"large,omitempty"`
	Embed      bool              `json:"embed,omitempty"`
	Type       string            `json:"type"`
	Creation   int64             `json:"creation"`
	Encryption string            `json:"encryption"`
	KeyRoot    string            `json:"keyroot,omitempty"` // raw streams carry the key identity, never the key
	Chunks     [][2]uint64       `json:"chunks"`            // id, size of the data as of the snapshot
	Props      map[string]string `json:"props,omitempty"`   // -p
	Filler     int64             `json:"filler"`            // filler bytes of the whole stream
	Resume     bool              `json:"resume,omitempty"`
	Offset     int64             `json:"offset,omitempty"` // filler bytes the target already has
}

// partial is the saved state of an interrupted `zfs recv -s`.
type partial struct {
	toName   string
	toGUID   uint64
	fromGUID uint64
	raw      bool
	compress bool
	large    bool
	embed    bool
	offset   int64 // filler bytes received
	bytes    int64 // stream bytes received, over all attempts
}

// token encodes the partial state as a real token (zfs.EncodeResumeToken),
// so that zplan decodes the fake's tokens as it decodes real ones.
func (p *partial) token() string {
	tok, err := zfs.EncodeResumeToken(zfs.ResumeToken{
		FromGUID: p.fromGUID, ToGUID: p.toGUID, ToName: p.toName, Object: 1, Offset: uint64(p.offset), Bytes: uint64(p.bytes),
		Raw: p.raw, Compressed: p.compress, LargeBlocks: p.large, Embedded: p.embed,
	})
	if err != nil {
		panic("zfsfake: unencodable resume state: " + err.Error()) // fake names never hold a NUL
	}
	return tok
}

func parseToken(tok string) (*partial, bool) {
	t, err := zfs.DecodeResumeToken(tok)
	if err != nil || t.Offset > math.MaxInt64 || t.Bytes > math.MaxInt64 {
		return nil, false
	}
	return &partial{
		toName: t.ToName, toGUID: t.ToGUID, fromGUID: t.FromGUID, offset: int64(t.Offset), bytes: int64(t.Bytes),
		raw: t.Raw, compress: t.Compressed, large: t.LargeBlocks, embed: t.Embedded,
	}, true
}

// describe prints a token like `zfs send -nv -t` does (nvlist_print).
func (p *partial) describe() string {
	var b strings.Builder
	b.WriteString("resume token contents:\nnvlist version: 0\n")
	if p.fromGUID != 0 {
		fmt.Fprintf(&b, "\tfromguid = 0x%x\n", p.fromGUID)
	}
	fmt.Fprintf(&b, "\tobject = 0x1\n\toffset = 0x%x\n\tbytes = 0x%x\n\ttoguid = 0x%x\n\ttoname = %s\n", p.offset, p.bytes, p.toGUID, p.toName)
	for _, f := range []struct {
		on   bool
		name string
	}{{p.large, "largeblockok"}, {p.embed, "embedok"}, {p.compress, "compressok"}, {p.raw, "rawok"}} {
		if f.on {
			fmt.Fprintf(&b, "\t%s = 1\n", f.name)
		}
	}
	return b.String()
}

// nicebytes formats like zfs_nicebytes: 512B, 4K, 1.50M, 12.3G.
func nicebytes(n uint64) string {
	units := "BKMGTPE"
	i, v := 0, n
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 || n%uint64(math.Pow(1024, float64(i))) == 0 {
		return fmt.Sprintf("%d%c", v, units[i])
	}
	f := float64(n) / math.Pow(1024, float64(i))
	var s string
	for prec := 2; prec >= 0; prec-- {
		if s = fmt.Sprintf("%.*f%c", prec, f, units[i]); len(s) <= 5 {
			break
		}
	}
	return s
}

// send runs zfs send [-wLcep] [-i from] fs@snap, zfs send -t TOKEN and
// zfs send -nv -t TOKEN.
func (r *run) send(args []string) error {
	var hdr streamHeader
	var from, to, tok string
	dry, verbose := false, false
	props := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-i" && i+1 < len(args):
			i++
			from = args[i]
		case a == "-t" && i+1 < len(args):
			i++
			tok = args[i]
		case a == "-nvt" && i+1 < len(args):
			i++
			tok, dry, verbose = args[i], true, true
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for _, c := range a[1:] {
				switch c {
				case 'w':
					hdr.Raw = true
				case 'L':
					hdr.Large = true
				case 'c':
					hdr.Compress = true
				case 'e':
					hdr.Embed = true
				case 'p':
					props = true
				case 'n':
					dry = true
				case 'v':
					verbose = true
				default:
					return r.unsupported()
				}
			}
		default:
			if to != "" {
				return r.unsupported()
			}
			to = a
		}
	}
	h := r.h
	if tok != "" {
		if to != "" || from != "" || props || (dry != verbose) {
			return r.unsupported()
		}
		return r.resumeSend(tok, dry, hdr)
	}
	if dry || verbose || to == "" {
		return r.unsupported()
	}
	h.w.mu.Lock()
	dn, _, _ := strings.Cut(to, "@")
	if from != "" && (from[0] == '@' || from[0] == '#') {
		from = dn + from
	}
	d, s := h.lookupSnap(to)
	if s == nil {
		h.w.mu.Unlock()
		return r.fail(1, fmt.Sprintf("cannot open '%s': dataset does not exist", to))
	}
	var fromTXG uint64
	if from != "" {
		o, ok := h.open(from)
		switch {
		case !ok || (o.s == nil && o.b == nil):
			h.w.mu.Unlock()
			return r.fail(1, fmt.Sprintf("warning: cannot send '%s': incremental source (%s) does not exist", to, from))
		case o.d != d || o.createtxg() >= s.createtxg:
			h.w.mu.Unlock()
			return r.fail(1, fmt.Sprintf("warning: cannot send '%s': not an earlier snapshot from the same fs", to))
		}
		fromTXG = o.createtxg()
		hdr.FromGUID = h.prop2guid(o)
	}
	if d.encryption != "off" && !hdr.Raw && !d.keyLoaded {
		h.w.mu.Unlock()
		return r.fail(1, fmt.Sprintf("warning: cannot send '%s': dataset key must be loaded", to))
	}
	if props {
		hdr.Props = map[string]string{}
		for k, v := range d.props {
			if strings.Contains(k, ":") {
				hdr.Props[k] = v
			}
		}
	}
	h.fillHeader(&hdr, d, s, fromTXG)
	budget := h.takeInterrupt()
	h.w.mu.Unlock()
	return r.stream(&hdr, budget)
}

// fillHeader describes snapshot s of d, incremental from fromTXG (0:
// full); callers hold w.mu.
func (h *Host) fillHeader(hdr *streamHeader, d *dataset, s *snapshot, fromTXG uint64) {
	hdr.Magic = streamMagic
	hdr.ToName = d.name + "@" + s.name
	hdr.ToGUID = s.guid
	hdr.Type = d.typ
	hdr.Creation = s.creation.Unix()
	hdr.Encryption = d.encryption
	if hdr.Raw && d.encryption != "off" {
		hdr.KeyRoot = d.keyRoot
	}
	var data uint64
	for _, c := range d.chunks {
		if alive(c, s.createtxg) {
			hdr.Chunks = append(hdr.Chunks, [2]uint64{c.id, c.size})
			if fromTXG == 0 || c.born > fromTXG {
				data += c.size
			}
		}
	}
	hdr.Filler = int64((data+DataScale-1)/DataScale) + streamOverhead
}

func (h *Host) takeInterrupt() int64 {
	b := h.interrupt
	h.interrupt = 0
	return b
}

// resumeSend runs zfs send [-wLce] -t TOKEN (or -nv -t TOKEN when dry).
// As in libzfs, the stream has the token's flags and the command line's.
func (r *run) resumeSend(tok string, dry bool, flags streamHeader) error {
	p, ok := parseToken(tok)
	if !ok {
		return r.fail(1, "cannot resume send: resume token is corrupt (invalid format)")
	}
	var out string
	if dry {
		out = p.describe()
	}
	h := r.h
	h.w.mu.Lock()
	d, s := h.lookupSnap(p.toName)
	var msg string
	var fromTXG uint64
	var fromName string
	switch {
	case s == nil:
		msg = fmt.Sprintf("cannot resume send: '%s' used in the initial send no longer exists", p.toName)
	case s.guid != p.toGUID:
		msg = fmt.Sprintf("cannot resume send: '%s' is no longer the same snapshot used in the initial send", p.toName)
	case p.fromGUID != 0:
		for _, o := range h.objects(map[string]bool{"snapshot": true, "bookmark": true}) {
			if o.d == d && h.prop2guid(o) == p.fromGUID && (fromName == "" || o.s != nil) {
				fromTXG, fromName = o.createtxg(), o.name
			}
		}
		if fromName == "" {
			msg = fmt.Sprintf("cannot resume send: incremental source %#x no longer exists", p.fromGUID)
		}
	}
	if msg == "" && d.encryption != "off" && !p.raw && !d.keyLoaded {
		msg = fmt.Sprintf("warning: cannot send '%s': source key must be loaded", p.toName)
	}
	if msg != "" {
		h.w.mu.Unlock()
		if err := r.write(out); err != nil {
			return err
		}
		return r.fail(1, msg)
	}
	hdr := streamHeader{Raw: p.raw || flags.Raw, Compress: p.compress || flags.Compress, Large: p.large || flags.Large, Embed: p.embed || flags.Embed,
		FromGUID: p.fromGUID, Resume: true, Offset: p.offset}
	h.fillHeader(&hdr, d, s, fromTXG)
	if dry {
		h.w.mu.Unlock()
		left := uint64(max(hdr.Filler-hdr.Offset, 0)) * DataScale
		if fromName != "" {
			out += fmt.Sprintf("send from %s to %s estimated size is %s\n", fromName, p.toName, nicebytes(left))
		} else {
			out += fmt.Sprintf("full send of %s estimated size is %s\n", p.toName, nicebytes(left))
		}
		return r.write(out)
	}
	budget := h.takeInterrupt()
	h.w.mu.Unlock()
	return r.stream(&hdr, budget)
}

// stream writes hdr and its data to stdout, breaking after budget bytes
// when budget > 0, and stopping when the context ends.
func (r *run) stream(hdr *streamHeader, budget int64) error {
	head, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	w := r.cmd.Stdout
	if w == nil {
		w = io.Discard
	}
	body := append(head, '\n')
	var written int64
	put := func(b []byte) error {
		if budget > 0 && written+int64(len(b)) > budget {
			b = b[:budget-written]
			n, _ := w.Write(b)
			written += int64(n)
			return r.fail(255, fmt.Sprintf("fake zfs: connection lost after %d bytes of stream (injected)", written))
		}
		if err := r.ctx.Err(); err != nil {
			return &remote.ExitError{Host: r.h.name, Argv: r.argv, Code: -1, Signal: "TERM"}
		}
		n, err := w.Write(b)
		written += int64(n)
		if err != nil {
			return r.fail(1, fmt.Sprintf("warning: cannot send '%s': Broken pipe", hdr.ToName))
		}
		return nil
	}
	if err := put(body); err != nil {
		return err
	}
	fill := bytes.Repeat([]byte{'z'}, writeChunk)
	for left := hdr.Filler - hdr.Offset; left > 0; {
		n := min(left, int64(len(fill)))
		if err := put(fill[:n]); err != nil {
			return err
		}
		left -= n
	}
	return put([]byte("END\n"))
}

// errTruncated marks a stream that ended early.
var errTruncated = errors.New("stream truncated")

// reader reads stdin in a goroutine so that a cancelled context ends a
// receive even while the sender is stalled.
type reader struct {
	r    *run
	ch   chan []byte
	buf  []byte
	done chan struct{}
	n    int64 // bytes consumed
}

func newReader(r *run) *reader {
	rd := &reader{r: r, ch: make(chan []byte), done: make(chan struct{})}
	in := r.cmd.Stdin
	if in == nil {
		in = bytes.NewReader(nil)
	}
	go func() {
		for {
			b := make([]byte, 64<<10)
			n, err := in.Read(b)
			if n > 0 {
				select {
				case rd.ch <- b[:n]:
				case <-rd.done:
					return
				}
			}
			if err != nil {
				close(rd.ch)
				return
			}
		}
	}()
	return rd
}

func (rd *reader) close() { close(rd.done) }

// fill makes rd.buf non-empty; it returns errTruncated at EOF or on a
// read error, and the context's error when it ends. Data or an end of
// stream already on its way wins over the context, so that a receiver
// stopped because its sender failed sees what the sender wrote.
func (rd *reader) fill() error {
	take := func(b []byte, ok bool) error {
		if !ok {
			return errTruncated
		}
		rd.buf = b
		return nil
	}
	for len(rd.buf) == 0 {
		select {
		case b, ok := <-rd.ch:
			if err := take(b, ok); err != nil {
				return err
			}
			continue
		default:
		}
		select {
		case b, ok := <-rd.ch:
			if err := take(b, ok); err != nil {
				return err
			}
		case <-rd.r.ctx.Done():
			select {
			case b, ok := <-rd.ch:
				if err := take(b, ok); err != nil {
					return err
				}
			case <-time.After(20 * time.Millisecond):
				return rd.r.ctx.Err()
			}
		}
	}
	return nil
}

// line reads up to and including '\n'.
func (rd *reader) line(limit int) ([]byte, error) {
	var out []byte
	for {
		if err := rd.fill(); err != nil {
			return out, err
		}
		if i := bytes.IndexByte(rd.buf, '\n'); i >= 0 {
			out = append(out, rd.buf[:i+1]...)
			rd.buf = rd.buf[i+1:]
			rd.n += int64(i + 1)
			return out, nil
		}
		out = append(out, rd.buf...)
		rd.n += int64(len(rd.buf))
		rd.buf = nil
		if len(out) > limit {
			return out, errors.New("header too long")
		}
	}
}

// skip consumes n bytes and returns how many it got.
func (rd *reader) skip(n int64) (int64, error) {
	var got int64
	for got < n {
		if err := rd.fill(); err != nil {
			return got, err
		}
		k := min(int64(len(rd.buf)), n-got)
		rd.buf = rd.buf[k:]
		got += k
		rd.n += k
	}
	return got, nil
}
