package pt

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/ecr/zvt"
)

// refundByAmount is a 06 31 as PA00P015 §2.15 lists it: no BMP 87.
func refundByAmount(t testing.TB, amount int64) zvt.APDU {
	return mustAPDU(t, zvt.Refund{Password: "000000", Amount: &amount})
}

// refusedWith runs cmd and checks it ends 80 00 00, a refusal receipt (when
// the ECR prints) and 06 1E 83 carrying the extended error ext (1F16) with
// its text (1F17); it returns that text.
func refusedWith(t *testing.T, h *harness, cmd zvt.APDU, ext byte) string {
	t.Helper()
	first, msgs := h.ecr.run(cmd)
	end := msgs[len(msgs)-1]
	if first.Control() != 0x8000 || end.Control() != zvt.CtrlAbort {
		t.Fatalf("answer %s, messages %v: want 80 00 00 … 06 1E", first, controls(msgs))
	}
	var ab zvt.Abort
	if err := ab.Decode(end); err != nil {
		t.Fatal(err)
	}
	code, _ := zvt.FindTLV(ab.TLV, zvt.TagExtendedErrorCode)
	text, _ := zvt.FindTLV(ab.TLV, zvt.TagExtendedErrorText)
	if ab.ResultCode != zvt.ResultFunctionNotPossible || string(code.Value) != string([]byte{ext}) || len(text.Value) == 0 {
		t.Fatalf("06 1E % X: want result 83 with 1F16 %02X and 1F17", end.Data, ext)
	}
	rs := receiptsOf(t, printLinesAnywhere(t, msgs), DefaultPrintWidth)
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if len(rs) != 1 || !has(rs[0], "REFUSED - NOTHING") || !strings.Contains(norm(strings.Join(rs[0], " ")), norm(zvt.DecodeText(text.Value))) {
		t.Fatalf("refusal receipt %q, want it to say %q", rs, zvt.DecodeText(text.Value))
	}
	return zvt.DecodeText(text.Value)
}

// TestRefundWithoutReceiptNumber: a refund without BMP 87 refunds the one
// approved sale of this ECR of exactly that amount in the open batch that
// has no refund or void yet, says so in the journal and on the receipt,
// and is refused (83, with why) when there is none, more than one, or no
// amount; a sale of the closed batch or of another front end never matches.
func TestRefundWithoutReceiptNumber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		// Payment receipts as print lines; TLV allowed (BMP 06 sent).
		h.ecr.run(mustAPDU(t, zvt.Registration{Password: "000000", ConfigByte: ecrOnlyLines, Currency: 978, TLV: []zvt.TLV{}}))
		h.ecr.run(sale(t, 1234, 0)) // receipt 1
		h.ecr.run(sale(t, 500, 0))  // receipt 2
		// Another front end's sale of the same amount on the same terminal.
		if _, err := h.ag.Create(context.Background(), agent.CreateRequest{MerchantOrderNo: "POS-1", Type: agent.TypeSale,
			TerminalSN: termEUR, Amount: "12.34", Currency: "EUR", Source: agent.SourceWS}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		h.settled()

		first, msgs := h.ecr.run(refundByAmount(t, 1234))
		si := statusOf(t, msgs)
		if first.Control() != 0x8000 || si.ResultCode != 0 || deref(si.Amount) != 1234 || deref(si.ReceiptNo) != 3 {
			t.Fatalf("refund: %s %+v", first, si)
		}
		ref := h.paymentsOfType(agent.TypeRefund)
		sales := h.paymentsOfType(agent.TypeSale)
		if len(ref) != 1 || ref[0].OrigMerchantOrderNo != sales[0].MerchantOrderNo || ref[0].Amount != "12.34" {
			t.Fatalf("refunds %+v, want 12.34 of %s", ref, sales[0].MerchantOrderNo)
		}
		notes := strings.Join(h.ag.notesOf(ref[0].MerchantOrderNo), "\n")
		if !strings.Contains(notes, matchNotePrefix+" to "+sales[0].MerchantOrderNo+" (receipt 0001, trace 000001)") {
			t.Fatalf("notes:\n%s", notes)
		}
		rs := receiptsOf(t, printLines(t, msgs), DefaultPrintWidth)
		if len(rs) != 2 || !strings.Contains(strings.Join(rs[0], " "), "(matched by amount)") || !has(rs[0], "Original receipt 0001") {
			t.Fatalf("refund receipt %q, want the original's receipt number and how it was found", rs)
		}
		h.settled()

		// The same amount again: that sale has its refund now.
		text := refusedWith(t, h, refundByAmount(t, 1234), extNoOriginal)
		if !strings.Contains(text, "no sale of 12.34 EUR") {
			t.Fatalf("text %q", text)
		}
		// Two sales of 7.00: which card gets the money is not guessed.
		h.ecr.run(sale(t, 700, 0)) // receipt 4
		h.ecr.run(sale(t, 700, 0)) // receipt 5
		if text := refusedWith(t, h, refundByAmount(t, 700), extAmbiguous); !strings.Contains(text, "2 sales of 7.00 EUR") || !strings.Contains(text, "receipts 0004, 0005") {
			t.Fatalf("text %q", text)
		}
		// No amount: nothing to match.
		refusedWith(t, h, mustAPDU(t, zvt.Refund{Password: "000000"}), extNoAmount)
		// A sale of a closed batch never matches.
		h.ecr.run(mustAPDU(t, zvt.EndOfDay{Password: "000000"}))
		refusedWith(t, h, refundByAmount(t, 500), extNoOriginal)
		if n := len(h.paymentsOfType(agent.TypeRefund)); n != 1 {
			t.Fatalf("%d refunds, want only the matched one", n)
		}
		h.settled()
	})
}

// TestRefundWithoutReceiptNumberNoTLV: an ECR that never sent a TLV
// container gets the bare 06 1E 83 (PA00P015 §9.2.2) and no receipt when it
// does not print.
func TestRefundWithoutReceiptNumberNoTLV(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		register(t, h.ecr, ecrBuildsReceipts, 0)
		first, msgs := h.ecr.run(refundByAmount(t, 999))
		if got := fmt.Sprintf("%s % X", controls(msgs), mustEncode(t, msgs[len(msgs)-1])); first.Control() != 0x8000 || got != "[06 1E] 06 1E 01 83" {
			t.Fatalf("answer %s, then %s; want 06 1E 01 83 only", first, got)
		}
		// Sent with its own TLV container, the refusal carries the extended error.
		amt := int64(999)
		_, msgs = h.ecr.run(mustAPDU(t, zvt.Refund{Password: "000000", Amount: &amt, TLV: []zvt.TLV{}}))
		if got := fmt.Sprintf("% X", mustEncode(t, msgs[len(msgs)-1])); !strings.HasPrefix(got, "06 1E") || !strings.Contains(got, " 83 06 ") || !strings.Contains(got, "1F 16 01 02 1F 17") {
			t.Fatalf("refusal %s, want 06 1E xx 83 06 xx 1F 16 01 02 1F 17 …", got)
		}
		h.settled()
	})
}
