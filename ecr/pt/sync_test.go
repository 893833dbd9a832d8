package pt

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/ecr/zvt"
)

// syncSale is a 06 01 mirroring receipt number mirrored in 1F1F (nil: empty 1F1F).
func syncSale(t testing.TB, amount int64, mirrored []byte) zvt.APDU {
	return mustAPDU(t, zvt.Authorization{Amount: &amount, TLV: []zvt.TLV{{Tag: zvt.TagTransactionID, Value: mirrored}}})
}

// unacknowledged sends cmd and never acknowledges its status information;
// it returns the 04 0F's 1F1F and the final message.
func unacknowledged(t *testing.T, h *harness, cmd zvt.APDU) ([]byte, zvt.APDU) {
	t.Helper()
	h.ecr.send(cmd)
	h.ecr.expect(0x8000)
	var si zvt.StatusInformation
	for range 1 + DefaultStatusRepeats {
		if err := si.Decode(h.ecr.expect(zvt.CtrlStatusInformation)); err != nil {
			t.Fatal(err)
		}
	}
	end := h.ecr.next()
	h.ecr.ack()
	id, _ := zvt.FindTLV(si.TLV, zvt.TagTransactionID)
	return id.Value, end
}

// TestReceiptNumberSync: an ECR that sends 1F1F gets the receipt number in
// the status information's 1F1F, and an approval it does not acknowledge is
// not reversed at once (PA00P015 §4.2): its next transaction mirroring that
// receipt number confirms it, mirroring the one before reverses it, and a
// restart leaves it to the ECR too.
func TestReceiptNumberSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		id, end := unacknowledged(t, h, syncSale(t, 1000, nil))
		if fmt.Sprintf("% X", id) != "00 01" || end.Control() != zvt.CtrlCompletion {
			t.Fatalf("1F1F % X, end %s: want 00 01 and 06 0F (the approval stands for now)", id, end)
		}
		h.settled()
		s1 := h.paymentsOfType(agent.TypeSale)[0]
		if s1.Alert != alertSync || len(h.paymentsOfType(agent.TypeVoid)) != 0 {
			t.Fatalf("alert %q, %d voids: want the sync alert and no reversal", s1.Alert, len(h.paymentsOfType(agent.TypeVoid)))
		}
		// A restart does not reverse it either: the ECR decides.
		p2, _ := New(Config{Name: "ecr0", TerminalSN: termEUR, Agent: h.ag, Memory: h.ag})
		if h.pt.resultUndelivered(context.Background(), s1) || p2.resultUndelivered(context.Background(), s1) {
			t.Fatal("a synchronised sale counts as undelivered at restart")
		}

		// Next transaction mirrors 0001: in sync, the sale stands.
		_, msgs := h.ecr.run(syncSale(t, 2000, []byte{0x00, 0x01}))
		si := statusOf(t, msgs)
		if id, _ := zvt.FindTLV(si.TLV, zvt.TagTransactionID); fmt.Sprintf("% X", id.Value) != "00 02" {
			t.Fatalf("second sale 1F1F % X, want 00 02", id.Value)
		}
		h.settled()
		if s1, _ = h.ag.Get(context.Background(), s1.MerchantOrderNo); !strings.Contains(s1.Alert, "confirmed") || len(h.paymentsOfType(agent.TypeVoid)) != 0 {
			t.Fatalf("after the ECR mirrored 0001: alert %q, voids %d", s1.Alert, len(h.paymentsOfType(agent.TypeVoid)))
		}

		// Receipt 3 not acknowledged; the ECR then mirrors 0002: it never
		// got receipt 3, which is reversed.
		unacknowledged(t, h, syncSale(t, 3000, []byte{0x00, 0x02}))
		h.settled()
		_, msgs = h.ecr.run(syncSale(t, 4000, []byte{0x00, 0x02}))
		if si := statusOf(t, msgs); si.ResultCode != 0 || deref(si.ReceiptNo) != 4 {
			t.Fatalf("fourth sale %+v", si)
		}
		h.settled()
		sales, voids := h.paymentsOfType(agent.TypeSale), h.paymentsOfType(agent.TypeVoid)
		if len(voids) != 1 || voids[0].OrigMerchantOrderNo != sales[2].MerchantOrderNo || voids[0].State != agent.StateApproved {
			t.Fatalf("voids %+v, want receipt 3 reversed", voids)
		}
		// An unknown mirrored number changes nothing; an ECR without 1F1F
		// gets none and the usual auto-reversal.
		h.ecr.run(syncSale(t, 5000, []byte{0x00, 0x09}))
		_, msgs = h.ecr.run(sale(t, 6000, 0))
		if si := statusOf(t, msgs); si.TLV != nil {
			t.Fatalf("1F1F to an ECR that did not send it: %+v", si.TLV)
		}
		h.settled()
		if n := len(h.paymentsOfType(agent.TypeVoid)); n != 1 {
			t.Fatalf("%d voids, want 1", n)
		}
	})
}
