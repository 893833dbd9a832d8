package zvt

import "fmt"

// BMP numbers posbridge reads or writes (PA00P015 §13).
const (
	BMPTimeout          byte = 0x01 // 1 byte binary
	BMPMaxStatusInfos   byte = 0x02 // 1 byte binary
	BMPServiceByte      byte = 0x03 // 1 byte bit field
	BMPAmount           byte = 0x04 // 6 byte BCD, minor units
	BMPPumpNo           byte = 0x05 // 1 byte binary
	BMPTLV              byte = 0x06 // TLV container, BER length
	BMPTrace            byte = 0x0B // 3 byte BCD
	BMPTime             byte = 0x0C // 3 byte BCD HHMMSS
	BMPDate             byte = 0x0D // 2 byte BCD MMDD
	BMPExpiry           byte = 0x0E // 2 byte BCD YYMM
	BMPCardSeqNo        byte = 0x17 // 2 byte BCD
	BMPPaymentType      byte = 0x19 // 1 byte: status byte / payment type / card type
	BMPPAN              byte = 0x22 // LLVAR BCD, E = masked digit
	BMPTrack2           byte = 0x23 // LLVAR
	BMPTrack3           byte = 0x24 // LLLVAR
	BMPResultCode       byte = 0x27 // 1 byte binary
	BMPTID              byte = 0x29 // 4 byte BCD
	BMPVUNumber         byte = 0x2A // 15 byte ASCII
	BMPTrack1           byte = 0x2D // LLVAR
	BMPOrigTrace        byte = 0x37 // 3 byte BCD
	BMPCVV              byte = 0x3A // 2 byte BCD
	BMPAID              byte = 0x3B // 8 byte authorisation attribute
	BMPAdditionalText   byte = 0x3C // LLLVAR
	BMPPassword         byte = 0x3D // 3 byte BCD
	BMPCurrency         byte = 0x49 // 2 byte BCD
	BMPTotals           byte = 0x60 // LLLVAR individual totals
	BMPReceiptNo        byte = 0x87 // 2 byte BCD
	BMPTurnoverNo       byte = 0x88 // 3 byte BCD
	BMPCardType         byte = 0x8A // 1 byte binary ZVT card-type ID
	BMPCardName         byte = 0x8B // LLVAR
	BMPCardTypeID       byte = 0x8C // 1 byte network-operator card-type ID
	BMPGeldKarte        byte = 0x9A // LLLVAR
	BMPResultCodeAS     byte = 0xA0 // 1 byte binary
	BMPDateYYMMDD       byte = 0xAA // 3 byte BCD
	BMPAIDParam         byte = 0xBA // 5 byte binary
	BMPCardOutput       byte = 0xD2 // 1 byte binary
	BMPCardReaderActive byte = 0xFA // 1 byte binary
)

type bmpKind uint8

const (
	bmpFixed  bmpKind = iota // Size bytes
	bmpLLVar                 // Fx Fy + up to 99 bytes
	bmpLLLVar                // Fx Fy Fz + up to 999 bytes
	bmpTLV                   // BER length + value
)

type bmpSpec struct {
	kind bmpKind
	size int
}

// lookupBMP returns the format of a BMP from the table in PA00P015 §13 (plus
// 4C from §3.1.1). Only BMPs listed here can be skipped when a message does not
// use them; for any other number the length of the value is unknowable.
func lookupBMP(n byte) (bmpSpec, bool) {
	fixed := func(size int) (bmpSpec, bool) { return bmpSpec{kind: bmpFixed, size: size}, true }
	switch n {
	case 0x01, 0x02, 0x03, 0x05, 0x19, 0x27, 0x72, 0x73, 0x74, 0x75, 0x8A, 0x8C,
		0xA0, 0xD0, 0xD2, 0xD3, 0xE0, 0xE9, 0xEA, 0xF0, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD:
		return fixed(1)
	case 0x0D, 0x0E, 0x17, 0x3A, 0x49, 0x87:
		return fixed(2)
	case 0x0B, 0x0C, 0x37, 0x3D, 0x88, 0xAA:
		return fixed(3)
	case 0x29, 0x70, 0x71:
		return fixed(4)
	case 0xBA:
		return fixed(5)
	case 0x04:
		return fixed(6)
	case 0x3B, 0xEB:
		return fixed(8)
	case 0x2A:
		return fixed(15)
	case 0x22, 0x23, 0x2D, 0x4C, 0x8B, 0xA7, 0xD1,
		0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8,
		0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8:
		return bmpSpec{kind: bmpLLVar}, true
	case 0x24, 0x2E, 0x3C, 0x60, 0x9A, 0xAF:
		return bmpSpec{kind: bmpLLLVar}, true
	case 0x06:
		return bmpSpec{kind: bmpTLV}, true
	}
	return bmpSpec{}, false
}

// KnownBMP reports whether the BMP number is in the table, i.e. whether its
// length can be determined when it appears in a data block.
func KnownBMP(n byte) bool {
	_, ok := lookupBMP(n)
	return ok
}

// Field is one BMP-tagged parameter. Value is the content without the BMP
// number and without any LLVAR/LLLVAR/BER length prefix.
type Field struct {
	BMP   byte
	Value []byte
}

// readVarLen reads an LLVAR (digits=2) or LLLVAR (digits=3) prefix.
func readVarLen(b []byte, digits int) (int, error) {
	if len(b) < digits {
		return 0, fmt.Errorf("%w: length prefix cut short", ErrTruncated)
	}
	n := 0
	for _, x := range b[:digits] {
		if x < 0xF0 || x > 0xF9 {
			return 0, ErrBadVarLength
		}
		n = n*10 + int(x&0x0F)
	}
	return n, nil
}

func appendVarLen(out []byte, n, digits int) ([]byte, error) {
	limit := 99
	if digits == 3 {
		limit = 999
	}
	if n > limit {
		return nil, fmt.Errorf("%w: %d bytes exceed %d", ErrTooLong, n, limit)
	}
	if digits == 3 {
		out = append(out, 0xF0|byte(n/100))
	}
	return append(out, 0xF0|byte(n/10%10), 0xF0|byte(n%10)), nil
}

// DecodeFields splits a BMP-tagged data block into fields, in wire order.
// Every BMP must be in the table (ErrUnknownBMP otherwise), because an unknown
// BMP's length cannot be known and nothing after it could be trusted.
func DecodeFields(b []byte) ([]Field, error) {
	fields := []Field{}
	for len(b) > 0 {
		n := b[0]
		spec, ok := lookupBMP(n)
		if !ok {
			return nil, bmpErr(n, ErrUnknownBMP)
		}
		rest := b[1:]
		var size, skip int
		switch spec.kind {
		case bmpFixed:
			size = spec.size
		case bmpLLVar, bmpLLLVar:
			digits := 2
			if spec.kind == bmpLLLVar {
				digits = 3
			}
			l, err := readVarLen(rest, digits)
			if err != nil {
				return nil, bmpErr(n, err)
			}
			size, skip = l, digits
		case bmpTLV:
			l, m, err := readBERLength(rest)
			if err != nil {
				return nil, bmpErr(n, err)
			}
			size, skip = l, m
		}
		if len(rest)-skip < size {
			return nil, bmpErr(n, fmt.Errorf("%w: value needs %d bytes, have %d", ErrTruncated, size, len(rest)-skip))
		}
		v := make([]byte, size)
		copy(v, rest[skip:skip+size])
		fields = append(fields, Field{BMP: n, Value: v})
		b = rest[skip+size:]
	}
	return fields, nil
}

// EncodeFields serialises fields in the given order, adding length prefixes.
// Fixed-length values must have exactly the table's length.
func EncodeFields(fields []Field) ([]byte, error) {
	out := []byte{}
	for _, f := range fields {
		var err error
		if out, err = appendField(out, f); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func appendField(out []byte, f Field) ([]byte, error) {
	spec, ok := lookupBMP(f.BMP)
	if !ok {
		return nil, bmpErr(f.BMP, ErrUnknownBMP)
	}
	out = append(out, f.BMP)
	var err error
	switch spec.kind {
	case bmpFixed:
		if len(f.Value) != spec.size {
			return nil, bmpErr(f.BMP, fmt.Errorf("%w: want %d bytes, got %d", ErrInvalidField, spec.size, len(f.Value)))
		}
	case bmpLLVar:
		out, err = appendVarLen(out, len(f.Value), 2)
	case bmpLLLVar:
		out, err = appendVarLen(out, len(f.Value), 3)
	case bmpTLV:
		out, err = appendBERLength(out, len(f.Value))
	}
	if err != nil {
		return nil, bmpErr(f.BMP, err)
	}
	return append(out, f.Value...), nil
}

// fieldSet indexes decoded fields by BMP and rejects repeated BMPs: two
// amounts in one command must never be resolved by guessing.
type fieldSet map[byte][]byte

func indexFields(fields []Field) (fieldSet, error) {
	fs := make(fieldSet, len(fields))
	for _, f := range fields {
		if _, dup := fs[f.BMP]; dup {
			return nil, bmpErr(f.BMP, ErrDuplicateBMP)
		}
		fs[f.BMP] = f.Value
	}
	return fs, nil
}

func decodeFieldSet(b []byte) (fieldSet, error) {
	fields, err := DecodeFields(b)
	if err != nil {
		return nil, err
	}
	return indexFields(fields)
}
