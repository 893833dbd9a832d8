package zvt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func TestAmountBCD(t *testing.T) {
	tests := []struct {
		minor int64
		bcd   string
	}{
		{0, "00 00 00 00 00 00"},
		{1, "00 00 00 00 00 01"},
		{1000, "00 00 00 00 10 00"}, // 10.00 EUR, as in zvt.md §3.3
		{1234, "00 00 00 00 12 34"},
		{MaxAmount, "99 99 99 99 99 99"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.minor), func(t *testing.T) {
			b, err := EncodeAmount(tc.minor)
			if err != nil || !bytes.Equal(b, hx(t, tc.bcd)) {
				t.Fatalf("EncodeAmount(%d) = %s, %v; want %s", tc.minor, spaced(b), err, tc.bcd)
			}
			back, err := DecodeAmount(b)
			if err != nil || back != tc.minor {
				t.Errorf("DecodeAmount(%s) = %d, %v", tc.bcd, back, err)
			}
		})
	}
	for _, bad := range []int64{-1, MaxAmount + 1} {
		if _, err := EncodeAmount(bad); !errors.Is(err, ErrInvalidField) {
			t.Errorf("EncodeAmount(%d) error = %v, want ErrInvalidField", bad, err)
		}
	}
	if _, err := DecodeAmount(hx(t, "00 00 00 00 1A 00")); !errors.Is(err, ErrBadBCD) {
		t.Errorf("DecodeAmount with nibble A: %v, want ErrBadBCD", err)
	}
	if _, err := DecodeAmount(hx(t, "00 00 00 10 00")); !errors.Is(err, ErrTruncated) {
		t.Errorf("DecodeAmount of 5 bytes: %v, want ErrTruncated", err)
	}
	if _, err := EncodeBCD(100, 1); !errors.Is(err, ErrInvalidField) {
		t.Errorf("EncodeBCD(100, 1) error = %v, want ErrInvalidField", err)
	}
	if _, err := DecodeBCD(make([]byte, 10)); !errors.Is(err, ErrTooLong) {
		t.Errorf("DecodeBCD of 10 bytes: %v, want ErrTooLong", err)
	}
}

func TestPANCoding(t *testing.T) {
	tests := []struct {
		text, bcd string
	}{
		{"4761739001010010", "47 61 73 90 01 01 00 10"},
		{"476173******0010", "47 61 73 EE EE EE 00 10"},
		{"6799998900000000019", "67 99 99 89 00 00 00 00 01 9F"}, // odd length: F padding
		{"679999*********0019", "67 99 99 EE EE EE EE E0 01 9F"},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			b, err := packPAN(tc.text)
			if err != nil || !bytes.Equal(b, hx(t, tc.bcd)) {
				t.Fatalf("packPAN(%s) = %s, %v; want %s", tc.text, spaced(b), err, tc.bcd)
			}
			s, err := unpackPAN(b)
			if err != nil || s != tc.text {
				t.Errorf("unpackPAN(%s) = %q, %v", tc.bcd, s, err)
			}
		})
	}
	for _, bad := range []string{"47 F1", "4D", "AB"} {
		if _, err := unpackPAN(hx(t, bad)); !errors.Is(err, ErrBadBCD) {
			t.Errorf("unpackPAN(%s) = %v, want ErrBadBCD", bad, err)
		}
	}
	if _, err := packPAN("4761-7390"); !errors.Is(err, ErrInvalidField) {
		t.Errorf("packPAN with '-': %v", err)
	}
}

func TestMaskPAN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"4761739001010010", "476173******0010"},
		{"6799998900000000019", "679999*********0019"},
		{"476173******0010", "476173******0010"},
		{"1234567890", "******7890"},
		{"1234", "1234"},
		{"", ""},
		{"47617390010100x0", "476173******00*0"},
	}
	for _, tc := range tests {
		if got := MaskPAN(tc.in); got != tc.want {
			t.Errorf("MaskPAN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCP437(t *testing.T) {
	// Spot checks against PA00P015 §15.2.
	tests := []struct {
		b byte
		r string
	}{
		{0x41, "A"}, {0x81, "ü"}, {0x84, "ä"}, {0x8E, "Ä"}, {0x94, "ö"}, {0x99, "Ö"},
		{0x9A, "Ü"}, {0xE1, "ß"}, {0x9E, "₧"}, {0x9F, "ƒ"}, {0xB0, "░"}, {0xFF, "\u00a0"},
	}
	for _, tc := range tests {
		if got := DecodeText([]byte{tc.b}); got != tc.r {
			t.Errorf("DecodeText(%02X) = %q, want %q", tc.b, got, tc.r)
		}
		if got := EncodeText(tc.r); !bytes.Equal(got, []byte{tc.b}) {
			t.Errorf("EncodeText(%q) = % X, want %02X", tc.r, got, tc.b)
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if back := EncodeText(DecodeText(all)); !bytes.Equal(back, all) {
		t.Error("CP437 is not a bijection on all 256 bytes")
	}
	if got := EncodeText("€5 日"); !bytes.Equal(got, []byte("?5 ?")) {
		t.Errorf("unmappable runes: % X", got)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	track := Secret("4761739001010010=2512201")
	holder := struct {
		Card CardInput
	}{CardInput{Track2: track, CVV: Secret("123")}}
	var logBuf bytes.Buffer
	// Without the time: its digits could contain "123" by chance.
	noTime := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	slog.New(slog.NewJSONHandler(&logBuf, noTime)).Info("card", "track2", track, "holder", holder)
	js, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", track), "%s": fmt.Sprintf("%s", track), "%x": fmt.Sprintf("%x", track),
		"%q": fmt.Sprintf("%q", track), "%#v": fmt.Sprintf("%#v", track), "struct %+v": fmt.Sprintf("%+v", holder),
		"struct %#v": fmt.Sprintf("%#v", holder), "slog": logBuf.String(), "json": string(js),
		"error": fmt.Errorf("bad %v", track).Error(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "4761") || strings.Contains(out, "3437") || strings.Contains(out, "123") {
			t.Errorf("%s leaks card data: %s", name, out)
		}
		if !strings.Contains(out, "redacted") {
			t.Errorf("%s has no redaction marker: %s", name, out)
		}
	}
	if Secret(nil).String() != "" {
		t.Error("nil Secret should print empty")
	}
}

func TestVarLengthBMPs(t *testing.T) {
	// PA00P016 §5.2.8 examples, carried in BMP 22 (LLVAR) and 3C (LLLVAR).
	tests := []struct {
		name, wire string
		bmp        byte
		value      string
	}{
		{"LLVAR F1 F2 (12 bytes)", "22 F1 F2 01 23 45 67 89 01 23 45 67 89 01 23", 0x22, "01 23 45 67 89 01 23 45 67 89 01 23"},
		{"LLVAR F0 F3 (3 bytes)", "22 F0 F3 01 23 45", 0x22, "01 23 45"},
		{"LLLVAR F0 F1 F2 (12 bytes)", "3C F0 F1 F2 01 23 45 67 89 01 23 45 67 89 01 23", 0x3C, "01 23 45 67 89 01 23 45 67 89 01 23"},
		{"LLLVAR F0 F0 F3 (3 bytes)", "3C F0 F0 F3 01 23 45", 0x3C, "01 23 45"},
		{"LLVAR empty", "8B F0 F0", 0x8B, ""},
		{"TLV with 81 length", "06 81 80 " + repeatHex("00", 128), 0x06, repeatHex("00", 128)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields, err := DecodeFields(hx(t, tc.wire))
			if err != nil {
				t.Fatal(err)
			}
			want := []Field{{BMP: tc.bmp, Value: hx(t, tc.value)}}
			if !reflect.DeepEqual(fields, want) {
				t.Fatalf("DecodeFields = %+v, want %+v", fields, want)
			}
			back, err := EncodeFields(fields)
			if err != nil || !bytes.Equal(back, hx(t, tc.wire)) {
				t.Errorf("EncodeFields = %s, %v; want %s", spaced(back), err, tc.wire)
			}
		})
	}
}

func TestDecodeFieldsErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
		field    string
	}{
		{"unknown BMP stops decoding", "04 00 00 00 00 10 00 99 01 02", ErrUnknownBMP, "BMP 99"},
		{"fixed value cut short", "04 00 00 00", ErrTruncated, "BMP 04"},
		{"LLVAR prefix not Fx", "22 F1 32 00", ErrBadVarLength, "BMP 22"},
		{"LLVAR prefix cut", "22 F1", ErrTruncated, "BMP 22"},
		{"LLVAR value cut", "22 F0 F5 01 02", ErrTruncated, "BMP 22"},
		{"LLLVAR digit above 9", "3C F0 FA F0", ErrBadVarLength, "BMP 3C"},
		{"TLV length 80 invalid", "06 80", ErrBadTLV, "BMP 06"},
		{"TLV value cut", "06 05 01 02", ErrTruncated, "BMP 06"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeFields(hx(t, tc.in))
			var fe *FieldError
			if !errors.Is(err, tc.want) || !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("DecodeFields(%s) error = %v, want %v on %s", tc.in, err, tc.want, tc.field)
			}
		})
	}
	// Known BMPs that no message uses are skipped by length.
	fields, err := DecodeFields(hx(t, "F1 F0 F3 41 42 43 D0 07 27 00"))
	if err != nil || len(fields) != 3 || fields[2].BMP != 0x27 {
		t.Errorf("skipping known BMPs: %+v, %v", fields, err)
	}
	if _, err := indexFields([]Field{{BMP: 0x04, Value: make([]byte, 6)}, {BMP: 0x04, Value: make([]byte, 6)}}); !errors.Is(err, ErrDuplicateBMP) {
		t.Errorf("duplicate amount: %v, want ErrDuplicateBMP", err)
	}
	if _, err := EncodeFields([]Field{{BMP: 0x04, Value: []byte{1}}}); !errors.Is(err, ErrInvalidField) {
		t.Errorf("short fixed value: %v, want ErrInvalidField", err)
	}
	if _, err := EncodeFields([]Field{{BMP: 0x22, Value: make([]byte, 100)}}); !errors.Is(err, ErrTooLong) {
		t.Errorf("LLVAR of 100 bytes: %v, want ErrTooLong", err)
	}
	if _, err := EncodeFields([]Field{{BMP: 0x99, Value: nil}}); !errors.Is(err, ErrUnknownBMP) {
		t.Errorf("unknown BMP: %v, want ErrUnknownBMP", err)
	}
}

func TestTLV(t *testing.T) {
	// The TLV container of the PA00P015 §5.1 registration: permitted commands
	// (26, constructed, holding 0A 06 D3) and the message sequence id 1F73.
	objs, err := DecodeTLV(hx(t, "26 04 0A 02 06 D3 1F 73 03 00 00 00"))
	if err != nil {
		t.Fatal(err)
	}
	want := []TLV{{Tag: 0x26, Value: hx(t, "0A 02 06 D3")}, {Tag: TagMsgSeqID, Value: hx(t, "00 00 00")}}
	if !reflect.DeepEqual(objs, want) {
		t.Fatalf("DecodeTLV = %+v, want %+v", objs, want)
	}
	if !objs[0].Constructed() || objs[1].Constructed() {
		t.Error("26 is constructed, 1F73 is primitive")
	}
	kids, err := objs[0].Children()
	if err != nil || !reflect.DeepEqual(kids, []TLV{{Tag: TagZVTCommand, Value: []byte{0x06, 0xD3}}}) {
		t.Errorf("Children(26) = %+v, %v", kids, err)
	}
	if _, err := objs[1].Children(); !errors.Is(err, ErrBadTLV) {
		t.Errorf("Children of a primitive: %v", err)
	}
	if o, ok := FindTLV(objs, TagMsgSeqID); !ok || !bytes.Equal(o.Value, []byte{0, 0, 0}) {
		t.Error("FindTLV(1F73) failed")
	}
	if _, ok := FindTLV(objs, 0x1F1F); ok {
		t.Error("FindTLV found an absent tag")
	}
	built, err := NewConstructed(TagPermittedCommands, TLV{Tag: TagZVTCommand, Value: []byte{0x06, 0xD3}})
	if err != nil || !reflect.DeepEqual(built, objs[0]) {
		t.Errorf("NewConstructed = %+v, %v", built, err)
	}
	if _, err := NewConstructed(TagMsgSeqID); !errors.Is(err, ErrBadTLV) {
		t.Errorf("NewConstructed on a primitive tag: %v", err)
	}
}

// TestTLVLengths: BER lengths in their short and long forms.
func TestTLVLengths(t *testing.T) {
	lengths := []struct {
		n    int
		want string
	}{{0, "00"}, {127, "7F"}, {128, "81 80"}, {255, "81 FF"}, {256, "82 01 00"}, {857, "82 03 59"}, {65535, "82 FF FF"}}
	for _, l := range lengths {
		b, err := EncodeTLV([]TLV{{Tag: 0x07, Value: make([]byte, l.n)}})
		if err != nil || !bytes.Equal(b[1:1+len(hx(t, l.want))], hx(t, l.want)) {
			t.Errorf("length %d encodes as %s, want %s (%v)", l.n, spaced(b[1:4]), l.want, err)
		}
	}
	if _, err := EncodeTLV([]TLV{{Tag: 0x07, Value: make([]byte, 65536)}}); !errors.Is(err, ErrTooLong) {
		t.Errorf("65536-byte value: %v", err)
	}
	// Non-minimal lengths decode too.
	if objs, err := DecodeTLV(hx(t, "07 81 02 41 42 1F 16 82 00 01 FF")); err != nil || len(objs) != 2 || string(objs[0].Value) != "AB" {
		t.Errorf("non-minimal lengths: %+v, %v", objs, err)
	}
}

func TestTLVErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"length 80", "07 80", ErrBadTLV},
		{"length 83", "07 83 00 00 01 00", ErrBadTLV},
		{"missing length", "07", ErrTruncated},
		{"value cut", "07 03 41", ErrTruncated},
		{"multi-byte tag cut", "1F", ErrTruncated},
		{"multi-byte tag cut after continuation", "1F 81", ErrTruncated},
		{"tag longer than 4 bytes", "1F 81 82 83 04 00", ErrBadTLV},
		{"81 length cut", "07 81", ErrTruncated},
		{"82 length cut", "07 82 01", ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeTLV(hx(t, tc.in)); !errors.Is(err, tc.want) {
				t.Errorf("DecodeTLV(%s) error = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
	for _, tag := range []uint32{0x1F, 0x0101, 0x1F80, 0x1F8181, 0x9F1F01} {
		if _, err := EncodeTLV([]TLV{{Tag: tag}}); !errors.Is(err, ErrBadTLV) {
			t.Errorf("EncodeTLV with tag %X: %v, want ErrBadTLV", tag, err)
		}
	}
	for _, tag := range []uint32{0x00, 0x07, 0x1F00, 0x1F73, 0xFF01, 0x1F8101, 0x5F8F8F01} {
		b, err := EncodeTLV([]TLV{{Tag: tag, Value: []byte{1}}})
		if err != nil {
			t.Errorf("EncodeTLV with valid tag %X: %v", tag, err)
			continue
		}
		if back, err := DecodeTLV(b); err != nil || back[0].Tag != tag {
			t.Errorf("tag %X round trip = %+v, %v", tag, back, err)
		}
	}
}
