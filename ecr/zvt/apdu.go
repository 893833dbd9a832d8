package zvt

import (
	"fmt"
	"io"
)

// APDU is one ZVT application protocol data unit (PA00P016 §5.2): a two-byte
// control field (CLASS INSTR for commands, CCRC APRC for responses), a length
// field, and the data block.
type APDU struct {
	Class byte
	Instr byte
	Data  []byte
}

// Control returns CLASS<<8 | INSTR, for comparison with the Ctrl* constants.
func (a APDU) Control() uint16 { return uint16(a.Class)<<8 | uint16(a.Instr) }

// newAPDU builds the APDU of the command or message ctrl (a Ctrl* constant):
// every Encode goes through it, so each control field is written in one place.
func newAPDU(ctrl uint16, data []byte) APDU {
	return APDU{Class: byte(ctrl >> 8), Instr: byte(ctrl), Data: data}
}

// String describes the APDU without its data, which may hold card data.
func (a APDU) String() string {
	return fmt.Sprintf("%02X %02X (%d data bytes)", a.Class, a.Instr, len(a.Data))
}

// Encode returns the APDU's wire bytes. The length field is one byte for up to
// 254 data bytes; longer data uses FF and a two-byte extended length, low byte
// first (PA00P016 §5.2.4).
func (a APDU) Encode() ([]byte, error) {
	n := len(a.Data)
	switch {
	case n <= 0xFE:
		out := make([]byte, 0, 3+n)
		out = append(out, a.Class, a.Instr, byte(n))
		return append(out, a.Data...), nil
	case n <= 0xFFFF:
		out := make([]byte, 0, 5+n)
		out = append(out, a.Class, a.Instr, 0xFF, byte(n), byte(n>>8))
		return append(out, a.Data...), nil
	default:
		return nil, fmt.Errorf("encoding APDU %02X %02X: %w: %d data bytes", a.Class, a.Instr, ErrTooLong, n)
	}
}

// APDULen inspects the start of an APDU and returns its total length in bytes
// (header included). It returns ErrTruncated when b is too short to tell.
func APDULen(b []byte) (int, error) {
	if len(b) < 3 {
		return 0, ErrTruncated
	}
	if b[2] != 0xFF {
		return 3 + int(b[2]), nil
	}
	if len(b) < 5 {
		return 0, ErrTruncated
	}
	return 5 + (int(b[3]) | int(b[4])<<8), nil
}

// DecodeAPDU parses exactly one APDU. It fails with ErrTruncated if b is
// shorter than the length field says and ErrTrailingData if it is longer. An
// extended length field announcing fewer than 255 bytes is accepted.
func DecodeAPDU(b []byte) (APDU, error) {
	total, err := APDULen(b)
	if err != nil {
		return APDU{}, fmt.Errorf("decoding APDU header: %w", err)
	}
	switch {
	case len(b) < total:
		return APDU{}, fmt.Errorf("decoding APDU %02X %02X: %w: need %d bytes, have %d", b[0], b[1], ErrTruncated, total, len(b))
	case len(b) > total:
		return APDU{}, fmt.Errorf("decoding APDU %02X %02X: %w: %d bytes after the data block", b[0], b[1], ErrTrailingData, len(b)-total)
	}
	hdr := 3
	if b[2] == 0xFF {
		hdr = 5
	}
	data := make([]byte, total-hdr)
	copy(data, b[hdr:])
	return APDU{Class: b[0], Instr: b[1], Data: data}, nil
}

// ReadAPDU reads one APDU from a byte stream, as used by TCP transport where
// data may arrive split arbitrarily. It returns io.EOF only if the stream ended
// before the first byte; a stream ending inside an APDU gives
// io.ErrUnexpectedEOF.
func ReadAPDU(r io.Reader) (APDU, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:3]); err != nil {
		return APDU{}, err
	}
	n := int(hdr[2])
	if hdr[2] == 0xFF {
		if _, err := io.ReadFull(r, hdr[3:5]); err != nil {
			return APDU{}, eofIsUnexpected(err)
		}
		n = int(hdr[3]) | int(hdr[4])<<8
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return APDU{}, eofIsUnexpected(err)
	}
	return APDU{Class: hdr[0], Instr: hdr[1], Data: data}, nil
}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
