package wsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/rpc"
)

// conformance drives every method of the OpenRPC document over a real
// WebSocket and holds the answers to what the document says.
type conformance struct {
	t *testing.T
	d *openRPCDoc
	e *wsEnv
	c *client
}

// TestOpenRPCConformance calls every documented method over a real
// WebSocket, in the document's order, with the params of its examples
// (their terminal replaced by the test's):
//
//   - each example is accepted (no -32602) and its result fits the result
//     schema; the notifications received fit x-notifications;
//   - a required param left out is -32602 naming it; an optional one left
//     out is never -32602 naming it (unless x-required-when says when it is
//     required after all);
//   - a value outside a param's enum or minimum/maximum is -32602 naming it,
//     the minimum and maximum themselves are not; an amount that is not a
//     decimal string, or a JSON number, is -32602 naming it;
//   - params that are not an object are -32602 naming params;
//   - every error code any of these calls returns is among the method's
//     documented errors.
func TestOpenRPCConformance(t *testing.T) {
	cf := &conformance{t: t, d: loadOpenRPC(t), e: newWSEnvOpts(t, agenttest.Opts{Providers: true})}
	cf.c = cf.e.dial(t)
	for _, m := range cf.d.Methods {
		t.Run(m.Name, func(t *testing.T) {
			cf.t = t
			cf.prepare(m.Name)
			cf.call(m, "params not an object", []any{}, wantInvalid("params"))
			for _, ex := range m.Examples {
				params := exampleParams(ex, agenttest.TermA)
				cf.badParams(m, ex.Name, params)
				cf.call(m, "example "+ex.Name, params, wantValid)
				cf.optionalParams(m, ex.Name, params)
			}
			cf.after(m.Name)
		})
	}
	cf.t = t
	for _, raw := range cf.c.received() {
		var n struct {
			ID     *json.RawMessage `json:"id"`
			Method string           `json:"method"`
			Params any              `json:"params"`
		}
		if json.Unmarshal(raw, &n) != nil || n.ID != nil {
			continue
		}
		i := slices.IndexFunc(cf.d.Notifications, func(dn docNotification) bool { return dn.Name == n.Method })
		if i < 0 {
			t.Errorf("notification %s is not in x-notifications", n.Method)
			continue
		}
		if p := cf.d.validate(n.Method, n.Params, cf.d.Notifications[i].Params.Schema); p != "" {
			t.Error(p)
		}
	}
}

// prepare sets up what the examples of a method need beyond the examples
// before it: payment.cancel's example cancels an order waiting at CodePay,
// alert.handle's handles an alert.
func (cf *conformance) prepare(method string) {
	if method == "alert.handle" {
		// alert.handle's example handles an alert on the example sale.
		if _, err := cf.e.Agent.SetAlert(context.Background(), "A1001", "Paid after it expired: example"); err != nil {
			cf.t.Fatal(err)
		}
		return
	}
	if method != "payment.cancel" {
		return
	}
	if _, err := cf.e.Agent.Create(context.Background(), agent.CreateRequest{MerchantOrderNo: "A1003", Type: agent.TypeSale,
		TerminalSN: agenttest.TermOff, Amount: "5.00", Currency: "USD", Source: agent.SourceWS, Options: agent.Options{Fallback: "never"}}); err != nil {
		cf.t.Fatal(err)
	}
	waitState(cf.t, cf.e.Agent, "A1003", agent.StateOnTerminal)
}

// after waits for what the next methods' examples take for granted: the
// example card sale approved.
func (cf *conformance) after(method string) {
	if method == "payment.create" {
		waitState(cf.t, cf.e.Agent, "A1001", agent.StateApproved)
	}
}

// badParams: required params left out, values outside enums and bounds
// (and the bounds themselves, which are valid), malformed amounts. These
// calls change nothing, but those at a bound, which are valid: they run
// before the example.
func (cf *conformance) badParams(m docMethod, ex string, params map[string]any) {
	for _, p := range m.Params {
		v, given := params[p.Name]
		if !given {
			continue
		}
		if p.Required {
			cf.call(m, ex+" without "+p.Name, without(params, p.Name), wantInvalid(p.Name))
		}
		s, err := cf.d.deref(p.Schema)
		if err != nil {
			cf.t.Fatal(err)
		}
		if enum := asSlice(s["enum"]); len(enum) > 0 && s["type"] == "string" {
			cf.call(m, ex+" with "+p.Name+" outside its enum", with(params, p.Name, "not-a-value"), wantInvalid(p.Name))
		}
		if min, ok := s["minimum"].(float64); ok {
			cf.call(m, ex+" with "+p.Name+" below its minimum", with(params, p.Name, min-1), wantInvalid(p.Name))
			cf.call(m, ex+" with "+p.Name+" at its minimum", with(params, p.Name, min), notInvalid(p.Name))
		}
		if max, ok := s["maximum"].(float64); ok {
			cf.call(m, ex+" with "+p.Name+" above its maximum", with(params, p.Name, max+1), wantInvalid(p.Name))
			cf.call(m, ex+" with "+p.Name+" at its maximum", with(params, p.Name, max), notInvalid(p.Name))
		}
		if p.Schema["$ref"] == "#/components/schemas/Amount" {
			cf.call(m, ex+" with "+p.Name+" in exponent notation", with(params, p.Name, "1e3"), wantInvalid(p.Name))
			if str, ok := v.(string); ok {
				cf.call(m, ex+" with "+p.Name+" as a JSON number", with(params, p.Name, json.Number(str)), wantInvalid(p.Name))
			}
		}
	}
}

// optionalParams: leaving out a param that is neither required nor
// required when something holds is never -32602 naming it.
func (cf *conformance) optionalParams(m docMethod, ex string, params map[string]any) {
	for _, p := range m.Params {
		if _, given := params[p.Name]; given && !p.Required && p.RequiredWhen == "" {
			cf.call(m, ex+" without optional "+p.Name, without(params, p.Name), notInvalid(p.Name))
		}
	}
}

// expectation judges one answer: the result (nil on error) and the error.
type expectation func(res json.RawMessage, e *rpcErr) string

// wantValid: no -32602 (other errors depend on the state the examples
// leave, and are checked against the documented errors).
func wantValid(_ json.RawMessage, e *rpcErr) string {
	if e != nil && e.Code == rpc.CodeInvalidParams {
		return fmt.Sprintf("refused as invalid: %s", e.Message)
	}
	return ""
}

// wantInvalid: -32602 naming field.
func wantInvalid(field string) expectation {
	return func(_ json.RawMessage, e *rpcErr) string {
		if e == nil || e.Code != rpc.CodeInvalidParams || e.Data.Field != field {
			return fmt.Sprintf("want -32602 naming %s, got %+v", field, e)
		}
		return ""
	}
}

// notInvalid: anything but -32602 naming field.
func notInvalid(field string) expectation {
	return func(_ json.RawMessage, e *rpcErr) string {
		if e != nil && e.Code == rpc.CodeInvalidParams && e.Data.Field == field {
			return fmt.Sprintf("leaving out optional %s: %s", field, e.Message)
		}
		return ""
	}
}

// call makes one call of m, judges the answer with want, checks an error's
// code against m's documented errors and a result against its schema.
func (cf *conformance) call(m docMethod, what string, params any, want expectation) {
	cf.t.Helper()
	res, errObj, _ := cf.c.call(m.Name, params)
	var e *rpcErr
	if errObj != nil {
		got := decodeErr(cf.t, errObj)
		e = &got
		if !cf.documentedError(m, got.Code) {
			cf.t.Errorf("%s: error %d (%s) is not among the documented errors of %s", what, got.Code, got.Message, m.Name)
		}
	} else {
		var v any
		if err := json.Unmarshal(res, &v); err != nil {
			cf.t.Fatalf("%s: result %s: %v", what, res, err)
		}
		if p := cf.d.validate("result", v, m.Result.Schema); p != "" {
			cf.t.Errorf("%s: %s", what, p)
		}
	}
	if p := want(res, e); p != "" {
		cf.t.Errorf("%s %s: %s", m.Name, what, p)
	}
}

func (cf *conformance) documentedError(m docMethod, code int) bool {
	for _, de := range m.Errors {
		if de, err := cf.d.errorObject(de); err == nil && de.Code == code {
			return true
		}
	}
	return false
}
