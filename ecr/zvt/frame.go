package zvt

// Transmission control characters (PA00P016 §1.2).
const (
	DLE byte = 0x10 // data line escape
	STX byte = 0x02 // start of text
	ETX byte = 0x03 // end of text
	ACK byte = 0x06 // positive acknowledgement of a serial message
	NAK byte = 0x15 // negative acknowledgement of a serial message
)

// MaxAPDULen is the size of the largest APDU: control field (2), extended
// length field (3) and 65535 data bytes (PA00P016 §5.2.4).
const MaxAPDULen = 5 + 0xFFFF

// EncodeFrame wraps an APDU for the serial line (PA00P016 §3.1):
//
//	DLE STX <APDU, every DLE doubled> DLE ETX CRC-lo CRC-hi
//
// The CRC covers the APDU bytes and ETX, not the stuffing DLEs. The CRC bytes
// themselves are not stuffed: the specification defines DLE doubling for the
// APDU only, and a receiver reads exactly two bytes after DLE ETX.
func EncodeFrame(apdu []byte) []byte {
	out := make([]byte, 0, len(apdu)+8)
	out = append(out, DLE, STX)
	var crc uint16
	for _, b := range apdu {
		crc = crcUpdate(crc, b)
		out = append(out, b)
		if b == DLE {
			out = append(out, DLE)
		}
	}
	crc = crcUpdate(crc, ETX)
	return append(out, DLE, ETX, byte(crc), byte(crc>>8))
}

type frameState uint8

const (
	stIdle      frameState = iota // hunting for DLE STX
	stIdleDLE                     // saw DLE outside a frame
	stData                        // inside the APDU
	stDataDLE                     // saw DLE inside the APDU
	stCRCLo                       // after DLE ETX, waiting for CRC low byte
	stCRCHi                       // waiting for CRC high byte
	stSkip                        // discarding the rest of a broken frame
	stSkipDLE                     // saw DLE while discarding
	stSkipCRCLo                   // discarding CRC low byte of a broken frame
	stSkipCRCHi                   // discarding CRC high byte of a broken frame
)

// FrameDecoder is a byte-at-a-time state machine that recovers APDUs from the
// serial line. Feed it every received byte in order. It is not safe for
// concurrent use.
//
// After a broken frame (bad stuffing, too long) it discards bytes up to the end
// of that frame, honouring DLE pairs, so that data bytes such as 10 10 02 can
// never be mistaken for the start of a new frame; a DLE STX always starts a
// new frame.
type FrameDecoder struct {
	max   int
	state frameState
	buf   []byte
	crc   uint16
	lo    byte
}

// NewFrameDecoder returns a decoder that rejects APDUs longer than maxAPDU
// bytes (after unstuffing). maxAPDU <= 0 means MaxAPDULen.
func NewFrameDecoder(maxAPDU int) *FrameDecoder {
	if maxAPDU <= 0 || maxAPDU > MaxAPDULen {
		maxAPDU = MaxAPDULen
	}
	return &FrameDecoder{max: maxAPDU}
}

// Idle reports whether the decoder is between frames with no pending DLE. A
// lone ACK or NAK byte is only an acknowledgement in this state.
func (d *FrameDecoder) Idle() bool { return d.state == stIdle }

// InFrame reports whether a frame (good or being discarded) has started and not
// yet ended; the inter-byte time-out T1 applies in this state.
func (d *FrameDecoder) InFrame() bool { return d.state != stIdle && d.state != stIdleDLE }

// Abort drops any partial frame, as after time-out T1, and returns to hunting
// for DLE STX. It reports whether a frame that had not yet been rejected was
// dropped, i.e. whether the receiver still owes the sender a NAK.
func (d *FrameDecoder) Abort() bool {
	owed := d.state == stData || d.state == stDataDLE || d.state == stCRCLo || d.state == stCRCHi
	d.state = stIdle
	d.buf = d.buf[:0]
	return owed
}

func (d *FrameDecoder) start() {
	d.state = stData
	d.buf = d.buf[:0]
	d.crc = 0
}

func (d *FrameDecoder) add(b byte) error {
	if len(d.buf) >= d.max {
		d.state = stSkip
		d.buf = d.buf[:0]
		return ErrFrameTooLong
	}
	d.buf = append(d.buf, b)
	d.crc = crcUpdate(d.crc, b)
	d.state = stData
	return nil
}

// Feed consumes one byte. It returns the APDU (a fresh slice) when b completes
// a frame whose CRC is right, ErrBadCRC, ErrBadStuffing or ErrFrameTooLong when
// b completes or breaks a bad frame, and (nil, nil) otherwise. Bytes outside a
// frame other than DLE STX are ignored.
func (d *FrameDecoder) Feed(b byte) ([]byte, error) {
	switch d.state {
	case stIdle:
		if b == DLE {
			d.state = stIdleDLE
		}
	case stIdleDLE:
		d.afterIdleDLE(b)
	case stData:
		if b == DLE {
			d.state = stDataDLE
			return nil, nil
		}
		return nil, d.add(b)
	case stDataDLE:
		return nil, d.afterDataDLE(b)
	case stCRCLo:
		d.lo = b
		d.state = stCRCHi
	case stCRCHi:
		return d.finish(b)
	case stSkip:
		if b == DLE {
			d.state = stSkipDLE
		}
	case stSkipDLE:
		d.afterSkipDLE(b)
	case stSkipCRCLo:
		d.state = stSkipCRCHi
	case stSkipCRCHi:
		d.state = stIdle
	}
	return nil, nil
}

// afterIdleDLE handles the byte after a DLE outside a frame.
func (d *FrameDecoder) afterIdleDLE(b byte) {
	switch b {
	case STX:
		d.start()
	case DLE:
		// stay: this DLE may start DLE STX
	default:
		d.state = stIdle
	}
}

// afterDataDLE handles the byte after a DLE inside a frame: a doubled DLE,
// the frame's end (DLE ETX), or bad stuffing.
func (d *FrameDecoder) afterDataDLE(b byte) error {
	switch b {
	case DLE:
		return d.add(DLE)
	case ETX:
		d.crc = crcUpdate(d.crc, ETX)
		d.state = stCRCLo
	case STX:
		d.start() // resynchronise on a new frame start
		return ErrBadStuffing
	default:
		d.state = stSkip
		d.buf = d.buf[:0]
		return ErrBadStuffing
	}
	return nil
}

// finish takes the CRC's high byte and returns the frame's APDU if the CRC
// is right.
func (d *FrameDecoder) finish(hi byte) ([]byte, error) {
	d.state = stIdle
	if uint16(d.lo)|uint16(hi)<<8 != d.crc {
		d.buf = d.buf[:0]
		return nil, ErrBadCRC
	}
	apdu := make([]byte, len(d.buf))
	copy(apdu, d.buf)
	d.buf = d.buf[:0]
	return apdu, nil
}

// afterSkipDLE handles the byte after a DLE while skipping a bad frame.
func (d *FrameDecoder) afterSkipDLE(b byte) {
	switch b {
	case ETX:
		d.state = stSkipCRCLo
	case STX:
		d.start()
	default:
		d.state = stSkip
	}
}
