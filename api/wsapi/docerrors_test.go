package wsapi_test

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/api/wsapi"
)

const apiDoc = "../../docs/websocket-api.md"

// docErrorCase makes the implementation write the error message that
// docs/websocket-api.md quotes as quote.
type docErrorCase struct {
	quote string
	code  int
	call  func(c *client) json.RawMessage // the error object
}

// docErrorCases are the error messages the page quotes, each with how to
// get it from the API. TestDocsErrorTexts fails for a quote without a case
// here and for a case whose quote the page no longer has.
var docErrorCases = []docErrorCase{
	{
		quote: `amount: required: … is not in this journal, so the void cannot take it from the original`,
		code:  rpc.CodeInvalidParams,
		call: func(c *client) json.RawMessage {
			return callErr(c, "payment.create", map[string]any{"merchant_order_no": "V1", "type": "void", "orig_merchant_order_no": "NOPE1"})
		},
	},
	{
		quote: `description: contains a control character (U+001B) at byte 5; use printable text`,
		code:  rpc.CodeInvalidParams,
		call: func(c *client) json.RawMessage {
			return callErr(c, "payment.create", map[string]any{"merchant_order_no": "D1", "type": "sale", "lane": "1", "amount": "1.00", "currency": "USD",
				"description": "Hello\x1b[2J"})
		},
	},
	{
		quote: `copy: want merchant or customer (default customer), got "both"`,
		code:  rpc.CodeInvalidParams,
		call: func(c *client) json.RawMessage {
			return callErr(c, "payment.receipt", map[string]any{"merchant_order_no": "A1001", "copy": "both"})
		},
	},
	{
		quote: `no receipt for payment A1002: it is on_terminal; a receipt exists once the payment is final`,
		code:  wsapi.CodeNoReceipt,
		call: func(c *client) json.RawMessage {
			return callErr(c, "payment.receipt", map[string]any{"merchant_order_no": "A1002"})
		},
	},
	{
		quote: `via: A1001 was paid by card on terminal … (Visa contactless): CodePay's cloud cannot refund a card-present payment without the card; refund it on the terminal with via "terminal"`,
		code:  rpc.CodeInvalidParams,
		call: func(c *client) json.RawMessage {
			return callErr(c, "payment.refund", map[string]any{"merchant_order_no": "A1001-R9", "orig_merchant_order_no": "A1001", "via": "cloud"})
		},
	},
	{
		quote: `query: want an order number (or its beginning), an amount such as 12.34, or a card's last 4 digits; got "#?!"`,
		code:  rpc.CodeInvalidParams,
		call: func(c *client) json.RawMessage {
			return callErr(c, "payment.search", map[string]any{"query": "#?!"})
		},
	},
	{
		quote: `merchant_order_no: A1001 has no alert`,
		code:  rpc.CodeInvalidParams,
		call: func(c *client) json.RawMessage {
			return callErr(c, "alert.handle", map[string]any{"merchant_order_no": "A1001"})
		},
	},
	{
		quote: `payment cannot be cancelled: Q1001 cannot be cancelled: qrwallet offers no way to close the order; it expires at … (refund it if the customer pays)`,
		code:  wsapi.CodeNotCancellable,
		call: func(c *client) json.RawMessage {
			return callErr(c, "payment.cancel", map[string]any{"merchant_order_no": "Q1001"})
		},
	},
}

// callErr makes a call that must fail and returns its error object.
func callErr(c *client, method string, params any) json.RawMessage {
	c.t.Helper()
	res, errObj, _ := c.call(method, params)
	if errObj == nil {
		c.t.Fatalf("%s %v succeeded: %s", method, params, res)
	}
	return errObj
}

// TestDocsErrorTexts: the error texts docs/websocket-api.md shows are the
// ones the API writes. The example sessions are replayed request by
// request, and each error answer they show must come back byte for byte
// (code, message, data); every error message the prose quotes (a code span
// "field: …" or one starting with a documented error message) is produced
// by driving the real API (docErrorCases), "…" standing for text that
// varies.
func TestDocsErrorTexts(t *testing.T) {
	page, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatal(err)
	}
	e := newWSEnvOpts(t, agenttest.Opts{Providers: true})
	if n := replaySessions(t, e, string(page)); n == 0 {
		t.Fatalf("%s shows no error answer in an example session", apiDoc)
	}

	// The payments the quotes speak of: A1001 (an approved card sale, made by
	// the example session), A1002 waiting at CodePay for an offline
	// terminal, Q1001 a QR wallet payment waiting for the customer.
	c := e.dial(t)
	waitState(t, e.Agent, "A1001", agent.StateApproved)
	for _, p := range []map[string]any{
		{"merchant_order_no": "A1002", "type": "sale", "terminal_sn": agenttest.TermOff, "amount": "2.00", "currency": "USD", "options": map[string]any{"fallback": "never"}},
		{"merchant_order_no": "Q1001", "method": "qr", "amount": "8.00", "currency": "USD"},
	} {
		if _, errObj, _ := c.call("payment.create", p); errObj != nil {
			t.Fatalf("create %v: %s", p, errObj)
		}
	}
	waitState(t, e.Agent, "A1002", agent.StateOnTerminal)

	quoted := quotedErrors(t, string(page))
	cases := map[string]docErrorCase{}
	for _, tc := range docErrorCases {
		cases[tc.quote] = tc
	}
	for _, q := range quoted {
		tc, ok := cases[q]
		if !ok {
			t.Errorf("%s quotes the error %q: add a case to docErrorCases that makes the API write it", apiDoc, q)
			continue
		}
		delete(cases, q)
		got := decodeErr(t, tc.call(c))
		if got.Code != tc.code || !quoteRE(q).MatchString(got.Message) {
			t.Errorf("%s quotes %q (%d); the API writes %q (%d)", apiDoc, q, tc.code, got.Message, got.Code)
		}
	}
	for q := range cases {
		t.Errorf("docErrorCases has %q, which %s no longer quotes", q, apiDoc)
	}
}

// quoteRE matches the messages a quote stands for: "…" is any text.
func quoteRE(quote string) *regexp.Regexp {
	parts := strings.Split(quote, "…")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile(`^` + strings.Join(parts, `.*`) + `$`)
}

var (
	fences     = regexp.MustCompile("(?s)```.*?```")
	codeSpan   = regexp.MustCompile("`([^`]+)`")
	fieldQuote = regexp.MustCompile(`^[a-z_]+(\.[a-z_]+)*: [^"{\[0-9 ][^ ]* `)
)

// quotedErrors returns the code spans of the page's prose that quote an
// error message: "field: text of several words" (-32602 messages start
// with the field) or text starting with a message of components.errors.
func quotedErrors(t *testing.T, page string) []string {
	t.Helper()
	var starts []string
	for code, e := range loadOpenRPC(t).Components.Errors {
		if e.Message != "" && code != "InvalidParams" {
			starts = append(starts, e.Message)
		}
	}
	var out []string
	for _, m := range codeSpan.FindAllStringSubmatch(fences.ReplaceAllString(page, ""), -1) {
		s := strings.Join(strings.Fields(m[1]), " ") // a span may go on over a line break
		if fieldQuote.MatchString(s) || startsWithAny(s, starts) {
			out = append(out, s)
		}
	}
	return out
}

func startsWithAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// replaySessions sends, on a fresh connection for each example session of
// the page (a fenced block of "→ request" and "← answer" lines that shows
// an error answer), every request in order, each once the one before is
// answered, and compares every error answer shown with the one the API
// wrote. It returns how many it compared.
func replaySessions(t *testing.T, e *wsEnv, page string) int {
	t.Helper()
	compared := 0
	for _, block := range fences.FindAllString(page, -1) {
		if !strings.Contains(block, `← {"jsonrpc":"2.0","id":`) || !strings.Contains(block, `"error":`) {
			continue
		}
		c := e.dial(t)
		errs := map[int]json.RawMessage{} // the error answers, by request id
		sc := bufio.NewScanner(strings.NewReader(block))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case strings.HasPrefix(line, "→ "):
				req := strings.TrimPrefix(line, "→ ")
				var r struct {
					ID int `json:"id"`
				}
				if err := json.Unmarshal([]byte(req), &r); err != nil {
					t.Fatalf("%s: request %s: %v", apiDoc, req, err)
				}
				if err := c.conn.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
					t.Fatal(err)
				}
				_, errs[r.ID], _ = c.await(r.ID)
			case strings.HasPrefix(line, "← ") && strings.Contains(line, `"error":`):
				var want struct {
					ID    int             `json:"id"`
					Error json.RawMessage `json:"error"`
				}
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "← ")), &want); err != nil {
					t.Fatalf("%s: error answer %s: %v", apiDoc, line, err)
				}
				if got := errs[want.ID]; !jsonEqual(got, want.Error) {
					t.Errorf("%s shows %s; the API answers %s", apiDoc, want.Error, got)
				}
				compared++
			}
		}
	}
	return compared
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}
