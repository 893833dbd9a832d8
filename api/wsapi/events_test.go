package wsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/store"
)

// seqPayment is what these tests read of a payment object.
type seqPayment struct {
	No    string `json:"merchant_order_no"`
	State string `json:"state"`
	Seq   int64  `json:"seq"`
}

func isFinal(state string) bool {
	switch state {
	case "approved", "declined", "cancelled", "expired", "failed":
		return true
	}
	return false
}

// message is one message as the client read it.
type message struct {
	id      string // the answer's id; "" for a notification
	method  string
	payment seqPayment // of a payment.updated, or of a payment.create result
}

func parseMessage(t *testing.T, m map[string]json.RawMessage) message {
	t.Helper()
	var msg message
	if raw, ok := m["method"]; ok {
		json.Unmarshal(raw, &msg.method)
		if msg.method == "payment.updated" {
			if err := json.Unmarshal(m["params"], &msg.payment); err != nil {
				t.Fatalf("payment.updated params: %v", err)
			}
		}
		return msg
	}
	msg.id = string(m["id"])
	json.Unmarshal(m["result"], &msg.payment)
	return msg
}

// readUntil reads messages until done returns true for the last one.
func (c *client) readUntil(done func(message) bool) []message {
	c.t.Helper()
	var out []message
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatalf("connection closed after %d messages", len(out))
			}
			msg := parseMessage(c.t, m)
			out = append(out, msg)
			if done(msg) {
				return out
			}
		case <-timeout:
			c.t.Fatalf("gave up after %d messages: %+v", len(out), out)
		}
	}
}

// createSale sends payment.create without waiting for the answer and
// returns the request id.
func (c *client) createSale(no, sn string) string {
	c.t.Helper()
	c.id++
	err := c.conn.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": c.id, "method": "payment.create", "params": map[string]any{
		"merchant_order_no": no, "type": "sale", "terminal_sn": sn, "amount": "1.00", "currency": "USD"}})
	if err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return fmt.Sprint(c.id)
}

// TestSeqAndReplyFirst: on a connection that creates payments and is also
// subscribed, each payment.create answer comes before any payment.updated of
// that order, every payment's seq strictly increases through its updates,
// and the whole notification stream is in ascending seq although several
// creates (on two terminals) are in flight at once.
func TestSeqAndReplyFirst(t *testing.T) {
	e := newWSEnv(t)
	c := e.dial(t)
	if _, errObj, _ := c.call("events.subscribe", map[string]any{"topics": []string{"payment"}}); errObj != nil {
		t.Fatalf("subscribe: %s", errObj)
	}
	orders := map[string]string{} // request id → order
	for i := range 6 {
		sn := agenttest.TermA
		if i%2 == 1 {
			sn = agenttest.TermB
		}
		no := fmt.Sprintf("SEQ%d", i)
		orders[c.createSale(no, sn)] = no
	}
	final := map[string]bool{}
	msgs := c.readUntil(func(m message) bool {
		if m.method == "payment.updated" && isFinal(m.payment.State) {
			final[m.payment.No] = true
		}
		return len(final) == len(orders)
	})

	answered := map[string]int64{} // order → seq of its create answer
	last := map[string]int64{}     // order → seq of its last update
	var prev int64
	for i, m := range msgs {
		switch {
		case m.id != "":
			no := orders[m.id]
			if _, seen := last[no]; seen {
				t.Fatalf("message %d: the answer to payment.create %s came after its payment.updated", i, no)
			}
			if m.payment.No != no || m.payment.Seq <= 0 {
				t.Fatalf("answer %s = %+v, want %s with a seq", m.id, m.payment, no)
			}
			answered[no] = m.payment.Seq
		case m.method == "payment.updated":
			p := m.payment
			if _, ok := answered[p.No]; !ok {
				t.Fatalf("message %d: payment.updated %+v before the create answer", i, p)
			}
			if p.Seq <= prev {
				t.Fatalf("message %d: seq %d after %d: notifications out of order", i, p.Seq, prev)
			}
			if l, ok := last[p.No]; !ok && p.Seq != answered[p.No] {
				t.Errorf("first update of %s has seq %d, the answer had %d (both are the queued state)", p.No, p.Seq, answered[p.No])
			} else if ok && p.Seq <= l {
				t.Errorf("%s: seq %d after %d", p.No, p.Seq, l)
			}
			prev, last[p.No] = p.Seq, p.Seq
		}
	}
	for _, no := range orders {
		res, _, _ := c.call("payment.get", map[string]any{"merchant_order_no": no})
		var p seqPayment
		json.Unmarshal(res, &p)
		if p.State != "approved" || p.Seq != last[no] {
			t.Errorf("payment.get %s = %+v, want approved with the last notified seq %d", no, p, last[no])
		}
	}
}

// TestCatchUpAfterDisconnect: a cashier disconnects while its payment is
// still running and reconnects once it is over: events.since (and
// events.subscribe with since) from the last seq it processed gives the
// final state.
func TestCatchUpAfterDisconnect(t *testing.T) {
	e := newWSEnv(t)
	c := e.dial(t)
	id := c.createSale("GONE1", agenttest.TermA)
	msgs := c.readUntil(func(m message) bool { return m.method == "payment.updated" && m.payment.No == "GONE1" })
	if msgs[0].id != id {
		t.Fatalf("first message %+v, want the create answer", msgs[0])
	}
	cursor := msgs[len(msgs)-1].payment.Seq
	if state := msgs[len(msgs)-1].payment.State; state != "queued" {
		t.Fatalf("first update is %s, want queued", state)
	}
	c.conn.Close()
	final := e.WaitFinal("GONE1")
	if final.State != "approved" || final.Seq <= cursor {
		t.Fatalf("final = %s seq %d, want approved above %d", final.State, final.Seq, cursor)
	}

	c2 := e.dial(t)
	res, errObj, _ := c2.call("events.since", map[string]any{"since": cursor})
	if errObj != nil {
		t.Fatalf("events.since: %s", errObj)
	}
	var page struct {
		Payments []seqPayment `json:"payments"`
		Next     int64        `json:"next"`
		More     bool         `json:"more"`
	}
	if err := json.Unmarshal(res, &page); err != nil {
		t.Fatal(err)
	}
	want := []seqPayment{{No: "GONE1", State: "approved", Seq: final.Seq}}
	if !slices.Equal(page.Payments, want) || page.Next != final.Seq || page.More {
		t.Fatalf("events.since(%d) = %s, want only GONE1 approved, next %d, more false", cursor, res, final.Seq)
	}

	c3 := e.dial(t)
	res, errObj, _ = c3.call("events.subscribe", map[string]any{"topics": []string{"payment"}, "since": cursor})
	if errObj != nil {
		t.Fatalf("events.subscribe with since: %s", errObj)
	}
	var sub struct {
		Subscribed []string     `json:"subscribed"`
		Payments   []seqPayment `json:"payments"`
		Next       int64        `json:"next"`
		More       bool         `json:"more"`
	}
	json.Unmarshal(res, &sub)
	if !slices.Equal(sub.Subscribed, []string{"payment"}) || !slices.Equal(sub.Payments, want) || sub.Next != final.Seq || sub.More {
		t.Fatalf("events.subscribe with since %d = %s", cursor, res)
	}
	// The subscription is live: the next payment's updates arrive.
	e.MustCreate(e.Sale("AFTER1", agenttest.TermB, "2.00"))
	got := c3.readUntil(func(m message) bool { return m.payment.No == "AFTER1" && isFinal(m.payment.State) })
	if p := got[len(got)-1].payment; p.State != "approved" || p.Seq <= final.Seq {
		t.Fatalf("live update after catch-up = %+v", p)
	}
}

// TestEventsSincePaging pages through finished payments two at a time.
func TestEventsSincePaging(t *testing.T) {
	e := newWSEnv(t)
	var nos []string
	for i := range 5 {
		sn := agenttest.TermA
		if i >= 3 {
			sn = agenttest.TermB
		}
		no := fmt.Sprintf("PG%d", i)
		e.MustCreate(e.Sale(no, sn, "1.00"))
		nos = append(nos, no)
	}
	for _, no := range nos {
		e.WaitFinal(no)
	}
	c := e.dial(t)
	type page struct {
		Payments []seqPayment `json:"payments"`
		Next     int64        `json:"next"`
		More     bool         `json:"more"`
	}
	since := func(params map[string]any) page {
		t.Helper()
		res, errObj, _ := c.call("events.since", params)
		if errObj != nil {
			t.Fatalf("events.since(%v): %s", params, errObj)
		}
		var p page
		if err := json.Unmarshal(res, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	var (
		cursor int64
		seen   []string
		mores  []bool
	)
	for range 10 {
		p := since(map[string]any{"since": cursor, "limit": 2})
		if len(p.Payments) > 2 {
			t.Fatalf("page of %d with limit 2", len(p.Payments))
		}
		for _, pay := range p.Payments {
			if pay.Seq <= cursor || pay.State != "approved" {
				t.Fatalf("page from %d holds %+v", cursor, pay)
			}
			cursor = pay.Seq
			seen = append(seen, pay.No)
		}
		if p.Next != cursor {
			t.Fatalf("next = %d, want the last seq %d", p.Next, cursor)
		}
		mores = append(mores, p.More)
		if !p.More {
			break
		}
	}
	slices.Sort(seen)
	if !slices.Equal(seen, nos) || !slices.Equal(mores, []bool{true, true, false}) {
		t.Fatalf("paging saw %v with more %v, want %v in pages of 2, 2, 1", seen, mores, nos)
	}
	if p := since(map[string]any{"since": cursor}); len(p.Payments) != 0 || p.Next != cursor || p.More {
		t.Fatalf("events.since(newest) = %+v, want nothing, next unchanged", p)
	}
	p := since(map[string]any{"since": 0, "terminal_sn": agenttest.TermB})
	if len(p.Payments) != 2 || p.Payments[0].No != "PG3" || p.Payments[1].No != "PG4" || p.More {
		t.Fatalf("events.since for %s = %+v, want PG3, PG4", agenttest.TermB, p)
	}
	if p := since(map[string]any{"since": 0}); len(p.Payments) != 5 || p.More || p.Next != cursor {
		t.Fatalf("events.since(0) with the default limit = %+v", p)
	}
}

// TestEventsBadParams: bad catch-up params are -32602 naming the field, and
// change nothing — a refused events.subscribe does not subscribe.
func TestEventsBadParams(t *testing.T) {
	e := newWSEnv(t)
	c := e.dial(t)
	e.MustCreate(e.Sale("BP1", agenttest.TermA, "1.00"))
	e.WaitFinal("BP1") // nothing changes the journal from here but the calls below
	before, err := e.DB.ListPayments(context.Background(), store.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		method string
		params map[string]any
		field  string
	}{
		{"since missing", "events.since", map[string]any{}, "since"},
		{"since negative", "events.since", map[string]any{"since": -1}, "since"},
		{"since not a number", "events.since", map[string]any{"since": "5"}, "since"},
		{"since from another journal", "events.since", map[string]any{"since": 1 << 40}, "since"},
		{"limit 0", "events.since", map[string]any{"since": 0, "limit": 0}, "limit"},
		{"limit too big", "events.since", map[string]any{"since": 0, "limit": 501}, "limit"},
		{"unknown terminal", "events.since", map[string]any{"since": 0, "terminal_sn": "NOPE"}, "terminal_sn"},
		{"unknown field", "events.since", map[string]any{"since": 0, "after": 1}, "after"},
		{"subscribe since negative", "events.subscribe", map[string]any{"since": -1}, "since"},
		{"subscribe since ahead", "events.subscribe", map[string]any{"since": 1 << 40}, "since"},
		{"subscribe limit 0", "events.subscribe", map[string]any{"since": 0, "limit": 0}, "limit"},
		{"subscribe limit too big", "events.subscribe", map[string]any{"since": 0, "limit": 501}, "limit"},
		{"subscribe limit without since", "events.subscribe", map[string]any{"limit": 5}, "limit"},
		{"subscribe since without payments", "events.subscribe", map[string]any{"topics": []string{"terminal"}, "since": 0}, "since"},
		{"subscribe unknown terminal", "events.subscribe", map[string]any{"since": 0, "terminal_sn": "NOPE"}, "terminal_sn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errObj, _ := c.call(tc.method, tc.params)
			if e := decodeErr(t, errObj); e.Code != -32602 || e.Data.Field != tc.field {
				t.Fatalf("%s(%v) error = %+v, want -32602 with field %s", tc.method, tc.params, e, tc.field)
			}
		})
	}
	after, err := e.DB.ListPayments(context.Background(), store.ListFilter{})
	if err != nil || len(after) != len(before) || after[0].EventID != before[0].EventID {
		t.Fatalf("bad params changed the journal: %d payments (%v)", len(after), err)
	}
	// Not subscribed: another connection's payment is published while its
	// create runs, so had c subscribed, the update would be queued on c
	// before the answer to c's next call.
	other := e.dial(t)
	if _, errObj, _ := other.call("payment.create", map[string]any{
		"merchant_order_no": "BP2", "type": "sale", "terminal_sn": agenttest.TermB, "amount": "1.00", "currency": "USD"}); errObj != nil {
		t.Fatalf("create: %s", errObj)
	}
	if _, _, notes := c.call("terminal.list", nil); len(notes) != 0 {
		t.Fatalf("a refused events.subscribe subscribed: got %d notifications", len(notes))
	}
}
