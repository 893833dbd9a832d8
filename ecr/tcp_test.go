package ecr

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/ecr/ecrsim"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/internal/config"
)

// tcpService runs the ECR service from configuration entries against a
// real agent and returns the address of its first TCP listener.
func tcpService(t *testing.T, env *agenttest.Env, sn string, logs *syncBuffer) (*Service, string) {
	t.Helper()
	svc, err := New(Config{
		Agent:  env.Agent,
		ECRs:   []config.ECR{{Protocol: "zvt", TCPListen: "127.0.0.1:0", TerminalSN: sn}},
		Logger: testLogger(t, logs),
		PT:     ptTuning(env),
		TCP:    zvt.TCPConfig{T3: 500 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := svc.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = svc.Serve(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	addrs := svc.TCPAddrs()
	if len(addrs) != 1 {
		t.Fatalf("TCP addresses %v", addrs)
	}
	return svc, addrs[0].String()
}

func dial(t *testing.T, addr string) *ecrsim.TCP {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	c, err := ecrsim.DialTCP(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestTCPSaleApproved(t *testing.T) {
	env := agenttest.New(t, agenttest.Opts{})
	_, addr := tcpService(t, env, agenttest.TermA, &syncBuffer{})
	c := dial(t, addr)
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	tr, err := ecrsim.Do(ctx, c, ecrsim.Sale(2599, 840), ecrsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	si, ok := tr.Status()
	if code, _ := tr.Result(); !ok || code != 0 || si.ResultCode != 0 || *si.Amount != 2599 || si.Currency != 840 {
		t.Fatalf("sale over TCP: %s %+v", tr, si)
	}
	if sales := ecrPayments(t, env, agenttest.TermA, agent.TypeSale); len(sales) != 1 || sales[0].State != agent.StateApproved {
		t.Fatalf("payments %+v", sales)
	}
}

// TestTCPPrintLinesNotTaken: over TCP an ECR registered for print lines
// that answers one with 84 CC (printer not ready) has not taken the sale
// (PA00P015 §2.2.8): posbridge reverses it and ends with 06 1E 6C.
func TestTCPPrintLinesNotTaken(t *testing.T) {
	env := agenttest.New(t, agenttest.Opts{})
	_, addr := tcpService(t, env, agenttest.TermA, &syncBuffer{})
	c := dial(t, addr)
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	if _, err := ecrsim.Do(ctx, c, ecrsim.Registration(0x82, 0), ecrsim.Options{}); err != nil {
		t.Fatal(err)
	}
	refused := false
	tr, err := ecrsim.Do(ctx, c, ecrsim.Sale(1500, 0), ecrsim.Options{Respond: func(m zvt.APDU) bool {
		if m.Control() == zvt.CtrlPrintLine && !refused {
			refused = true
			_ = c.Send(ctx, zvt.Nack(zvt.ResultPrinterNotReady))
			return false
		}
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := tr.Result(); code != zvt.ResultAbort || tr.Count(zvt.CtrlPrintLine) != 1 {
		t.Fatalf("sale whose receipt was refused: %s, want one print line and 06 1E 6C", tr)
	}
	sale := ecrPayments(t, env, agenttest.TermA, agent.TypeSale)[0]
	if !strings.HasPrefix(sale.Alert, "auto-reversed") {
		t.Fatalf("sale alert %q, want auto-reversed", sale.Alert)
	}
}

// An ECR whose connection drops mid-payment reconnects and sends the same
// authorisation again: it gets the running payment's result, and CodePay sees
// exactly one create.
func TestTCPResentRequestMapsToSamePayment(t *testing.T) {
	env := agenttest.New(t, agenttest.Opts{})
	logs := &syncBuffer{}
	_, addr := tcpService(t, env, agenttest.TermOff, logs)
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	req := ecrsim.Sale(3100, 0)

	c1 := dial(t, addr)
	if err := c1.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	if a, err := c1.Receive(ctx); err != nil || a.Control() != 0x8000 {
		t.Fatalf("first answer %s, %v", a, err)
	}
	// The payment is now on the (offline) terminal; the ECR gives up the socket.
	env.WaitState(firstOrder(t, env), agent.StateOnTerminal)
	_ = c1.Close()

	c2 := dial(t, addr)
	tr, err := ecrsim.Do(ctx, c2, req, ecrsim.Options{OnAnswer: func(zvt.APDU) {
		// Re-attached: now the terminal comes online and finishes the payment.
		if err := env.Sim.SetOnline(agenttest.TermOff, true); err != nil {
			t.Error(err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if si, ok := tr.Status(); !ok || si.ResultCode != 0 || *si.Amount != 3100 {
		t.Fatalf("re-sent request: %s", tr)
	}
	sales := ecrPayments(t, env, agenttest.TermOff, agent.TypeSale)
	if len(sales) != 1 {
		t.Fatalf("%d sales, want 1", len(sales))
	}
	if n := env.Sim.Count(methodCreate, sales[0].MerchantOrderNo); n != 1 {
		t.Fatalf("CodePay saw %d creates for %s, want 1", n, sales[0].MerchantOrderNo)
	}
}

// firstOrder returns the first ECR payment's order number once it exists.
func firstOrder(t *testing.T, env *agenttest.Env) string {
	t.Helper()
	found := make(chan string, 1)
	unsub := env.Agent.Subscribe(func(e agent.Event) {
		if e.Payment != nil && strings.HasPrefix(e.Payment.MerchantOrderNo, "ZVT-") {
			select {
			case found <- e.Payment.MerchantOrderNo:
			default:
			}
		}
	})
	defer unsub()
	if list, err := env.Agent.List(context.Background(), agent.ListFilter{Limit: 10}); err == nil {
		for _, p := range list {
			if strings.HasPrefix(p.MerchantOrderNo, "ZVT-") {
				return p.MerchantOrderNo
			}
		}
	}
	select {
	case no := <-found:
		return no
	case <-time.After(waitLimit):
		t.Fatal("no ECR payment appeared")
		return ""
	}
}

func TestTCPBadInputKeepsServing(t *testing.T) {
	env := agenttest.New(t, agenttest.Opts{})
	_, addr := tcpService(t, env, agenttest.TermA, &syncBuffer{})
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	tests := []struct {
		name string
		cmd  zvt.APDU
		want uint16
	}{
		{"unknown command", zvt.APDU{Class: 0x06, Instr: 0x93, Data: []byte{}}, 0x8483},
		{"malformed", zvt.APDU{Class: 0x06, Instr: 0x01, Data: []byte{0x04, 0x01}}, 0x849A},
		{"wrong currency", ecrsim.Sale(100, 978), 0x8000},
	}
	c := dial(t, addr)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ecrsim.Do(ctx, c, tc.cmd, ecrsim.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tr.Answer.Control() != tc.want {
				t.Fatalf("answer %s, want %04X", tr, tc.want)
			}
			if tc.want == 0x8000 {
				if code, _ := tr.Result(); code != zvt.ResultWrongCurrency {
					t.Fatalf("wrong currency: %s, want 06 1E 6F", tr)
				}
			}
		})
	}
	// An absurd length closes that connection only; the listener serves on.
	bad := dial(t, addr)
	if err := bad.SendRaw([]byte{0x06, 0x01, 0xFF, 0xFF, 0xFF}); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Receive(ctx); err == nil {
		t.Fatal("the PT answered an APDU announcing 65535 bytes it never got")
	}
	c2 := dial(t, addr)
	tr, err := ecrsim.Do(ctx, c2, ecrsim.Sale(100, 840), ecrsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := tr.Result(); code != 0 {
		t.Fatalf("sale after bad input: %s", tr)
	}
}

func TestServiceRejectsBadEntries(t *testing.T) {
	env := agenttest.New(t, agenttest.Opts{})
	tests := []struct {
		name string
		e    config.ECR
	}{
		{"protocol", config.ECR{Protocol: "opi", TCPListen: "127.0.0.1:0", TerminalSN: agenttest.TermA}},
		{"neither", config.ECR{Protocol: "zvt", TerminalSN: agenttest.TermA}},
		{"both", config.ECR{Protocol: "zvt", Serial: "/dev/ttyS0", TCPListen: "127.0.0.1:0", TerminalSN: agenttest.TermA}},
		{"terminal", config.ECR{Protocol: "zvt", TCPListen: "127.0.0.1:0", TerminalSN: "NOPE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(Config{Agent: env.Agent, ECRs: []config.ECR{tc.e}}); err == nil {
				t.Fatalf("New accepted %+v", tc.e)
			}
		})
	}
}
