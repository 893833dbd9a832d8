package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/idpay"
	"github.com/posbridge/posbridge/cloud/idpay/idpaysim"
	"github.com/posbridge/posbridge/cloud/qrwallet/qrwalletsim"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

func qrSale(no, amount string) agent.CreateRequest {
	return agent.CreateRequest{MerchantOrderNo: no, Method: agent.MethodQR, Amount: amount, Currency: "USD", Source: agent.SourceWS}
}

func vaSale(no, method, amount string) agent.CreateRequest {
	return agent.CreateRequest{MerchantOrderNo: no, Method: agent.MethodVA, VAMethod: method, Amount: amount, Currency: "IDR", Source: agent.SourceWS}
}

func TestQRNativePaidApprovedInTerminalBatch(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	r := qrSale("QRN1", "12.34")
	r.TerminalSN = agenttest.TermA
	p := e.MustCreate(r)
	if p.State != agent.StateOnTerminal || p.Method != agent.MethodQR || p.QRPayload == "" || p.ExpiresAt.IsZero() || p.Route != agent.RouteQRWallet {
		t.Fatalf("create = %+v; want on_terminal with a QR payload", p)
	}
	if _, err := e.Prov.QRSim.Scan("QRN1"); err != nil {
		t.Fatal(err)
	}
	if got := e.WaitFinal("QRN1"); got.State != agent.StateApproved {
		t.Fatalf("final = %+v", got)
	}
	if n := e.Prov.QRSim.Count(qrwalletsim.EndpointNativePay, "QRN1"); n != 1 {
		t.Fatalf("native pay sent %d times", n)
	}
	b, err := e.Agent.BatchGet(context.Background(), agenttest.TermA)
	if err != nil {
		t.Fatal(err)
	}
	if m := b.Local.ByMethod[agent.MethodQR]; m.Count != 1 || m.Amount != "12.34" {
		t.Fatalf("by_method = %+v", b.Local.ByMethod)
	}
	if _, err := e.Agent.Cancel(context.Background(), "QRN1"); !errors.Is(err, agent.ErrNotCancellable) {
		t.Fatalf("cancel approved = %v", err)
	}
}

func TestQRNativeExpiresAndCannotBeCancelled(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	p := e.MustCreate(qrSale("QRX1", "5.00"))
	if p.TerminalSN != agent.RouteQRWallet {
		t.Fatalf("terminal_sn = %q, want the qrwallet pseudo-desk", p.TerminalSN)
	}
	_, err := e.Agent.Cancel(context.Background(), "QRX1")
	if !errors.Is(err, agent.ErrNotCancellable) || !strings.Contains(err.Error(), "expires at") {
		t.Fatalf("cancel = %v", err)
	}
	if got := e.WaitFinal("QRX1"); got.State != agent.StateExpired {
		t.Fatalf("final = %+v", got)
	}
}

func TestQRQuickApprovedAndDeclined(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	r := qrSale("QRQ1", "3.00")
	r.QRMode, r.CustomerCode = agent.QRModeQuick, "134567890123456789"
	e.MustCreate(r)
	if got := e.WaitFinal("QRQ1"); got.State != agent.StateApproved {
		t.Fatalf("quick = %+v", got)
	}
	r = qrSale("QRQ2", "3.51") // suffix 51: refused by the wallet
	r.QRMode, r.CustomerCode = agent.QRModeQuick, "134567890123456789"
	e.MustCreate(r)
	if got := e.WaitFinal("QRQ2"); got.State != agent.StateDeclined {
		t.Fatalf("declined = %+v (%v)", got, e.States("QRQ2"))
	}
	r = qrSale("QRQ3", "3.52") // suffix 52: the payer enters a PIN first
	r.QRMode, r.CustomerCode = agent.QRModeQuick, "134567890123456789"
	e.MustCreate(r)
	if got := e.WaitFinal("QRQ3"); got.State != agent.StateApproved {
		t.Fatalf("pin = %+v (%v)", got, e.States("QRQ3"))
	}
}

func TestQRRefundPartialAndAbovePaid(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	e.MustCreate(qrSale("QRR1", "10.00"))
	if _, err := e.Prov.QRSim.Scan("QRR1"); err != nil {
		t.Fatal(err)
	}
	e.WaitFinal("QRR1")
	ctx := context.Background()
	for i, no := range []string{"QRR1-R1", "QRR1-R2"} {
		if _, err := e.Agent.Refund(ctx, agent.RefundRequest{MerchantOrderNo: no, OrigMerchantOrderNo: "QRR1", Amount: "4.00", Source: agent.SourceWS}); err != nil {
			t.Fatalf("refund %d: %v", i, err)
		}
		if got := e.WaitFinal(no); got.State != agent.StateApproved {
			t.Fatalf("refund %s = %+v (%v)", no, got, e.States(no))
		}
	}
	_, err := e.Agent.Refund(ctx, agent.RefundRequest{MerchantOrderNo: "QRR1-R3", OrigMerchantOrderNo: "QRR1", Amount: "2.01", Source: agent.SourceWS})
	var fe *agent.FieldError
	if !errors.As(err, &fe) || fe.Field != "amount" {
		t.Fatalf("refund above paid = %v", err)
	}
	if _, err := e.DB.GetPayment(ctx, "QRR1-R3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused refund journaled: %v", err)
	}
	pv, _ := e.Prov.QRSim.Payment("QRR1")
	if pv.Refunded != "8.00" {
		t.Fatalf("emulator refunded %s", pv.Refunded)
	}
}

func TestQRUnknownOutcomeReconciledWithOneCreate(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	if err := e.Prov.QRSim.InjectFault(qrwalletsim.Fault{Endpoint: qrwalletsim.EndpointNativePay, Kind: qrwalletsim.FaultDropAfterProcess}); err != nil {
		t.Fatal(err)
	}
	p := e.MustCreate(qrSale("QRU1", "7.00"))
	if p.State != agent.StateUnknown {
		t.Fatalf("create = %s, want unknown", p.State)
	}
	e.WaitState("QRU1", agent.StateOnTerminal)
	if _, err := e.Prov.QRSim.Scan("QRU1"); err != nil {
		t.Fatal(err)
	}
	if got := e.WaitFinal("QRU1"); got.State != agent.StateApproved {
		t.Fatalf("final = %+v", got)
	}
	if n := e.Prov.QRSim.Count(qrwalletsim.EndpointNativePay, "QRU1"); n != 1 {
		t.Fatalf("native pay sent %d times, want 1", n)
	}
}

func TestVAPaidByCallbackConfirmedByQuery(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	for _, m := range []string{"VA_BCA", "QRIS"} {
		no := "VA1" + strings.ReplaceAll(m, "_", "")
		p := e.MustCreate(vaSale(no, m, "30000"))
		if p.State != agent.StateOnTerminal || (m == "VA_BCA" && p.VANumber == "") || (m == "QRIS" && p.QRPayload == "") {
			t.Fatalf("create %s = %+v", m, p)
		}
		queries := e.Prov.IDSim.Count("query", no)
		if _, err := e.Prov.IDSim.Pay(no); err != nil {
			t.Fatal(err)
		}
		if got := e.WaitFinal(no); got.State != agent.StateApproved {
			t.Fatalf("final %s = %+v", m, got)
		}
		if e.Prov.IDSim.Count("query", no) <= queries {
			t.Fatalf("%s approved without a query", no)
		}
		// A repeated callback is acknowledged and changes nothing.
		evs, _ := e.Agent.Events(context.Background(), no)
		if err := e.Prov.IDSim.RepeatCallback(no); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.Agent.Get(context.Background(), no); got.State != agent.StateApproved {
			t.Fatalf("after repeat: %s", got.State)
		}
		_ = evs
	}
	if _, err := e.Agent.Refund(context.Background(), agent.RefundRequest{MerchantOrderNo: "VA1-R", OrigMerchantOrderNo: "VA1VABCA", Source: agent.SourceWS}); err == nil || !strings.Contains(err.Error(), "no refund") {
		t.Fatalf("va refund = %v", err)
	}
}

func TestVACallbackForeignRefused(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	e.MustCreate(vaSale("VAF1", "VA_BNI", "30000"))
	// A callback about an order of this journal with another amount, and one
	// about an order this journal does not have.
	amt := int64(999)
	for _, cb := range []struct {
		no    string
		minor int64
	}{{"VAF1", amt}, {"NOTOURS1", 3000000}} {
		err := e.Agent.ApplyIDPayCallback(context.Background(), callback(cb.no, cb.minor))
		if !errors.Is(err, agent.ErrNotificationRejected) {
			t.Fatalf("callback %s = %v", cb.no, err)
		}
	}
	if got, _ := e.Agent.Get(context.Background(), "VAF1"); got.State != agent.StateOnTerminal {
		t.Fatalf("state after forged callbacks = %s", got.State)
	}
}

func TestVAUnknownOutcomeAndRestart(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	if err := e.Prov.IDSim.InjectFault(idpaysim.Fault{Op: "create", Kind: idpaysim.FaultDropAfterProcess}); err != nil {
		t.Fatal(err)
	}
	if p := e.MustCreate(vaSale("VAU1", "VA_BRI", "50000")); p.State != agent.StateUnknown {
		t.Fatalf("create = %s", p.State)
	}
	e.WaitState("VAU1", agent.StateOnTerminal)
	if _, err := e.Prov.IDSim.Pay("VAU1"); err != nil {
		t.Fatal(err)
	}
	if got := e.WaitFinal("VAU1"); got.State != agent.StateApproved {
		t.Fatalf("final = %+v", got)
	}
	if n := e.Prov.IDSim.Count("create", "VAU1"); n != 1 {
		t.Fatalf("created %d times", n)
	}
}

func TestProviderSendingAtRestartIsQueried(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	ctx := context.Background()
	// A row as a crash right after journaling the intent leaves it: sending,
	// create_sent, nothing at the provider.
	e.MustCreate(qrSale("QRS0", "1.00"))
	row, err := e.DB.GetPayment(ctx, "QRS0")
	if err != nil {
		t.Fatal(err)
	}
	row.MerchantOrderNo, row.State, row.OptionsJSON, row.ID = "QRS1", agent.StateSending, `{"method":"qr","qr_mode":"native"}`, 0
	row.NextCheckAt = row.CreatedAt
	if _, err := e.DB.InsertPayment(ctx, row, store.Event{Kind: "created", ToState: agent.StateSending}); err != nil {
		t.Fatal(err)
	}
	e.Restart(agenttest.Opts{})
	got := e.WaitFinal("QRS1")
	if got.State != agent.StateFailed || got.Error == nil || got.Error.Code != agent.CodeProviderUnavailable {
		t.Fatalf("final = %+v", got)
	}
	if n := e.Prov.QRSim.Count(qrwalletsim.EndpointNativePay, "QRS1"); n != 0 {
		t.Fatalf("re-created %d times after restart", n)
	}
}

func TestProviderBadInputNothingJournaled(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	quick := qrSale("BAD2", "1.00")
	quick.QRMode, quick.CustomerCode = agent.QRModeQuick, "12AB"
	for _, c := range []struct {
		r     agent.CreateRequest
		field string
	}{
		{vaSale("BAD1", "VA_BCA", "30000.50"), "amount"},
		{vaSale("BAD1", "VA_BCA", "30000.00"), "amount"},
		{quick, "customer_code"},
		{vaSale("BAD3", "VA_NOPE", "30000"), "va_method"},
		{qrSale("BAD4", "1.001"), "amount"},
		{agent.CreateRequest{MerchantOrderNo: "BAD5", Method: "cash", Amount: "1", Currency: "USD", Source: agent.SourceWS}, "method"},
	} {
		_, err := e.Agent.Create(context.Background(), c.r)
		var fe *agent.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: err = %v, want field %s", c.r.MerchantOrderNo, err, c.field)
		}
		if _, err := e.DB.GetPayment(context.Background(), c.r.MerchantOrderNo); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s journaled", c.r.MerchantOrderNo)
		}
	}
}

func callback(no string, minor int64) *idpay.Callback {
	a := money.Amount{Minor: minor, Currency: idpay.IDR}
	return &idpay.Callback{OrderNo: no, Method: idpay.MethodVABNI, Amount: &a, Status: idpay.StatusSuccess, State: idpay.StatePaid}
}
