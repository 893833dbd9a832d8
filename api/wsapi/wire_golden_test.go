package wsapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/cloud/codepay"
)

// normalizers replace what varies between runs (times, seqs, the
// emulator's transaction numbers) in raw WebSocket messages. They work on
// the bytes as received, so the field order and spelling stay as the
// server wrote them.
var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"`), `"<time>"`},
	{regexp.MustCompile(`"(seq|next)":\d+`), `"$1":"<n>"`},
	{regexp.MustCompile(`"(trans_no|ref_no|auth_code)":"[^"]+"`), `"$1":"<$1>"`},
	{regexp.MustCompile(`(batch )\d+`), `${1}<n>`},
	{regexp.MustCompile(`"batch_no":\d+`), `"batch_no":"<n>"`},
	{regexp.MustCompile(`"since":\d+`), `"since":"<n>"`},
	{regexp.MustCompile(`\b\d\d:\d\d:\d\d UTC`), `<hh:mm:ss> UTC`},
}

// receiptVarying matches the lines of a receipt (payment.receipt) that
// show a time or the emulator's numbers, also a long number wrapped onto a
// line of its own; normalize writes their digits as 'n', keeping the
// layout.
var receiptVarying = regexp.MustCompile(`"(?:Date|Auth code|Reference|Transaction) +[^"]+"|" +\d{12,}"`)

func normalize(b []byte) []byte {
	for _, n := range normalizers {
		b = n.re.ReplaceAll(b, []byte(n.with))
	}
	return receiptVarying.ReplaceAllFunc(b, func(m []byte) []byte {
		return bytes.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return 'n'
			}
			return r
		}, m)
	})
}

// rawCall sends one request and returns the raw bytes of its answer
// (notifications on the way are kept by the client).
func (c *client) rawCall(method string, params any) []byte {
	c.t.Helper()
	c.id++
	req := map[string]any{"jsonrpc": "2.0", "id": c.id, "method": method}
	if params != nil {
		req["params"] = params
	}
	if err := c.conn.WriteJSON(req); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	// An answer starts with its id; a notification has none (and its
	// params, like a receipt's fields, may well hold a "method").
	want := []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,`, c.id))
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.received() {
			if bytes.HasPrefix(m, want) {
				return m
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("no answer to %s (id %d)", method, c.id)
	return nil
}

// TestWireGolden runs a scripted session through every method of the
// WebSocket API against the emulators and compares every answer and the
// notifications a subscriber received, byte for byte (times, seqs and the
// emulator's numbers normalised), with testdata/session.golden. Run with
// -update to rewrite it.
func TestWireGolden(t *testing.T) {
	e := newWSEnvOpts(t, agenttest.Opts{Bindo: true, OfflineGrace: 300 * time.Millisecond})
	e.Sim.ScriptPayScenario("QR1", codepay.ScenarioBScanQR)
	watcher := e.dial(t)
	c := e.dial(t)
	other := e.dial(t)
	rc := e.dial(t) // payment.receipt, on its own connection
	var out bytes.Buffer
	step := func(cl *client, method string, params any) {
		t.Helper()
		p, _ := json.Marshal(params)
		fmt.Fprintf(&out, ">> %s %s\n<< %s\n", method, p, normalize(cl.rawCall(method, params)))
	}
	waitFinal := func(no string) {
		t.Helper()
		for range 200 {
			if p, err := e.Agent.Get(t.Context(), no); err == nil && p.Final() {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s not final", no)
	}
	sale := func(no, term, amount string, extra map[string]any) map[string]any {
		m := map[string]any{"merchant_order_no": no, "type": "sale", "terminal_sn": term, "amount": amount, "currency": "USD"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	const visaT2 = "4111111111111111=30122011758928889"
	mcICC := iccFor("5555555555554444", "5555555555554444D30122011758928889")

	step(watcher, "events.subscribe", map[string]any{})
	// Payments: approved, declined, failed then sent again with a card,
	// native contact, cashback, void, tip adjustment, cloud refund.
	step(c, "payment.create", sale("S1", agenttest.TermA, "12.34", map[string]any{"tip_amount": "1.00", "description": "golden sale"}))
	waitFinal("S1")
	step(c, "payment.wait", map[string]any{"merchant_order_no": "S1", "timeout_ms": 20000})
	step(rc, "payment.receipt", map[string]any{"merchant_order_no": "S1"})
	step(c, "payment.create", sale("D1", agenttest.TermA, "10.51", nil))
	waitFinal("D1")
	step(c, "payment.get", map[string]any{"merchant_order_no": "D1"})
	step(rc, "payment.receipt", map[string]any{"merchant_order_no": "D1", "copy": "merchant", "width": 32})
	step(c, "payment.create", sale("F1", agenttest.TermOff, "5.00", nil))
	waitFinal("F1")
	step(c, "payment.get", map[string]any{"merchant_order_no": "F1"})
	step(rc, "payment.receipt", map[string]any{"merchant_order_no": "F1"})
	step(c, "payment.create", sale("F1", agenttest.TermOff, "5.00", map[string]any{"card": map[string]any{"reader_mode": "swipe", "track2": visaT2}}))
	waitFinal("F1")
	step(c, "payment.get", map[string]any{"merchant_order_no": "F1"})
	step(c, "payment.create", sale("N1", agenttest.TermA, "15.00", map[string]any{
		"card":    map[string]any{"reader_mode": "contact", "track2": ";5555555555554444=30122011758928889?", "icc": mcICC},
		"options": map[string]any{"route": "native", "receipt_print_mode": 3, "confirm_on_terminal": true}}))
	waitFinal("N1")
	step(c, "payment.get", map[string]any{"merchant_order_no": "N1"})
	step(rc, "payment.receipt", map[string]any{"merchant_order_no": "N1", "copy": "customer", "width": 48})
	step(c, "payment.create", map[string]any{"merchant_order_no": "CB1", "type": "cashback", "terminal_sn": agenttest.TermA,
		"amount": "20.00", "cashback_amount": "5.00", "currency": "USD", "source": "console"})
	waitFinal("CB1")
	step(c, "payment.get", map[string]any{"merchant_order_no": "CB1"})
	step(c, "payment.create", sale("S2", agenttest.TermA, "7.00", nil))
	waitFinal("S2")
	step(c, "payment.tip_adjust", map[string]any{"merchant_order_no": "S2", "tip_amount": "2.00"})
	step(c, "payment.create", map[string]any{"merchant_order_no": "V1", "type": "void", "terminal_sn": agenttest.TermA,
		"amount": "12.34", "currency": "USD", "orig_merchant_order_no": "S1"})
	waitFinal("V1")
	step(c, "payment.get", map[string]any{"merchant_order_no": "V1"})
	step(c, "payment.create", sale("QR1", agenttest.TermB, "10.00", nil))
	waitFinal("QR1")
	step(c, "payment.refund", map[string]any{"merchant_order_no": "R1", "orig_merchant_order_no": "QR1", "amount": "4.00", "description": "damaged"})
	waitFinal("R1")
	step(c, "payment.get", map[string]any{"merchant_order_no": "R1"})
	step(rc, "payment.receipt", map[string]any{"merchant_order_no": "R1", "width": 32})
	// Look-ups.
	step(c, "payment.list", map[string]any{"terminal_sn": agenttest.TermA, "limit": 3})
	step(c, "payment.list", map[string]any{"state": "declined"})
	step(c, "payment.list", map[string]any{"state": "expired"})
	step(c, "events.since", map[string]any{"since": 0, "limit": 2})
	step(c, "events.since", map[string]any{"since": 0, "terminal_sn": agenttest.TermB})
	step(other, "events.subscribe", map[string]any{"topics": []string{"payment"}, "since": 0, "limit": 2})
	step(other, "events.subscribe", map[string]any{"topics": []string{"batch"}, "terminal_sn": agenttest.TermB})
	// Batches.
	step(c, "batch.get", map[string]any{"terminal_sn": agenttest.TermA})
	step(c, "batch.close", map[string]any{"terminal_sn": agenttest.TermA, "source": "cli"})
	step(c, "batch.get", map[string]any{"terminal_sn": agenttest.TermA})
	step(c, "batch.close", map[string]any{"terminal_sn": agenttest.TermB})
	step(c, "batch.list", map[string]any{"terminal_sn": agenttest.TermA})
	step(c, "batch.list", map[string]any{"limit": 2})
	step(c, "terminal.list", nil)
	// Errors.
	step(c, "no.such.method", nil)
	step(c, "payment.create", []any{1, 2})
	step(c, "payment.create", sale("E1", agenttest.TermA, "1.00", map[string]any{"amout": "1"}))
	step(c, "payment.create", sale("E1", agenttest.TermA, "1.00", map[string]any{"lane": 1}))
	step(c, "payment.create", sale("E1", agenttest.TermA, "1.00", map[string]any{"options": map[string]any{"receipt_print_mode": "x"}}))
	step(c, "payment.create", sale("E1", agenttest.TermA, "1.00", map[string]any{"options": map[string]any{"colour": "x"}}))
	step(c, "payment.create", sale("E1", agenttest.TermA, "1.00", map[string]any{"options": map[string]any{"route": "moon"}}))
	step(c, "payment.create", sale("E1", agenttest.TermA, "1.00", map[string]any{"card": map[string]any{"reader_mode": "swipe", "track2": visaT2, "pin": "1"}}))
	step(c, "payment.create", sale("E1", agenttest.TermA, "1.00", map[string]any{"card": "x"}))
	step(c, "payment.create", sale("E1", agenttest.TermA, "1.00", map[string]any{"amount": 1.0}))
	step(c, "payment.create", sale("E1", agenttest.TermA, "1.001", nil))
	step(c, "payment.create", sale("E1", agenttest.TermA, "1.00", map[string]any{"source": "pos"}))
	step(c, "payment.create", sale("S2", agenttest.TermA, "8.00", nil))
	step(c, "payment.get", map[string]any{"merchant_order_no": "NOPE"})
	step(c, "payment.get", map[string]any{})
	step(c, "payment.get", "S1")
	step(rc, "payment.receipt", map[string]any{"merchant_order_no": "NOPE"})
	step(rc, "payment.receipt", map[string]any{"copy": "merchant"})
	step(rc, "payment.receipt", map[string]any{"merchant_order_no": "S1", "copy": "both"})
	step(rc, "payment.receipt", map[string]any{"merchant_order_no": "S1", "width": 19})
	step(rc, "payment.receipt", map[string]any{"merchant_order_no": "S1", "width": "40"})
	step(rc, "payment.receipt", map[string]any{"merchant_order_no": "S1", "printer": "epson"})
	step(c, "payment.cancel", map[string]any{"merchant_order_no": "D1"})
	step(c, "payment.wait", map[string]any{"merchant_order_no": "D1", "timeout_ms": -1})
	step(c, "payment.tip_adjust", map[string]any{"merchant_order_no": "D1", "tip_amount": "1.00"})
	step(c, "payment.tip_adjust", map[string]any{"merchant_order_no": "D1"})
	step(c, "payment.list", map[string]any{"limit": 0})
	step(c, "payment.list", map[string]any{"state": "paid"})
	step(c, "payment.list", map[string]any{"terminal_sn": "NOPE"})
	step(c, "terminal.list", map[string]any{"x": 1})
	step(c, "events.since", map[string]any{})
	step(c, "events.since", map[string]any{"since": -1})
	step(c, "events.subscribe", map[string]any{"topics": []string{"moon"}})
	step(c, "events.subscribe", map[string]any{"limit": 2})
	step(c, "events.subscribe", map[string]any{"topics": []string{"batch"}, "since": 0})
	step(c, "batch.get", map[string]any{})
	step(c, "batch.close", map[string]any{"terminal_sn": "NOPE"})
	step(c, "batch.list", map[string]any{"limit": 501})
	step(c, "payment.refund", map[string]any{"merchant_order_no": "R2", "orig_merchant_order_no": "N1", "via": "cloud"})

	// The subscriber's notifications: the last payment.updated of each
	// payment (a subscriber may be sent a later state instead of every
	// step: how many it gets depends on timing), each distinct
	// batch.closed, in the order first seen, then the last terminal.updated
	// of each terminal. Wait until every payment seen has arrived at a
	// final state.
	type update struct {
		Method string
		Params struct {
			SN    string `json:"sn"`
			No    string `json:"merchant_order_no"`
			State string `json:"state"`
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		open := ""
		last := map[string]string{}
		for _, m := range watcher.received() {
			var u update
			if json.Unmarshal(m, &u) == nil && u.Method == "payment.updated" {
				last[u.Params.No] = u.Params.State
			}
		}
		for no, st := range last {
			if !agent.IsFinal(st) {
				open = no + " " + st
			}
		}
		if open == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the subscriber has no final state of %s", open)
		}
		watcher.waitForMore(50 * time.Millisecond)
	}
	out.WriteString("== notifications\n")
	seen := map[string]bool{}
	var order []string
	lastPayment := map[string][]byte{}
	lastTerm := map[string][]byte{}
	for _, m := range watcher.received() {
		var u update
		if json.Unmarshal(m, &u) != nil || u.Method == "" {
			continue
		}
		n := normalize(m)
		switch u.Method {
		case "terminal.updated":
			lastTerm[u.Params.SN] = n
		case "payment.updated":
			if _, ok := lastPayment[u.Params.No]; !ok {
				order = append(order, "p:"+u.Params.No)
			}
			lastPayment[u.Params.No] = n
		default:
			if !seen[string(n)] {
				seen[string(n)] = true
				order = append(order, "x:"+string(n))
			}
		}
	}
	for _, o := range order {
		if no, ok := strings.CutPrefix(o, "p:"); ok {
			fmt.Fprintf(&out, "%s\n", lastPayment[no])
		} else {
			fmt.Fprintf(&out, "%s\n", strings.TrimPrefix(o, "x:"))
		}
	}
	sns := make([]string, 0, len(lastTerm))
	for sn := range lastTerm {
		sns = append(sns, sn)
	}
	sort.Strings(sns)
	for _, sn := range sns {
		fmt.Fprintf(&out, "%s\n", lastTerm[sn])
	}
	wsapi.CheckGolden(t, "session.golden", out.Bytes())
}
