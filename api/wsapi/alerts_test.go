package wsapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/wsapi"
)

// alert.list shows the payments with an open alert; alert.handle marks one
// handled (journaled with its source and note), after which it is no
// longer listed; a new alert opens it again. Bad params name the field.
func TestAlertListAndHandle(t *testing.T) {
	e := newWSEnv(t)
	c := e.dial(t)
	ctx := context.Background()
	e.MustCreate(e.Sale("AL1", agenttest.TermA, "2.00"))
	e.WaitFinal("AL1")
	list := func() wsapi.AlertList {
		t.Helper()
		res, errObj, _ := c.call("alert.list", map[string]any{})
		var l wsapi.AlertList
		if errObj != nil || json.Unmarshal(res, &l) != nil {
			t.Fatalf("alert.list = %s %s", res, errObj)
		}
		return l
	}
	if l := list(); l.Open != 0 || len(l.Payments) != 0 {
		t.Fatalf("no alerts yet: %+v", l)
	}
	// Handling a payment without an alert names the field.
	_, errObj, _ := c.call("alert.handle", map[string]any{"merchant_order_no": "AL1"})
	if re := decodeErr(t, errObj); re.Code != -32602 || re.Data.Field != "merchant_order_no" || !strings.Contains(re.Message, "has no alert") {
		t.Fatalf("handle without alert = %+v", re)
	}
	if _, err := e.Agent.SetAlert(ctx, "AL1", "Paid twice: test"); err != nil {
		t.Fatal(err)
	}
	l := list()
	if l.Open != 1 || len(l.Payments) != 1 || l.Payments[0].Alert != "Paid twice: test" || !l.Payments[0].AlertHandledAt.IsZero() {
		t.Fatalf("open alerts = %+v", l)
	}
	for _, bad := range []struct {
		params map[string]any
		field  string
	}{
		{map[string]any{"merchant_order_no": "AL1", "note": strings.Repeat("x", 201)}, "note"},
		{map[string]any{"merchant_order_no": "AL1", "source": "pos"}, "source"},
		{map[string]any{"note": "x"}, "merchant_order_no"},
	} {
		_, errObj, _ := c.call("alert.handle", bad.params)
		if re := decodeErr(t, errObj); re.Code != -32602 || re.Data.Field != bad.field {
			t.Fatalf("alert.handle %v = %+v, want -32602 %s", bad.params, re, bad.field)
		}
	}
	if _, errObj, _ := c.call("alert.handle", map[string]any{"merchant_order_no": "NOPE"}); decodeErr(t, errObj).Code != -32002 {
		t.Fatalf("unknown payment = %s", errObj)
	}
	res, errObj, _ := c.call("alert.handle", map[string]any{"merchant_order_no": "AL1", "note": "refunded one in Bindo's portal", "source": "console"})
	var p wsapi.Payment
	if errObj != nil || json.Unmarshal(res, &p) != nil || p.AlertHandledAt.IsZero() || p.Alert != "Paid twice: test" {
		t.Fatalf("alert.handle = %s %s", res, errObj)
	}
	if !strings.Contains(string(res), `"alert_handled_at":"`) {
		t.Fatalf("no alert_handled_at on the wire: %s", res)
	}
	if l := list(); l.Open != 0 || len(l.Payments) != 0 {
		t.Fatalf("handled alert still listed: %+v", l)
	}
	evs, err := e.DB.Events(ctx, "AL1")
	if err != nil || evs[len(evs)-1].Detail != "alert handled from console: refunded one in Bindo's portal" {
		t.Fatalf("last event = %+v, %v", evs[len(evs)-1], err)
	}
	// Again: nothing changes.
	again, errObj, _ := c.call("alert.handle", map[string]any{"merchant_order_no": "AL1"})
	var p2 wsapi.Payment
	if errObj != nil || json.Unmarshal(again, &p2) != nil || !p2.AlertHandledAt.Equal(p.AlertHandledAt) {
		t.Fatalf("second handle = %s %s", again, errObj)
	}
	// A new alert opens it again.
	if _, err := e.Agent.SetAlert(ctx, "AL1", "Paid twice: again"); err != nil {
		t.Fatal(err)
	}
	if l := list(); l.Open != 1 || l.Payments[0].Alert != "Paid twice: again" {
		t.Fatalf("reopened = %+v", l)
	}
}
