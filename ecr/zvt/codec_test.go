package zvt

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestCRC16(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want uint16
	}{
		{"CRC-16/KERMIT check value", []byte("123456789"), 0x2189},
		{"empty", nil, 0x0000},
		// zvt.md §3.3 worked frames: APDU plus ETX.
		{"registration 123456 BA EUR", hx(t, "06 00 06 12 34 56 BA 09 78 03"), 0xC324},
		{"authorisation 10.00", hx(t, "06 01 07 04 00 00 00 00 10 00 03"), 0x9162},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CRC16(tc.in); got != tc.want {
				t.Errorf("CRC16(% X) = %#04x, want %#04x", tc.in, got, tc.want)
			}
		})
	}
}

func TestEncodeFrame(t *testing.T) {
	tests := []struct {
		name, apdu, frame string
	}{
		{"zvt.md registration", "06 00 06 12 34 56 BA 09 78", "10 02 06 00 06 12 34 56 BA 09 78 10 03 24 C3"},
		{"zvt.md authorisation 10.00 (DLE in amount)", "06 01 07 04 00 00 00 00 10 00", "10 02 06 01 07 04 00 00 00 00 10 10 00 10 03 62 91"},
		// CRC 0x2B10: the low byte is 10 and is sent as is, not doubled.
		{"CRC low byte is DLE", "04 FF 01 68", "10 02 04 FF 01 68 10 03 10 2B"},
		// CRC 0x10BB: the high byte is 10.
		{"CRC high byte is DLE", "06 1E 01 5A", "10 02 06 1E 01 5A 10 03 BB 10"},
		{"data full of DLE", "06 D1 04 10 10 10 10", "10 02 06 D1 04 " + repeatHex("10", 8) + " 10 03 " + crcHex(t, "06 D1 04 10 10 10 10")},
		{"DLE then ETX in data", "06 D1 02 10 03", "10 02 06 D1 02 10 10 03 10 03 " + crcHex(t, "06 D1 02 10 03")},
		{"length byte is DLE", "06 D1 10 " + repeatHex("41", 16), "10 02 06 D1 10 10 " + repeatHex("41", 16) + " 10 03 " + crcHex(t, "06 D1 10 "+repeatHex("41", 16))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := EncodeFrame(hx(t, tc.apdu))
			if want := hx(t, tc.frame); !bytes.Equal(got, want) {
				t.Fatalf("EncodeFrame(%s) = %s, want %s", tc.apdu, spaced(got), spaced(want))
			}
			d := NewFrameDecoder(0)
			apdu, err := feedAll(d, got)
			if err != nil || !bytes.Equal(apdu, hx(t, tc.apdu)) {
				t.Fatalf("decoding own frame = %s, %v; want %s", spaced(apdu), err, tc.apdu)
			}
			if !d.Idle() {
				t.Errorf("decoder not idle after a complete frame")
			}
		})
	}
}

func crcHex(t *testing.T, apdu string) string {
	c := CRC16(append(hx(t, apdu), ETX))
	return spaced([]byte{byte(c), byte(c >> 8)})
}

func repeatHex(b string, n int) string {
	s := ""
	for i := range n {
		if i > 0 {
			s += " "
		}
		s += b
	}
	return s
}

// feedAll feeds bytes one at a time and returns the first frame or error.
func feedAll(d *FrameDecoder, in []byte) ([]byte, error) {
	for _, b := range in {
		apdu, err := d.Feed(b)
		if err != nil || apdu != nil {
			return apdu, err
		}
	}
	return nil, nil
}

// feedCollect feeds everything and collects frames and errors in order.
func feedCollect(d *FrameDecoder, in []byte) (frames [][]byte, errs []error) {
	for _, b := range in {
		apdu, err := d.Feed(b)
		if err != nil {
			errs = append(errs, err)
		}
		if apdu != nil {
			frames = append(frames, apdu)
		}
	}
	return frames, errs
}

func TestFrameDecoder(t *testing.T) {
	reg := "10 02 06 00 06 12 34 56 BA 09 78 10 03 24 C3"
	auth := "10 02 06 01 07 04 00 00 00 00 10 10 00 10 03 62 91"
	tests := []struct {
		name       string
		max        int
		in         string
		wantFrames []string
		wantErrs   []error
	}{
		{name: "one frame", in: reg, wantFrames: []string{"06 00 06 12 34 56 BA 09 78"}},
		{name: "two frames back to back", in: reg + " " + auth, wantFrames: []string{"06 00 06 12 34 56 BA 09 78", "06 01 07 04 00 00 00 00 10 00"}},
		{name: "line noise before frame is ignored", in: "FF 00 03 10 10 41 " + reg, wantFrames: []string{"06 00 06 12 34 56 BA 09 78"}},
		{name: "ACK and NAK outside frames are not frames", in: "06 15 " + reg, wantFrames: []string{"06 00 06 12 34 56 BA 09 78"}},
		{name: "bad CRC", in: "10 02 06 00 06 12 34 56 BA 09 78 10 03 24 C4", wantErrs: []error{ErrBadCRC}},
		{name: "bit flip in data", in: "10 02 06 00 06 12 34 57 BA 09 78 10 03 24 C3", wantErrs: []error{ErrBadCRC}},
		{name: "DLE followed by junk", in: "10 02 06 00 06 12 10 41 56 BA 09 78 10 03 24 C3", wantErrs: []error{ErrBadStuffing}},
		{
			// After a broken frame the decoder discards up to its end; the
			// stuffed data 10 10 02 in the tail must not look like DLE STX.
			name:       "stuffed 10 10 02 in a broken frame's tail is no frame start",
			in:         "10 02 06 D1 05 10 41 10 10 02 00 10 03 AA BB " + auth,
			wantFrames: []string{"06 01 07 04 00 00 00 00 10 00"},
			wantErrs:   []error{ErrBadStuffing},
		},
		{name: "DLE STX inside a frame restarts", in: "10 02 06 00 06 12 " + reg, wantFrames: []string{"06 00 06 12 34 56 BA 09 78"}, wantErrs: []error{ErrBadStuffing}},
		{name: "overlong", max: 8, in: reg + " " + "10 02 80 00 00 10 03 " + crcHex(t, "80 00 00"), wantFrames: []string{"80 00 00"}, wantErrs: []error{ErrFrameTooLong}},
		{name: "max length exactly", max: 9, in: reg, wantFrames: []string{"06 00 06 12 34 56 BA 09 78"}},
		{name: "empty APDU frame", in: "10 02 10 03 " + crcHex(t, ""), wantFrames: []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frames, errs := feedCollect(NewFrameDecoder(tc.max), hx(t, tc.in))
			if len(frames) != len(tc.wantFrames) {
				t.Fatalf("got %d frames, want %d", len(frames), len(tc.wantFrames))
			}
			for i, f := range frames {
				if want := hx(t, tc.wantFrames[i]); !bytes.Equal(f, want) {
					t.Errorf("frame %d = %s, want %s", i, spaced(f), spaced(want))
				}
			}
			if len(errs) != len(tc.wantErrs) {
				t.Fatalf("got errors %v, want %v", errs, tc.wantErrs)
			}
			for i, err := range errs {
				if !errors.Is(err, tc.wantErrs[i]) {
					t.Errorf("error %d = %v, want %v", i, err, tc.wantErrs[i])
				}
			}
		})
	}
}

func TestFrameDecoderStates(t *testing.T) {
	d := NewFrameDecoder(0)
	frame := hx(t, "10 02 06 00 06 12 34 56 BA 09 78 10 03 24 C3")
	if !d.Idle() || d.InFrame() {
		t.Fatal("new decoder should be idle")
	}
	_, _ = d.Feed(frame[0])
	if d.Idle() || d.InFrame() {
		t.Fatal("after a lone DLE: want neither idle nor in frame")
	}
	for _, b := range frame[1:5] {
		_, _ = d.Feed(b)
	}
	if !d.InFrame() {
		t.Fatal("inside a frame: want InFrame")
	}
	if !d.Abort() {
		t.Error("Abort inside a frame should report that a NAK is owed")
	}
	if !d.Idle() {
		t.Error("Abort should return to idle")
	}
	if d.Abort() {
		t.Error("Abort while idle should report nothing owed")
	}
	// After an overlong frame the decoder is discarding; a T1 abort there owes
	// no second NAK.
	small := NewFrameDecoder(2)
	_, errs := feedCollect(small, hx(t, "10 02 06 00 06"))
	if len(errs) != 1 || !errors.Is(errs[0], ErrFrameTooLong) {
		t.Fatalf("want one ErrFrameTooLong, got %v", errs)
	}
	if !small.InFrame() || small.Abort() {
		t.Error("discarding state: want InFrame and no NAK owed on Abort")
	}
	// The decoder works again after Abort.
	apdu, err := feedAll(d, frame)
	if err != nil || !bytes.Equal(apdu, hx(t, "06 00 06 12 34 56 BA 09 78")) {
		t.Errorf("frame after Abort = %s, %v", spaced(apdu), err)
	}
}

func TestAPDUEncode(t *testing.T) {
	tests := []struct {
		name    string
		dataLen int
		header  string
		wantErr error
	}{
		{"empty", 0, "06 0F 00", nil},
		{"largest short form", 254, "06 D3 FE", nil},
		{"smallest extended form", 255, "06 D3 FF FF 00", nil},
		{"861 bytes, low byte first (PA00P015 §5.1 trace)", 861, "06 D3 FF 5D 03", nil},
		{"largest", 65535, "06 D3 FF FF FF", nil},
		{"too long", 65536, "", ErrTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := hx(t, tc.header)
			a := APDU{Class: 0x06, Instr: 0xD3, Data: bytes.Repeat([]byte{0x10}, tc.dataLen)}
			if tc.header == "06 0F 00" {
				a.Instr = 0x0F
			}
			b, err := a.Encode()
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Encode error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b[:len(h)], h) || len(b) != len(h)+tc.dataLen {
				t.Fatalf("header = %s (total %d), want %s (total %d)", spaced(b[:len(h)]), len(b), tc.header, len(h)+tc.dataLen)
			}
			if n, err := APDULen(b); err != nil || n != len(b) {
				t.Errorf("APDULen = %d, %v; want %d", n, err, len(b))
			}
			back, err := DecodeAPDU(b)
			if err != nil || back.Class != a.Class || back.Instr != a.Instr || !bytes.Equal(back.Data, a.Data) {
				t.Errorf("DecodeAPDU round trip failed: %v", err)
			}
			// The same bytes through a stream split into single bytes.
			back, err = ReadAPDU(iotest.OneByteReader(bytes.NewReader(b)))
			if err != nil || !bytes.Equal(back.Data, a.Data) {
				t.Errorf("ReadAPDU one byte at a time: %v", err)
			}
		})
	}
}

func TestDecodeAPDUErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"too short for a header", "06 01", ErrTruncated},
		{"short data", "06 01 07 04 00 00", ErrTruncated},
		{"extended header cut", "06 D3 FF 5D", ErrTruncated},
		{"extended data short", "06 D3 FF 05 00 01 02", ErrTruncated},
		// PA00P015 §5.1 prints this authorisation with length 0C although 20
		// data bytes follow; the decoder must not silently accept it.
		{"spec example with wrong length", "06 01 0C 04 00 00 00 00 01 00 49 09 78 19 44 06 06 1F 73 03 00 00 01", ErrTrailingData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeAPDU(hx(t, tc.in)); !errors.Is(err, tc.want) {
				t.Errorf("DecodeAPDU(%s) error = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
	// An extended length field announcing a short block is still valid.
	a, err := DecodeAPDU(hx(t, "06 D1 FF 02 00 00 41"))
	if err != nil || a.Instr != 0xD1 || !bytes.Equal(a.Data, []byte{0, 'A'}) {
		t.Errorf("extended form with 2 bytes = %v, %v", a, err)
	}
}

func TestReadAPDUStream(t *testing.T) {
	stream := hx(t, "80 00 00 04 FF 01 0E 06 D3 FF 03 00 06 01 00")
	r := iotest.OneByteReader(bytes.NewReader(stream))
	want := []string{"80 00 00", "04 FF 01 0E", "06 D3 FF 03 00 06 01 00"}
	for i, w := range want {
		a, err := ReadAPDU(r)
		if err != nil {
			t.Fatalf("APDU %d: %v", i, err)
		}
		wa := mustAPDU(t, w)
		if a.Control() != wa.Control() || !bytes.Equal(a.Data, wa.Data) {
			t.Errorf("APDU %d = %v, want %v", i, a, wa)
		}
	}
	if _, err := ReadAPDU(r); err != io.EOF {
		t.Errorf("at end: %v, want io.EOF", err)
	}
	for _, cut := range []string{"06", "06 01 07 04", "06 D3 FF 03"} {
		if _, err := ReadAPDU(bytes.NewReader(hx(t, cut))); err != io.ErrUnexpectedEOF {
			t.Errorf("ReadAPDU(%s) = %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
}
