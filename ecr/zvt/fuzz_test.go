package zvt

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// seedAPDUs are the spec and regression vectors used to seed every target.
var seedAPDUs = []string{
	"06 00 06 12 34 56 BA 09 78",
	"06 01 07 04 00 00 00 00 10 00",
	"06 00 14 00 00 00 9E 09 78 06 0C 26 04 0A 02 06 D3 1F 73 03 00 00 00",
	"06 0F 12 19 00 29 65 00 00 28 49 09 78 06 06 26 04 0A 02 06 D3",
	"06 01 14 04 00 00 00 00 01 00 49 09 78 19 44 06 06 1F 73 03 00 00 01",
	"80 00 08 06 06 1F 73 03 00 00 01",
	"04 FF 09 17 06 06 1F 73 03 00 00 02",
	"04 FF 19 17 03 06 15 24 0D 07 0B 30 30 20 41 70 70 72 6F 76 65 64 1F 73 03 00 00 08",
	"06 0F 08 06 06 1F 73 03 00 00 11",
	"04 0F 31 27 00 04 00 00 00 00 12 34 0B 00 00 42 0C 15 30 12 0D 05 21 22 F0 F8 47 61 73 EE EE EE 00 10 29 12 34 56 78 87 00 07 8A 0A 8B F0 F5 56 49 53 41 00",
	"06 1E 03 6F 09 78",
	"06 0F 08 F0 F0 F4 31 2E 32 33 DF",
	"06 30 06 12 34 56 87 00 42",
	"06 31 0D 12 34 56 04 00 00 00 00 05 00 49 09 78",
	"05 01 05 00 00 00 03 02",
	"06 20 05 12 34 56 03 01",
	"06 D1 0A 00 53 75 6D 6D 65 3A 20 81 84",
	"06 D3 FF 05 00 06 03 25 01 00",
	"84 83 00",
}

func FuzzFrameDecoder(f *testing.F) {
	for _, s := range seedAPDUs {
		f.Add(EncodeFrame(hx(f, s)))
	}
	f.Add(hx(f, "10 02 06 D1 05 10 41 10 10 02 00 10 03 AA BB 10 02 10 03 00 00"))
	f.Add(hx(f, "10 10 02 10 02 10 10 10 03 10 03 00 10 02"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		// Arbitrary line bytes: never panic, and every frame recovered is a
		// real frame: encoding it again and decoding gives the same APDU.
		d := NewFrameDecoder(64)
		for _, b := range stream {
			apdu, err := d.Feed(b)
			if err != nil && apdu != nil {
				t.Fatal("Feed returned both a frame and an error")
			}
			if apdu == nil {
				continue
			}
			if len(apdu) > 64 {
				t.Fatalf("frame of %d bytes passed a 64-byte limit", len(apdu))
			}
			back, err := feedAll(NewFrameDecoder(64), EncodeFrame(apdu))
			if err != nil || !bytes.Equal(back, apdu) {
				t.Fatalf("re-framed APDU did not survive: %v", err)
			}
		}
		// The same bytes as an APDU payload: encode then decode, byte by byte.
		d = NewFrameDecoder(0)
		frame := EncodeFrame(stream)
		back, err := feedAll(d, frame)
		if len(stream) > MaxAPDULen {
			if !errors.Is(err, ErrFrameTooLong) {
				t.Fatalf("%d-byte APDU: %v, want ErrFrameTooLong", len(stream), err)
			}
			return
		}
		if err != nil || !bytes.Equal(back, stream) || !d.Idle() {
			t.Fatalf("frame round trip of % X failed: % X, %v", stream, back, err)
		}
		// A single flipped bit anywhere in the frame is never accepted as the
		// original message.
		if len(frame) > 0 {
			bad := bytes.Clone(frame)
			bad[len(stream)%len(bad)] ^= 0x01
			frames, _ := feedCollect(NewFrameDecoder(0), bad)
			for _, fr := range frames {
				if bytes.Equal(fr, stream) && !bytes.Equal(bad, frame) {
					t.Fatalf("corrupted frame % X accepted as % X", bad, stream)
				}
			}
		}
	})
}

func FuzzAPDU(f *testing.F) {
	for _, s := range seedAPDUs {
		f.Add(hx(f, s))
	}
	f.Add(hx(f, "06 D1 FF 02 00 00 41"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAPDU(b)
		if err != nil {
			return
		}
		enc, err := a.Encode()
		if err != nil {
			t.Fatalf("decoded APDU does not encode: %v", err)
		}
		// Short inputs re-encode byte for byte; an extended header for a short
		// block re-encodes in the short form.
		if b[2] != 0xFF && !bytes.Equal(enc, b) {
			t.Fatalf("re-encoded % X, want % X", enc, b)
		}
		again, err := DecodeAPDU(enc)
		if err != nil || !reflect.DeepEqual(again, a) {
			t.Fatalf("decode(encode(x)) = %v, %v; want %v", again, err, a)
		}
		if n, err := APDULen(b); err != nil || n != len(b) {
			t.Fatalf("APDULen = %d, %v; want %d", n, err, len(b))
		}
		// Any message parser on the APDU must not panic, and what it accepts
		// must survive encode and decode.
		m, err := ParseMessage(a)
		if err != nil {
			return
		}
		checkMessageRoundTrip(t, m)
	})
}

// checkMessageRoundTrip encodes m and decodes the result; the two values must
// be equal. Encoders may refuse what decoders tolerate (a TLV container
// without the 04 FF timeout, ambiguous shapes); that is not a failure.
func checkMessageRoundTrip(t *testing.T, m Message) {
	t.Helper()
	a, err := m.Encode()
	if err != nil {
		if errors.Is(err, ErrMissingField) || errors.Is(err, ErrInvalidField) || errors.Is(err, ErrTooLong) {
			return
		}
		t.Fatalf("Encode(%#v): %v", m, err)
	}
	m2, err := ParseMessage(a)
	if err != nil {
		t.Fatalf("re-parse of %v: %v", a, err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip changed the message\n got %#v\nwant %#v", m2, m)
	}
}

func FuzzBMP(f *testing.F) {
	for _, s := range seedAPDUs {
		f.Add(hx(f, s)[3:])
	}
	f.Add(hx(f, "22 F1 F2 01 23 45 67 89 01 23 45 67 89 01 23 3C F0 F0 F3 01 23 45 06 81 01 00"))
	f.Add(hx(f, "60 F0 F5 F3 00 01 00 57 0A 00 00 00 01 23 45 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, err := DecodeFields(b)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error without the BMP named: %v", err)
			}
			return
		}
		enc, err := EncodeFields(fields)
		if err != nil {
			t.Fatalf("decoded fields do not encode: %v", err)
		}
		again, err := DecodeFields(enc)
		if err != nil || !reflect.DeepEqual(again, fields) {
			t.Fatalf("decode(encode(x)) = %+v, %v; want %+v", again, err, fields)
		}
		// Fixed-length and LL/LLL fields re-encode byte for byte; only TLV
		// lengths can be written shorter.
		hasTLV := false
		for _, fl := range fields {
			hasTLV = hasTLV || fl.BMP == BMPTLV
		}
		if !hasTLV && !bytes.Equal(enc, b) {
			t.Fatalf("re-encoded % X, want % X", enc, b)
		}
		// The same block inside every BMP-only message type.
		for _, ctrl := range []uint16{CtrlAuthorization, CtrlStatusInformation, CtrlCompletion, CtrlAbortRequest} {
			m, err := ParseMessage(APDU{Class: byte(ctrl >> 8), Instr: byte(ctrl), Data: b})
			if err == nil {
				checkMessageRoundTrip(t, m)
			}
		}
	})
}

func FuzzTLV(f *testing.F) {
	f.Add(hx(f, "26 04 0A 02 06 D3 1F 73 03 00 00 00"))
	f.Add(hx(f, "24 0D 07 0B 30 30 20 41 70 70 72 6F 76 65 64 1F 73 03 00 00 08"))
	f.Add(hx(f, "07 81 02 41 42 1F 16 82 00 01 FF 5F 8F 8F 01 00"))
	f.Add(hx(f, "25 82 00 03 09 01 80"))
	f.Fuzz(func(t *testing.T, b []byte) {
		objs, err := DecodeTLV(b)
		if err != nil {
			return
		}
		enc, err := EncodeTLV(objs)
		if err != nil {
			t.Fatalf("decoded objects do not encode: %v", err)
		}
		again, err := DecodeTLV(enc)
		if err != nil || !reflect.DeepEqual(again, objs) {
			t.Fatalf("decode(encode(x)) = %+v, %v; want %+v", again, err, objs)
		}
		if len(enc) > len(b) {
			t.Fatalf("minimal encoding is longer (%d) than the input (%d)", len(enc), len(b))
		}
		for _, o := range objs {
			if o.Constructed() {
				if kids, err := o.Children(); err == nil {
					if v, err := EncodeTLV(kids); err != nil || len(v) > len(o.Value) {
						t.Fatalf("children of %X do not re-encode: %v", o.Tag, err)
					}
				}
			}
		}
	})
}

// FuzzPrintTexts reads arbitrary TLV containers as a Print Text-Block and as
// a Registration's options: never a panic; what TextBlocks writes reads
// back line for line, ending the receipt once.
func FuzzPrintTexts(f *testing.F) {
	f.Add(hx(f, "25 0A 09 01 00 07 02 41 42 09 01 81 1F 07 01 01 1F 37 01 01"), "Summe: 12,34 EUR\nDanke")
	f.Add(hx(f, "26 04 0A 02 06 D3 12 01 40 1A 02 04 00 1F 04 01 A8 1F 73 03 00 00 00"), "")
	f.Add(hx(f, "25 03 09 01 FF 12 01 4A 1A 05 01 02 03 04 05"), "ÄÖÜ äöü ß\n\n€")
	f.Fuzz(func(t *testing.T, b []byte, text string) {
		objs, err := DecodeTLV(b)
		if err == nil {
			_, _, _, _ = PrintTextBlock{TLV: objs}.Lines()
			if o, err := ParseECROptions(objs); err == nil && (o.PrinterWidth < 0 || o.PrinterWidth > 99 || o.MaxAPDU < 0) {
				t.Fatalf("options %+v out of range", o)
			}
		}
		lines := strings.Split(text, "\n")
		blocks, err := TextBlocks(lines, ReceiptCustomer, ReceiptPositive, 200)
		if err != nil {
			return // a line longer than a block
		}
		var got []string
		for i, blk := range blocks {
			a, err := blk.Encode()
			if err != nil || len(a.Data) > 200 {
				t.Fatalf("block %d: %d data bytes, %v", i, len(a.Data), err)
			}
			var back PrintTextBlock
			if err := back.Decode(a); err != nil {
				t.Fatal(err)
			}
			ls, end, rt, err := back.Lines()
			if err != nil || end != (i == len(blocks)-1) || rt != ReceiptCustomer {
				t.Fatalf("block %d: end %v, type %d, %v", i, end, rt, err)
			}
			for _, l := range ls {
				got = append(got, l.Text)
			}
		}
		want := make([]string, len(lines))
		for i, l := range lines {
			want[i] = DecodeText(EncodeText(l))
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("lines %q read back as %q", want, got)
		}
	})
}
