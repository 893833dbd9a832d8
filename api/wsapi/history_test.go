package wsapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/wsapi"
)

// payment.history answers what the journal holds about a payment, oldest
// first, from its acceptance to its final state; an unknown order is
// -32004 and a missing one -32602 naming merchant_order_no.
func TestPaymentHistory(t *testing.T) {
	e := newWSEnv(t)
	c := e.dial(t)
	if _, errObj, _ := c.call("payment.create", map[string]any{"merchant_order_no": "HIST1", "type": "sale", "terminal_sn": agenttest.TermA,
		"amount": "4.20", "currency": "USD"}); errObj != nil {
		t.Fatal(string(errObj))
	}
	waitState(t, e.Agent, "HIST1", agent.StateApproved)
	res, errObj, _ := c.call("payment.history", map[string]any{"merchant_order_no": "HIST1"})
	if errObj != nil {
		t.Fatal(string(errObj))
	}
	var h wsapi.PaymentHistory
	if err := json.Unmarshal(res, &h); err != nil {
		t.Fatal(err)
	}
	if h.MerchantOrderNo != "HIST1" || h.Omitted != 0 || len(h.Events) < 3 {
		t.Fatalf("history = %s", res)
	}
	first, last := h.Events[0], h.Events[len(h.Events)-1]
	var states []string
	for i, ev := range h.Events {
		if ev.At.IsZero() || ev.Kind == "" || (i > 0 && ev.At.Before(h.Events[i-1].At)) {
			t.Errorf("event %d = %+v: want a kind and times in order", i, ev)
		}
		if ev.ToState != "" {
			states = append(states, ev.ToState)
		}
	}
	if first.Kind != "created" || first.ToState != agent.StateQueued || !strings.Contains(states[len(states)-1], agent.StateApproved) {
		t.Errorf("history runs %v from %+v to %+v; want created → … → approved", states, first, last)
	}
	if _, errObj, _ := c.call("payment.history", map[string]any{"merchant_order_no": "NOPE1"}); decodeErr(t, errObj).Code != wsapi.CodeNotFound {
		t.Errorf("history of an unknown order: %s", errObj)
	}
	if _, errObj, _ := c.call("payment.history", map[string]any{}); decodeErr(t, errObj).Data.Field != "merchant_order_no" {
		t.Errorf("history without merchant_order_no: %s", errObj)
	}
}

// HistoryFrom keeps the latest 500 events and counts the earlier ones.
func TestHistoryFromBounded(t *testing.T) {
	var evs []agent.HistoryEvent
	for i := range 520 {
		evs = append(evs, agent.HistoryEvent{Kind: "query", Detail: fmt.Sprint(i)})
	}
	h := wsapi.HistoryFrom("MANY1", evs)
	if h.Omitted != 20 || len(h.Events) != 500 || h.Events[0].Detail != "20" || h.Events[499].Detail != "519" {
		t.Fatalf("omitted %d, %d events from %q to %q", h.Omitted, len(h.Events), h.Events[0].Detail, h.Events[len(h.Events)-1].Detail)
	}
	if h := wsapi.HistoryFrom("NONE1", nil); h.Events == nil || len(h.Events) != 0 {
		t.Fatalf("no events → %+v; want an empty list, not null", h)
	}
}
