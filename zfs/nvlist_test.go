package zfs

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// tokenOf wraps a packed nvlist as the kernel does, the checksum summed
// in the given byte order.
func tokenOf(packed []byte, sumOrder byteOrder) string {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(packed)
	zw.Close()
	return tokenOfCompressed(z.Bytes(), len(packed), sumOrder)
}

func tokenOfCompressed(z []byte, packedLen int, sumOrder byteOrder) string {
	le, be := fletcher4Word0(z)
	sum := le
	if sumOrder == binary.BigEndian {
		sum = be
	}
	return fmt.Sprintf("1-%x-%x-%s", sum, packedLen, hex.EncodeToString(z))
}

// kernelList is the nvlist get_receive_resume_token_impl builds for a
// raw incremental send, in its order.
func kernelList(o byteOrder) *nvList {
	return &nvList{Order: o, Flag: nvUniqueName, Pairs: []nvPair{
		uint64Pair("fromguid", o, 0x1122334455667788), uint64Pair("object", o, 128), uint64Pair("offset", o, 1310720),
		uint64Pair("bytes", o, 1453644), uint64Pair("toguid", o, 0xafbfcfdfefff0102),
		{Name: "toname", Type: nvString, NElem: 1, Str: "tank/enc@s2"},
		{Name: "compressok", Type: nvBoolean}, {Name: "rawok", Type: nvBoolean},
	}}
}

var kernelToken = ResumeToken{FromGUID: 0x1122334455667788, ToGUID: 0xafbfcfdfefff0102, ToName: "tank/enc@s2", Raw: true, Compressed: true,
	Bytes: 1453644, Object: 128, Offset: 1310720}

func mustPack(t testing.TB, l *nvList) []byte {
	t.Helper()
	b, err := packNVList(l)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// realPacked returns the kernel-packed nvlists of the captured tokens.
func realPacked(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "tokens", "*.txt"))
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 3)
		if len(lines) < 2 || !strings.HasPrefix(lines[1], "token ") {
			t.Fatalf("%s: no token line", f)
		}
		fs := strings.Split(strings.TrimPrefix(lines[1], "token "), "-")
		z, err := hex.DecodeString(fs[3])
		if err != nil {
			t.Fatal(err)
		}
		zr, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		var packed bytes.Buffer
		if _, err := packed.ReadFrom(zr); err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = packed.Bytes()
	}
	return out
}

// What this package packs is byte for byte what the kernel packed: the
// layout (alignment, sizes, padding, end marker) is the kernel's.
func TestPackMatchesKernel(t *testing.T) {
	real := realPacked(t)
	if len(real) < 4 {
		t.Fatalf("%d real tokens in testdata/tokens, want the lab's captures", len(real))
	}
	for name, packed := range real {
		l, err := unpackNVList(packed)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if l.Order != binary.LittleEndian || l.Flag != nvUniqueName {
			t.Errorf("%s: order %v flag %#x", name, l.Order, l.Flag)
		}
		if again := mustPack(t, l); !bytes.Equal(again, packed) {
			t.Errorf("%s: repacked\n%x\nkernel\n%x", name, again, packed)
		}
	}
}

func TestDecodeBothByteOrders(t *testing.T) {
	for _, o := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		got, err := DecodeResumeToken(tokenOf(mustPack(t, kernelList(o)), o))
		if err != nil || got != kernelToken {
			t.Errorf("%v: %+v, %v", o, got, err)
		}
	}
	// A checksum summed in the other order than the list's is refused:
	// the sending host would compute it in the list's.
	if _, err := DecodeResumeToken(tokenOf(mustPack(t, kernelList(binary.LittleEndian)), binary.BigEndian)); err == nil || !strings.Contains(err.Error(), "is not the") {
		t.Errorf("little-endian list with a big-endian checksum: %v", err)
	}
}

// Lists that packNVList can express but the kernel never writes.
func TestDecodeResumeTokenRefusesFields(t *testing.T) {
	o := binary.LittleEndian
	edit := func(f func(l *nvList)) *nvList { l := kernelList(o); f(l); return l }
	set := func(name string, p nvPair) *nvList {
		return edit(func(l *nvList) {
			for i := range l.Pairs {
				if l.Pairs[i].Name == name {
					l.Pairs[i] = p
				}
			}
		})
	}
	drop := func(name string) *nvList {
		return edit(func(l *nvList) {
			for i := range l.Pairs {
				if l.Pairs[i].Name == name {
					l.Pairs = append(l.Pairs[:i], l.Pairs[i+1:]...)
					return
				}
			}
		})
	}
	add := func(p nvPair) *nvList { return edit(func(l *nvList) { l.Pairs = append(l.Pairs, p) }) }
	toname := func(s string) *nvList { return set("toname", nvPair{Name: "toname", Type: nvString, NElem: 1, Str: s}) }
	for _, tc := range []struct {
		name string
		l    *nvList
		want string
	}{
		{"unknown field", add(uint64Pair("newfield", o, 1)), "not one the kernel writes"},
		{"savedok (zfs send -S)", add(nvPair{Name: "savedok", Type: nvBoolean}), "not one the kernel writes"},
		{"rawok as a uint64 0", set("rawok", uint64Pair("rawok", o, 0)), "type 8, want 1"},
		{"rawok as boolean_value", set("rawok", nvPair{Name: "rawok", Type: nvBooleanValue, NElem: 1, Value: []byte{0, 0, 0, 0}}), "type 21"},
		{"toguid as a string", set("toguid", nvPair{Name: "toguid", Type: nvString, NElem: 1, Str: "12"}), "type 9"},
		{"fromguid as an array", set("fromguid", uint64ArrayPair("fromguid", o, []uint64{1})), "type 16"},
		{"toname as uint64", set("toname", uint64Pair("toname", o, 1)), "type 8"},
		{"toguid twice", add(uint64Pair("toguid", o, 5)), "appears twice"},
		{"rawok twice", add(nvPair{Name: "rawok", Type: nvBoolean}), "appears twice"},
		{"no toname", drop("toname"), "no toname"},
		{"no toguid", drop("toguid"), "no toguid"},
		{"no object", drop("object"), "no object"},
		{"no offset", drop("offset"), "no offset"},
		{"no bytes", drop("bytes"), "no bytes"},
		{"toguid 0", set("toguid", uint64Pair("toguid", o, 0)), "toguid is 0"},
		{"toname of a filesystem", toname("tank/enc"), "not a snapshot name"},
		{"toname of a bookmark", toname("tank/enc#b"), "not a snapshot name"},
		{"toname with two @", toname("tank/enc@a@b"), "not a snapshot name"},
		{"toname with empty snapshot", toname("tank/enc@"), "not a snapshot name"},
		{"toname with a newline", toname("tank/enc@s2\n\ttoguid = 0x1"), "control characters"},
		{"toname too long", toname("tank/" + strings.Repeat("x", 250) + "@s"), "longer than"},
		{"flags 0 (duplicates allowed)", edit(func(l *nvList) { l.Flag = 0 }), "NV_UNIQUE_NAME"},
		{"flags unique name and type", edit(func(l *nvList) { l.Flag = 3 }), "NV_UNIQUE_NAME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeResumeToken(tokenOf(mustPack(t, tc.l), o))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	// Redaction lists decode, and say so.
	for _, name := range []string{"redact_snaps", "book_redact_snaps"} {
		for _, vs := range [][]uint64{nil, {1, 2, 3}} {
			got, err := DecodeResumeToken(tokenOf(mustPack(t, add(uint64ArrayPair(name, o, vs))), o))
			if err != nil || !got.Redacted {
				t.Errorf("%s %v: %+v, %v", name, vs, got, err)
			}
		}
	}
}

// Byte-level damage to a packed list, each caught by a bounds or
// validity check rather than read past or trusted.
func TestUnpackNVListRefusesDamage(t *testing.T) {
	o := binary.LittleEndian
	good := mustPack(t, kernelList(o))
	first := nvHeaderSize // the first pair, fromguid: 16 + align8(9) + 8 = 40 bytes
	name := first + nvpHeaderSize
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	put32 := func(off int, v uint32) []byte {
		return mod(func(b []byte) []byte { o.PutUint32(b[off:], v); return b })
	}
	put16 := func(off int, v uint16) []byte {
		return mod(func(b []byte) []byte { o.PutUint16(b[off:], v); return b })
	}
	setb := func(off int, v byte) []byte { return mod(func(b []byte) []byte { b[off] = v; return b }) }
	// The string pair, toname, and the value bytes after its NUL.
	tonameAt := bytes.Index(good, []byte("toname\x00"))
	strVal := tonameAt - nvpHeaderSize + align8(nvpHeaderSize+7)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than a header"},
		{"header only", good[:nvHeaderSize], "shorter than a header"},
		{"XDR encoding", setb(0, 1), "encoding 1"},
		{"endian byte 2", setb(1, 2), "endian byte"},
		{"reserved header byte", setb(2, 1), "reserved header"},
		{"version 1", put32(4, 1), "version 1"},
		{"no end marker", good[:len(good)-4], "truncated"},
		{"cut inside a pair", good[:first+20], "size 40 with 20 bytes left"},
		{"bytes after the end marker", append(bytes.Clone(good), 0, 0, 0, 0), "after the end marker"},
		{"pair size beyond the buffer", put32(first, 1<<30), "size 1073741824"},
		{"negative pair size", put32(first, 0xfffffff8), "size -8"},
		{"pair size below the minimum", put32(first, 16), "size 16"},
		{"pair size not 8-aligned", put32(first, 44), "size 44"},
		{"name size 0", put16(first+4, 0), "name size 0"},
		{"negative name size", put16(first+4, 0xffff), "name size -1"},
		{"name size past the pair", put16(first+4, 100), "name size 100"},
		{"name not terminated", setb(name+8, 'x'), "not one NUL-terminated"},
		{"NUL inside the name", setb(name+2, 0), "not one NUL-terminated"},
		{"nonzero nvp_reserve", put16(first+6, 1), "nonzero reserved field"},
		{"nonzero name padding", setb(name+9, 1), "name padding"},
		{"uint64 with 2 elements", put32(first+8, 2), "with 2 elements"},
		{"uint64 with -1 elements", put32(first+8, 0xffffffff), "with -1 elements"},
		{"uint32 in a uint64's space", put32(first+12, uint32(nvUint32)), "nonzero value padding"},
		{"boolean with a value", put32(first+12, uint32(nvBoolean)), "boolean with 1 elements"},
		{"nested nvlist", put32(first+12, 19), "unsupported data type 19"},
		{"string array", put32(first+12, 17), "unsupported data type 17"},
		{"unknown type", put32(first+12, 99), "unsupported data type 99"},
		{"string not terminated", mod(func(b []byte) []byte {
			for i := strVal; i < tonameAt-nvpHeaderSize+int(o.Uint32(b[tonameAt-nvpHeaderSize:])); i++ {
				b[i] = 'x'
			}
			return b
		}), "not one NUL-terminated value"},
		{"string shorter than its space", setb(strVal+3, 0), "not one NUL-terminated value filling"},
		{"nonzero after the string", setb(strVal+len("tank/enc@s2")+1, 'x'), "nonzero bytes after the string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := unpackNVList(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// Compressed payloads that zlib would stop reading, or that expand past
// the declared length, are refused without inflating more than that.
func TestDecodeResumeTokenRefusesCompression(t *testing.T) {
	o := binary.LittleEndian
	packed := mustPack(t, kernelList(o))
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(packed)
	zw.Close()
	var bomb bytes.Buffer
	zw = zlib.NewWriter(&bomb)
	zw.Write(make([]byte, 8<<20)) // 8 MiB of zeros in ~8 KiB
	zw.Close()
	for _, tc := range []struct{ name, tok, want string }{
		{"trailing bytes after the zlib stream", tokenOfCompressed(append(bytes.Clone(z.Bytes()), 0, 0, 0, 0), len(packed), o), "after the compressed stream"},
		{"zlib stream cut short", tokenOfCompressed(z.Bytes()[:z.Len()-6], len(packed), o), "decompressing"},
		{"raw deflate without the zlib header", tokenOfCompressed(z.Bytes()[2:], len(packed), o), "zlib"},
		{"uncompressed packed list (the kernel's fallback)", tokenOfCompressed(packed, len(packed), o), "zlib"},
		{"bomb declared small", tokenOfCompressed(bomb.Bytes(), len(packed), o), "more than the declared"},
		{"bomb declared at the cap", tokenOfCompressed(bomb.Bytes(), maxTokenPacked, o), "more than the declared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeResumeToken(tc.tok)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	tok := tokenOfCompressed(bomb.Bytes(), maxTokenPacked, o)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	DecodeResumeToken(tok)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
		t.Errorf("decoding an 8 MiB zlib bomb allocated %d bytes", n)
	}
}

// Whatever unpackNVList accepts, packNVList reproduces byte for byte:
// no byte of an accepted list goes unread.
func FuzzUnpackNVList(f *testing.F) {
	for _, p := range realPacked(f) {
		f.Add(p)
	}
	f.Add(mustPack(f, kernelList(binary.BigEndian)))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := unpackNVList(b)
		if err != nil {
			return
		}
		again, err := packNVList(l)
		if err != nil {
			t.Fatalf("accepted %x, which does not repack: %v", b, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted\n%x\nrepacks as\n%x", b, again)
		}
	})
}
