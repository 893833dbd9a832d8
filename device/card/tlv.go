package card

import (
	"errors"
	"fmt"
)

// TLV is one BER-TLV data object (EMV Book 3, Annex B). Tag holds the tag
// bytes big-endian (0x5A, 0x5F24, 0x9F02, 0xBF0C). Children holds the parsed
// contents of a constructed object (tag bit 6 set); for those Value still holds
// the raw contents. Value aliases the slice given to ParseTLV.
type TLV struct {
	Tag      uint32
	Value    []byte
	Children []TLV
}

// Constructed reports whether the tag marks a constructed object, whose value
// is itself a sequence of BER-TLV objects.
func (t TLV) Constructed() bool { return constructed(t.Tag) }

// ErrMalformedTLV is the sentinel every ParseTLV error wraps.
var ErrMalformedTLV = errors.New("malformed BER-TLV")

// TLVError says where and why BER-TLV data could not be parsed. It never holds
// the data itself.
type TLVError struct {
	Offset int    // byte offset in the outermost input
	Reason string // what is wrong, without any data bytes
}

// Error implements error.
func (e *TLVError) Error() string {
	return fmt.Sprintf("malformed BER-TLV at byte %d: %s", e.Offset, e.Reason)
}

// Unwrap returns ErrMalformedTLV.
func (e *TLVError) Unwrap() error { return ErrMalformedTLV }

// TLV parser limits.
const (
	maxTagBytes = 4  // a tag must fit a uint32
	maxDepth    = 16 // nesting of constructed objects
)

// ParseTLV parses a sequence of BER-TLV objects: one- to four-byte tags,
// short-form lengths and the long forms 81 xx and 82 xx xx, constructed objects
// parsed recursively. Bytes 00 and FF before, between and after objects are
// padding and skipped. The indefinite length form (80) and lengths of three or
// more bytes are refused. Errors are *TLVError and wrap ErrMalformedTLV.
func ParseTLV(b []byte) ([]TLV, error) {
	return parseTLV(b, 0, 0)
}

func parseTLV(b []byte, base, depth int) ([]TLV, error) {
	if depth > maxDepth {
		return nil, &TLVError{Offset: base, Reason: "constructed objects nested too deep"}
	}
	var out []TLV
	i := 0
	for i < len(b) {
		if b[i] == 0x00 || b[i] == 0xFF {
			i++
			continue
		}
		start := i
		tag := uint32(b[i])
		i++
		if tag&0x1F == 0x1F {
			for n := 1; ; n++ {
				if i >= len(b) {
					return nil, &TLVError{Offset: base + start, Reason: "tag truncated"}
				}
				if n >= maxTagBytes {
					return nil, &TLVError{Offset: base + start, Reason: "tag longer than 4 bytes"}
				}
				c := b[i]
				i++
				tag = tag<<8 | uint32(c)
				if c&0x80 == 0 {
					break
				}
			}
		}
		if i >= len(b) {
			return nil, &TLVError{Offset: base + start, Reason: "length missing"}
		}
		l := int(b[i])
		i++
		switch {
		case l < 0x80:
		case l == 0x81:
			if i+1 > len(b) {
				return nil, &TLVError{Offset: base + start, Reason: "length truncated"}
			}
			l = int(b[i])
			i++
		case l == 0x82:
			if i+2 > len(b) {
				return nil, &TLVError{Offset: base + start, Reason: "length truncated"}
			}
			l = int(b[i])<<8 | int(b[i+1])
			i += 2
		case l == 0x80:
			return nil, &TLVError{Offset: base + start, Reason: "indefinite length not allowed"}
		default:
			return nil, &TLVError{Offset: base + start, Reason: "length form longer than 2 bytes"}
		}
		if l > len(b)-i {
			return nil, &TLVError{Offset: base + start, Reason: "value runs past the end of the data"}
		}
		t := TLV{Tag: tag, Value: b[i : i+l : i+l]}
		if constructed(tag) {
			kids, err := parseTLV(t.Value, base+i, depth+1)
			if err != nil {
				return nil, err
			}
			t.Children = kids
		}
		out = append(out, t)
		i += l
	}
	return out, nil
}

// constructed reports whether bit 6 of the first tag byte is set.
func constructed(tag uint32) bool {
	first := tag
	for first > 0xFF {
		first >>= 8
	}
	return first&0x20 != 0
}

// Find returns the first object with the given tag, searching depth-first
// (an object before its children, children before later siblings).
func Find(tlvs []TLV, tag uint32) (TLV, bool) {
	for _, t := range tlvs {
		if t.Tag == tag {
			return t, true
		}
		if c, ok := Find(t.Children, tag); ok {
			return c, true
		}
	}
	return TLV{}, false
}
