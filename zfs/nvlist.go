package zfs

// A reader and writer for the packed nvlists OpenZFS stores in resume
// tokens: the kernel packs them with fnvlist_pack, i.e. NV_ENCODE_NATIVE
// (module/nvpair/nvpair.c, nvs_native_*). The bytes come from a host
// zplan does not trust, so every length is checked against the buffer
// before it is used, and only what the kernel itself writes is accepted:
// anything libnvpair would read differently from this code is refused.
//
// Layout (all integers in the byte order named by the header):
//
//	header   encoding(1)=0 native, endian(1)=1 little|0 big, reserved(2)=0
//	nvlist   nvl_version(int32)=0, nvl_nvflag(uint32)
//	nvpair*  nvp_size(int32) nvp_name_sz(int16) nvp_reserve(int16)
//	         nvp_value_elem(int32) nvp_type(int32) name\0 pad8 value pad8
//	end      int32 0

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// nvType is an nvpair data_type_t (include/sys/nvpair.h).
type nvType int32

const (
	nvBoolean      nvType = 1 // present, no value
	nvByte         nvType = 2
	nvInt16        nvType = 3
	nvUint16       nvType = 4
	nvInt32        nvType = 5
	nvUint32       nvType = 6
	nvInt64        nvType = 7
	nvUint64       nvType = 8
	nvString       nvType = 9
	nvByteArray    nvType = 10
	nvInt16Array   nvType = 11
	nvUint16Array  nvType = 12
	nvInt32Array   nvType = 13
	nvUint32Array  nvType = 14
	nvInt64Array   nvType = 15
	nvUint64Array  nvType = 16
	nvHrtime       nvType = 18
	nvBooleanValue nvType = 21
	nvInt8         nvType = 22
	nvUint8        nvType = 23
	nvBooleanArray nvType = 24
	nvInt8Array    nvType = 25
	nvUint8Array   nvType = 26
)

// Scalar and array types with fixed-size elements: element size, and
// whether the type is an array (any nelem >= 0) or a scalar (nelem 1).
// Strings, string arrays, nested nvlists and doubles are not listed:
// resume tokens never hold them except for the one string handled
// apart, and nested nvlists would need a recursive stream decoder.
var nvFixed = map[nvType]struct {
	size  int
	array bool
}{
	nvByte: {1, false}, nvInt8: {1, false}, nvUint8: {1, false},
	nvInt16: {2, false}, nvUint16: {2, false},
	nvInt32: {4, false}, nvUint32: {4, false}, nvBooleanValue: {4, false},
	nvInt64: {8, false}, nvUint64: {8, false}, nvHrtime: {8, false},
	nvByteArray: {1, true}, nvInt8Array: {1, true}, nvUint8Array: {1, true},
	nvInt16Array: {2, true}, nvUint16Array: {2, true},
	nvInt32Array: {4, true}, nvUint32Array: {4, true}, nvBooleanArray: {4, true},
	nvInt64Array: {8, true}, nvUint64Array: {8, true},
}

const (
	nvEncodeNative = 0
	nvUniqueName   = 0x1 // NV_UNIQUE_NAME: fnvlist_alloc's flag
	nvpHeaderSize  = 16  // sizeof (nvpair_t) without the name
	nvHeaderSize   = 4 + 8
)

// nvPair is one decoded pair. Value holds the raw value bytes (in the
// list's byte order) for the fixed-size types; Str the string of a
// string pair.
type nvPair struct {
	Name  string
	Type  nvType
	NElem int32
	Str   string
	Value []byte
}

// byteOrder is binary.LittleEndian or binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// nvList is a decoded top-level nvlist, in stream order.
type nvList struct {
	Order byteOrder
	Flag  uint32
	Pairs []nvPair
}

func align8(n int) int { return (n + 7) &^ 7 }

// unpackNVList decodes a native-encoded packed nvlist (nvlist_unpack).
// It refuses what the kernel never writes: XDR encoding, a nonzero
// version or reserved header byte, nested lists, duplicate names and
// bytes after the end marker.
func unpackNVList(buf []byte) (*nvList, error) {
	if len(buf) < nvHeaderSize+4 {
		return nil, fmt.Errorf("nvlist: %d bytes is shorter than a header", len(buf))
	}
	if buf[0] != nvEncodeNative {
		return nil, fmt.Errorf("nvlist: encoding %d, want native (0)", buf[0])
	}
	l := &nvList{}
	switch buf[1] {
	case 1:
		l.Order = binary.LittleEndian
	case 0:
		l.Order = binary.BigEndian
	default:
		return nil, fmt.Errorf("nvlist: endian byte %d", buf[1])
	}
	if buf[2] != 0 || buf[3] != 0 {
		return nil, fmt.Errorf("nvlist: reserved header bytes %#x %#x", buf[2], buf[3])
	}
	if v := int32(l.Order.Uint32(buf[4:])); v != 0 {
		return nil, fmt.Errorf("nvlist: version %d, want 0", v)
	}
	l.Flag = l.Order.Uint32(buf[8:])
	rest := buf[nvHeaderSize:]
	seen := map[string]bool{}
	for {
		if len(rest) < 4 {
			return nil, fmt.Errorf("nvlist: truncated after %d pairs", len(l.Pairs))
		}
		size := int64(int32(l.Order.Uint32(rest)))
		if size == 0 {
			rest = rest[4:]
			break
		}
		if size < int64(align8(nvpHeaderSize+1)) || size > int64(len(rest)) || size%8 != 0 {
			return nil, fmt.Errorf("nvlist: pair %d: size %d with %d bytes left", len(l.Pairs), size, len(rest))
		}
		p, err := decodePair(rest[:size], l.Order)
		if err != nil {
			return nil, fmt.Errorf("nvlist: pair %d: %w", len(l.Pairs), err)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("nvlist: pair %q appears twice", p.Name)
		}
		seen[p.Name] = true
		l.Pairs = append(l.Pairs, p)
		rest = rest[size:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("nvlist: %d bytes after the end marker", len(rest))
	}
	return l, nil
}

// decodePair decodes one pair of exactly len(b) bytes (nvp_size), with
// the checks of i_validate_nvpair: the name is NUL-terminated with no
// NUL inside, nelem fits the type, and the value fills the rest of the
// pair exactly, up to 8-byte alignment.
func decodePair(b []byte, order byteOrder) (nvPair, error) {
	nameSz := int(int16(order.Uint16(b[4:])))
	nelem := int32(order.Uint32(b[8:]))
	typ := nvType(order.Uint32(b[12:]))
	if nameSz <= 0 || align8(nvpHeaderSize+nameSz) > len(b) {
		return nvPair{}, fmt.Errorf("name size %d in a %d-byte pair", nameSz, len(b))
	}
	name := b[nvpHeaderSize : nvpHeaderSize+nameSz]
	if i := bytes.IndexByte(name, 0); i != nameSz-1 {
		return nvPair{}, fmt.Errorf("name %q is not one NUL-terminated string", name)
	}
	// The kernel's pairs are zeroed before they are filled, so the
	// reserved field and all padding are 0; with that, an accepted
	// buffer is exactly what packNVList makes of its pairs.
	if order.Uint16(b[6:]) != 0 || !allZero(b[nvpHeaderSize+nameSz:align8(nvpHeaderSize+nameSz)]) {
		return nvPair{}, fmt.Errorf("%q: nonzero reserved field or name padding", name[:nameSz-1])
	}
	p := nvPair{Name: string(name[:nameSz-1]), Type: typ, NElem: nelem}
	val := b[align8(nvpHeaderSize+nameSz):]
	switch f, fixed := nvFixed[typ]; {
	case typ == nvBoolean:
		if nelem != 0 || len(val) != 0 {
			return nvPair{}, fmt.Errorf("%s: boolean with %d elements, %d value bytes", p.Name, nelem, len(val))
		}
	case typ == nvString:
		n := bytes.IndexByte(val, 0)
		if nelem != 1 || n < 0 || align8(n+1) != len(val) {
			return nvPair{}, fmt.Errorf("%s: string of %d elements is not one NUL-terminated value filling its %d bytes", p.Name, nelem, len(val))
		}
		if !allZero(val[n:]) {
			return nvPair{}, fmt.Errorf("%s: nonzero bytes after the string", p.Name)
		}
		p.Str = string(val[:n])
	case fixed:
		if nelem < 0 || (!f.array && nelem != 1) {
			return nvPair{}, fmt.Errorf("%s: type %d with %d elements", p.Name, typ, nelem)
		}
		n := int64(nelem) * int64(f.size)
		if int64(len(val)) != int64(align8(int(n))) {
			return nvPair{}, fmt.Errorf("%s: %d elements of %d bytes in %d value bytes", p.Name, nelem, f.size, len(val))
		}
		if !allZero(val[n:]) {
			return nvPair{}, fmt.Errorf("%s: nonzero value padding", p.Name)
		}
		p.Value = val[:n]
	default:
		return nvPair{}, fmt.Errorf("%s: unsupported data type %d", p.Name, typ)
	}
	return p, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// packNVList encodes pairs like fnvlist_pack on a host of the given byte
// order. Only the types unpackNVList reads are supported.
func packNVList(l *nvList) ([]byte, error) {
	o := l.Order
	var endian byte
	if o == binary.LittleEndian {
		endian = 1
	}
	buf := []byte{nvEncodeNative, endian, 0, 0}
	buf = o.AppendUint32(buf, 0) // nvl_version
	buf = o.AppendUint32(buf, l.Flag)
	for _, p := range l.Pairs {
		var val []byte
		nelem := p.NElem
		switch f, fixed := nvFixed[p.Type]; {
		case p.Type == nvBoolean:
			nelem = 0
		case p.Type == nvString:
			if bytes.IndexByte([]byte(p.Str), 0) >= 0 {
				return nil, fmt.Errorf("nvlist: pack %s: NUL in string", p.Name)
			}
			val, nelem = append([]byte(p.Str), 0), 1
		case fixed:
			if len(p.Value)%f.size != 0 || (!f.array && len(p.Value) != f.size) {
				return nil, fmt.Errorf("nvlist: pack %s: %d value bytes for type %d", p.Name, len(p.Value), p.Type)
			}
			val, nelem = p.Value, int32(len(p.Value)/f.size)
		default:
			return nil, fmt.Errorf("nvlist: pack %s: unsupported data type %d", p.Name, p.Type)
		}
		nameSz := len(p.Name) + 1
		if p.Name == "" || nameSz > 1<<15-1 || bytes.IndexByte([]byte(p.Name), 0) >= 0 {
			return nil, fmt.Errorf("nvlist: pack: bad pair name %q", p.Name)
		}
		valOff := align8(nvpHeaderSize + nameSz)
		size := valOff + align8(len(val))
		start := len(buf)
		buf = o.AppendUint32(buf, uint32(size))
		buf = o.AppendUint16(buf, uint16(nameSz))
		buf = o.AppendUint16(buf, 0)
		buf = o.AppendUint32(buf, uint32(nelem))
		buf = o.AppendUint32(buf, uint32(p.Type))
		buf = append(buf, p.Name...)
		buf = append(buf, make([]byte, start+valOff-len(buf))...)
		buf = append(buf, val...)
		buf = append(buf, make([]byte, start+size-len(buf))...)
	}
	return o.AppendUint32(buf, 0), nil
}

// uint64Pair builds a DATA_TYPE_UINT64 pair for packNVList.
func uint64Pair(name string, order byteOrder, v uint64) nvPair {
	return nvPair{Name: name, Type: nvUint64, NElem: 1, Value: order.AppendUint64(nil, v)}
}

// uint64ArrayPair builds a DATA_TYPE_UINT64_ARRAY pair for packNVList.
func uint64ArrayPair(name string, order byteOrder, vs []uint64) nvPair {
	p := nvPair{Name: name, Type: nvUint64Array, NElem: int32(len(vs)), Value: []byte{}}
	for _, v := range vs {
		p.Value = order.AppendUint64(p.Value, v)
	}
	return p
}
