package zvt

import "fmt"

// TLV tags posbridge uses (PA00P015 §9.4). A tag is its BER bytes read as a
// big-endian number, so the two-byte tag 1F 73 is 0x1F73.
const (
	TagTextLine          uint32 = 0x07   // text line (in 24 and 25)
	TagAttribute         uint32 = 0x09   // print attribute (in 25)
	TagZVTCommand        uint32 = 0x0A   // CLASS INSTR of a ZVT command (in 26)
	TagPrinterWidth      uint32 = 0x12   // characters per printer line, 1 byte BCD
	TagCharset           uint32 = 0x14   // ISO character set
	TagMaxAPDU           uint32 = 0x1A   // largest APDU the sender can process
	TagDisplayTexts      uint32 = 0x24   // constructed: display texts
	TagPrintTexts        uint32 = 0x25   // constructed: print texts
	TagPermittedCommands uint32 = 0x26   // constructed: commands the ECR accepts
	TagCharsets          uint32 = 0x27   // constructed: supported character sets
	TagTerminalDateTime  uint32 = 0x34   // constructed: terminal date (1F0E) and time (1F0F)
	TagCardTypeID        uint32 = 0x41   // ZVT card-type ID above 255
	TagDeviceInfo        uint32 = 0xE4   // constructed: device name, software version, state
	TagReceiptID         uint32 = 0x1F01 // which receipt Repeat Receipt asks for
	TagReceiptParams     uint32 = 0x1F04 // receipt parameters (copies, order), bit field
	TagReceiptType       uint32 = 0x1F07 // receipt type of a print text block
	TagDate              uint32 = 0x1F0E // date, 4 byte BCD YYYYMMDD
	TagTime              uint32 = 0x1F0F // time, 3 byte BCD HHMMSS
	TagExtendedErrorCode uint32 = 0x1F16 // vendor error code
	TagExtendedErrorText uint32 = 0x1F17 // vendor error text
	TagTransactionID     uint32 = 0x1F1F // receipt-number synchronisation (PA00P015 §4)
	TagLongTrace         uint32 = 0x1F2B // trace number with more than 6 digits
	TagReceiptInfo       uint32 = 0x1F37 // receipt information (positive, negative …)
	TagDeviceName        uint32 = 0x1F40 // device name, ASCII (in E4)
	TagSoftwareVersion   uint32 = 0x1F41 // software version, ASCII (in E4)
	TagDeviceState       uint32 = 0x1F43 // device state, 1 byte (in E4)
	TagTerminalIdent     uint32 = 0x1F44 // terminal identifier, 4 byte BCD
	TagTerminalLocks     uint32 = 0x1F55 // terminal locks, 2 byte bit field
	TagRecognisedTags    uint32 = 0x1F71 // TLV tags the PT evaluates
	TagMsgSeqID          uint32 = 0x1F73 // message sequence id, 3 byte BCD (PA00P015 §5)
)

// maxTLVLen is the largest length the ZVT length field can express (82 hi lo).
const maxTLVLen = 0xFFFF

// TLV is one data object of a ZVT TLV container (BMP 06): a BER tag, a length
// (one byte below 0x80, or 81 xx, or 82 hi lo) and the value. For constructed
// objects Value holds the encoded sub-objects; use Children to parse them.
type TLV struct {
	Tag   uint32
	Value []byte
}

// Constructed reports whether the tag's first byte has the constructed bit (0x20).
func (t TLV) Constructed() bool {
	b, err := tagBytes(t.Tag)
	return err == nil && b[0]&0x20 != 0
}

// Children parses the value of a constructed object.
func (t TLV) Children() ([]TLV, error) {
	if !t.Constructed() {
		return nil, fmt.Errorf("parsing TLV %X: %w: not a constructed tag", t.Tag, ErrBadTLV)
	}
	c, err := DecodeTLV(t.Value)
	if err != nil {
		return nil, fmt.Errorf("parsing TLV %X: %w", t.Tag, err)
	}
	return c, nil
}

// NewConstructed builds a constructed object from sub-objects.
func NewConstructed(tag uint32, children ...TLV) (TLV, error) {
	v, err := EncodeTLV(children)
	if err != nil {
		return TLV{}, err
	}
	t := TLV{Tag: tag, Value: v}
	if !t.Constructed() {
		return TLV{}, fmt.Errorf("building TLV %X: %w: not a constructed tag", tag, ErrBadTLV)
	}
	return t, nil
}

// FindTLV returns the first object with the tag.
func FindTLV(objs []TLV, tag uint32) (TLV, bool) {
	for _, o := range objs {
		if o.Tag == tag {
			return o, true
		}
	}
	return TLV{}, false
}

// tagBytes returns the BER bytes of a tag and checks that they form one valid
// tag: a single byte whose low five bits are not all set, or a first byte with
// low bits 11111 followed by bytes with bit 8 set except the last.
func tagBytes(tag uint32) ([]byte, error) {
	var b []byte
	switch {
	case tag <= 0xFF:
		b = []byte{byte(tag)}
	case tag <= 0xFFFF:
		b = []byte{byte(tag >> 8), byte(tag)}
	case tag <= 0xFFFFFF:
		b = []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)}
	default:
		b = []byte{byte(tag >> 24), byte(tag >> 16), byte(tag >> 8), byte(tag)}
	}
	multi := b[0]&0x1F == 0x1F
	if !multi {
		if len(b) != 1 {
			return nil, fmt.Errorf("%w: tag %X: first byte does not announce more bytes", ErrBadTLV, tag)
		}
		return b, nil
	}
	if len(b) == 1 {
		return nil, fmt.Errorf("%w: tag %X: missing subsequent byte", ErrBadTLV, tag)
	}
	for i, x := range b[1:] {
		last := i == len(b)-2
		if (x&0x80 != 0) == last {
			return nil, fmt.Errorf("%w: tag %X: bad continuation bit", ErrBadTLV, tag)
		}
	}
	return b, nil
}

// readTag reads one BER tag from b and returns it and its size.
func readTag(b []byte) (uint32, int, error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	tag := uint32(b[0])
	n := 1
	if b[0]&0x1F != 0x1F {
		return tag, n, nil
	}
	for {
		if n >= len(b) {
			return 0, 0, fmt.Errorf("%w: tag cut short", ErrTruncated)
		}
		if n >= 4 {
			return 0, 0, fmt.Errorf("%w: tag longer than 4 bytes", ErrBadTLV)
		}
		x := b[n]
		tag = tag<<8 | uint32(x)
		n++
		if x&0x80 == 0 {
			return tag, n, nil
		}
	}
}

// readBERLength reads a ZVT TLV length field (PA00P015 §9.3.2).
func readBERLength(b []byte) (int, int, error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: missing length", ErrTruncated)
	}
	switch x := b[0]; {
	case x < 0x80:
		return int(x), 1, nil
	case x == 0x81:
		if len(b) < 2 {
			return 0, 0, fmt.Errorf("%w: length cut short", ErrTruncated)
		}
		return int(b[1]), 2, nil
	case x == 0x82:
		if len(b) < 3 {
			return 0, 0, fmt.Errorf("%w: length cut short", ErrTruncated)
		}
		return int(b[1])<<8 | int(b[2]), 3, nil
	default:
		return 0, 0, fmt.Errorf("%w: length byte %02X", ErrBadTLV, x)
	}
}

// appendBERLength appends the shortest length field for n.
func appendBERLength(out []byte, n int) ([]byte, error) {
	switch {
	case n < 0x80:
		return append(out, byte(n)), nil
	case n <= 0xFF:
		return append(out, 0x81, byte(n)), nil
	case n <= maxTLVLen:
		return append(out, 0x82, byte(n>>8), byte(n)), nil
	default:
		return nil, fmt.Errorf("%w: TLV value of %d bytes", ErrTooLong, n)
	}
}

// DecodeTLV parses a list of data objects (the value of BMP 06 or of a
// constructed object). Non-minimal length fields are accepted.
func DecodeTLV(b []byte) ([]TLV, error) {
	objs := []TLV{}
	for len(b) > 0 {
		tag, n, err := readTag(b)
		if err != nil {
			return nil, fmt.Errorf("decoding TLV tag: %w", err)
		}
		l, m, err := readBERLength(b[n:])
		if err != nil {
			return nil, fmt.Errorf("decoding TLV %X: %w", tag, err)
		}
		start := n + m
		if len(b)-start < l {
			return nil, fmt.Errorf("decoding TLV %X: %w: value needs %d bytes, have %d", tag, ErrTruncated, l, len(b)-start)
		}
		var v []byte // an empty data object has a nil value
		if l > 0 {
			v = make([]byte, l)
			copy(v, b[start:start+l])
		}
		objs = append(objs, TLV{Tag: tag, Value: v})
		b = b[start+l:]
	}
	return objs, nil
}

// EncodeTLV serialises data objects with minimal length fields.
func EncodeTLV(objs []TLV) ([]byte, error) {
	var out []byte
	for _, o := range objs {
		tb, err := tagBytes(o.Tag)
		if err != nil {
			return nil, fmt.Errorf("encoding TLV: %w", err)
		}
		out = append(out, tb...)
		if out, err = appendBERLength(out, len(o.Value)); err != nil {
			return nil, fmt.Errorf("encoding TLV %X: %w", o.Tag, err)
		}
		out = append(out, o.Value...)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}
