package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"github.com/posbridge/posbridge/internal/config"
)

// cmdPay is a tiny WebSocket client: it sends one payment.create to a running
// agent and prints each payment.updated until the payment is final. Exit 0
// approved; 1 declined, cancelled, expired, failed or refused; 3 when it
// stopped waiting without a final state (--timeout, connection lost,
// interrupted): the payment may still charge, and pay says how to follow it.
func cmdPay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pay", flag.ContinueOnError)
	wsURL := fs.String("url", envOr("POSBRIDGE_URL", "ws://"+config.DefaultListen+"/v1/ws"), "WebSocket URL of the agent (env POSBRIDGE_URL)")
	token := fs.String("token", os.Getenv("POSBRIDGE_TOKEN"), "bearer token (env POSBRIDGE_TOKEN; next to a running demo, its client file)")
	amount := fs.String("amount", "", "amount as a decimal string, e.g. 12.34 (required, except for a void: it takes the original's)")
	currency := fs.String("currency", "USD", "ISO 4217 currency")
	terminal := fs.String("terminal", "", "terminal SN (default: lane 1)")
	lane := fs.String("lane", "", "lane (default 1 when no --terminal)")
	typ := fs.String("type", "sale", "sale, refund, void, preauth, completion or cashback")
	orig := fs.String("orig", "", "original merchant_order_no for void, refund and completion")
	orderNo := fs.String("order", "", "merchant_order_no (default: generated)")
	track2 := fs.String("track2", "", "card-present track 2 data for the Bindo route (test cards only!)")
	readerMode := fs.String("reader-mode", "swipe", "with --track2: swipe, contact or contactless")
	icc := fs.String("icc", "", "with --track2: EMV ICC data as hex (contact, contactless)")
	native := fs.Bool("native", false, "with --track2: go to Bindo directly (options.route native)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for a final state")
	if code, done := parseCommand("pay", fs, args, stdout, stderr, fs.Parse); done {
		return code
	}
	if *token == "" {
		// Next to a running demo, its client file says where and with
		// which token (docs/cli.md).
		if dc, _, err := readDemoClient(); err == nil && dc.Stopped == "" {
			*token = dc.Token
			if !flagGiven(fs, "url") && os.Getenv("POSBRIDGE_URL") == "" {
				*wsURL = dc.URL
			}
		}
	}
	isVoid := *typ == "void" && *orig != ""
	switch {
	case *amount == "" && !isVoid:
		fmt.Fprintln(stderr, "posbridge pay: --amount is required (a void needs only --orig)")
		return exitUsage
	case *token == "":
		fmt.Fprintln(stderr, "posbridge pay: --token is required (or POSBRIDGE_TOKEN, or a running `posbridge demo`)")
		return exitUsage
	}
	if *terminal == "" && *lane == "" && !isVoid {
		*lane = "1"
	}
	if *orderNo == "" {
		*orderNo = "PAY" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	}
	h := http.Header{"Authorization": {"Bearer " + *token}}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, resp, err := websocket.DefaultDialer.DialContext(dctx, *wsURL, h)
	cancel()
	if err != nil {
		if resp != nil {
			fmt.Fprintf(stderr, "posbridge pay: connect %s: %v (HTTP %d)\n", *wsURL, err, resp.StatusCode)
		} else {
			fmt.Fprintf(stderr, "posbridge pay: connect %s: %v\n", *wsURL, err)
		}
		return exitFailure
	}
	defer conn.Close()
	params := map[string]any{"merchant_order_no": *orderNo, "type": *typ, "source": "cli"}
	if *amount != "" || !isVoid {
		params["amount"], params["currency"] = *amount, *currency
	}
	switch {
	case *terminal != "":
		params["terminal_sn"] = *terminal
	case *lane != "":
		params["lane"] = *lane
	}
	if *orig != "" {
		params["orig_merchant_order_no"] = *orig
	}
	if *track2 != "" {
		c := map[string]any{"reader_mode": *readerMode, "track2": *track2}
		if *icc != "" {
			c["icc"] = *icc
		}
		params["card"] = c
		if *native {
			params["options"] = map[string]any{"route": "native"}
		}
	}
	// From here on the agent may have accepted the payment: without a final
	// state, the outcome is pending, never "failed".
	pending := func(why string, last *payView) int {
		payPending(stderr, *orderNo, *wsURL, tokenFromFlag(fs, *token), why, last)
		return exitPending
	}
	if err := conn.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "payment.create", "params": params}); err != nil {
		return pending("sending it to the agent failed ("+err.Error()+")", nil)
	}
	deadline := time.Now().Add(*timeout)
	go func() { <-ctx.Done(); conn.Close() }()
	var last *payView
	for {
		conn.SetReadDeadline(deadline)
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code    int             `json:"code"`
				Message string          `json:"message"`
				Data    json.RawMessage `json:"data"`
			} `json:"error"`
		}
		if err := conn.ReadJSON(&msg); err != nil {
			switch {
			case ctx.Err() != nil:
				return pending("pay was interrupted", last)
			case isTimeout(err) || !time.Now().Before(deadline):
				return pending(fmt.Sprintf("no final state within --timeout %s", *timeout), last)
			}
			return pending("the connection to the agent was lost ("+err.Error()+")", last)
		}
		if msg.Error != nil {
			fmt.Fprintf(stderr, "posbridge pay: refused: %s (code %d) %s\n", msg.Error.Message, msg.Error.Code, msg.Error.Data)
			return exitFailure
		}
		var raw json.RawMessage
		switch {
		case msg.Method == "payment.updated":
			raw = msg.Params
		case msg.Method == "" && string(msg.ID) == "1" && msg.Result != nil:
			raw = msg.Result // the answer: final already for a repeated request
		default:
			continue
		}
		var p payView
		if json.Unmarshal(raw, &p) != nil || p.No != *orderNo {
			continue
		}
		last = &p
		fmt.Fprintln(stdout, p.line())
		switch p.State {
		case "approved":
			return exitOK
		case "declined", "cancelled", "expired", "failed":
			return exitFailure
		}
	}
}

// isTimeout reports a read deadline (gorilla/websocket hides the net error's
// type, not its Timeout method).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// payView is what pay reads of a payment.
type payView struct {
	State  string `json:"state"`
	No     string `json:"merchant_order_no"`
	Amount string `json:"amount"`
	Cur    string `json:"currency"`
	Notice string `json:"notice"`
	Route  string `json:"route"`
	Error  *struct{ Code, Message, Fallback string }
}

func (p *payView) line() string {
	line := fmt.Sprintf("%s  %s %s  %s (%s)", p.No, p.Amount, p.Cur, p.State, p.Route)
	if p.Notice != "" {
		line += "  (" + p.Notice + ")"
	}
	if p.Error != nil {
		line += "  " + p.Error.Code + ": " + p.Error.Message
		if p.Error.Fallback != "" {
			line += "\n  → nothing was charged; to use the Bindo fallback, send it again: --order " + p.No + " --track2 …"
		}
	}
	return line
}

// tokenFromFlag is the token to repeat in the printed commands: the one
// given with --token ("" when it came from POSBRIDGE_TOKEN, which the
// commands read again).
func tokenFromFlag(fs *flag.FlagSet, token string) string {
	if !flagGiven(fs, "token") {
		return ""
	}
	return token
}

// flagGiven reports whether the flag was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// payPending tells the user that the payment has no final state yet and may
// still charge, with the commands to follow it up.
func payPending(w io.Writer, orderNo, wsURL, token, why string, last *payView) {
	flags := " --url " + wsURL
	if token != "" {
		flags += " --token " + token
	}
	state := "may or may not have been accepted by the agent"
	if last != nil {
		state = "is still in progress (state " + last.State + ")"
	}
	fmt.Fprintf(w, `posbridge pay: %s: payment %s %s and may still be charged.
  Do not take it again under a new order number before you know its result. Check it:
    posbridge payments show %s%s
  Cancel it (possible while it is queued or the terminal has not started it):
    posbridge payments cancel %s%s
`, why, orderNo, state, orderNo, flags, orderNo, flags)
}
func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
