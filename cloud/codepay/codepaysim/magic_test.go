package codepaysim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
)

// TestMagicAmounts: each magic amount does what its table entry says, at
// the emulator (the agent's side: cmd/posbridge TestSandboxAmountsThroughTheAgent).
func TestMagicAmounts(t *testing.T) {
	usual := DefaultPickupDelay + DefaultProcessDelay
	for _, m := range MagicAmounts() {
		t.Run(m.Label()+" "+string(m.Kind), func(t *testing.T) {
			e := newEnv(t, nil)
			no := "MAGIC-" + strings.ReplaceAll(m.Label(), ".", "")
			fields := createFields(no, m.Sample())
			switch m.Kind {
			case MagicDecline, MagicCancel:
				e.mustCreate(fields)
				e.clock.Advance(usual)
				d := e.query(no)
				want, _ := m.outcome()
				if e.status(no) != int(want.Status) || (m.Kind == MagicDecline && (d["trans_error_code"] != m.Code || d["trans_error_msg"] != m.Message)) {
					t.Fatalf("after %s: %v, want status %d %s %s", usual, d, want.Status, m.Code, m.Message)
				}
			case MagicSlowCustomer:
				e.mustCreate(fields)
				e.clock.Advance(usual)
				if got := e.status(no); got != int(codepay.StatusProcessing) {
					t.Fatalf("status after the usual %s = %d, want 0 (still on the terminal)", usual, got)
				}
				e.clock.Advance(m.Delay())
				if got := e.status(no); got != int(codepay.StatusCompleted) {
					t.Fatalf("status %s later = %d, want 2", m.Delay(), got)
				}
			case MagicNeverPaid:
				e.mustCreate(fields) // expires 180 s
				e.clock.Advance(179 * time.Second)
				if got := e.status(no); got != int(codepay.StatusProcessing) {
					t.Fatalf("status before expires = %d, want 0", got)
				}
				e.clock.Advance(time.Second)
				if v, _ := e.sim.Order(no); v.Status != codepay.StatusFailed || v.ErrorCode != "ORDER_EXPIRED" {
					t.Fatalf("at expires: %+v, want status 1 ORDER_EXPIRED", v)
				}
			case MagicOffline:
				if d := e.mustCreate(fields); d["terminal_online_status"] != codepay.TerminalOffline {
					t.Fatalf("create answer %v, want terminal_online_status offline", d)
				}
				e.mustCreate(createFields(no+"-NEXT", "3.00")) // the terminal is not held up
				e.clock.Advance(time.Minute)
				if got := e.status(no); got != int(codepay.StatusCreated) {
					t.Fatalf("status after a minute = %d, want 9", got)
				}
				if got := e.status(no + "-NEXT"); got != int(codepay.StatusCompleted) {
					t.Fatalf("the next order's status = %d, want 2", got)
				}
				wantCode(t, e.cl.do(codepay.MethodPayClose, map[string]string{"terminal_sn": snOnline, "merchant_order_no": no, "message_receiving_application": "CodePay Register"}), CodeOK)
				if got := e.status(no); got != int(codepay.StatusCancelled) {
					t.Fatalf("status after close = %d, want 3", got)
				}
			case MagicLostAnswer, MagicSlowGateway, MagicGatewayTimeout:
				fault := map[MagicKind]FaultKind{MagicLostAnswer: FaultDropAfterProcess, MagicSlowGateway: FaultSlow, MagicGatewayTimeout: FaultSlow}[m.Kind]
				// A client that gives up after 200ms sees no answer to the
				// late ones (their delay is tested through the agent).
				e.cl.http = &http.Client{Timeout: 200 * time.Millisecond}
				p := e.cl.params(codepay.MethodPayOrder, fields)
				if resp, body, err := e.cl.postRaw(e.cl.signedBody(p), "application/json", nil); err == nil {
					t.Fatalf("got HTTP %d %s, want no answer", resp.StatusCode, body)
				}
				reqs := e.sim.Requests(codepay.MethodPayOrder, no)
				if len(reqs) != 1 || reqs[0].Fault != fault || reqs[0].Code != CodeOK {
					t.Fatalf("recorded = %+v, want one processed create with fault %s", reqs, fault)
				}
				e.clock.Advance(usual)
				if got := e.status(no); got != int(codepay.StatusCompleted) {
					t.Fatalf("status = %d, want 2: the order goes on", got)
				}
			case MagicRefused:
				wantCode(t, e.create(fields), CodeNotAllowed)
				if _, ok := e.sim.Order(no); ok {
					t.Fatal("a refused create made an order")
				}
			default:
				t.Fatalf("kind %s has no test", m.Kind)
			}
		})
	}
}

// TestMagicAmountsScope: refunds are never magic, scripts win over the
// amount, a custom decline ending moves only the 51 row, and -1 turns them
// all off.
func TestMagicAmountsScope(t *testing.T) {
	e := newEnv(t, nil)
	e.approve(createFields("SCOPE-SALE", "20.00"))
	e.mustCreate(with(createFields("SCOPE-REFUND", "0.47"), "trans_type", "3", "orig_merchant_order_no", "SCOPE-SALE"))
	e.clock.Advance(DefaultPickupDelay + DefaultProcessDelay)
	if got := e.status("SCOPE-REFUND"); got != 2 {
		t.Errorf("refund of 0.47: status %d, want 2 (refunds are never magic)", got)
	}
	e.sim.ScriptOutcome("SCOPE-SCRIPT", Outcome{Status: codepay.StatusCompleted})
	e.approve(createFields("SCOPE-SCRIPT", "1.05"))

	custom := newEnv(t, func(c *Config) { c.DeclineMinorSuffix = 5 })
	custom.mustCreate(createFields("CUSTOM", "1.05"))
	custom.clock.Advance(DefaultPickupDelay + DefaultProcessDelay)
	if v, _ := custom.sim.Order("CUSTOM"); v.ErrorCode != "51" {
		t.Errorf("DeclineMinorSuffix 5, amount 1.05: %+v, want the 51 decline", v)
	}
	custom.approve(createFields("CUSTOM-51", "1.51"))

	off := newEnv(t, func(c *Config) { c.DeclineMinorSuffix = -1 })
	for _, m := range MagicAmounts() {
		no := "OFF-" + strings.ReplaceAll(m.Label(), ".", "")
		if d := off.mustCreate(createFields(no, m.Sample())); d["terminal_online_status"] != codepay.TerminalOnline {
			t.Errorf("%s with magic amounts off: %v", m.Label(), d)
		}
	}
	off.clock.Advance(time.Duration(len(MagicAmounts())) * (DefaultPickupDelay + DefaultProcessDelay))
	for _, m := range MagicAmounts() {
		if got := off.status("OFF-" + strings.ReplaceAll(m.Label(), ".", "")); got != 2 {
			t.Errorf("%s with magic amounts off: status %d, want 2", m.Label(), got)
		}
	}
}
