package zfs

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ResumeToken is what a receive_resume_token says an interrupted receive
// would resume: the fields of the nvlist the kernel builds in
// get_receive_resume_token_impl (module/zfs/dsl_dataset.c).
type ResumeToken struct {
	FromGUID uint64 // 0 for a full stream
	ToGUID   uint64
	ToName   string // fs@snap the stream was sending
	Raw      bool   // rawok: the stream is raw (zfs send -w)
	Bytes    uint64 // bytes already received
	Object   uint64 // where the send resumes: object and offset in it
	Offset   uint64

	// The stream's features as the receiver recorded them, not the send
	// flags (lab-checked on 2.3): -L only where the dataset has blocks
	// over 128K; -c, and also -w (a raw stream carries blocks as stored);
	// -e, but never with -w on an encrypted dataset.
	LargeBlocks bool // largeblockok
	Embedded    bool // embedok
	Compressed  bool // compressok

	// Redacted: the token has redact_snaps (it resumes a redacted send)
	// or book_redact_snaps (its from-bookmark is a redaction bookmark).
	// zplan never makes such sends, so their guids are not kept.
	Redacted bool
}

// ResumeTokenVersion is ZFS_SEND_RESUME_TOKEN_VERSION, the only one
// libzfs accepts.
const ResumeTokenVersion = 1

// Bounds on a token, which comes from the receiving host: real tokens
// are a few hundred bytes (the packed nvlist holds a name of at most 255
// bytes and a dozen numbers), so these are generous and keep a hostile
// token from costing more than a few MiB.
const (
	maxTokenPacked  = 1 << 20               // declared (and decompressed) nvlist size
	maxTokenLen     = 2*maxTokenPacked + 64 // hex payload of a compressed nvlist no bigger than that, plus the header
	minPackedNVList = nvHeaderSize + 4
)

// DecodeResumeToken decodes a receive_resume_token itself, as libzfs's
// zfs_send_resume_token_to_nvlist does on the sending host, instead of
// asking the receiving host (which may lie) what it means. The token is
// "<version>-<fletcher4 word0 hex>-<packed length hex>-<hex of the
// zlib-compressed packed nvlist>". It accepts only what the kernel
// writes: the canonical text form, a checksum that matches, exactly the
// declared length after decompression, and an nvlist of known fields
// with the kernel's types. Anything libzfs would read differently, or
// that makes zfs send do something the fields here do not show (savedok,
// a field this code does not know), is an error.
func DecodeResumeToken(token string) (ResumeToken, error) {
	var t ResumeToken
	if len(token) > maxTokenLen {
		return t, fmt.Errorf("resume token: %d bytes, more than the %d a real token can have", len(token), maxTokenLen)
	}
	f := strings.Split(token, "-")
	if len(f) != 4 {
		return t, fmt.Errorf("resume token %q: want 4 dash-separated fields, got %d", truncate(token, 40), len(f))
	}
	if f[0] != strconv.Itoa(ResumeTokenVersion) {
		return t, fmt.Errorf("resume token: version %q, want %d", truncate(f[0], 20), ResumeTokenVersion)
	}
	sum, err := tokenHex(f[1])
	if err != nil {
		return t, fmt.Errorf("resume token checksum: %w", err)
	}
	packedLen, err := tokenHex(f[2])
	if err != nil {
		return t, fmt.Errorf("resume token length: %w", err)
	}
	if packedLen < minPackedNVList || packedLen > maxTokenPacked {
		return t, fmt.Errorf("resume token: packed nvlist length %d outside [%d, %d]", packedLen, minPackedNVList, maxTokenPacked)
	}
	payload := f[3]
	if len(payload) == 0 || len(payload)%2 != 0 || strings.IndexFunc(payload, notLowerHex) >= 0 {
		return t, errors.New("resume token: payload is not an even number of lowercase hex digits")
	}
	compressed, err := hex.DecodeString(payload)
	if err != nil {
		return t, fmt.Errorf("resume token payload: %w", err)
	}
	le, be := fletcher4Word0(compressed)
	if sum != le && sum != be {
		return t, fmt.Errorf("resume token: checksum %x, payload sums to %x", sum, le)
	}
	packed, err := inflateExactly(compressed, int(packedLen))
	if err != nil {
		return t, fmt.Errorf("resume token payload: %w", err)
	}
	nvl, err := unpackNVList(packed)
	if err != nil {
		return t, fmt.Errorf("resume token: %w", err)
	}
	// fletcher_4_native sums the payload as 32-bit words of the host that
	// made it, whose order the nvlist header records.
	want := le
	if nvl.Order == binary.BigEndian {
		want = be
	}
	if sum != want {
		return t, fmt.Errorf("resume token: checksum %x is not the %v sum %x", sum, nvl.Order, want)
	}
	if nvl.Flag != nvUniqueName {
		return t, fmt.Errorf("resume token: nvlist flags %#x, want NV_UNIQUE_NAME", nvl.Flag)
	}
	if err := t.fill(nvl); err != nil {
		return ResumeToken{}, fmt.Errorf("resume token: %w", err)
	}
	return t, nil
}

// fill sets t from the token's nvlist, requiring the kernel's type for
// each field: libzfs looks the numbers and the name up by type, and
// tests the flags by name alone, so a flag of another type would still
// count in zfs send.
func (t *ResumeToken) fill(l *nvList) error {
	u64 := map[string]*uint64{"fromguid": &t.FromGUID, "object": &t.Object, "offset": &t.Offset, "bytes": &t.Bytes, "toguid": &t.ToGUID}
	flags := map[string]*bool{"largeblockok": &t.LargeBlocks, "embedok": &t.Embedded, "compressok": &t.Compressed, "rawok": &t.Raw}
	arrays := map[string]bool{"redact_snaps": true, "book_redact_snaps": true}
	seen := map[string]bool{}
	for i := range l.Pairs {
		p := &l.Pairs[i]
		seen[p.Name] = true
		want := nvType(0)
		switch {
		case u64[p.Name] != nil:
			want = nvUint64
		case flags[p.Name] != nil:
			want = nvBoolean
		case arrays[p.Name]:
			want = nvUint64Array
		case p.Name == "toname":
			want = nvString
		default:
			return fmt.Errorf("field %q (type %d) is not one the kernel writes", truncate(p.Name, 40), p.Type)
		}
		if p.Type != want {
			return fmt.Errorf("field %s has type %d, want %d", p.Name, p.Type, want)
		}
		switch want {
		case nvUint64:
			*u64[p.Name] = l.Order.Uint64(p.Value)
		case nvBoolean:
			*flags[p.Name] = true
		case nvUint64Array:
			t.Redacted = true
		case nvString:
			t.ToName = p.Str
		}
	}
	for _, k := range []string{"toname", "object", "offset", "bytes", "toguid"} {
		if !seen[k] {
			return fmt.Errorf("no %s field", k) // libzfs: "resume token is corrupt"
		}
	}
	if t.ToGUID == 0 {
		return errors.New("toguid is 0")
	}
	return checkToName(t.ToName)
}

// checkToName accepts a snapshot name fs@snap as zfs prints it: one @,
// no bookmark mark, no control characters, within ZFS's name length.
func checkToName(n string) error {
	fs, snap, ok := strings.Cut(n, "@")
	switch {
	case len(n) > MaxNameLen:
		return fmt.Errorf("toname is %d bytes, longer than a dataset name can be", len(n))
	case !ok || fs == "" || snap == "" || strings.ContainsAny(snap, "@") || strings.ContainsAny(n, "#"):
		return fmt.Errorf("toname %q is not a snapshot name", n)
	case strings.IndexFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return fmt.Errorf("toname %q has control characters", n)
	case !ValidName(n):
		return fmt.Errorf("toname %q is not a ZFS name", n)
	}
	return nil
}

// tokenHex parses a number the kernel printed with %llx: lowercase hex
// without prefix or leading zeros, so that no two texts mean one token.
func tokenHex(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil || strconv.FormatUint(v, 16) != s {
		return 0, fmt.Errorf("%q is not a number as zfs prints it (lowercase hex)", truncate(s, 20))
	}
	return v, nil
}

func notLowerHex(r rune) bool { return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') }

// fletcher4Word0 returns word 0 of fletcher_4_native_varsize over b, as
// a little-endian and as a big-endian host computes it: the sum of the
// 32-bit words, a trailing partial word ignored.
func fletcher4Word0(b []byte) (le, be uint64) {
	for i := 0; i+4 <= len(b); i += 4 {
		le += uint64(binary.LittleEndian.Uint32(b[i:]))
		be += uint64(binary.BigEndian.Uint32(b[i:]))
	}
	return le, be
}

// inflateExactly decompresses a zlib stream (the kernel's gzip compressor
// is zlib's compress2) that must yield exactly n bytes, as libzfs's
// uncompress(…) && len == packed_len requires, and inflates never more
// than n+1 bytes whatever the stream holds.
func inflateExactly(z []byte, n int) ([]byte, error) {
	br := bytes.NewReader(z)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(n)+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("decompressing: %w", err)
	case len(out) > n:
		return nil, fmt.Errorf("decompresses to more than the declared %d bytes", n)
	case len(out) != n:
		return nil, fmt.Errorf("decompresses to %d bytes, declared %d", len(out), n)
	}
	// At exactly n bytes the stream must end here, its checksum intact.
	if _, err := zr.Read(make([]byte, 1)); err != io.EOF {
		return nil, fmt.Errorf("decompressing: no end of stream after the declared %d bytes (%v)", n, err)
	}
	if br.Len() != 0 {
		return nil, fmt.Errorf("%d bytes after the compressed stream", br.Len())
	}
	return out, nil
}

// EncodeResumeToken builds the token the kernel would build for t on a
// little-endian host: fields in the kernel's order, packed natively,
// zlib-compressed, checksummed. zlib's output may differ from the
// kernel's byte for byte; the packed nvlist does not. The fake zfs uses
// it so that its tokens decode like real ones.
func EncodeResumeToken(t ResumeToken) (string, error) {
	o := binary.LittleEndian
	l := &nvList{Order: o, Flag: nvUniqueName}
	if t.FromGUID != 0 {
		l.Pairs = append(l.Pairs, uint64Pair("fromguid", o, t.FromGUID))
	}
	l.Pairs = append(l.Pairs, uint64Pair("object", o, t.Object), uint64Pair("offset", o, t.Offset),
		uint64Pair("bytes", o, t.Bytes), uint64Pair("toguid", o, t.ToGUID),
		nvPair{Name: "toname", Type: nvString, NElem: 1, Str: t.ToName})
	for _, f := range []struct {
		on   bool
		name string
	}{{t.LargeBlocks, "largeblockok"}, {t.Embedded, "embedok"}, {t.Compressed, "compressok"}, {t.Raw, "rawok"}} {
		if f.on {
			l.Pairs = append(l.Pairs, nvPair{Name: f.name, Type: nvBoolean})
		}
	}
	if t.Redacted {
		l.Pairs = append(l.Pairs, uint64ArrayPair("redact_snaps", o, nil))
	}
	packed, err := packNVList(l)
	if err != nil {
		return "", fmt.Errorf("resume token: %w", err)
	}
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, 6) // level 6, as the kernel; a valid level cannot fail
	zw.Write(packed)
	zw.Close()
	sum, _ := fletcher4Word0(z.Bytes())
	return fmt.Sprintf("%d-%x-%x-%s", ResumeTokenVersion, sum, len(packed), hex.EncodeToString(z.Bytes())), nil
}

// ParseResumeToken parses the nvlist dump that `zfs send -nv -t` prints.
// What the receiving host prints is not trusted (DecodeResumeToken is);
// this remains for tests that compare the two.
func ParseResumeToken(out []byte) (ResumeToken, error) {
	var t ResumeToken
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " = ")
		if !ok {
			continue
		}
		seen[k] = true
		var err error
		switch k {
		case "fromguid":
			t.FromGUID, err = parseNum(v)
		case "toguid":
			t.ToGUID, err = parseNum(v)
		case "bytes":
			t.Bytes, err = parseNum(v)
		case "toname":
			t.ToName = v
		case "rawok":
			t.Raw = v == "1"
		}
		if err != nil {
			return t, fmt.Errorf("resume token field %s: %w", k, err)
		}
	}
	if !seen["toguid"] || !seen["toname"] {
		return t, fmt.Errorf("resume token: no toguid/toname in %q", truncate(string(out), 300))
	}
	return t, nil
}

func parseNum(s string) (uint64, error) {
	return strconv.ParseUint(strings.TrimSpace(s), 0, 64)
}
