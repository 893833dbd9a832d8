package wsapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/wsapi"
)

// providerNormalizers replace what varies between runs in a provider
// payment beyond normalize: the emulator's QR payload and numbers.
var providerNormalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`"(qr_payload|provider_ref|trade_no|transaction_id)":"[^"]+"`), `"$1":"<$1>"`},
}

func normalizeProvider(b []byte) []byte {
	b = normalize(b)
	for _, n := range providerNormalizers {
		b = n.re.ReplaceAll(b, []byte(n.with))
	}
	return b
}

// providerCall is rawCall for answers that may carry a "method" member
// (a provider payment's method): the answer is the message with the id
// followed by result or error.
func providerCall(c *client, method string, params any) []byte {
	c.t.Helper()
	c.id++
	if err := c.conn.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": c.id, "method": method, "params": params}); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	res, errAns := []byte(fmt.Sprintf(`"id":%d,"result"`, c.id)), []byte(fmt.Sprintf(`"id":%d,"error"`, c.id))
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.received() {
			if bytes.Contains(m, res) || bytes.Contains(m, errAns) {
				return m
			}
		}
		c.waitForMore(5 * time.Millisecond)
	}
	c.t.Fatalf("no answer to %s (id %d)", method, c.id)
	return nil
}

// TestWebSocketQRNativeGolden takes a native QR payment over the
// WebSocket against the QR wallet emulator: the create answer carries
// method, qr_payload and expires_at; the customer pays (the emulator's
// scan) and the payment reaches approved. The final payment object and
// the terminal's batch report with by_method are compared with
// testdata/provider.golden (run with -update to rewrite it).
func TestWebSocketQRNativeGolden(t *testing.T) {
	e := newWSEnvOpts(t, agenttest.Opts{Providers: true})
	c := e.dial(t)
	raw := providerCall(c, "payment.create", map[string]any{"merchant_order_no": "QRW1", "method": "qr", "amount": "12.34", "currency": "USD",
		"terminal_sn": agenttest.TermA, "description": "golden qr"})
	var created struct {
		Result struct {
			State     string `json:"state"`
			Method    string `json:"method"`
			QRPayload string `json:"qr_payload"`
			ExpiresAt string `json:"expires_at"`
		} `json:"result"`
	}
	if err := json.Unmarshal(raw, &created); err != nil {
		t.Fatal(err)
	}
	r := created.Result
	if r.Method != "qr" || r.QRPayload == "" || r.State != "on_terminal" {
		t.Fatalf("create = %s", raw)
	}
	if exp, err := time.Parse(time.RFC3339Nano, r.ExpiresAt); err != nil || !exp.After(time.Now()) {
		t.Fatalf("expires_at %q: %v", r.ExpiresAt, err)
	}
	if _, err := e.Prov.QRSim.Scan("QRW1"); err != nil {
		t.Fatal(err)
	}
	waited := providerCall(c, "payment.wait", map[string]any{"merchant_order_no": "QRW1", "timeout_ms": 10000})
	if !bytes.Contains(waited, []byte(`"state":"approved"`)) {
		t.Fatalf("wait = %s", waited)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "== payment.create\n%s\n", normalizeProvider(raw))
	fmt.Fprintf(&out, "== payment.get (approved)\n%s\n", normalizeProvider(providerCall(c, "payment.get", map[string]any{"merchant_order_no": "QRW1"})))
	fmt.Fprintf(&out, "== batch.close (by_method)\n%s\n", normalizeProvider(providerCall(c, "batch.close", map[string]any{"terminal_sn": agenttest.TermA})))
	wsapi.CheckGolden(t, "provider.golden", out.Bytes())
}
