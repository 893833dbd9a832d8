package card

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestParseTLV(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []TLV
	}{
		{"empty", "", nil},
		{"only padding", "00 FF 00", nil},
		{"one primitive", "5A 02 4761", []TLV{{Tag: 0x5A, Value: []byte{0x47, 0x61}}}},
		{"empty value", "9C 00", []TLV{{Tag: 0x9C, Value: []byte{}}}},
		{"two-byte tag", "5F24 03 281231", []TLV{{Tag: 0x5F24, Value: []byte{0x28, 0x12, 0x31}}}},
		{"three-byte tag", "DF8101 01 AA", []TLV{{Tag: 0xDF8101, Value: []byte{0xAA}}}},
		{"four-byte tag", "DF818201 01 AA", []TLV{{Tag: 0xDF818201, Value: []byte{0xAA}}}},
		{"long form 81", "9F10 81 01 07", []TLV{{Tag: 0x9F10, Value: []byte{0x07}}}},
		{"padding between and around", "00 9C 01 00 FF FF 9F27 01 80 00",
			[]TLV{{Tag: 0x9C, Value: []byte{0}}, {Tag: 0x9F27, Value: []byte{0x80}}}},
		{"constructed", "70 07 5F34 01 01 9C 01 00", []TLV{{
			Tag: 0x70, Value: []byte{0x5F, 0x34, 0x01, 0x01, 0x9C, 0x01, 0x00},
			Children: []TLV{{Tag: 0x5F34, Value: []byte{1}}, {Tag: 0x9C, Value: []byte{0}}},
		}}},
		{"nested constructed with padding", "77 08 BF0C 04 00 9C 01 00 00", []TLV{{
			Tag: 0x77, Value: []byte{0xBF, 0x0C, 0x04, 0x00, 0x9C, 0x01, 0x00, 0x00},
			Children: []TLV{{
				Tag: 0xBF0C, Value: []byte{0x00, 0x9C, 0x01, 0x00},
				Children: []TLV{{Tag: 0x9C, Value: []byte{0}}},
			}},
		}}},
		{"empty constructed", "70 00", []TLV{{Tag: 0x70, Value: []byte{}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTLV(h(t, tc.in))
			if err != nil {
				t.Fatalf("ParseTLV(%s) error: %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseTLV(%s) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseTLVLongLengths(t *testing.T) {
	for _, n := range []int{0x7F, 0x80, 0xFF, 0x100, 0x1234} {
		v := bytes.Repeat([]byte{0xA5}, n)
		b := enc(0x9F10, v)
		got, err := ParseTLV(b)
		if err != nil {
			t.Fatalf("ParseTLV(%d-byte value): %v", n, err)
		}
		if len(got) != 1 || !bytes.Equal(got[0].Value, v) {
			t.Fatalf("ParseTLV(%d-byte value) = %d objects, value length %d", n, len(got), len(got[0].Value))
		}
	}
	// Non-minimal long forms are legal BER.
	got, err := ParseTLV(h(t, "9C 82 0001 05"))
	if err != nil || len(got) != 1 || !bytes.Equal(got[0].Value, []byte{5}) {
		t.Fatalf("ParseTLV(82 0001) = %+v, %v", got, err)
	}
}

func TestParseTLVErrors(t *testing.T) {
	deep := []byte{0x9C, 0x01, 0x00}
	for range maxDepth + 1 {
		deep = enc(0x70, deep)
	}
	tests := []struct {
		name   string
		in     []byte
		offset int
		reason string
	}{
		{"tag truncated", h(t, "9F"), 0, "tag truncated"},
		{"tag continuation truncated", h(t, "9C 01 00 DF 81"), 3, "tag truncated"},
		{"tag longer than 4 bytes", h(t, "DF 81 82 83 04 01 00"), 0, "tag longer than 4 bytes"},
		{"length missing", h(t, "5A"), 0, "length missing"},
		{"length missing after 2-byte tag", h(t, "9C 01 00 5F24"), 3, "length missing"},
		{"81 truncated", h(t, "5A 81"), 0, "length truncated"},
		{"82 truncated", h(t, "5A 82 01"), 0, "length truncated"},
		{"indefinite", h(t, "70 80 9C 01 00 00 00"), 0, "indefinite length"},
		{"83 form", h(t, "5A 83 000001 00"), 0, "length form longer than 2 bytes"},
		{"value past end", h(t, "5A 08 4761"), 0, "runs past the end"},
		{"long value past end", h(t, "9F10 81 80 00"), 0, "runs past the end"},
		{"bad child", h(t, "9C 01 00 70 02 5F 24"), 5, "length missing"},
		{"child past end", h(t, "9C 01 00 70 03 5F 24 05"), 5, "runs past the end"},
		{"bad grandchild", h(t, "70 05 77 03 9C 05 00"), 4, "runs past the end"},
		{"too deep", deep, 0, "nested too deep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTLV(tc.in)
			if err == nil {
				t.Fatalf("ParseTLV(%X) = %+v, want error", tc.in, got)
			}
			var te *TLVError
			if !errors.As(err, &te) || !errors.Is(err, ErrMalformedTLV) {
				t.Fatalf("ParseTLV(%X) error %v is not a *TLVError wrapping ErrMalformedTLV", tc.in, err)
			}
			if !bytes.Contains([]byte(te.Reason), []byte(tc.reason)) {
				t.Errorf("reason = %q, want it to contain %q", te.Reason, tc.reason)
			}
			if tc.name != "too deep" && te.Offset != tc.offset {
				t.Errorf("offset = %d, want %d", te.Offset, tc.offset)
			}
		})
	}
}

func TestFind(t *testing.T) {
	// 70 { 9C=01, 77 { 5F34=02, 9C=06 } }, 9C=04, 5F34=05: the first match in
	// depth-first order wins.
	tlvs, err := ParseTLV(h(t, "70 0C 9C 01 01 77 07 5F34 01 02 9C 01 06 9C 01 04 5F34 01 05"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tag  uint32
		want byte
		ok   bool
	}{
		{0x9C, 0x01, true},
		{0x5F34, 0x02, true},
		{0x9F02, 0, false},
	}
	for _, tc := range tests {
		got, ok := Find(tlvs, tc.tag)
		if ok != tc.ok || (ok && (len(got.Value) != 1 || got.Value[0] != tc.want)) {
			t.Errorf("Find(%X) = %+v, %v; want value %02X, %v", tc.tag, got, ok, tc.want, tc.ok)
		}
	}
	if got, ok := Find(tlvs, 0x77); !ok || len(got.Children) != 2 {
		t.Errorf("Find(77) = %+v, %v; want the template with 2 children", got, ok)
	}
	if _, ok := Find(nil, 0x5A); ok {
		t.Error("Find(nil) found something")
	}
}

func TestParseTLVAliasesInput(t *testing.T) {
	b := h(t, "5A 02 4761 9C 01 00")
	tlvs, err := ParseTLV(b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if !bytes.Equal(tlvs[0].Value, []byte{0, 0}) {
		t.Errorf("Value does not alias the input: %X", tlvs[0].Value)
	}
	// Appending to a Value must not overwrite the next object.
	_ = append(tlvs[0].Value, 0xEE)
	if b[4] != 0 {
		t.Errorf("append to Value overwrote the input")
	}
}

func TestRealisticICC(t *testing.T) {
	built := emvICC(t, iccParts{pan: visaPAN, t2eq: "4761739001010119D2812201175892888", yymmdd: "281231", psn: "01"})
	if built != visaICC {
		t.Fatalf("emvICC =\n%s\nwant\n%s", built, visaICC)
	}
	tlvs, err := ParseTLV(h(t, visaICC))
	if err != nil {
		t.Fatal(err)
	}
	if len(tlvs) != 22 {
		t.Errorf("got %d objects, want 22", len(tlvs))
	}
	for tag, want := range map[uint32]string{
		0x5A: "4761739001010119", 0x5F24: "281231", 0x5F34: "01", 0x9F02: "000000001234",
		0x9F26: "1C3E6BA4F0D2E715", 0x82: "3900", 0x95: "0000008000", 0x9A: "261122",
		0x9C: "00", 0x9F37: "9BADBCAB", 0x57: "4761739001010119D2812201175892888F",
	} {
		got, ok := Find(tlvs, tag)
		if !ok || !bytes.Equal(got.Value, h(t, want)) {
			t.Errorf("Find(%X) = %X, %v; want %s", tag, got.Value, ok, want)
		}
	}
	if !bytes.Equal(encAll(tlvs), h(t, visaICC)) {
		t.Error("re-encoding the parsed blob does not give the blob back")
	}
}
