package pt

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"unicode/utf8"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/receipt"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Config bytes of the print tests (PA00P015 §2.1 Table 1).
const (
	printsPayments byte = 0xBA // 80 print lines, 02 payment receipts, 08 04 FF, 10, 20
	printsAll      byte = 0xBE // … and 04 administration receipts
)

// printedLine is a 06 D1 as the ECR sees it.
type printedLine struct {
	attr byte
	text string
}

// printLines decodes the 06 D1 messages among msgs and checks they all come
// after the 04 0F and before the final 06 0F / 06 1E.
func printLines(t *testing.T, msgs []zvt.APDU) []printedLine {
	t.Helper()
	var out []printedLine
	status, end := -1, len(msgs)-1
	for i, m := range msgs {
		switch m.Control() {
		case zvt.CtrlStatusInformation:
			status = i
		case zvt.CtrlPrintLine:
			if i < status || status < 0 || i > end {
				t.Fatalf("print line at %d of %v: want between the 04 0F and the end", i, controls(msgs))
			}
			var pl zvt.PrintLine
			if err := pl.Decode(m); err != nil {
				t.Fatal(err)
			}
			out = append(out, printedLine{pl.Attribute, pl.Text})
		}
	}
	return out
}

// receiptsOf splits print lines into receipts at the last-line attribute.
func receiptsOf(t *testing.T, lines []printedLine, width int) [][]string {
	t.Helper()
	var out [][]string
	var cur []string
	for _, l := range lines {
		if n := utf8.RuneCountInString(l.text); n > width {
			t.Fatalf("line %q has %d characters, the ECR takes %d", l.text, n, width)
		}
		switch l.attr {
		case zvt.PrintNormal:
			cur = append(cur, l.text)
		case zvt.PrintLastLine:
			if l.text != "" {
				t.Fatalf("last line carries text %q", l.text)
			}
			out = append(out, cur)
			cur = nil
		default:
			t.Fatalf("attribute %02X, want 00 or 81", l.attr)
		}
	}
	if cur != nil {
		t.Fatalf("%d lines after the last receipt's end", len(cur))
	}
	return out
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestPrintLinesBeforeCompletion: an ECR registered for payment receipts as
// print lines (BA) gets the merchant copy, then the customer copy, as 06 D1
// lines after the 04 0F and before 06 0F, each copy ending with an empty
// line of attribute 81, every line acknowledged and at most 24 characters
// (no printer width announced).
func TestPrintLinesBeforeCompletion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		register(t, h.ecr, printsPayments, 978)
		_, msgs := h.ecr.run(sale(t, 1234, 978))
		if c := msgs[len(msgs)-1].Control(); c != zvt.CtrlCompletion {
			t.Fatalf("ends with %04X, want 06 0F", c)
		}
		rs := receiptsOf(t, printLines(t, msgs), DefaultPrintWidth)
		if len(rs) != 2 || !has(rs[0], "MERCHANT COPY") || !has(rs[1], "CUSTOMER COPY") {
			t.Fatalf("receipts %q, want the merchant then the customer copy", rs)
		}
		var b bytes.Buffer
		for _, r := range rs {
			for _, l := range r {
				fmt.Fprintf(&b, "|%s|\n", l)
			}
			b.WriteString("=== 81\n")
		}
		golden(t, "sale-print-lines-24.txt", b.Bytes())
		h.settled()
		notes := strings.Join(h.ag.notesOf(h.paymentsOfType(agent.TypeSale)[0].MerchantOrderNo), "\n")
		if !strings.Contains(notes, "acknowledged the status information (result 00)") {
			t.Fatalf("notes %q", notes)
		}
	})
}

// TestNoPrintLinesWithoutRegistration: an ECR that never registered, that
// compiles its receipts itself (print type 0), that registered for
// administration receipts only, or that logged off gets no print line.
func TestNoPrintLinesWithoutRegistration(t *testing.T) {
	for _, tc := range []struct {
		name string
		cb   byte // 0: never registered
	}{{"never registered", 0}, {"ECR builds receipts", ecrBuildsReceipts}, {"admin receipts only", 0xBC}, {"logged off", printsPayments}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, termEUR, nil)
				if tc.cb != 0 {
					register(t, h.ecr, tc.cb, 0)
				}
				if tc.name == "logged off" {
					h.ecr.send(mustAPDU(t, zvt.LogOff{}))
					h.ecr.expect(0x8000)
				}
				_, msgs := h.ecr.run(sale(t, 500, 0))
				for _, m := range msgs {
					if c := m.Control(); c == zvt.CtrlPrintLine || c == zvt.CtrlPrintTextBlock {
						t.Fatalf("messages %v: a print message to an ECR that did not ask for one", controls(msgs))
					}
				}
				h.settled()
			})
		})
	}
}

// TestPrintTextBlocks: an ECR that lists 06 D3 in tag 26 and sends its
// printer width (tag 12, 40) and largest APDU (tag 1A) gets the echo in the
// registration completion, then each receipt as text blocks of at most that
// size, the last one of each ending with attribute 81.
func TestPrintTextBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		reg := zvt.APDU{Class: 0x06, Instr: 0x00, Data: hexBytes(t, "12 34 56 BA 09 78 06 0D 26 04 0A 02 06 D3 12 01 40 1A 02 01 00")}
		first, msgs := h.ecr.run(reg)
		if first.Control() != 0x8000 || len(msgs) != 1 {
			t.Fatalf("registration: %s %v", first, controls(msgs))
		}
		// 06 0F: status byte, TID, currency, then 26 {0A 06 D3} and 12 40.
		if got, want := fmt.Sprintf("% X", mustEncode(t, msgs[0])), "06 0F 15 19 00 29 00 00 00 01 49 09 78 06 09 26 04 0A 02 06 D3 12 01 40"; got != want {
			t.Fatalf("registration completion\n got %s\nwant %s", got, want)
		}
		_, msgs = h.ecr.run(sale(t, 4200, 978))
		var types []byte
		var lines []string
		for _, m := range msgs {
			if m.Control() == zvt.CtrlPrintLine {
				t.Fatal("print line to an ECR that asked for text blocks")
			}
			if m.Control() != zvt.CtrlPrintTextBlock {
				continue
			}
			if len(m.Data) > 0x100-5 {
				t.Fatalf("text block of %d data bytes, the ECR takes APDUs of 256", len(m.Data))
			}
			var b zvt.PrintTextBlock
			if err := b.Decode(m); err != nil {
				t.Fatal(err)
			}
			ls, end, rtype, err := b.Lines()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ls {
				if utf8.RuneCountInString(l.Text) > 40 || l.Attribute != zvt.PrintNormal {
					t.Fatalf("line %q attribute %02X", l.Text, l.Attribute)
				}
				lines = append(lines, l.Text)
			}
			if end {
				types = append(types, rtype)
			}
		}
		if !slices.Equal(types, []byte{zvt.ReceiptMerchant, zvt.ReceiptCustomer}) {
			t.Fatalf("receipts ended: types %v, want merchant (01) then customer (02)", types)
		}
		if !slices.Contains(lines, "TOTAL"+strings.Repeat(" ", 26)+"42.00 EUR") {
			t.Fatalf("lines %q lack the 40-column total", lines)
		}
		h.settled()
	})
}

// TestReceiptNotTakenReversesSale: PA00P015 §2.2.8 — the answers to the
// print lines are part of the ECR's definitive acknowledgement. An ECR that
// answers a print line 84 CC (printer not ready) has not taken the approved
// sale: the PT reverses it and ends with 06 1E 6C. A declined payment's
// receipt failing changes nothing.
func TestReceiptNotTakenReversesSale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		register(t, h.ecr, ecrOnlyLines, 0)
		h.ecr.send(sale(t, 2500, 0))
		h.ecr.expect(0x8000)
		h.ecr.expect(zvt.CtrlStatusInformation)
		h.ecr.ack()
		h.ecr.expect(zvt.CtrlPrintLine)
		h.ecr.send(zvt.Nack(zvt.ResultPrinterNotReady))
		end := h.ecr.expect(zvt.CtrlAbort)
		h.ecr.ack()
		if end.Data[0] != zvt.ResultAbort {
			t.Fatalf("end %s, want 06 1E 6C", end)
		}
		s := h.paymentsOfType(agent.TypeSale)[0]
		voids := h.paymentsOfType(agent.TypeVoid)
		if len(voids) != 1 || voids[0].OrigMerchantOrderNo != s.MerchantOrderNo || !strings.HasPrefix(s.Alert, "auto-reversed") {
			t.Fatalf("sale alert %q, voids %+v: want the sale reversed", s.Alert, voids)
		}
		notes := strings.Join(h.ag.notesOf(s.MerchantOrderNo), "\n")
		if !strings.Contains(notes, "did not take the receipt") || strings.Contains(notes, "acknowledged the status information (result") {
			t.Fatalf("notes:\n%s", notes)
		}
		h.settled()

		// A declined payment: its receipt is informative only.
		h.ag.Decide = func(agent.CreateRequest) (string, string) { return agent.StateDeclined, "51" }
		h.ecr.send(sale(t, 100, 0))
		h.ecr.expect(0x8000)
		h.ecr.expect(zvt.CtrlStatusInformation)
		h.ecr.ack()
		h.ecr.expect(zvt.CtrlPrintLine)
		h.ecr.send(zvt.Nack(zvt.ResultPrinterNotReady))
		end = h.ecr.expect(zvt.CtrlAbort)
		h.ecr.ack()
		if end.Data[0] != 0x33 || len(h.paymentsOfType(agent.TypeVoid)) != 1 {
			t.Fatalf("declined: end %s, want 06 1E 33 and no second void", end)
		}
		h.settled()
	})
}

// ecrOnlyLines is config byte 82: payment receipts as print lines, nothing else.
const ecrOnlyLines byte = 0x82

// TestDeclinedReceiptAndReceiptParams: a declined payment prints too
// (§2.2.7); tag 1F04 in the request picks the copies (customer copy of a
// failed payment only) and in the registration the order (customer first).
func TestDeclinedReceiptAndReceiptParams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		h.ag.Decide = func(agent.CreateRequest) (string, string) { return agent.StateDeclined, "51" }
		register(t, h.ecr, ecrOnlyLines, 0)
		amt := int64(300)
		_, msgs := h.ecr.run(mustAPDU(t, zvt.Authorization{Amount: &amt,
			TLV: []zvt.TLV{{Tag: zvt.TagReceiptParams, Value: []byte{zvt.ReceiptParamCustomerNegative}}}}))
		rs := receiptsOf(t, printLines(t, msgs), DefaultPrintWidth)
		if len(rs) != 1 || !has(rs[0], "CUSTOMER COPY") || !has(rs[0], "DECLINED - NOT CHARGED") {
			t.Fatalf("receipts %q, want the customer copy of the declined sale only", rs)
		}
		h.settled()
		// Registration asks for both copies, customer first.
		rp := []zvt.TLV{{Tag: zvt.TagReceiptParams, Value: []byte{0xF8}}}
		h.ecr.run(mustAPDU(t, zvt.Registration{Password: "000000", ConfigByte: ecrOnlyLines, Currency: 978, TLV: rp}))
		h.ag.Decide = nil
		_, msgs = h.ecr.run(sale(t, 300, 0))
		rs = receiptsOf(t, printLines(t, msgs), DefaultPrintWidth)
		if len(rs) != 2 || !has(rs[0], "CUSTOMER COPY") || !has(rs[1], "MERCHANT COPY") {
			t.Fatalf("receipts %q, want customer then merchant", rs)
		}
		h.settled()
	})
}

// TestRepeatReceiptPrints: 06 20 re-sends the last payment's receipt as
// print lines, marked DUPLICATE: both copies, after the status information
// with service-byte bit 01, the one copy tag 1F01 names, none with bit 02.
func TestRepeatReceiptPrints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		register(t, h.ecr, printsPayments, 0)
		_, msgs := h.ecr.run(sale(t, 777, 0))
		orig := receiptsOf(t, printLines(t, msgs), DefaultPrintWidth)
		repeat := func(sb *byte, tlv []zvt.TLV) []zvt.APDU {
			t.Helper()
			first, msgs := h.ecr.run(mustAPDU(t, zvt.RepeatReceipt{Password: "000000", ServiceByte: sb, TLV: tlv}))
			if first.Control() != 0x8000 || msgs[len(msgs)-1].Control() != zvt.CtrlCompletion {
				t.Fatalf("repeat receipt: %s %v", first, controls(msgs))
			}
			return msgs
		}
		msgs = repeat(nil, nil)
		if msgs[0].Control() != zvt.CtrlPrintLine {
			t.Fatalf("repeat without service byte: %v, want print lines only", controls(msgs))
		}
		rep := receiptsOf(t, printLinesAnywhere(t, msgs), DefaultPrintWidth)
		if len(rep) != 2 || !has(rep[0], "DUPLICATE") || !slices.Equal(withoutDuplicate(rep[1]), orig[1]) {
			t.Fatalf("repeated receipts %q, want the original's with DUPLICATE", rep)
		}
		msgs = repeat(new(zvt.RepeatSendStatusInfo), nil)
		if msgs[0].Control() != zvt.CtrlStatusInformation || len(receiptsOf(t, printLines(t, msgs), DefaultPrintWidth)) != 2 {
			t.Fatalf("repeat with bit 01: %v, want 04 0F, then the receipts", controls(msgs))
		}
		msgs = repeat(nil, []zvt.TLV{{Tag: zvt.TagReceiptID, Value: []byte{zvt.ReceiptIDCustomer}}})
		if rep := receiptsOf(t, printLinesAnywhere(t, msgs), DefaultPrintWidth); len(rep) != 1 || !has(rep[0], "CUSTOMER COPY") {
			t.Fatalf("repeat of the customer copy: %q", rep)
		}
		msgs = repeat(new(zvt.RepeatNoReceipt), nil)
		if got := controls(msgs); !slices.Equal(got, []string{"06 0F"}) {
			t.Fatalf("repeat with bit 02: %v, want 06 0F only", got)
		}
		h.settled()
	})
}

// has reports whether a line, without its padding, is text.
func has(lines []string, text string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.TrimSpace(l) == text })
}

func withoutDuplicate(lines []string) []string {
	return slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return strings.TrimSpace(l) == "DUPLICATE" })
}

// printLinesAnywhere decodes every 06 D1 (a repeat may carry no 04 0F).
func printLinesAnywhere(t *testing.T, msgs []zvt.APDU) []printedLine {
	t.Helper()
	var out []printedLine
	for _, m := range msgs {
		if m.Control() == zvt.CtrlPrintLine {
			var pl zvt.PrintLine
			if err := pl.Decode(m); err != nil {
				t.Fatal(err)
			}
			out = append(out, printedLine{pl.Attribute, pl.Text})
		}
	}
	return out
}

// TestEndOfDayAdminReceipt: an ECR registered for administration receipts
// as print lines (04 and 80) gets the totals after the 04 0F of End-of-Day;
// Repeat Receipt with 1F01 04 prints them again. Without bit 04: none.
func TestEndOfDayAdminReceipt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		register(t, h.ecr, printsAll, 0)
		h.ecr.run(sale(t, 1000, 0))
		h.ecr.run(sale(t, 250, 0))
		_, msgs := h.ecr.run(mustAPDU(t, zvt.EndOfDay{Password: "000000"}))
		rs := receiptsOf(t, printLines(t, msgs), DefaultPrintWidth)
		if len(rs) != 1 {
			t.Fatalf("end of day printed %d receipts, want 1", len(rs))
		}
		var b bytes.Buffer
		for _, l := range rs[0] {
			fmt.Fprintf(&b, "|%s|\n", l)
		}
		golden(t, "end-of-day-24.txt", b.Bytes())
		_, msgs = h.ecr.run(mustAPDU(t, zvt.RepeatReceipt{Password: "000000", TLV: []zvt.TLV{{Tag: zvt.TagReceiptID, Value: []byte{zvt.ReceiptIDEndOfDay}}}}))
		rep := receiptsOf(t, printLinesAnywhere(t, msgs), DefaultPrintWidth)
		if len(rep) != 1 || !slices.Equal(withoutDuplicate(rep[0])[:len(rs[0])], rs[0]) || !has(rep[0], "DUPLICATE") {
			t.Fatalf("repeated end-of-day receipt %q", rep)
		}
		h.settled()

		register(t, h.ecr, printsPayments, 0)
		_, msgs = h.ecr.run(mustAPDU(t, zvt.EndOfDay{Password: "000000"}))
		if n := len(printLines(t, msgs)); n != 0 {
			t.Fatalf("%d print lines after end of day without bit 04", n)
		}
		h.settled()
	})
}

// TestStatusEnquiryTLV: service-byte bit 04 asks for further status
// information in the completion's TLV container (PA00P015 §2.56.5); bit 02
// leaves out the software version; without bit 04 there is no container.
func TestStatusEnquiryTLV(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		enquiry := func(data string) string {
			t.Helper()
			first, msgs := h.ecr.run(zvt.APDU{Class: 0x05, Instr: 0x01, Data: hexBytes(t, data)})
			if first.Control() != 0x8000 || len(msgs) != 1 {
				t.Fatalf("status enquiry: %s %v", first, controls(msgs))
			}
			return fmt.Sprintf("% X", mustEncode(t, msgs[0]))
		}
		// 2000-01-01 00:00:00 UTC, the bubble's start.
		tlv := "06 39 1F 44 04 00 00 00 01 " +
			"E4 1C 1F 40 09 70 6F 73 62 72 69 64 67 65 1F 41 09 70 6F 73 62 72 69 64 67 65 1F 43 01 00 " +
			"1F 55 02 00 00 34 0D 1F 0E 04 20 00 01 01 1F 0F 03 00 00 00"
		for _, tc := range []struct{ name, req, want string }{
			{"bit 04", "00 00 00 03 04", "06 0F 48 F0 F0 F9 70 6F 73 62 72 69 64 67 65 00 " + tlv},
			{"bits 02 and 04", "00 00 00 03 06", "06 0F 3C 00 " + tlv},
			{"bit 02", "00 00 00 03 02", "06 0F 01 00"},
			{"no service byte", "", "06 0F 0D F0 F0 F9 70 6F 73 62 72 69 64 67 65 00"},
		} {
			if got := enquiry(tc.req); got != tc.want {
				t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
			}
		}
		// Offline terminal: DF, no device state, terminal locks "out of order".
		h.ag.reg.SetOnline(termEUR, false)
		if got, want := enquiry("00 00 00 03 06"), "06 0F 38 DF 06 35 1F 44 04 00 00 00 01 "+
			"E4 18 1F 40 09 70 6F 73 62 72 69 64 67 65 1F 41 09 70 6F 73 62 72 69 64 67 65 "+
			"1F 55 02 08 00 34 0D 1F 0E 04 20 00 01 01 1F 0F 03 00 00 00"; got != want {
			t.Errorf("offline:\n got %s\nwant %s", got, want)
		}
		h.settled()
	})
}

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	for _, f := range strings.Fields(s) {
		var b byte
		if _, err := fmt.Sscanf(f, "%02X", &b); err != nil {
			t.Fatalf("hex %q: %v", f, err)
		}
		out = append(out, b)
	}
	return out
}

func mustEncode(t testing.TB, a zvt.APDU) []byte {
	t.Helper()
	b, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPassword: with a configured ZVT password, a command carrying a wrong
// one is refused with 84 83 00 before anything runs; the right one, an
// authorisation (which carries none) and a status enquiry without password
// pass.
func TestPassword(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, func(c *Config) { c.Password = "123456" })
		amt := int64(500)
		for _, tc := range []struct {
			name string
			cmd  zvt.Message
			want uint16
		}{
			{"registration, wrong", zvt.Registration{Password: "000000", ConfigByte: ecrBuildsReceipts}, 0x8483},
			{"registration, right", zvt.Registration{Password: "123456", ConfigByte: ecrBuildsReceipts}, 0x8000},
			{"status enquiry without password", zvt.StatusEnquiry{}, 0x8000},
			{"status enquiry, wrong", zvt.StatusEnquiry{Password: "654321"}, 0x8483},
			{"authorisation", zvt.Authorization{Amount: &amt}, 0x8000},
			{"refund, wrong", zvt.Refund{Password: "000000", Amount: &amt}, 0x8483},
			{"reversal, wrong", zvt.Reversal{Password: "000000", ReceiptNo: 1}, 0x8483},
			{"reversal, right", zvt.Reversal{Password: "123456", ReceiptNo: 1}, 0x8000},
			{"end of day, wrong", zvt.EndOfDay{Password: "111111"}, 0x8483},
			{"repeat receipt, wrong", zvt.RepeatReceipt{Password: "111111"}, 0x8483},
		} {
			first, msgs := h.ecr.run(mustAPDU(t, tc.cmd))
			if first.Control() != tc.want || (tc.want == 0x8483 && len(msgs) != 0) {
				t.Errorf("%s: answer %s then %v, want %04X", tc.name, first, controls(msgs), tc.want)
			}
			h.settled()
		}
		if sales, voids := h.paymentsOfType(agent.TypeSale), h.paymentsOfType(agent.TypeVoid); len(sales) != 1 || len(voids) != 1 {
			t.Fatalf("%d sales, %d voids: want the authorisation and the reversal with the right password", len(sales), len(voids))
		}
		if _, err := New(Config{Name: "ecr0", TerminalSN: termEUR, Agent: h.ag, Memory: h.ag, Password: "12345"}); err == nil {
			t.Fatal("a 5-digit password was accepted")
		}
	})
}

// TestRegistrationRoundTrip: the saved registration reads back the same,
// and a registration saved before print lines existed ("ba") still loads.
func TestRegistrationRoundTrip(t *testing.T) {
	for _, r := range []registration{
		{configByte: 0xBA},
		{configByte: 0x82, tlv: true, textBlock: true, listsLines: true, width: 40, maxAPDU: 1024, params: []byte{0xA8, 0x01}},
	} {
		got, ok := parseRegistration(r.String())
		if !ok || got.String() != r.String() || !bytes.Equal(got.params, r.params) {
			t.Errorf("%q read back as %q", r.String(), got.String())
		}
	}
	if r, ok := parseRegistration("ba"); !ok || r.configByte != 0xBA || r.tlv {
		t.Fatalf("legacy registration: %+v %v", r, ok)
	}
	for _, bad := range []string{"", "b", "xyz", "1ba"} {
		if _, ok := parseRegistration(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestPrintWidthFromRegistration: tag 12 sets the width (bounded to what
// the receipt layout takes), and the restored registration keeps it.
func TestPrintWidthFromRegistration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		for _, tc := range []struct{ sent, want int }{{32, 32}, {12, receipt.MinWidth}, {99, receipt.MaxWidth}} {
			w, _ := zvt.PrinterWidthTLV(tc.sent)
			h.ecr.run(mustAPDU(t, zvt.Registration{Password: "000000", ConfigByte: printsPayments, Currency: 978, TLV: []zvt.TLV{w}}))
			m, ok := h.pt.printing(false, nil)
			if !ok || m.width != tc.want {
				t.Errorf("tag 12 = %d: width %d, want %d", tc.sent, m.width, tc.want)
			}
		}
		h.settled()
		p2, err := New(Config{Name: "ecr0", TerminalSN: termEUR, Agent: h.ag, Memory: h.ag})
		if err != nil {
			t.Fatal(err)
		}
		if err := p2.Recover(context.Background()); err != nil {
			t.Fatal(err)
		}
		if m, ok := p2.printing(false, nil); !ok || m.width != receipt.MaxWidth {
			t.Fatalf("after a restart: %+v %v", m, ok)
		}
	})
}

// TestReceiptsDocExample: the print-line example in docs/receipts.md is the
// merchant copy of the golden sale.
func TestReceiptsDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "receipts.md"))
	if err != nil {
		t.Skipf("no docs/receipts.md: %v", err)
	}
	gold, err := os.ReadFile(filepath.Join("testdata", "sale-print-lines-24.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, l := range strings.Split(string(gold), "\n") {
		if strings.HasPrefix(l, "===") {
			break
		}
		want.WriteString(strings.TrimSuffix(strings.TrimPrefix(l, "|"), "|") + "\n")
	}
	marker := "<!-- golden: ecr/pt/testdata/sale-print-lines-24.txt (merchant copy, test data) -->\n```text\n"
	i := strings.Index(string(doc), marker)
	if i < 0 {
		t.Fatal("docs/receipts.md lacks the print-line example")
	}
	rest := string(doc)[i+len(marker):]
	if got := rest[:strings.Index(rest, "```")]; got != want.String() {
		t.Fatalf("docs/receipts.md's print-line example differs from the golden:\n%s\nwant:\n%s", got, want.String())
	}
}
