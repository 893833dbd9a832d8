package agent_test

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/bindo/bindosim"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/device/card"
	"github.com/posbridge/posbridge/receipt"
)

// receiptText is the receipt of orderNo at width columns, as one string.
func receiptText(t *testing.T, e *agenttest.Env, orderNo string, cp receipt.Copy, width int) (receipt.Receipt, string) {
	t.Helper()
	r, err := e.Agent.Receipt(context.Background(), orderNo, cp)
	if err != nil {
		t.Fatalf("Receipt(%s) = %v", orderNo, err)
	}
	lines, err := r.Lines(width)
	if err != nil {
		t.Fatal(err)
	}
	return r, strings.Join(lines, "\n")
}

func wantLines(t *testing.T, name, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", name, w, text)
		}
	}
}

// An approved card sale at the CodePay emulator has a receipt with what
// CodePay returned: masked PAN, brand, entry mode, auth code, reference,
// and CodePay's time of the transaction in the store PC's zone.
func TestReceiptApprovedCardSale(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	r := e.Sale("RCPT1", agenttest.TermA, "12.34")
	r.TipAmount = "1.00"
	e.MustCreate(r)
	p := e.WaitFinal("RCPT1")
	if p.State != agent.StateApproved || !p.ReceiptAvailable {
		t.Fatalf("payment = %+v", p)
	}
	rc, text := receiptText(t, e, "RCPT1", "", 32)
	if rc.Copy != receipt.CopyCustomer || rc.Result != agent.StateApproved || rc.Kind != agent.TypeSale || rc.Method != agent.MethodCard ||
		rc.MaskedPAN != "476173******0119" || rc.Brand != "Visa" || rc.EntryMode != "contactless" || rc.AuthCode != p.AuthCode ||
		rc.RefNo != p.RefNo || rc.TransNo != p.TransNo || rc.TerminalSN != agenttest.TermA || rc.Total() != 1334 || rc.Currency.Code != "USD" {
		t.Errorf("receipt = %+v", rc)
	}
	if rc.At.Location() != time.Local || time.Since(rc.At) > time.Minute || time.Since(rc.At) < -time.Minute {
		t.Errorf("receipt time %v (%v), want about now in the local zone", rc.At, rc.At.Location())
	}
	wantLines(t, "customer copy", text, "SALE", "476173******0119", "Visa", "contactless", p.AuthCode, "Amount", "12.34 USD",
		"Tip", "1.00 USD", "TOTAL", "13.34 USD", "APPROVED", "CUSTOMER COPY", rc.At.Format("2006-01-02 15:04:05"))
	_, text = receiptText(t, e, "RCPT1", receipt.CopyMerchant, 48)
	if !strings.Contains(text, "MERCHANT COPY") || strings.Contains(text, "CUSTOMER COPY") {
		t.Errorf("merchant copy:\n%s", text)
	}
}

// A declined sale's receipt says so, with CodePay's reason and code.
func TestReceiptDeclined(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	e.MustCreate(e.Sale("RCPTD", agenttest.TermA, "10.51"))
	if p := e.WaitFinal("RCPTD"); p.State != agent.StateDeclined || !p.ReceiptAvailable {
		t.Fatalf("payment = %+v", p)
	}
	rc, text := receiptText(t, e, "RCPTD", receipt.CopyMerchant, 40)
	if rc.Result != agent.StateDeclined || rc.ResultText != "Insufficient funds (51)" || rc.AuthCode != "" {
		t.Errorf("receipt = %+v", rc)
	}
	wantLines(t, "declined", text, "DECLINED - NOT CHARGED", "Insufficient funds (51)", "MERCHANT COPY", "TOTAL", "10.51 USD")
}

// A refund on the terminal and a refund through CodePay's cloud: both have
// a refund receipt naming the original; the cloud refund, which names no
// card, shows the original's.
func TestReceiptRefund(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(e.Sale("RS1", agenttest.TermA, "20.00"))
	e.WaitFinal("RS1")
	if _, err := e.Agent.Refund(ctx, agent.RefundRequest{MerchantOrderNo: "RR1", OrigMerchantOrderNo: "RS1", Amount: "5.00",
		Via: agent.ViaTerminal, Source: agent.SourceWS}); err != nil {
		t.Fatal(err)
	}
	if p := e.WaitFinal("RR1"); p.State != agent.StateApproved || !p.ReceiptAvailable {
		t.Fatalf("refund = %+v", p)
	}
	rc, text := receiptText(t, e, "RR1", "", 40)
	if rc.Kind != agent.TypeRefund || rc.OrigMerchantOrderNo != "RS1" || rc.Total() != 500 {
		t.Errorf("refund receipt = %+v", rc)
	}
	wantLines(t, "terminal refund", text, "REFUND", "Original", "RS1", "-5.00 USD", "APPROVED")

	e.Sim.ScriptPayScenario("RQ1", codepay.ScenarioBScanQR)
	e.MustCreate(e.Sale("RQ1", agenttest.TermB, "10.00"))
	e.WaitFinal("RQ1")
	if _, err := e.Agent.Refund(ctx, agent.RefundRequest{MerchantOrderNo: "RQR1", OrigMerchantOrderNo: "RQ1", Amount: "4.00",
		Description: "damaged", Source: agent.SourceWS}); err != nil {
		t.Fatal(err)
	}
	if p := e.WaitFinal("RQR1"); p.State != agent.StateApproved {
		t.Fatalf("cloud refund = %+v", p)
	}
	orig, _ := e.Agent.Get(ctx, "RQ1")
	rc, text = receiptText(t, e, "RQR1", "", 32)
	if orig.Card == nil || rc.Brand != orig.Card.Brand || rc.Kind != agent.TypeRefund || rc.Total() != 400 {
		t.Errorf("cloud refund receipt = %+v (original card %+v)", rc, orig.Card)
	}
	wantLines(t, "cloud refund", text, "REFUND", "RQ1", "-4.00 USD", orig.Card.Brand)
}

// A QR wallet payment's receipt says how it was paid.
func TestReceiptQRPayment(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	e.MustCreate(qrSale("RQRW1", "8.50"))
	if _, err := e.Prov.QRSim.Scan("RQRW1"); err != nil {
		t.Fatal(err)
	}
	p := e.WaitFinal("RQRW1")
	if p.State != agent.StateApproved || !p.ReceiptAvailable {
		t.Fatalf("payment = %+v", p)
	}
	rc, text := receiptText(t, e, "RQRW1", "", 40)
	if rc.Method != agent.MethodQR || rc.TransNo != p.TransNo || rc.MaskedPAN != "" || rc.TerminalSN != agent.RouteQRWallet {
		t.Errorf("QR receipt = %+v", rc)
	}
	wantLines(t, "QR receipt", text, "Paid by", "QR wallet", "8.50 USD", "APPROVED", p.TransNo)
}

// A payment that is not final has no receipt yet; one that never reached a
// provider has none at all; an unknown number is not found; a third copy
// is a bad parameter.
func TestReceiptNotAvailable(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Bindo: true, OfflineGrace: 300 * time.Millisecond})
	ctx := context.Background()
	// Withdrawn for the fallback: failed, nothing charged, nothing to print.
	e.MustCreate(e.Sale("RNF2", agenttest.TermOff, "6.00"))
	if p := e.WaitFinal("RNF2"); p.State != agent.StateFailed || p.ReceiptAvailable {
		t.Fatalf("withdrawn payment = %+v", p)
	}
	if _, err := e.Agent.Receipt(ctx, "RNF2", ""); !errors.Is(err, agent.ErrNoReceipt) || !strings.Contains(err.Error(), agent.CodeCodePayUnavailable) {
		t.Errorf("receipt of a payment that never reached a provider = %v", err)
	}
	// Without the fallback it waits on the offline terminal.
	r := e.Sale("RNF1", agenttest.TermOff, "5.00")
	r.Options.Fallback = "never"
	e.MustCreate(r)
	e.WaitState("RNF1", agent.StateOnTerminal)
	_, err := e.Agent.Receipt(ctx, "RNF1", receipt.CopyCustomer)
	if !errors.Is(err, agent.ErrNoReceipt) || !strings.Contains(err.Error(), "on_terminal") {
		t.Errorf("receipt of a payment on the terminal = %v, want ErrNoReceipt naming its state", err)
	}
	if p, _ := e.Agent.Get(ctx, "RNF1"); p.ReceiptAvailable {
		t.Error("receipt_available on a payment that is not final")
	}
	if _, err := e.Agent.Receipt(ctx, "NOPE", ""); !errors.Is(err, agent.ErrNotFound) {
		t.Errorf("receipt of an unknown payment = %v, want ErrNotFound", err)
	}
	var fe *agent.FieldError
	if _, err := e.Agent.Receipt(ctx, "RNF2", "both"); !errors.As(err, &fe) || fe.Field != "copy" {
		t.Errorf("copy both = %v, want a FieldError naming copy", err)
	}
}

// iccWithApp is EMV ICC data of a contact card with its application: AID
// (4F) and label (50).
func iccWithApp(pan, track2Hex, aid, label string) string {
	tlv := func(tag, value string) string {
		return tag + strings.ToUpper(hex.EncodeToString([]byte{byte(len(value) / 2)})) + value
	}
	return tlv("4F", aid) + tlv("50", strings.ToUpper(hex.EncodeToString([]byte(label)))) + tlv("5A", pan) + tlv("5F24", "301231") +
		tlv("5F34", "01") + tlv("57", track2Hex) + tlv("82", "1980") + tlv("9F26", "C2A1E2B3D4F5A6B7")
}

// A chip sale through Bindo: its receipt has the card's application (from
// the ICC data) and Bindo's terminal and merchant ids. Neither the receipt
// nor the journal's files hold the full PAN, track or ICC data — also when
// the ICC data tries to pass a card number off as the application.
func TestReceiptNativeChipPCI(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Bindo: true})
	const (
		mcPAN   = "5555555555554444"
		mcT2    = ";5555555555554444=30122011758928889?"
		mcT2Hex = "5555555555554444D30122011758928889"
	)
	icc := iccWithApp(mcPAN, mcT2Hex, "A0000000041010", "MASTERCARD")
	chip := func(icc string) *card.Card {
		c, err := card.Parse(card.Input{ReaderMode: "contact", Track2: mcT2, ICC: icc}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	e.MustCreate(nativeSale(e, "RNAT1", agenttest.TermA, "15.00", chip(icc)))
	if p := e.WaitFinal("RNAT1"); p.State != agent.StateApproved || p.Route != agent.RouteBindo {
		t.Fatalf("native sale = %+v", p)
	}
	rc, text := receiptText(t, e, "RNAT1", "", 40)
	if rc.AID != "A0000000041010" || rc.AppLabel != "MASTERCARD" || rc.TerminalID != bindosim.TerminalID || rc.MerchantID != bindosim.MerchantID ||
		rc.MaskedPAN != "555555******4444" || rc.EntryMode != "contact" {
		t.Errorf("native receipt = %+v", rc)
	}
	wantLines(t, "native receipt", text, "AID", "A0000000041010", "MASTERCARD", "TID", bindosim.TerminalID, bindosim.MerchantID)

	// A card number dressed up as the application is not kept.
	bad := iccWithApp(mcPAN, mcT2Hex, "A000000004"+mcPAN, mcPAN)
	e.MustCreate(nativeSale(e, "RNAT2", agenttest.TermA, "16.00", chip(bad)))
	e.WaitFinal("RNAT2")
	rc2, text2 := receiptText(t, e, "RNAT2", receipt.CopyMerchant, 32)
	if rc2.AID != "" || rc2.AppLabel != "" {
		t.Errorf("a PAN passed as AID or label was kept: %+v", rc2)
	}

	secrets := []string{mcPAN, mcT2, mcT2Hex, icc, bad, "30122011758928889", "C2A1E2B3D4F5A6B7"}
	hay := map[string][]byte{"receipt": []byte(text + "\n" + text2)}
	e.JournalFiles(hay)
	if len(hay) < 2 {
		t.Fatal("no journal files read: the test would prove nothing")
	}
	for _, f := range agenttest.CardDataFound(hay, secrets) {
		t.Error(f)
	}
}
