package zvt

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestPrintLineGolden: 06 D1 <attribute> <text in CP437> (PA00P015 §3.5),
// and the empty last line that ends a receipt.
func TestPrintLineGolden(t *testing.T) {
	for _, tc := range []struct {
		m    PrintLine
		want string
	}{
		{PrintLine{Attribute: PrintNormal, Text: "Summe: 12,34 €"}, "06 D1 0F 00 53 75 6D 6D 65 3A 20 31 32 2C 33 34 20 3F"},
		{PrintLine{Attribute: PrintNormal, Text: "Kartenzahlung ÄÖÜ"}, "06 D1 12 00 4B 61 72 74 65 6E 7A 61 68 6C 75 6E 67 20 8E 99 9A"},
		{PrintLine{Attribute: PrintLastLine}, "06 D1 01 81"},
	} {
		if got := spaced(mustEncode(t, tc.m)); got != tc.want {
			t.Errorf("%+v\n got %s\nwant %s", tc.m, got, tc.want)
		}
	}
}

// TestTextBlocksGolden: one receipt as a Print Text-Block (PA00P015 §3.6):
// tag 25 with attribute 00, the lines, attribute 81 last; 1F07 and 1F37.
func TestTextBlocksGolden(t *testing.T) {
	blocks, err := TextBlocks([]string{"SALE", "", "TOTAL 1,00"}, ReceiptMerchant, ReceiptPositive, 1024)
	if err != nil || len(blocks) != 1 {
		t.Fatalf("%d blocks, %v", len(blocks), err)
	}
	want := "06 D3 26 06 24 25 1A 09 01 00 07 04 53 41 4C 45 07 00 07 0A 54 4F 54 41 4C 20 31 2C 30 30 09 01 81 1F 07 01 01 1F 37 01 01"
	if got := spaced(mustEncode(t, blocks[0])); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	// Split: each block within the limit, only the last ends the receipt.
	lines := make([]string, 30)
	for i := range lines {
		lines[i] = strings.Repeat("x", 40)
	}
	blocks, err = TextBlocks(lines, ReceiptCustomer, ReceiptNegative, 300)
	if err != nil || len(blocks) < 5 {
		t.Fatalf("%d blocks, %v", len(blocks), err)
	}
	n := 0
	for i, b := range blocks {
		a, _ := b.Encode()
		ls, end, rt, err := b.Lines()
		if len(a.Data) > 300 || end != (i == len(blocks)-1) || rt != ReceiptCustomer || err != nil {
			t.Fatalf("block %d: %d bytes, end %v, type %d, %v", i, len(a.Data), end, rt, err)
		}
		n += len(ls)
	}
	if n != 30 {
		t.Fatalf("%d lines read back, want 30", n)
	}
	if _, err := TextBlocks([]string{strings.Repeat("x", 300)}, ReceiptCustomer, ReceiptNegative, 100); !errors.Is(err, ErrTooLong) {
		t.Fatalf("a line longer than a block: %v, want ErrTooLong", err)
	}
}

// TestParseECROptions: the registration trace of PA00P015 §5.1 and the
// printer tags of §2.1.
func TestParseECROptions(t *testing.T) {
	reg := mustAPDU(t, "06 00 14 00 00 00 9E 09 78 06 0C 26 04 0A 02 06 D3 1F 73 03 00 00 00")
	var r Registration
	if err := r.Decode(reg); err != nil {
		t.Fatal(err)
	}
	o, err := ParseECROptions(r.TLV)
	if err != nil || !o.Permits(CtrlPrintTextBlock) || o.Permits(CtrlPrintLine) || !o.MsgSeqID || o.PrinterWidth != 0 {
		t.Fatalf("options %+v, %v", o, err)
	}
	objs, _ := DecodeTLV(hx(t, "12 01 40 1A 02 04 00 1F 04 01 A8 27 03 14 01 FF"))
	o, err = ParseECROptions(objs)
	if want := (ECROptions{PrinterWidth: 40, MaxAPDU: 1024, ReceiptParams: []byte{0xA8}, Charsets: true}); err != nil || !reflect.DeepEqual(o, want) {
		t.Fatalf("options %+v, %v; want %+v", o, err, want)
	}
	for _, bad := range []string{"12 01 4A", "12 02 00 40", "1A 00", "26 03 0A 01 06", "26 02 0A"} {
		objs, err := DecodeTLV(hx(t, bad))
		if err != nil {
			objs = []TLV{{Tag: TagPermittedCommands, Value: hx(t, bad)[2:]}}
		}
		if _, err := ParseECROptions(objs); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
	w, err := PrinterWidthTLV(24)
	if err != nil || spaced(w.Value) != "24" {
		t.Fatalf("width TLV %+v, %v", w, err)
	}
	if _, err := PrinterWidthTLV(100); err == nil {
		t.Fatal("width 100 accepted")
	}
}
