//go:build linux || darwin

package ecr

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/ecr/ecrsim"
	"github.com/posbridge/posbridge/ecr/pt"
	"github.com/posbridge/posbridge/ecr/zvt"
)

// These tests run receipts, status enquiry, refunds and passwords on a real
// pseudo-terminal against a real agent: the receipt text is the agent's.

// hasLine reports whether a receipt has a line that is text once trimmed.
func hasLine(lines []string, text string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.TrimSpace(l) == text })
}

// checkPrinted checks that the print lines come after the status
// information and before the completion, and that none is wider than width.
func checkPrinted(t *testing.T, tr ecrsim.Transcript, width int) {
	t.Helper()
	status := -1
	for i, m := range tr.Messages {
		switch m.Control() {
		case zvt.CtrlStatusInformation:
			status = i
		case zvt.CtrlPrintLine:
			if status < 0 || i == len(tr.Messages)-1 {
				t.Fatalf("print line at %d: %s", i, tr)
			}
		}
	}
	for _, pl := range tr.PrintLines() {
		if n := utf8.RuneCountInString(pl.Text); n > width || (pl.Attribute != zvt.PrintNormal && pl.Attribute != zvt.PrintLastLine) {
			t.Fatalf("print line %q (%d characters, attribute %02X)", pl.Text, n, pl.Attribute)
		}
	}
}

// TestSerialPrintLines: an ECR registered with config byte BA (payment
// receipts as print lines) gets the agent's merchant and customer receipt as
// 06 D1 lines between 04 0F and 06 0F, acknowledges each, and the sale
// stands; Repeat Receipt prints it again marked DUPLICATE.
func TestSerialPrintLines(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.do(ecrsim.Registration(0xBA, 840), ecrsim.Options{})
	tr := r.do(ecrsim.Sale(1234, 840), ecrsim.Options{})
	if code, _ := tr.Result(); code != 0 {
		t.Fatalf("sale: %s", tr)
	}
	checkPrinted(t, tr, pt.DefaultPrintWidth)
	rs := tr.Receipts()
	if len(rs) != 2 || !hasLine(rs[0], "MERCHANT COPY") || !hasLine(rs[1], "CUSTOMER COPY") || !hasLine(rs[0], "Receipt 0001") {
		t.Fatalf("receipts %q, want the merchant then the customer copy of receipt 0001", rs)
	}
	if !slices.ContainsFunc(rs[1], func(l string) bool { return strings.HasPrefix(l, "TOTAL") && strings.HasSuffix(l, "12.34 USD") }) {
		t.Fatalf("customer copy %q lacks the total", rs[1])
	}
	sale := ecrPayments(t, r.env, agenttest.TermA, agent.TypeSale)[0]
	if sale.State != agent.StateApproved || sale.Alert != "" || len(ecrPayments(t, r.env, agenttest.TermA, agent.TypeVoid)) != 0 {
		t.Fatalf("sale %+v: want approved, no alert, no reversal", sale)
	}

	rep := r.do(zvtAPDU(t, zvt.RepeatReceipt{Password: "000000"}), ecrsim.Options{})
	if rs := rep.Receipts(); len(rs) != 2 || !hasLine(rs[1], "DUPLICATE") {
		t.Fatalf("repeat receipt: %s %q", rep, rs)
	}
	if code, _ := rep.Result(); code != 0 {
		t.Fatalf("repeat receipt: %s", rep)
	}
}

// TestSerialNoPrintLinesWithoutRegistration: an ECR that compiles its
// receipts from the status information (config byte 3A) gets none.
func TestSerialNoPrintLinesWithoutRegistration(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.do(ecrsim.Registration(0x3A, 0), ecrsim.Options{})
	tr := r.do(ecrsim.Sale(500, 0), ecrsim.Options{})
	if n := tr.Count(zvt.CtrlPrintLine) + tr.Count(zvt.CtrlPrintTextBlock); n != 0 {
		t.Fatalf("%d print messages: %s", n, tr)
	}
}

// TestSerialPrintTextBlocks: an ECR that lists 06 D3 and a 40-column
// printer gets the receipts as text blocks.
func TestSerialPrintTextBlocks(t *testing.T) {
	r := newRig(t, rigOpts{})
	cmds, _ := zvt.CommandList(zvt.CtrlPrintTextBlock)
	width, _ := zvt.PrinterWidthTLV(40)
	r.do(zvtAPDU(t, zvt.Registration{Password: "000000", ConfigByte: 0x82, Currency: 840, TLV: []zvt.TLV{cmds, width}}), ecrsim.Options{})
	tr := r.do(ecrsim.Sale(2000, 0), ecrsim.Options{})
	var ends []byte
	for _, m := range tr.Messages {
		if m.Control() != zvt.CtrlPrintTextBlock {
			continue
		}
		var b zvt.PrintTextBlock
		if err := b.Decode(m); err != nil {
			t.Fatal(err)
		}
		lines, end, rtype, err := b.Lines()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if utf8.RuneCountInString(l.Text) > 40 {
				t.Fatalf("line %q wider than 40", l.Text)
			}
		}
		if end {
			ends = append(ends, rtype)
		}
	}
	if !slices.Equal(ends, []byte{zvt.ReceiptMerchant, zvt.ReceiptCustomer}) || tr.Count(zvt.CtrlPrintLine) != 0 {
		t.Fatalf("receipts ended %v: %s", ends, tr)
	}
}

// TestSerialRefundWithoutReceiptNumber: a refund without BMP 87 refunds the
// one sale of that amount; a second one finds none and is refused (83).
func TestSerialRefundWithoutReceiptNumber(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.do(ecrsim.Sale(1234, 0), ecrsim.Options{})
	r.do(ecrsim.Sale(500, 0), ecrsim.Options{})
	amt := int64(1234)
	refund := zvtAPDU(t, zvt.Refund{Password: "000000", Amount: &amt})
	tr := r.do(refund, ecrsim.Options{})
	if si := status(t, tr); si.ResultCode != 0 || *si.Amount != 1234 {
		t.Fatalf("refund: %s %+v", tr, si)
	}
	sales := ecrPayments(t, r.env, agenttest.TermA, agent.TypeSale)
	refunds := ecrPayments(t, r.env, agenttest.TermA, agent.TypeRefund)
	if len(refunds) != 1 || refunds[0].State != agent.StateApproved || refunds[0].OrigMerchantOrderNo != sales[0].MerchantOrderNo {
		t.Fatalf("refunds %+v", refunds)
	}
	tr = r.do(refund, ecrsim.Options{})
	if code, _ := tr.Result(); code != zvt.ResultFunctionNotPossible || tr.Count(zvt.CtrlStatusInformation) != 0 {
		t.Fatalf("second refund: %s, want 06 1E 83", tr)
	}
}

// TestSerialStatusEnquiryTLV: service-byte bit 04 brings the TLV container.
func TestSerialStatusEnquiryTLV(t *testing.T) {
	r := newRig(t, rigOpts{})
	tr := r.do(zvtAPDU(t, zvt.StatusEnquiry{Password: "000000", ServiceByte: new(byte(0x04))}), ecrsim.Options{})
	end, _ := tr.End()
	var c zvt.Completion
	if err := c.Decode(end); err != nil || c.TerminalStatus == nil || *c.TerminalStatus != zvt.TerminalReady || c.SWVersion == "" {
		t.Fatalf("completion %+v, %v", c, err)
	}
	tid, ok := zvt.FindTLV(c.TLV, zvt.TagTerminalIdent)
	if _, dev := zvt.FindTLV(c.TLV, zvt.TagDeviceInfo); !ok || !dev || len(tid.Value) != 4 {
		t.Fatalf("TLV %+v, want 1F44 and E4", c.TLV)
	}
}

// TestSerialPassword: with a configured password, a registration with
// another one is refused 84 83 00; the right one registers.
func TestSerialPassword(t *testing.T) {
	r := newRig(t, rigOpts{password: "314159"})
	if tr := r.do(ecrsim.Registration(0xBA, 0), ecrsim.Options{}); tr.Answer.Class != zvt.CCRCNegative || tr.Answer.Instr != zvt.ResultFunctionNotPossible {
		t.Fatalf("registration with password 000000: %s, want 84 83 00", tr)
	}
	tr := r.do(zvtAPDU(t, zvt.Registration{Password: "314159", ConfigByte: 0xBA}), ecrsim.Options{})
	if !tr.Accepted() || tr.Count(zvt.CtrlCompletion) != 1 {
		t.Fatalf("registration with the password: %s", tr)
	}
}
