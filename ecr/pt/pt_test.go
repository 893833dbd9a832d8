package pt

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/ecr/zvt"
)

const (
	termEUR = "TERMEUR00001"
	termJPY = "TERMJPY00002"
	// ecrBuildsReceipts is config byte BA without print type 80: the ECR
	// prints payment receipts it compiles from the status information, so
	// the PT sends no print lines (PA00P015 §2.1 Table 1).
	ecrBuildsReceipts byte = 0x3A
)

func mustAPDU(t testing.TB, m zvt.Message) zvt.APDU {
	t.Helper()
	a, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func sale(t testing.TB, amount int64, cc int) zvt.APDU {
	return mustAPDU(t, zvt.Authorization{Amount: &amount, Currency: cc})
}

// register logs the ECR on with config byte cb and checks the completion.
func register(t *testing.T, e ecr, cb byte, cc int) zvt.Completion {
	t.Helper()
	first, msgs := e.run(mustAPDU(t, zvt.Registration{Password: "123456", ConfigByte: cb, Currency: cc}))
	if first.Control() != 0x8000 || len(msgs) != 1 {
		t.Fatalf("registration: answer %s, messages %v", first, controls(msgs))
	}
	var c zvt.Completion
	if err := c.Decode(msgs[0]); err != nil {
		t.Fatalf("registration completion: %v", err)
	}
	return c
}

func TestNewValidates(t *testing.T) {
	ag := newFakeAgent(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"bad name", Config{Name: "ecr-0", TerminalSN: termEUR, Agent: ag, Memory: ag}},
		{"long name", Config{Name: "ecr012345", TerminalSN: termEUR, Agent: ag, Memory: ag}},
		{"no agent", Config{Name: "ecr0", TerminalSN: termEUR, Memory: ag}},
		{"no memory", Config{Name: "ecr0", TerminalSN: termEUR, Agent: ag}},
		{"unknown terminal", Config{Name: "ecr0", TerminalSN: "NOPE", Agent: ag, Memory: ag}},
		{"bad max amount", Config{Name: "ecr0", TerminalSN: termEUR, Agent: ag, Memory: ag, MaxAmount: "1.234"}},
		{"huge max amount", Config{Name: "ecr0", TerminalSN: termEUR, Agent: ag, Memory: ag, MaxAmount: "99999999999"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatalf("New(%+v) succeeded, want an error", tc.cfg)
			}
		})
	}
}

func TestRegistrationCompletion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		c := register(t, h.ecr, 0xBA, 978)
		if c.TID != "00000001" || c.Currency != 978 || c.StatusByte == nil || *c.StatusByte != 0 {
			t.Fatalf("completion = %+v, want TID 00000001, currency 978, status byte 00", c)
		}
		if !h.pt.wantStatus() {
			t.Fatal("config byte BA asks for intermediate status, PT does not send it")
		}
		// Without a currency the completion carries none.
		c = register(t, h.ecr, 0x86, 0)
		if c.Currency != 0 || h.pt.wantStatus() {
			t.Fatalf("completion = %+v, wantStatus %v", c, h.pt.wantStatus())
		}
		h.settled()
	})
}

func TestSaleApproved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		register(t, h.ecr, ecrBuildsReceipts, 978)
		start := time.Now()
		first, msgs := h.ecr.run(sale(t, 1234, 978))
		if first.Control() != 0x8000 {
			t.Fatalf("answer %s, want 80 00", first)
		}
		got := controls(msgs)
		if got[0] != "04 FF" || got[len(got)-2] != "04 0F" || got[len(got)-1] != "06 0F" {
			t.Fatalf("messages %v, want 04 FF … 04 0F 06 0F", got)
		}
		si := statusOf(t, msgs)
		got = []string{fmt.Sprintf("%02X", si.ResultCode), fmt.Sprint(deref(si.Amount), deref(si.Trace), deref(si.ReceiptNo)),
			si.TID, fmt.Sprint(si.Currency), si.MaskedPAN, si.CardName, si.AID}
		if want := []string{"00", "1234 1 1", "00000001", "978", "476173******0119", "VISA", "A1B2C3"}; !slices.Equal(got, want) {
			t.Fatalf("status information = %q, want %q (%+v)", got, want, si)
		}
		if want := start.Add(3 * time.Second).UTC().Format("150405"); si.Time != want {
			t.Errorf("BMP 0C = %s, want %s (the payment's final time)", si.Time, want)
		}
		pays := h.paymentsOfType(agent.TypeSale)
		if len(pays) != 1 {
			t.Fatalf("%d sales, want 1", len(pays))
		}
		p := pays[0]
		got = []string{p.State, p.Source, p.Amount, p.Currency, p.MerchantOrderNo[:min(len(p.MerchantOrderNo), len("ZVT-ecr0-1-"))]}
		if want := []string{agent.StateApproved, agent.SourceECR, "12.34", "EUR", "ZVT-ecr0-1-"}; !slices.Equal(got, want) ||
			!strings.Contains(p.Description, "trace 000001, receipt 0001") {
			t.Fatalf("payment = %+v", p)
		}
		h.settled()
		notes := strings.Join(h.ag.notesOf(p.MerchantOrderNo), "\n")
		if !strings.Contains(notes, "acknowledged the status information (result 00)") {
			t.Errorf("journal notes lack the acknowledgement:\n%s", notes)
		}
	})
}

func TestIntermediateStatusKeepsT4Alive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		h.ag.Delay = 95 * time.Second
		register(t, h.ecr, ecrBuildsReceipts, 0)
		h.ecr.send(sale(t, 500, 0))
		h.ecr.expect(0x8000)
		acceptedAt := time.Now()
		var times []time.Duration
		var codes []byte
		for {
			m := h.ecr.next()
			h.ecr.ack()
			if m.Control() != zvt.CtrlIntermediateStatus {
				if m.Control() != zvt.CtrlStatusInformation {
					t.Fatalf("PT sent %s, want 04 FF or 04 0F", m)
				}
				h.ecr.expect(zvt.CtrlCompletion)
				h.ecr.ack()
				break
			}
			times = append(times, time.Since(acceptedAt))
			codes = append(codes, m.Data[0])
		}
		if len(times) == 0 || times[0] != 0 {
			t.Fatalf("first 04 FF at %v, want immediately after 80 00", times)
		}
		for i := 1; i < len(times); i++ {
			if gap := times[i] - times[i-1]; gap > DefaultKeepAlive {
				t.Fatalf("04 FF at %v: gap %v exceeds %v", times, gap, DefaultKeepAlive)
			}
		}
		if tail := 95*time.Second - times[len(times)-1]; tail > DefaultKeepAlive {
			t.Fatalf("last 04 FF %v before the result, want at most %v", tail, DefaultKeepAlive)
		}
		if codes[0] != statusWaiting || !slices.Contains(codes, statusOnTerminal) {
			t.Errorf("intermediate status codes %X, want %02X first and %02X once on the terminal", codes, statusWaiting, statusOnTerminal)
		}
		h.settled()
	})
}

func TestNoIntermediateStatusWithoutConfigBit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		register bool
		cb       byte
	}{{"never registered", false, 0}, {"registered without bit 08", true, 0x36}, {"logged off", true, 0xBA}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, termEUR, nil)
				h.ag.Delay = 60 * time.Second
				if tc.register {
					register(t, h.ecr, tc.cb, 0)
				}
				if tc.name == "logged off" {
					h.ecr.send(mustAPDU(t, zvt.LogOff{}))
					h.ecr.expect(0x8000)
				}
				_, msgs := h.ecr.run(sale(t, 500, 0))
				if got := controls(msgs); !slices.Equal(got, []string{"04 0F", "06 0F"}) {
					t.Fatalf("messages %v, want only 04 0F 06 0F", got)
				}
				h.settled()
			})
		})
	}
}

func TestNoStatusDeadlineCancelsBeforeT4(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cancellable bool
		wantCode    byte
		wantAt      time.Duration
	}{
		{"cancellable", true, zvt.ResultAbort, DefaultNoStatusDeadline},
		{"already on the terminal", false, zvt.ResultOK, 400 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, termEUR, nil)
				h.ag.Delay = 400 * time.Second
				h.ag.Cancellable = func(agent.Payment) bool { return tc.cancellable }
				h.ecr.send(sale(t, 700, 0))
				h.ecr.expect(0x8000)
				start := time.Now()
				si := h.ecr.expect(zvt.CtrlStatusInformation)
				at := time.Since(start)
				h.ecr.ack()
				end := h.ecr.next()
				h.ecr.ack()
				if si.Data[1] != tc.wantCode || at != tc.wantAt {
					t.Fatalf("04 0F result %02X at %v, want %02X at %v", si.Data[1], at, tc.wantCode, tc.wantAt)
				}
				if tc.wantCode == zvt.ResultAbort && (end.Control() != zvt.CtrlAbort || end.Data[0] != zvt.ResultAbort) {
					t.Fatalf("end %s, want 06 1E 6C", end)
				}
				h.settled()
			})
		})
	}
}

func TestAbortDuringPayment(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cancellable bool
		wantState   string
		wantEnd     uint16
	}{
		{"cancelled", true, agent.StateCancelled, zvt.CtrlAbort},
		{"not cancellable", false, agent.StateApproved, zvt.CtrlCompletion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, termEUR, nil)
				h.ag.Delay = 30 * time.Second
				h.ag.Cancellable = func(agent.Payment) bool { return tc.cancellable }
				register(t, h.ecr, ecrBuildsReceipts, 0)
				h.ecr.send(sale(t, 900, 0))
				h.ecr.expect(0x8000)
				h.ecr.expect(zvt.CtrlIntermediateStatus)
				h.ecr.ack()
				h.ecr.send(mustAPDU(t, zvt.AbortRequest{}))
				h.ecr.expect(0x8000) // the PT takes the abort request
				var si zvt.APDU
				for {
					m := h.ecr.next()
					h.ecr.ack()
					if m.Control() == zvt.CtrlStatusInformation {
						si = m
						break
					}
				}
				end := h.ecr.expect(tc.wantEnd)
				h.ecr.ack()
				p := h.paymentsOfType(agent.TypeSale)[0]
				if p.State != tc.wantState {
					t.Fatalf("payment %s, want %s", p.State, tc.wantState)
				}
				if tc.cancellable && (si.Data[1] != zvt.ResultAbort || end.Data[0] != zvt.ResultAbort) {
					t.Fatalf("04 0F result %02X, end %s; want 6C and 06 1E 6C", si.Data[1], end)
				}
				h.settled()
			})
		})
	}
}

func TestDeclinedPassesHostCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		h.ag.Decide = func(agent.CreateRequest) (string, string) { return agent.StateDeclined, "51" }
		_, msgs := h.ecr.run(sale(t, 1051, 0))
		si := statusOf(t, msgs)
		end := msgs[len(msgs)-1]
		if si.ResultCode != 0x33 || end.Control() != zvt.CtrlAbort || end.Data[0] != 0x33 {
			t.Fatalf("result %02X, end %s; want 33 (decimal 51) in 04 0F and 06 1E", si.ResultCode, end)
		}
		h.settled()
	})
}

func TestRefusals(t *testing.T) {
	huge := int64(100_000_001)
	tests := []struct {
		name   string
		sn     string
		cmd    func(t testing.TB) zvt.APDU
		answer uint16 // first answer
		end    []byte // 06 1E data after 80 00 00, nil if none
	}{
		{"wrong currency", termEUR, func(t testing.TB) zvt.APDU { return sale(t, 100, 826) }, 0x8000, []byte{0x6F, 0x09, 0x78}},
		{"unknown currency", termEUR, func(t testing.TB) zvt.APDU { return sale(t, 100, 999) }, 0x8000, []byte{0x6F, 0x09, 0x78}},
		{"JPY terminal takes JPY", termJPY, func(t testing.TB) zvt.APDU { return sale(t, 0, 392) }, 0x8000, []byte{ResultAmountTooSmall}},
		{"zero amount", termEUR, func(t testing.TB) zvt.APDU { return sale(t, 0, 0) }, 0x8000, []byte{ResultAmountTooSmall}},
		{"absurd amount", termEUR, func(t testing.TB) zvt.APDU { return sale(t, huge, 0) }, 0x8000, []byte{zvt.ResultMaxAmountExceeded}},
		{"max BCD amount", termEUR, func(t testing.TB) zvt.APDU { return sale(t, zvt.MaxAmount, 0) }, 0x8000, []byte{zvt.ResultMaxAmountExceeded}},
		{"card data from the ECR", termEUR, func(t testing.TB) zvt.APDU {
			amt := int64(100)
			return mustAPDU(t, zvt.Authorization{Amount: &amt, Card: zvt.CardInput{MaskedPAN: "4761730000000119", Expiry: "2912"}})
		}, 0x8000, []byte{ResultPCIDSS}},
		{"no amount", termEUR, func(t testing.TB) zvt.APDU { return zvt.APDU{Class: 0x06, Instr: 0x01, Data: []byte{}} }, 0x849A, nil},
		{"bad BCD amount", termEUR, func(t testing.TB) zvt.APDU {
			return zvt.APDU{Class: 0x06, Instr: 0x01, Data: []byte{0x04, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x00}}
		}, 0x849A, nil},
		{"unknown command", termEUR, func(t testing.TB) zvt.APDU { return zvt.APDU{Class: 0x06, Instr: 0x70, Data: []byte{}} }, 0x8483, nil},
		{"pre-authorisation", termEUR, func(t testing.TB) zvt.APDU { return zvt.APDU{Class: 0x06, Instr: 0x22, Data: []byte{}} }, 0x8483, nil},
		{"unknown BMP", termEUR, func(t testing.TB) zvt.APDU { return zvt.APDU{Class: 0x06, Instr: 0x01, Data: []byte{0x4B, 0x01}} }, 0x8483, nil},
		{"registration in GBP", termEUR, func(t testing.TB) zvt.APDU {
			return mustAPDU(t, zvt.Registration{Password: "000000", ConfigByte: 0xBA, Currency: 826})
		}, 0x841E, nil},
		{"refund without receipt number, no sale", termEUR, func(t testing.TB) zvt.APDU {
			amt := int64(100)
			return mustAPDU(t, zvt.Refund{Password: "000000", Amount: &amt})
		}, 0x8000, []byte{zvt.ResultFunctionNotPossible}},
		{"reversal of unknown receipt", termEUR, func(t testing.TB) zvt.APDU {
			return mustAPDU(t, zvt.Reversal{Password: "000000", ReceiptNo: 42})
		}, 0x8000, []byte{zvt.ResultReversalNotPossible}},
		{"repeat receipt without payment", termEUR, func(t testing.TB) zvt.APDU {
			return mustAPDU(t, zvt.RepeatReceipt{Password: "000000", ServiceByte: new(zvt.RepeatSendStatusInfo)})
		}, 0x8000, []byte{zvt.ResultFunctionNotPossible}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, tc.sn, nil)
				first, msgs := h.ecr.run(tc.cmd(t))
				if first.Control() != tc.answer {
					t.Fatalf("answer %s, want %04X", first, tc.answer)
				}
				if tc.answer == 0x841E && (len(first.Data) != 3 || first.Data[0] != 0x6F || first.Data[1] != 0x09 || first.Data[2] != 0x78) {
					t.Fatalf("registration refusal data % X, want 6F 09 78", first.Data)
				}
				if tc.end != nil {
					if len(msgs) != 1 || msgs[0].Control() != zvt.CtrlAbort || string(msgs[0].Data) != string(tc.end) {
						t.Fatalf("messages %v (% X), want only 06 1E % X", controls(msgs), msgs, tc.end)
					}
				}
				if n := len(h.ag.payments()); n != 0 {
					t.Fatalf("%d payments created, want none", n)
				}
				h.settled()
				// The line still works afterwards.
				if first, _ := h.ecr.run(mustAPDU(t, zvt.StatusEnquiry{})); first.Control() != 0x8000 {
					t.Fatalf("status enquiry after the refusal answered %s", first)
				}
			})
		})
	}
}

func TestBusyAnswersReceiverNotReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		h.ag.Delay = 30 * time.Second
		h.ecr.send(sale(t, 100, 0))
		h.ecr.expect(0x8000)
		h.ecr.send(sale(t, 200, 0)) // a different request while the first runs
		if a := h.ecr.next(); a.Control() != 0x84A0 {
			t.Fatalf("answer %s, want 84 A0 00", a)
		}
		h.ecr.expect(zvt.CtrlStatusInformation)
		h.ecr.ack()
		h.ecr.expect(zvt.CtrlCompletion)
		h.ecr.ack()
		if n := len(h.ag.payments()); n != 1 {
			t.Fatalf("%d payments, want 1", n)
		}
		h.settled()
	})
}

func TestUnacknowledgedResultIsAutoReversed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		req := sale(t, 2500, 0)
		h.ecr.send(req)
		h.ecr.expect(0x8000)
		var first time.Time
		for i := range 1 + DefaultStatusRepeats {
			h.ecr.expect(zvt.CtrlStatusInformation) // never acknowledged
			if i == 0 {
				first = time.Now()
			}
		}
		if d := time.Since(first); d != time.Duration(DefaultStatusRepeats)*DefaultResponseTimeout {
			t.Errorf("repeats spanned %v, want %d × T3", d, DefaultStatusRepeats)
		}
		// The PT reverses, then hands the master rights back with 06 1E 6C.
		end := h.ecr.expect(zvt.CtrlAbort)
		h.ecr.ack()
		if end.Data[0] != zvt.ResultAbort {
			t.Fatalf("end %s, want 06 1E 6C", end)
		}
		sales, voids := h.paymentsOfType(agent.TypeSale), h.paymentsOfType(agent.TypeVoid)
		if len(sales) != 1 || len(voids) != 1 {
			t.Fatalf("%d sales and %d voids, want 1 and 1", len(sales), len(voids))
		}
		s, v := sales[0], voids[0]
		got := []string{v.MerchantOrderNo, v.OrigMerchantOrderNo, v.State, v.Source, v.Amount}
		if want := []string{reversalOrderNo(s.MerchantOrderNo), s.MerchantOrderNo, agent.StateApproved, agent.SourceECR, "25.00"}; !slices.Equal(got, want) {
			t.Fatalf("void = %q, want %q", got, want)
		}
		if want := "auto-reversed: the ECR never acknowledged the result; reversed by " + v.MerchantOrderNo; s.Alert != want {
			t.Fatalf("alert %q, want %q", s.Alert, want)
		}
		h.settled()

		// The same request again gets that payment's (reversed) result.
		first2, msgs := h.ecr.run(req)
		si := statusOf(t, msgs)
		if first2.Control() != 0x8000 || si.ResultCode != zvt.ResultAbort || *si.ReceiptNo != 1 {
			t.Fatalf("re-sent request: answer %s, 04 0F %+v; want the first payment reported 6C", first2, si)
		}
		if n := h.ag.createCount(s.MerchantOrderNo); n != 1 || len(h.paymentsOfType(agent.TypeSale)) != 1 {
			t.Fatalf("re-sent request created a payment (%d creates)", n)
		}
		h.settled()
		// Acknowledged now: an identical request is a new sale.
		_, msgs = h.ecr.run(req)
		if si := statusOf(t, msgs); si.ResultCode != 0 || *si.ReceiptNo != 2 {
			t.Fatalf("new identical sale: %+v, want approved with receipt 2", si)
		}
		if n := len(h.paymentsOfType(agent.TypeSale)); n != 2 {
			t.Fatalf("%d sales, want 2", n)
		}
		h.settled()
	})
}

func TestAutoReversalFailureRaisesAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		h.ag.Decide = func(r agent.CreateRequest) (string, string) {
			if r.Type == agent.TypeVoid {
				return agent.StateDeclined, "12"
			}
			return agent.StateApproved, ""
		}
		h.ecr.send(sale(t, 4200, 0))
		h.ecr.expect(0x8000)
		for range 1 + DefaultStatusRepeats {
			h.ecr.expect(zvt.CtrlStatusInformation)
		}
		// The void failed, so the approval stands and the PT says so.
		h.ecr.expect(zvt.CtrlCompletion)
		h.ecr.ack()
		s := h.paymentsOfType(agent.TypeSale)[0]
		if s.State != agent.StateApproved || !strings.HasPrefix(s.Alert, "AUTO-REVERSAL FAILED") || !strings.Contains(s.Alert, "manually") {
			t.Fatalf("sale %s with alert %q, want approved with the failure alert", s.State, s.Alert)
		}
		h.settled()
		// Repeat receipt later: the ECR learns the approval, the alert says so.
		_, msgs := h.ecr.run(mustAPDU(t, zvt.RepeatReceipt{Password: "000000", ServiceByte: new(zvt.RepeatSendStatusInfo)}))
		if si := statusOf(t, msgs); si.ResultCode != zvt.ResultOK {
			t.Fatalf("repeat receipt result %02X, want 00 (the money moved)", si.ResultCode)
		}
		h.settled()
		s, _ = h.ag.Get(context.Background(), s.MerchantOrderNo)
		if !strings.Contains(s.Alert, "payment stands") {
			t.Fatalf("alert after the ECR acknowledged the approval: %q", s.Alert)
		}
	})
}

func TestResentRequestOnNewConnectionMapsToSamePayment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		h.ag.Delay = 20 * time.Second
		req := sale(t, 1999, 978)
		h.ecr.send(req)
		h.ecr.expect(0x8000)
		h.line.close() // the ECR's connection drops (T3 on its side)
		synctest.Wait()

		l2 := newMemLine()
		e2 := ecr{t: t, l: l2}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = h.pt.Session(ctx, l2, false) })
		defer func() { cancel(); wg.Wait() }()
		first, msgs := e2.run(req)
		si := statusOf(t, msgs)
		if first.Control() != 0x8000 || si.ResultCode != 0 || *si.Amount != 1999 || si.Currency != 978 {
			t.Fatalf("answer %s, status %+v", first, si)
		}
		sales := h.paymentsOfType(agent.TypeSale)
		if len(sales) != 1 || h.ag.createCount(sales[0].MerchantOrderNo) != 1 {
			t.Fatalf("%d sales, want exactly one created once", len(sales))
		}
		notes := strings.Join(h.ag.notesOf(sales[0].MerchantOrderNo), "\n")
		if !strings.Contains(notes, "same request again") {
			t.Errorf("notes lack the re-attachment:\n%s", notes)
		}
		h.settled()
	})
}

func TestSerialLineComesBackMidPayment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ag := newFakeAgent(t)
		ag.Delay = 20 * time.Second
		p, err := New(Config{Name: "ecr0", TerminalSN: termEUR, Agent: ag, Memory: ag, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		defer func() { cancel(); wg.Wait() }()
		wg.Go(func() { _ = p.Serve(ctx) })
		l1 := newMemLine()
		wg.Go(func() { _ = p.Session(ctx, l1, true) })
		e1 := ecr{t: t, l: l1}
		e1.send(sale(t, 300, 0))
		e1.expect(0x8000)
		l1.close() // USB adapter unplugged
		synctest.Wait()
		l2 := newMemLine() // plugged in again: the same ECR, still waiting
		wg.Go(func() { _ = p.Session(ctx, l2, true) })
		e2 := ecr{t: t, l: l2}
		si := e2.expect(zvt.CtrlStatusInformation)
		e2.ack()
		e2.expect(zvt.CtrlCompletion)
		e2.ack()
		if si.Data[1] != 0 {
			t.Fatalf("result %02X, want 00", si.Data[1])
		}
		synctest.Wait()
		if ps := ag.payments(); len(ps) != 1 || ps[0].Alert != "" {
			t.Fatalf("payments %+v, want one without alert", ps)
		}
	})
}

func TestReversalAndRefundByReceipt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		_, msgs := h.ecr.run(sale(t, 5000, 0))
		if si := statusOf(t, msgs); *si.ReceiptNo != 1 {
			t.Fatalf("sale receipt %d", *si.ReceiptNo)
		}
		h.ecr.run(sale(t, 3000, 0))
		// Refund part of receipt 1.
		first, msgs := h.ecr.run(refundAPDU(t, 1200, 1))
		si := statusOf(t, msgs)
		if first.Control() != 0x8000 || si.ResultCode != 0 || *si.Amount != 1200 || *si.ReceiptNo != 3 {
			t.Fatalf("refund: answer %s, status %+v", first, si)
		}
		refunds := h.paymentsOfType(agent.TypeRefund)
		sales := h.paymentsOfType(agent.TypeSale)
		if len(refunds) != 1 || refunds[0].OrigMerchantOrderNo != sales[0].MerchantOrderNo || refunds[0].Amount != "12.00" {
			t.Fatalf("refunds %+v", refunds)
		}
		// A refund above the original is refused.
		if _, msgs := h.ecr.run(refundAPDU(t, 5001, 1)); msgs[0].Data[0] != zvt.ResultMaxAmountExceeded {
			t.Fatalf("refund above the original: %v", controls(msgs))
		}
		// Reverse receipt 2 (the 30.00 sale).
		first, msgs = h.ecr.run(mustAPDU(t, zvt.Reversal{Password: "000000", ReceiptNo: 2}))
		si = statusOf(t, msgs)
		got := fmt.Sprintf("%04X %02X %d %d %d", first.Control(), si.ResultCode, deref(si.Amount), deref(si.OrigTrace), deref(si.Trace))
		if want := "8000 00 3000 2 4"; got != want {
			t.Fatalf("reversal: answer, result, amount, original trace, trace = %s, want %s", got, want)
		}
		voids := h.paymentsOfType(agent.TypeVoid)
		if len(voids) != 1 || voids[0].OrigMerchantOrderNo != sales[1].MerchantOrderNo || voids[0].State != agent.StateApproved {
			t.Fatalf("voids %+v", voids)
		}
		// Twice: already reversed.
		if _, msgs := h.ecr.run(mustAPDU(t, zvt.Reversal{Password: "000000", ReceiptNo: 2})); msgs[0].Data[0] != zvt.ResultAlreadyReversed {
			t.Fatalf("second reversal: % X, want 06 1E B4", msgs[0].Data)
		}
		// Amount that does not match: not possible.
		amt := int64(1)
		if _, msgs := h.ecr.run(mustAPDU(t, zvt.Reversal{Password: "000000", ReceiptNo: 1, Amount: &amt})); msgs[0].Data[0] != zvt.ResultReversalNotPossible {
			t.Fatalf("reversal with wrong amount: % X, want 06 1E B5", msgs[0].Data)
		}
		h.settled()
	})
}

func refundAPDU(t testing.TB, amount int64, receipt int) zvt.APDU {
	a := mustAPDU(t, zvt.Refund{Password: "000000", Amount: &amount})
	rn, _ := zvt.EncodeBCD(uint64(receipt), 2)
	a.Data = append(append(a.Data, zvt.BMPReceiptNo), rn...)
	return a
}

func TestEndOfDay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		h.ecr.run(sale(t, 1000, 0))
		h.ecr.run(sale(t, 250, 0))
		first, msgs := h.ecr.run(mustAPDU(t, zvt.EndOfDay{Password: "000000"}))
		si := statusOf(t, msgs)
		if first.Control() != 0x8000 || msgs[len(msgs)-1].Control() != zvt.CtrlCompletion {
			t.Fatalf("end of day: %s %v", first, controls(msgs))
		}
		if si.Amount == nil || *si.Amount != 1250 || si.Totals == nil || si.Totals.Visa.Count != 2 || si.Totals.Visa.Amount != 1250 ||
			si.Totals.ReceiptFrom != 1 || si.Totals.ReceiptTo != 2 {
			t.Fatalf("end-of-day status %+v totals %+v", si, si.Totals)
		}
		h.settled()
		h.ag.BatchErr = agent.ErrTerminalBusy
		if _, msgs := h.ecr.run(mustAPDU(t, zvt.EndOfDay{Password: "000000"})); msgs[len(msgs)-1].Control() != zvt.CtrlAbort || msgs[len(msgs)-1].Data[0] != zvt.ResultReceiverNotReady {
			t.Fatalf("busy end of day: %v", controls(msgs))
		}
		h.settled()
	})
}

// TestSendTotals: 06 10 reports the open batch's totals like End-of-Day
// (PA00P015 §2.43, §3.1.3) without closing it or taking a trace number.
func TestSendTotals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		h.ecr.run(sale(t, 1000, 0))
		h.ecr.run(sale(t, 250, 0))
		first, msgs := h.ecr.run(mustAPDU(t, zvt.SendTotals{Password: "000000"}))
		si := statusOf(t, msgs)
		if first.Control() != 0x8000 || msgs[len(msgs)-1].Control() != zvt.CtrlCompletion || deref(si.Amount) != 1250 ||
			si.Totals == nil || si.Totals.Visa.Count != 2 || si.Trace != nil {
			t.Fatalf("totals: %s %v %+v", first, controls(msgs), si)
		}
		if b, _ := h.ag.BatchGet(context.Background(), termEUR); b.BatchNo != 1 {
			t.Fatalf("batch %d: the totals closed it", b.BatchNo)
		}
		// The next sale still gets trace 3.
		if _, msgs := h.ecr.run(sale(t, 100, 0)); deref(statusOf(t, msgs).Trace) != 3 {
			t.Fatal("send turnover totals took a trace number")
		}
		h.settled()
	})
}

func TestRepeatReceipt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		_, msgs := h.ecr.run(sale(t, 777, 978))
		orig := statusOf(t, msgs)
		_, msgs = h.ecr.run(mustAPDU(t, zvt.RepeatReceipt{Password: "000000", ServiceByte: new(zvt.RepeatSendStatusInfo)}))
		rep := statusOf(t, msgs)
		if *rep.Trace != *orig.Trace || *rep.ReceiptNo != *orig.ReceiptNo || *rep.Amount != 777 || rep.ResultCode != 0 || rep.Currency != 978 {
			t.Fatalf("repeat %+v, original %+v", rep, orig)
		}
		if msgs[len(msgs)-1].Control() != zvt.CtrlCompletion {
			t.Fatalf("repeat receipt ends with %v", controls(msgs))
		}
		// Without service byte: no status information, just completion.
		_, msgs = h.ecr.run(mustAPDU(t, zvt.RepeatReceipt{Password: "000000"}))
		if got := controls(msgs); !slices.Equal(got, []string{"06 0F"}) {
			t.Fatalf("messages %v, want 06 0F", got)
		}
		h.settled()
	})
}

func TestStatusEnquiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		_, msgs := h.ecr.run(mustAPDU(t, zvt.StatusEnquiry{}))
		var c zvt.Completion
		if err := c.Decode(msgs[0]); err != nil || c.TerminalStatus == nil || *c.TerminalStatus != zvt.TerminalReady || c.SWVersion != DefaultSWVersion {
			t.Fatalf("completion %+v, %v", c, err)
		}
		h.ag.reg.SetOnline(termEUR, false)
		_, msgs = h.ecr.run(mustAPDU(t, zvt.StatusEnquiry{Password: "000000", ServiceByte: new(byte(0x02))}))
		c = zvt.Completion{}
		if err := c.Decode(msgs[0]); err != nil || *c.TerminalStatus != zvt.TerminalOutOfOrder || c.SWVersion != "" {
			t.Fatalf("offline terminal: completion %+v, %v", c, err)
		}
		h.settled()
	})
}

func TestPanicInSessionIsRecovered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, termEUR, nil)
		var once sync.Once
		h.ag.OnCreate = func(agent.CreateRequest) { once.Do(func() { panic(errBoom) }) }
		first, msgs := h.ecr.run(sale(t, 100, 0))
		if first.Control() != 0x8000 || len(msgs) != 1 || msgs[0].Control() != zvt.CtrlAbort || msgs[0].Data[0] != zvt.ResultSystemError {
			t.Fatalf("after a panic: %s %v, want 80 00 then 06 1E FF", first, controls(msgs))
		}
		h.settled()
		if _, msgs := h.ecr.run(sale(t, 100, 0)); statusOf(t, msgs).ResultCode != 0 {
			t.Fatal("the next sale after a recovered panic did not go through")
		}
		h.settled()
	})
}

func TestRecoverReversesPaymentsLeftRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ag := newFakeAgent(t)
		ctx := context.Background()
		// A payment from before a restart, still running, and another ECR's.
		mine, err := ag.Create(ctx, agent.CreateRequest{MerchantOrderNo: orderNo("ecr0", 7, time.Now()), Type: agent.TypeSale,
			TerminalSN: termEUR, Amount: "5.00", Currency: "EUR", Source: agent.SourceECR})
		if err != nil {
			t.Fatal(err)
		}
		other, _ := ag.Create(ctx, agent.CreateRequest{MerchantOrderNo: orderNo("ecr1", 7, time.Now()), Type: agent.TypeSale,
			TerminalSN: termEUR, Amount: "6.00", Currency: "EUR", Source: agent.SourceECR})
		p, err := New(Config{Name: "ecr0", TerminalSN: termEUR, Agent: ag, Memory: ag, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		reversed := make(chan struct{}, 1)
		unsub := ag.Subscribe(func(e agent.Event) {
			if e.Payment != nil && e.Payment.MerchantOrderNo == mine.MerchantOrderNo && e.Payment.Alert != "" {
				select {
				case reversed <- struct{}{}:
				default:
				}
			}
		})
		defer unsub()
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = p.Serve(sctx); close(done) }()
		select {
		case <-reversed:
		case <-time.After(time.Hour):
			t.Fatal("the recovered payment got no alert")
		}
		synctest.Wait()
		cancel()
		<-done
		got, _ := ag.Get(ctx, mine.MerchantOrderNo)
		if !strings.HasPrefix(got.Alert, "auto-reversed") {
			t.Fatalf("recovered payment alert %q, want auto-reversed", got.Alert)
		}
		if o, _ := ag.Get(ctx, other.MerchantOrderNo); o.Alert != "" {
			t.Fatalf("another ECR's payment was touched: %q", o.Alert)
		}
		if v, err := ag.Get(ctx, reversalOrderNo(mine.MerchantOrderNo)); err != nil || v.State != agent.StateApproved {
			t.Fatalf("reversal %+v, %v", v, err)
		}
	})
}

func TestMappingHelpers(t *testing.T) {
	tids := []struct{ sn, want string }{
		{"WPYB002248000865", "48000865"}, {"DEMO000001", "00000001"}, {"TERMABC", "00000000"}, {"A1B2C3", "00000123"},
	}
	for _, tc := range tids {
		t.Run("tid "+tc.sn, func(t *testing.T) {
			if got := TerminalID(tc.sn); got != tc.want {
				t.Fatalf("TerminalID(%q) = %q, want %q", tc.sn, got, tc.want)
			}
		})
	}
	codes := []struct {
		code string
		want byte
	}{{"51", 0x33}, {"05", 0x05}, {"1", 0x01}, {"00", ResultDeclined}, {"100", ResultDeclined}, {"Z3", ResultDeclined}, {"", ResultDeclined}}
	for _, tc := range codes {
		t.Run("decline "+tc.code, func(t *testing.T) {
			if got := declineCode(tc.code); got != tc.want {
				t.Fatalf("declineCode(%q) = %02X, want %02X", tc.code, got, tc.want)
			}
		})
	}
	states := []struct {
		p    agent.Payment
		want byte
	}{
		{agent.Payment{State: agent.StateApproved}, 0x00},
		{agent.Payment{State: agent.StateDeclined}, ResultDeclined},
		{agent.Payment{State: agent.StateCancelled}, zvt.ResultAbort},
		{agent.Payment{State: agent.StateExpired}, zvt.ResultAbort},
		{agent.Payment{State: agent.StateFailed, Error: &agent.PaymentError{Code: "codepay_unavailable"}}, zvt.ResultNoConnection},
		{agent.Payment{State: agent.StateFailed, Error: &agent.PaymentError{Code: "codepay_refused"}}, zvt.ResultSystemError},
	}
	for _, tc := range states {
		t.Run("state "+tc.p.State, func(t *testing.T) {
			if got := resultCode(tc.p); got != tc.want {
				t.Fatalf("resultCode(%s) = %02X, want %02X", tc.p.State, got, tc.want)
			}
		})
	}
	for _, alpha := range []string{"EUR", "USD", "GBP", "CHF", "JPY", "SEK", "DKK", "NOK", "PLN", "CZK", "HUF"} {
		t.Run("currency "+alpha, func(t *testing.T) {
			n, ok := CurrencyNumeric(alpha)
			back, ok2 := CurrencyAlpha(n)
			if !ok || !ok2 || back != alpha {
				t.Fatalf("%s → %d → %s", alpha, n, back)
			}
		})
	}
}

// TestOrderNumbers: order numbers carry the sequence number that trace and
// receipt numbers derive from, and a receipt number leads back to it.
func TestOrderNumbers(t *testing.T) {
	no := orderNo("ecr3", 123456, time.Unix(1_800_000_000, 0))
	if seq, ok := parseOrderNo("ecr3", no); !ok || seq != 123456 || len(no) > 32 {
		t.Fatalf("order number %q parses to %d, %v", no, seq, ok)
	}
	if _, ok := parseOrderNo("ecr3", reversalOrderNo(no)); ok {
		t.Fatal("a reversal's number parsed as a payment")
	}
	if originalOfReversal(reversalOrderNo(no)) != no {
		t.Fatal("reversal number does not map back")
	}
	longest := orderNo("abcdefgh", 99_999_999_999, time.Unix(1<<35, 0))
	if len(longest) > 32 {
		t.Fatalf("longest order number %q has %d characters", longest, len(longest))
	}
	if traceOf(999_999) != 999_999 || traceOf(1_000_000) != 1 || receiptOf(9_999) != 9_999 || receiptOf(10_000) != 1 {
		t.Fatal("trace/receipt wrap")
	}
	if p := seqPrefix("ecr3", 42); p != "ZVT-ecr3-42-" || !strings.HasPrefix(orderNo("ecr3", 42, time.Now()), p) {
		t.Fatalf("seqPrefix = %q", p)
	}
	for _, tc := range []struct {
		last int64
		rn   int
		want int64
	}{
		{5, 2, 2}, {5, 5, 5}, {5, 7, 0}, {0, 1, 0}, {5, 0, 0}, {5, 10_000, 0},
		{10_001, 2, 10_001}, {10_001, 3, 3}, {10_001, 9_999, 9_999}, {30_000, 1, 29_998},
	} {
		got := seqOfReceipt(tc.last, tc.rn)
		if got != tc.want || (got != 0 && receiptOf(got) != tc.rn) {
			t.Errorf("seqOfReceipt(%d, %d) = %d, want %d", tc.last, tc.rn, got, tc.want)
		}
	}
}

func TestPleaseWaitRepeatsStatusInformation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		waits    int // 84 9C answers before 80 00
		wantVoid bool
	}{{"within BMP 02", 1, false}, {"beyond BMP 02", 2, true}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, termEUR, nil)
				amt := int64(1500)
				h.ecr.send(mustAPDU(t, zvt.Authorization{Amount: &amt, MaxStatusInfos: new(byte(1))}))
				h.ecr.expect(0x8000)
				h.ecr.expect(zvt.CtrlStatusInformation)
				for i := range tc.waits {
					h.ecr.send(zvt.Nack(zvt.ResultPleaseWait))
					if tc.wantVoid && i == tc.waits-1 {
						break // one 84 9C too many: the PT gives up
					}
					sent := time.Now()
					h.ecr.expect(zvt.CtrlStatusInformation)
					if d := time.Since(sent); d != pleaseWaitDelay {
						t.Fatalf("repeated after %v, want %v", d, pleaseWaitDelay)
					}
				}
				if tc.wantVoid {
					end := h.ecr.expect(zvt.CtrlAbort)
					h.ecr.ack()
					if end.Data[0] != zvt.ResultAbort || len(h.paymentsOfType(agent.TypeVoid)) != 1 {
						t.Fatalf("end %s, voids %d; want 06 1E 6C after a reversal", end, len(h.paymentsOfType(agent.TypeVoid)))
					}
				} else {
					h.ecr.ack()
					h.ecr.expect(zvt.CtrlCompletion)
					h.ecr.ack()
					if n := len(h.paymentsOfType(agent.TypeVoid)); n != 0 {
						t.Fatalf("%d voids, want none", n)
					}
				}
				h.settled()
			})
		})
	}
}

// TestRecoverReversesApprovedResultNeverAcknowledged: posbridge stopped after
// an ECR sale was approved and its status information sent, but before the
// ECR acknowledged it. At the next start the sale is reversed; an acknowledged
// sale is left alone.
func TestRecoverReversesApprovedResultNeverAcknowledged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ag := newFakeAgent(t)
		ctx := context.Background()
		sale := func(seq int64, amount string) agent.Payment {
			p, err := ag.Create(ctx, agent.CreateRequest{MerchantOrderNo: orderNo("ecr0", seq, time.Now()), Type: agent.TypeSale,
				TerminalSN: termEUR, Amount: amount, Currency: "EUR", Source: agent.SourceECR})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := ag.Wait(ctx, p.MerchantOrderNo, time.Hour); err != nil || got.State != agent.StateApproved {
				t.Fatalf("sale %+v, %v", got, err)
			}
			return p
		}
		unacked, acked := sale(11, "7.00"), sale(12, "8.00")
		ag.Note(ctx, unacked.MerchantOrderNo, noteKind, "status information to the ECR: result 00")
		ag.Note(ctx, acked.MerchantOrderNo, noteKind, "status information to the ECR: result 00")
		ag.Note(ctx, acked.MerchantOrderNo, noteKind, ackNotePrefix+" (result 00)")
		p, err := New(Config{Name: "ecr0", TerminalSN: termEUR, Agent: ag, Memory: ag, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		alerted := make(chan struct{}, 1)
		unsub := ag.Subscribe(func(e agent.Event) {
			if e.Payment != nil && e.Payment.MerchantOrderNo == unacked.MerchantOrderNo && e.Payment.Alert != "" {
				select {
				case alerted <- struct{}{}:
				default:
				}
			}
		})
		defer unsub()
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = p.Serve(sctx); close(done) }()
		select {
		case <-alerted:
		case <-time.After(time.Hour):
			t.Fatal("the unacknowledged sale got no alert")
		}
		synctest.Wait()
		if v, err := ag.Get(ctx, reversalOrderNo(unacked.MerchantOrderNo)); err != nil || v.State != agent.StateApproved {
			t.Fatalf("reversal of the unacknowledged sale: %+v, %v", v, err)
		}
		cancel()
		<-done
		if got, _ := ag.Get(ctx, unacked.MerchantOrderNo); !strings.HasPrefix(got.Alert, "auto-reversed") {
			t.Fatalf("alert %q, want auto-reversed", got.Alert)
		}
		if _, err := ag.Get(ctx, reversalOrderNo(acked.MerchantOrderNo)); err == nil {
			t.Fatal("an acknowledged sale was reversed")
		}
	})
}

// TestRegistrationSurvivesRestart: an ECR that registered asking for
// intermediate status keeps getting 04 FF from a new PT (after a restart).
func TestRegistrationSurvivesRestart(t *testing.T) {
	ag := newFakeAgent(t)
	ctx := context.Background()
	p1, err := New(Config{Name: "ecr0", TerminalSN: termEUR, Agent: ag, Memory: ag, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	p1.saveRegistration(ctx, fmt.Sprintf("%02x", zvt.ConfigIntermediateStatus|zvt.ConfigAfterLogOff))
	p2, err := New(Config{Name: "ecr0", TerminalSN: termEUR, Agent: ag, Memory: ag, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if p2.wantStatus() {
		t.Fatal("registered before Recover")
	}
	if err := p2.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if !p2.wantStatus() {
		t.Fatal("registration not restored after a restart")
	}
	p2.saveRegistration(ctx, "") // log-off
	p3, _ := New(Config{Name: "ecr0", TerminalSN: termEUR, Agent: ag, Memory: ag, Logger: testLogger(t)})
	p3.Recover(ctx)
	if p3.wantStatus() {
		t.Fatal("registration restored after a log-off")
	}
}
