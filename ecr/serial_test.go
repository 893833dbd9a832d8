//go:build linux || darwin

package ecr

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/ecr/ecrsim"
	"github.com/posbridge/posbridge/ecr/pt"
	"github.com/posbridge/posbridge/ecr/zvt"
)

// These tests run the PT on a real pseudo-terminal through go.bug.st/serial,
// against a real agent and the CodePay emulator; the pty master is the ECR.

func TestSerialSaleApproved(t *testing.T) {
	r := newRig(t, rigOpts{})
	reg := r.do(ecrsim.Registration(0xBA, 840), ecrsim.Options{})
	if !reg.Accepted() || reg.Count(zvt.CtrlCompletion) != 1 {
		t.Fatalf("registration: %s", reg)
	}
	tr := r.do(ecrsim.Sale(1234, 840), ecrsim.Options{})
	si := status(t, tr)
	if code, _ := tr.Result(); !tr.Accepted() || code != 0 || tr.Count(zvt.CtrlIntermediateStatus) == 0 {
		t.Fatalf("sale: %s", tr)
	}
	if si.ResultCode != 0 || *si.Amount != 1234 || si.Currency != 840 || *si.Trace != 1 || *si.ReceiptNo != 1 ||
		si.TID != pt.TerminalID(agenttest.TermA) || si.CardName == "" || !strings.Contains(si.MaskedPAN, "*") {
		t.Fatalf("status information %+v", si)
	}
	sales := ecrPayments(t, r.env, agenttest.TermA, agent.TypeSale)
	if len(sales) != 1 {
		t.Fatalf("%d ECR sales, want 1", len(sales))
	}
	p := sales[0]
	if p.State != agent.StateApproved || p.Amount != "12.34" || p.Currency != "USD" || p.Card == nil || p.Card.MaskedPAN == "" {
		t.Fatalf("payment %+v", p)
	}
	if n := r.env.Sim.Count(methodCreate, p.MerchantOrderNo); n != 1 {
		t.Fatalf("emulator saw %d creates, want 1", n)
	}
	// The payment log never holds the card number in clear.
	if strings.Contains(r.logs.String(), "4761730000") {
		t.Fatal("a card number appears in the log")
	}
}

func TestSerialRefundReversalEndOfDay(t *testing.T) {
	r := newRig(t, rigOpts{})
	if si := status(t, r.do(ecrsim.Sale(5000, 0), ecrsim.Options{})); si.ResultCode != 0 || *si.ReceiptNo != 1 {
		t.Fatalf("first sale %+v", si)
	}
	if si := status(t, r.do(ecrsim.Sale(2000, 0), ecrsim.Options{})); si.ResultCode != 0 || *si.ReceiptNo != 2 {
		t.Fatalf("second sale %+v", si)
	}
	// Refund 15.00 of receipt 1.
	tr := r.do(ecrsim.Refund(1500, 1), ecrsim.Options{})
	if si := status(t, tr); si.ResultCode != 0 || *si.Amount != 1500 {
		t.Fatalf("refund: %s %+v", tr, si)
	}
	sales := ecrPayments(t, r.env, agenttest.TermA, agent.TypeSale)
	refunds := ecrPayments(t, r.env, agenttest.TermA, agent.TypeRefund)
	if len(refunds) != 1 || refunds[0].State != agent.StateApproved || refunds[0].OrigMerchantOrderNo != sales[0].MerchantOrderNo {
		t.Fatalf("refunds %+v", refunds)
	}
	// Reverse receipt 2.
	tr = r.do(ecrsim.Reversal(2), ecrsim.Options{})
	si := status(t, tr)
	if si.ResultCode != 0 || *si.Amount != 2000 || si.OrigTrace == nil || *si.OrigTrace != 2 {
		t.Fatalf("reversal: %s %+v", tr, si)
	}
	voids := ecrPayments(t, r.env, agenttest.TermA, agent.TypeVoid)
	if len(voids) != 1 || voids[0].State != agent.StateApproved || voids[0].OrigMerchantOrderNo != sales[1].MerchantOrderNo {
		t.Fatalf("voids %+v", voids)
	}
	// End of day: 50.00 sale - 15.00 refund (20.00 voided) = 35.00.
	tr = r.do(zvtAPDU(t, zvt.EndOfDay{Password: "000000"}), ecrsim.Options{})
	si = status(t, tr)
	if code, _ := tr.Result(); code != 0 || si.Amount == nil || *si.Amount != 3500 || si.Totals == nil {
		t.Fatalf("end of day: %s %+v", tr, si)
	}
	if got := si.Totals.Visa.Count + si.Totals.Other.Count + si.Totals.Eurocard.Count; got != 2 {
		t.Errorf("end-of-day counts %+v, want 2 transactions", si.Totals)
	}
	batches, err := r.env.Agent.BatchList(context.Background(), agenttest.TermA, 5)
	if err != nil || len(batches) == 0 || batches[len(batches)-1].ClosedBy != agent.SourceECR {
		t.Fatalf("batches %+v, %v; want one closed by ecr", batches, err)
	}
}

func zvtAPDU(t *testing.T, m zvt.Message) zvt.APDU {
	t.Helper()
	a, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSerialAbortDuringPayment(t *testing.T) {
	// The offline terminal never picks the order up, so it stays cancellable.
	r := newRig(t, rigOpts{sn: agenttest.TermOff})
	r.do(ecrsim.Registration(0xBA, 0), ecrsim.Options{})
	aborted := false
	tr := r.do(ecrsim.Sale(800, 0), ecrsim.Options{OnMessage: func(m zvt.APDU) {
		if m.Control() == zvt.CtrlIntermediateStatus && !aborted {
			aborted = true
			go func() { _ = r.ecr.Send(context.Background(), zvtAPDU(t, zvt.AbortRequest{})) }()
		}
	}})
	if code, ok := tr.Result(); !ok || code != zvt.ResultAbort {
		t.Fatalf("abort: %s, want 06 1E 6C", tr)
	}
	sales := ecrPayments(t, r.env, agenttest.TermOff, agent.TypeSale)
	if len(sales) != 1 || sales[0].State != agent.StateCancelled {
		t.Fatalf("payments %+v, want one cancelled", sales)
	}
}

func TestSerialUnacknowledgedResultAutoReversed(t *testing.T) {
	r := newRig(t, rigOpts{respTimeout: 300 * time.Millisecond})
	tr := r.do(ecrsim.Sale(4321, 0), ecrsim.Options{Respond: func(m zvt.APDU) bool {
		return m.Control() != zvt.CtrlStatusInformation // the ECR never acknowledges the result
	}})
	if n := tr.Count(zvt.CtrlStatusInformation); n != 3 {
		t.Fatalf("status information sent %d times, want 3 (first + 2 repeats): %s", n, tr)
	}
	if code, _ := tr.Result(); code != zvt.ResultAbort {
		t.Fatalf("end %s, want 06 1E 6C after the reversal", tr)
	}
	sale := ecrPayments(t, r.env, agenttest.TermA, agent.TypeSale)[0]
	list, _ := r.env.Agent.List(context.Background(), agent.ListFilter{TerminalSN: agenttest.TermA})
	var void agent.Payment
	for _, p := range list {
		if p.Type == agent.TypeVoid && p.OrigMerchantOrderNo == sale.MerchantOrderNo {
			void = p
		}
	}
	if void.State != agent.StateApproved || void.Source != agent.SourceECR || !strings.HasPrefix(void.MerchantOrderNo, "ZAR-") {
		t.Fatalf("auto-reversal %+v", void)
	}
	if want := "auto-reversed: the ECR never acknowledged the result; reversed by " + void.MerchantOrderNo; sale.Alert != want {
		t.Fatalf("alert %q, want %q", sale.Alert, want)
	}
	events, _ := r.env.Agent.Events(context.Background(), sale.MerchantOrderNo)
	var notes []string
	for _, e := range events {
		if e.Kind == "ecr" {
			notes = append(notes, e.Detail)
		}
	}
	if joined := strings.Join(notes, "\n"); !strings.Contains(joined, "never acknowledged") || !strings.Contains(joined, "auto-reversal") {
		t.Fatalf("journal notes:\n%s", joined)
	}
}

func TestSerialCorruptedCRCThenGoodResend(t *testing.T) {
	r := newRig(t, rigOpts{})
	cmd := ecrsim.Sale(1111, 0)
	raw, _ := cmd.Encode()
	bad := zvt.EncodeFrame(raw)
	bad[len(bad)-1] ^= 0xFF
	if err := r.ecr.SendRaw(bad); err != nil {
		t.Fatal(err)
	}
	if b, err := r.ecr.WaitAck(r.ctx()); err != nil || b != zvt.NAK {
		t.Fatalf("PT answered %02X, %v to a bad CRC; want NAK", b, err)
	}
	tr := r.do(cmd, ecrsim.Options{})
	if si := status(t, tr); si.ResultCode != 0 {
		t.Fatalf("resend: %s", tr)
	}
	sales := ecrPayments(t, r.env, agenttest.TermA, agent.TypeSale)
	if len(sales) != 1 || r.env.Sim.Count(methodCreate, sales[0].MerchantOrderNo) != 1 {
		t.Fatalf("%d sales; the good resend must be executed exactly once", len(sales))
	}
}

func TestSerialSplitFrameAndNoise(t *testing.T) {
	tests := []struct {
		name  string
		write func(r *rig, frame []byte) error
	}{
		{"byte by byte", func(r *rig, frame []byte) error {
			for _, b := range frame {
				if err := r.ecr.SendRaw([]byte{b}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"two halves", func(r *rig, frame []byte) error {
			if err := r.ecr.SendRaw(frame[:len(frame)/2]); err != nil {
				return err
			}
			return r.ecr.SendRaw(frame[len(frame)/2:])
		}},
		{"noise before DLE STX", func(r *rig, frame []byte) error {
			return r.ecr.SendRaw(append([]byte{0x00, 0xFF, 0x42, 0x13, 0x10, 0x10, 0x37, 0x03}, frame...))
		}},
	}
	r := newRig(t, rigOpts{})
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			amount := int64(1000 + i)
			raw, _ := ecrsim.Sale(amount, 0).Encode()
			if err := tc.write(r, zvt.EncodeFrame(raw)); err != nil {
				t.Fatal(err)
			}
			if b, err := r.ecr.WaitAck(r.ctx()); err != nil || b != zvt.ACK {
				t.Fatalf("PT answered %02X, %v; want ACK", b, err)
			}
			tr, err := ecrsim.Finish(r.ctx(), r.ecr, ecrsim.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if si := status(t, tr); si.ResultCode != 0 || *si.Amount != amount {
				t.Fatalf("%s: %+v", tr, si)
			}
		})
	}
	if n := len(ecrPayments(t, r.env, agenttest.TermA, agent.TypeSale)); n != len(tests) {
		t.Fatalf("%d sales, want %d", n, len(tests))
	}
}

func TestSerialSilentECRRetransmitThenGiveUp(t *testing.T) {
	r := newRig(t, rigOpts{linkT2: 150 * time.Millisecond, respTimeout: 300 * time.Millisecond})
	r.ecr.SetAckFrames(false) // the ECR stops acknowledging frames after its command
	if err := r.ecr.Send(r.ctx(), zvtAPDU(t, zvt.StatusEnquiry{})); err != nil {
		t.Fatal(err)
	}
	// 80 00 00 and 06 0F, each sent 3 times (first + 2 repeats after T2).
	if err := r.ecr.WaitFrames(r.ctx(), 6); err != nil {
		t.Fatalf("PT sent %d frames: %v", r.ecr.Frames(), err)
	}
	waitLog(t, r.logs, "completion not acknowledged") // the PT gave up on the second one
	if n := r.ecr.Frames(); n != 6 {
		t.Fatalf("PT sent %d frames, want 6", n)
	}
	if !strings.Contains(r.logs.String(), "transmission error after 3 attempts") {
		t.Errorf("log lacks the transmission error:\n%s", r.logs.String())
	}
	// The PT gave up cleanly: the line works again.
	r.ecr.SetAckFrames(true)
	tr := r.do(ecrsim.Sale(999, 0), ecrsim.Options{})
	if si := status(t, tr); si.ResultCode != 0 {
		t.Fatalf("sale after the silent phase: %s", tr)
	}
	if r.ecr.Frames() > 6+12 {
		t.Errorf("PT kept retransmitting: %d frames", r.ecr.Frames())
	}
}

func TestSerialPortUnplugAndReplug(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyECR")
	env := agenttest.New(t, agenttest.Opts{})
	r := newRig(t, rigOpts{env: env, path: link, controlWait: true})
	if tr := r.do(ecrsim.Sale(100, 0), ecrsim.Options{}); status(t, tr).ResultCode != 0 {
		t.Fatalf("before unplugging: %s", tr)
	}
	// Unplug: the device disappears.
	_ = r.ptmx.Close()
	call := <-r.after
	if call.d != FirstBackoff {
		t.Fatalf("first back-off %v, want %v", call.d, FirstBackoff)
	}
	if lost := r.logs.String(); !strings.Contains(lost, "ECR port "+link+" lost:") || !strings.Contains(lost, "reopening") {
		t.Fatalf("log lacks the lost-port report:\n%s", lost)
	}
	call.fire <- time.Now() // still unplugged: the reopen fails
	call = <-r.after
	if call.d != 2*FirstBackoff {
		t.Fatalf("second back-off %v, want %v", call.d, 2*FirstBackoff)
	}
	// Replug: a new device under the same name.
	ptmx2, _ := openPTY(t, link)
	call.fire <- time.Now()
	r.waitOpen()
	ecr2 := ecrsim.NewSerial(ptmx2)
	tr, err := ecrsim.Do(r.ctx(), ecr2, ecrsim.Sale(200, 0), ecrsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if si := status(t, tr); si.ResultCode != 0 || *si.ReceiptNo != 2 {
		t.Fatalf("after replugging: %s %+v", tr, si)
	}
	if !strings.Contains(r.logs.String(), "ECR port reopened") {
		t.Errorf("log lacks the reopen report")
	}
}

func TestSerialBackoffCapsAt30s(t *testing.T) {
	calls := make(chan time.Duration)
	fire := make(chan time.Time)
	var logs syncBuffer
	sp := &SerialPort{
		Path:   "/dev/ttyUSB-not-there",
		Logger: testLogger(t, &logs),
		Open: func(string, SerialMode) (io.ReadWriteCloser, error) {
			return nil, errors.New("no such device")
		},
		After: func(d time.Duration) <-chan time.Time {
			calls <- d
			return fire
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sp.Serve(ctx) }()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if d := <-calls; d != w {
			t.Fatalf("back-off %d = %v, want %v", i, d, w)
		}
		if i < len(want)-1 {
			fire <- time.Now()
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v, want nil after cancel", err)
	}
	if l := logs.String(); strings.Count(l, "ECR port unavailable") != 1 || !strings.Contains(l, "still unavailable") {
		t.Errorf("want one warning then quieter reports:\n%s", l)
	}
}

func TestOpenSerialRejectsBadSettings(t *testing.T) {
	for _, m := range []SerialMode{{Parity: "mark"}, {StopBits: 3}} {
		if _, err := OpenSerial("/dev/null", m); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("OpenSerial(%+v) = %v, want ErrInvalidConfig", m, err)
		}
	}
}
