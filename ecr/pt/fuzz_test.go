package pt

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/ecr/zvt"
)

// FuzzSession feeds arbitrary APDUs from the ECR to a PT: it must never
// panic, must answer every command (80 xx or 84 xx) and must end every job it
// starts, giving the master rights back.
func FuzzSession(f *testing.F) {
	seed := func(m zvt.Message, registered bool) {
		a, err := m.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(a.Class, a.Instr, a.Data, registered, uint8(0))
	}
	amt := int64(1234)
	zero := int64(0)
	seed(zvt.Authorization{Amount: &amt}, true)
	seed(zvt.Authorization{Amount: &amt, Currency: 978}, false)
	seed(zvt.Authorization{Amount: &amt, Currency: 840}, true)
	seed(zvt.Authorization{Amount: &zero}, false)
	seed(zvt.Registration{Password: "123456", ConfigByte: 0xBA, Currency: 978}, false)
	seed(zvt.Reversal{Password: "000000", ReceiptNo: 1}, true)
	seed(zvt.Refund{Password: "000000", Amount: &amt}, false)
	seed(zvt.EndOfDay{Password: "000000"}, true)
	seed(zvt.RepeatReceipt{Password: "000000", ServiceByte: new(zvt.RepeatSendStatusInfo)}, false)
	seed(zvt.StatusEnquiry{}, false)
	seed(zvt.AbortRequest{}, false)
	seed(zvt.LogOff{}, true)
	seed(zvt.SendTotals{Password: "000000"}, true)
	seed(zvt.StatusEnquiry{Password: "000000", ServiceByte: new(byte(0x06))}, false)
	seed(zvt.RepeatReceipt{Password: "000000", TLV: []zvt.TLV{{Tag: zvt.TagReceiptID, Value: []byte{zvt.ReceiptIDEndOfDay}}}}, true)
	seed(zvt.Authorization{Amount: &amt, TLV: []zvt.TLV{{Tag: zvt.TagTransactionID, Value: []byte{0x00, 0x01}}, {Tag: zvt.TagReceiptParams, Value: []byte{0x48}}}}, true)
	seed(zvt.Registration{Password: "000000", ConfigByte: 0xBE, Currency: 978, TLV: []zvt.TLV{{Tag: zvt.TagPrinterWidth, Value: []byte{0x40}}}}, false)
	f.Add(byte(0x06), byte(0x01), []byte{}, false, uint8(1))
	f.Add(byte(0x06), byte(0x01), []byte{0x04, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99}, true, uint8(2))
	f.Add(byte(0x06), byte(0x70), []byte{}, false, uint8(0))
	f.Add(byte(0x80), byte(0x00), []byte{}, false, uint8(0))
	f.Add(byte(0x06), byte(0x01), []byte{0x22, 0xF0, 0xF8, 0x47, 0x61, 0x73, 0x00, 0x00, 0x00, 0x01, 0x19}, false, uint8(0))
	f.Add(byte(0x06), byte(0x31), []byte{0x00, 0x00, 0x00, 0x87, 0x00, 0x01}, true, uint8(3))

	f.Fuzz(func(t *testing.T, class, instr byte, data []byte, registered bool, outcome uint8) {
		if len(data) > 0xFFFF {
			return
		}
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, termEUR, nil)
			h.ag.Decide = func(agent.CreateRequest) (string, string) {
				switch outcome % 4 {
				case 1:
					return agent.StateDeclined, "51"
				case 2:
					return agent.StateExpired, ""
				case 3:
					return agent.StateFailed, "codepay_unavailable"
				}
				return agent.StateApproved, ""
			}
			if registered {
				register(t, h.ecr, 0xBA, 0)
			}
			// A previous sale gives reversals, refunds and repeats something to find.
			if outcome%2 == 1 {
				h.ecr.run(sale(t, 1234, 0))
			}
			h.ecr.send(zvt.APDU{Class: class, Instr: instr, Data: data})
			if class == zvt.CCRCPositive || class == zvt.CCRCNegative {
				h.ecr.none(time.Minute) // responses are never answered
				h.settled()
				return
			}
			first := h.ecr.next()
			if first.Class != zvt.CCRCPositive && first.Class != zvt.CCRCNegative {
				t.Fatalf("the PT answered %s first, want 80 xx or 84 xx", first)
			}
			if first.Class == zvt.CCRCPositive {
				ended := class == 0x06 && (instr == 0xB0 || instr == 0x02) // abort, log-off: no completion
				for !ended {
					m := h.ecr.next()
					if m.Class == zvt.CCRCPositive || m.Class == zvt.CCRCNegative {
						continue
					}
					h.ecr.ack()
					ended = m.Control() == zvt.CtrlCompletion || m.Control() == zvt.CtrlAbort
				}
			}
			h.settled()
		})
	})
}
