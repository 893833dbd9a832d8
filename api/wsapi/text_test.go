package wsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/store"
)

// A description with a control character is refused with -32602 naming the
// field and the character, before anything reaches the journal or CodePay;
// the same order number then goes through with printable text.
func TestWebSocketRefusesControlCharacters(t *testing.T) {
	e := newWSEnv(t)
	c := e.dial(t)
	bad := []struct {
		name, desc string
		char       string
		at         int
	}{
		{"NUL", "Table\x007", "U+0000", 5},
		{"BEL", "\aTable 7", "U+0007", 0},
		{"TAB", "Table\t7", "U+0009", 5},
		{"LF", "Table 7\n2 coffees", "U+000A", 7},
		{"CR", "Table 7\r", "U+000D", 7},
		{"ESC", "Hello\x1b[2J", "U+001B", 5},
		{"DEL", "Table 7\x7f", "U+007F", 7},
		{"C1 NEL", "Café\u0085", "U+0085", 5},
		{"C1 CSI", "\u009b2J", "U+009B", 0},
	}
	for i, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			no := fmt.Sprintf("CTL%d", i)
			_, errObj, _ := c.call("payment.create", map[string]any{
				"merchant_order_no": no, "type": "sale", "terminal_sn": agenttest.TermA,
				"amount": "1.00", "currency": "USD", "description": tc.desc,
			})
			got := decodeErr(t, errObj)
			want := fmt.Sprintf("description: contains a control character (%s) at byte %d; use printable text", tc.char, tc.at)
			if got.Code != -32602 || got.Data.Field != "description" || !strings.Contains(got.Message, want) {
				t.Fatalf("create with %q → %+v, want -32602, field description, message containing %q", tc.desc, got, want)
			}
			if _, err := e.DB.GetPayment(context.Background(), no); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("refused %s is in the journal (GetPayment error %v)", no, err)
			}
			if n := e.Sim.Count(codepay.MethodPayOrder, no); n != 0 {
				t.Fatalf("CodePay saw %d creates of refused %s", n, no)
			}
		})
	}
	list, err := e.DB.ListPayments(context.Background(), store.ListFilter{})
	if err != nil || len(list) != 0 {
		t.Fatalf("refused creates wrote %d payments (%v)", len(list), err)
	}

	// A raw invalid UTF-8 byte never reaches the API: the message is not JSON text.
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":"u","method":"payment.create","params":{"description":"Caf`+"\xe9"+`"}}`)); err != nil {
		t.Fatal(err)
	}
	_, errObj, _ := c.await(-1)
	if got := decodeErr(t, errObj); got.Code != -32700 {
		t.Fatalf("invalid UTF-8 message → %+v, want -32700", got)
	}

	// The agent is still healthy: the first refused number, with printable
	// non-ASCII text, is accepted, approved, and stored exactly.
	const desc = "Café ☕ – Grüße"
	res, errObj, notes := c.call("payment.create", map[string]any{
		"merchant_order_no": "CTL0", "type": "sale", "terminal_sn": agenttest.TermA,
		"amount": "1.00", "currency": "USD", "description": desc,
	})
	if errObj != nil {
		t.Fatalf("create with %q → %s", desc, errObj)
	}
	var p struct{ Description string }
	if err := json.Unmarshal(res, &p); err != nil || p.Description != desc {
		t.Fatalf("result description = %q (%v), want %q", p.Description, err, desc)
	}
	if states := c.paymentStates(notes, "CTL0"); states[len(states)-1] != agent.StateApproved {
		t.Fatalf("CTL0 states = %v, want approved", states)
	}
	row, err := e.DB.GetPayment(context.Background(), "CTL0")
	if err != nil || row.Description != desc {
		t.Fatalf("journal description = %q (%v), want %q", row.Description, err, desc)
	}
}

// Go front ends (ZVT, tests) reach the same rule through agent.Create,
// including for bytes that are not UTF-8, which JSON cannot carry.
func TestCreateRefusesInvalidUTF8(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	r := e.Sale("UTF1", agenttest.TermA, "1.00")
	r.Description = "Caf\xe9"
	_, err := e.Agent.Create(context.Background(), r)
	var fe *agent.FieldError
	if !errors.As(err, &fe) || fe.Field != "description" || fe.Error() != "description: is not valid UTF-8 at byte 3; use printable text" {
		t.Fatalf("Create with invalid UTF-8 = %v, want a description field error", err)
	}
	if !errors.Is(err, agent.ErrInvalidParams) {
		t.Fatalf("Create error %v is not ErrInvalidParams", err)
	}
	if _, err := e.DB.GetPayment(context.Background(), "UTF1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused UTF1 is in the journal (GetPayment error %v)", err)
	}
}
