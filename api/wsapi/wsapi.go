// Package wsapi implements the methods of posbridge's WebSocket API
// (design/contract.md) on top of the JSON-RPC transport in api/rpc: it
// decodes and checks params, calls the agent, and routes the agent's events
// to the connections that created a payment or subscribed — in publication
// (seq) order, and on the creating connection only after the answer to
// payment.create (hold.go). events.since and events.subscribe with since
// replay what a client missed.
package wsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/device/card"
	"github.com/posbridge/posbridge/internal/qrsvg"
	"github.com/posbridge/posbridge/receipt"
)

// Application error codes of the WebSocket API (docs/websocket-api.md).
const (
	CodeOrderNoReused   = -32001
	CodeNotFound        = -32002
	CodeNotCancellable  = -32003
	CodeStopping        = -32004
	CodeTerminalBusy    = -32006
	CodeBatchRefused    = -32007
	CodeBatchUnknown    = -32008
	CodeNotAdjustable   = -32009
	CodeFallbackRefused = -32010
	CodeCodePayNoAnswer = -32011
	CodeCancelUnknown   = -32012
	CodeNoReceipt       = -32013
	CodeTipUnknown      = -32014
	CodeInternal        = -32603
	maxWait             = 5 * time.Minute
	defaultWait         = 30 * time.Second
	defaultListLimit    = 50
	maxListLimit        = 500
	notifyPaymentMethod = "payment.updated"
	notifyTermMethod    = "terminal.updated"
	notifyBatchMethod   = "batch.closed"
)

// API is the rpc.Handler for the WebSocket API.
type API struct {
	a   *agent.Agent
	log *slog.Logger

	mu    sync.Mutex
	conns map[*rpc.Conn]*connState
}

var _ rpc.ClosedHandler = (*API)(nil)

// New returns the API handler and subscribes it to the agent's events.
func New(a *agent.Agent, log *slog.Logger) *API {
	if log == nil {
		log = slog.Default()
	}
	api := &API{a: a, log: log.With("component", "wsapi"), conns: map[*rpc.Conn]*connState{}}
	a.Subscribe(api.route)
	return api
}

func (api *API) state(c *rpc.Conn) *connState {
	api.mu.Lock()
	defer api.mu.Unlock()
	st, ok := api.conns[c]
	if !ok {
		st = &connState{owned: map[string]bool{}, topics: map[string]bool{}, creating: map[string]int{}}
		select {
		case <-c.Done():
			// A call still running on a connection that has ended: its
			// state is not kept (Closed has run already).
		default:
			api.conns[c] = st
		}
	}
	return st
}

// Closed forgets a connection that has ended (rpc.ClosedHandler).
func (api *API) Closed(c *rpc.Conn) {
	api.mu.Lock()
	defer api.mu.Unlock()
	delete(api.conns, c)
}

// route delivers one agent event to the interested connections. It runs in the
// agent's publish path and never blocks (Notify only enqueues). The agent
// publishes payment changes in journal order, so each connection receives
// them in ascending seq.
func (api *API) route(e agent.Event) {
	api.mu.Lock()
	defer api.mu.Unlock()
	for c, st := range api.conns {
		st.offer(c, e)
	}
}

// handler answers one JSON-RPC method: it decodes params (decodeParams),
// calls the agent and returns the wire result.
type handler func(api *API, ctx context.Context, c *rpc.Conn, params json.RawMessage) (any, error)

// method is one method of the API: its handler, and the Go types of its
// params and result, which the OpenRPC document (openrpc.json) describes and
// its conformance test checks.
type method struct {
	call   handler
	params reflect.Type // a struct: the params object's members are its JSON fields
	result reflect.Type // the wire type of the result; an interface when it has several
}

// on makes a method of h, whose params decode strictly into a P
// (decodeParams) before h runs.
func on[P, R any](h func(api *API, ctx context.Context, c *rpc.Conn, p P) (R, error)) method {
	return method{
		call: func(api *API, ctx context.Context, c *rpc.Conn, params json.RawMessage) (any, error) {
			p, err := decodeParams[P](params)
			if err != nil {
				return nil, err
			}
			r, err := h(api, ctx, c, p)
			if err != nil {
				return nil, err
			}
			return r, nil
		},
		params: reflect.TypeFor[P](),
		result: reflect.TypeFor[R](),
	}
}

// methods is the WebSocket API: method name → method.
var methods = map[string]method{
	"payment.create":     on((*API).create),
	"payment.refund":     on((*API).refund),
	"payment.get":        on((*API).get),
	"payment.history":    on((*API).history),
	"payment.qr":         on((*API).qr),
	"payment.receipt":    on((*API).paymentReceipt),
	"payment.cancel":     on((*API).cancel),
	"payment.wait":       on((*API).wait),
	"payment.list":       on((*API).list),
	"payment.search":     on((*API).search),
	"report.day":         on((*API).reportDay),
	"payment.tip_adjust": on((*API).tipAdjust),
	"terminal.list":      on((*API).terminalList),
	"events.subscribe":   on((*API).subscribe),
	"events.since":       on((*API).since),
	"batch.get":          on((*API).batchGet),
	"batch.close":        on((*API).batchClose),
	"batch.list":         on((*API).batchList),
	"alert.list":         on((*API).alertList),
	"alert.handle":       on((*API).alertHandle),
}

// Call dispatches one JSON-RPC call.
func (api *API) Call(ctx context.Context, c *rpc.Conn, name string, params json.RawMessage) (any, error) {
	m, ok := methods[name]
	if !ok {
		return nil, rpc.MethodNotFound(name)
	}
	return m.call(api, ctx, c, params)
}

// orderParams are the params of payment.get, payment.history, payment.qr
// and payment.cancel.
type orderParams struct {
	MerchantOrderNo string `json:"merchant_order_no"`
}

func (api *API) get(ctx context.Context, _ *rpc.Conn, p orderParams) (Payment, error) {
	if err := requireOrderNo(p.MerchantOrderNo); err != nil {
		return Payment{}, err
	}
	return wrap(api.a.Get(ctx, p.MerchantOrderNo))
}

// QRCode is payment.qr's result: what the customer scans or opens, drawn
// as a QR code.
type QRCode struct {
	MerchantOrderNo string `json:"merchant_order_no"`
	// Kind says what the code holds: "qr_payload" (a wallet or QRIS code
	// to scan with a banking or wallet app) or "pay_url" (a payment page).
	Kind string `json:"kind"`
	// SVG is the code as a scalable SVG document (viewBox in modules, no
	// size: style it as large as the screen allows).
	SVG       string `json:"svg"`
	Amount    string `json:"amount"`
	Currency  string `json:"currency"`
	ExpiresAt string `json:"expires_at,omitempty"`
	State     string `json:"state"`
}

// qr answers payment.qr: the payment's QR payload, or its payment page's
// URL, as an SVG QR code (rendered here, never by a third party).
func (api *API) qr(ctx context.Context, _ *rpc.Conn, p orderParams) (QRCode, error) {
	if err := requireOrderNo(p.MerchantOrderNo); err != nil {
		return QRCode{}, err
	}
	pay, err := api.a.Get(ctx, p.MerchantOrderNo)
	if err != nil {
		return QRCode{}, appError(err)
	}
	kind, payload := "qr_payload", pay.QRPayload
	if payload == "" {
		kind, payload = "pay_url", pay.PayURL
	}
	if payload == "" {
		return QRCode{}, rpc.InvalidParams("merchant_order_no", fmt.Sprintf("payment %s has no QR code or payment page (only qr, va and link payments waiting for the customer have one)", p.MerchantOrderNo))
	}
	svg, err := qrsvg.Render(payload, qrsvg.Options{Title: "QR code for payment " + pay.MerchantOrderNo})
	if err != nil {
		return QRCode{}, fmt.Errorf("render the QR code of %s: %w", pay.MerchantOrderNo, err)
	}
	out := QRCode{MerchantOrderNo: pay.MerchantOrderNo, Kind: kind, SVG: string(svg), Amount: pay.Amount, Currency: pay.Currency, State: pay.State}
	if !pay.ExpiresAt.IsZero() {
		out.ExpiresAt = pay.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return out, nil
}

// receiptParams are the params of payment.receipt.
type receiptParams struct {
	MerchantOrderNo string `json:"merchant_order_no"`
	Copy            string `json:"copy"`
	Width           *int   `json:"width"`
}

// paymentReceipt answers payment.receipt: one copy of a final payment's receipt,
// as fields and as lines for a printer of width characters.
func (api *API) paymentReceipt(ctx context.Context, _ *rpc.Conn, p receiptParams) (Receipt, error) {
	if err := requireOrderNo(p.MerchantOrderNo); err != nil {
		return Receipt{}, err
	}
	cp, err := receipt.ParseCopy(p.Copy)
	if err != nil {
		return Receipt{}, rpc.InvalidParams("copy", fmt.Sprintf("want merchant or customer (default customer), got %q", p.Copy))
	}
	width := receipt.DefaultWidth
	if p.Width != nil {
		width = *p.Width
	}
	if width < receipt.MinWidth || width > receipt.MaxWidth {
		return Receipt{}, rpc.InvalidParams("width", fmt.Sprintf("want %d to %d characters (32, 40 or 48 for the common printers), got %d",
			receipt.MinWidth, receipt.MaxWidth, width))
	}
	r, err := api.a.Receipt(ctx, p.MerchantOrderNo, cp)
	if err != nil {
		return Receipt{}, appError(err)
	}
	lines, err := r.Lines(width)
	if err != nil {
		return Receipt{}, fmt.Errorf("lay out the receipt of %s: %w", p.MerchantOrderNo, err)
	}
	return ReceiptFrom(r, width, lines), nil
}

// cancelParams are the params of payment.cancel.
type cancelParams struct {
	MerchantOrderNo string `json:"merchant_order_no"`
	Source          string `json:"source"`
}

func (api *API) cancel(ctx context.Context, _ *rpc.Conn, p cancelParams) (Payment, error) {
	if err := requireOrderNo(p.MerchantOrderNo); err != nil {
		return Payment{}, err
	}
	return wrap(api.a.CancelFrom(ctx, p.MerchantOrderNo, p.Source))
}

type waitParams struct {
	MerchantOrderNo string `json:"merchant_order_no"`
	TimeoutMS       *int64 `json:"timeout_ms"`
}

func (api *API) wait(ctx context.Context, _ *rpc.Conn, p waitParams) (Payment, error) {
	if err := requireOrderNo(p.MerchantOrderNo); err != nil {
		return Payment{}, err
	}
	timeout := defaultWait
	if p.TimeoutMS != nil {
		if *p.TimeoutMS < 0 || *p.TimeoutMS > maxWait.Milliseconds() {
			return Payment{}, rpc.InvalidParams("timeout_ms", fmt.Sprintf("want 0 to %d", maxWait.Milliseconds()))
		}
		timeout = time.Duration(*p.TimeoutMS) * time.Millisecond
	}
	return wrap(api.a.Wait(ctx, p.MerchantOrderNo, timeout))
}

type listParams struct {
	TerminalSN string `json:"terminal_sn"`
	State      string `json:"state"`
	Limit      *int   `json:"limit"`
}

func (api *API) list(ctx context.Context, _ *rpc.Conn, p listParams) (PaymentList, error) {
	limit, err := limitParam(p.Limit)
	if err != nil {
		return PaymentList{}, err
	}
	if p.TerminalSN != "" {
		if _, err := api.a.Registry().Lookup(p.TerminalSN); err != nil {
			return PaymentList{}, rpc.InvalidParams("terminal_sn", fmt.Sprintf("unknown terminal %q", p.TerminalSN))
		}
	}
	if p.State != "" && !validState(p.State) {
		return PaymentList{}, rpc.InvalidParams("state", fmt.Sprintf("unknown state %q", p.State))
	}
	list, err := api.a.List(ctx, agent.ListFilter{TerminalSN: p.TerminalSN, State: p.State, Limit: limit})
	if err != nil {
		return PaymentList{}, appError(err)
	}
	out := PaymentList{Payments: paymentsFrom(list)}
	if out.Payments == nil {
		out.Payments = []Payment{}
	}
	return out, nil
}

func (api *API) terminalList(_ context.Context, _ *rpc.Conn, _ struct{}) (TerminalList, error) {
	ts := api.a.Terminals()
	out := TerminalList{}
	if ts != nil {
		out.Terminals = make([]Terminal, len(ts))
		for i := range ts {
			out.Terminals[i] = TerminalFrom(ts[i])
		}
	}
	return out, nil
}

type sinceParams struct {
	Since      *int64 `json:"since"`
	Limit      *int   `json:"limit"`
	TerminalSN string `json:"terminal_sn"`
}

func (api *API) since(ctx context.Context, _ *rpc.Conn, p sinceParams) (Changes, error) {
	if p.Since == nil {
		return Changes{}, rpc.InvalidParams("since", "required: 0, or the highest seq you have processed")
	}
	ch, err := api.a.ChangesSince(ctx, agent.ChangesQuery{Since: *p.Since, TerminalSN: p.TerminalSN, Limit: changesLimit(p.Limit)})
	if err != nil {
		return Changes{}, appError(err)
	}
	return ChangesFrom(ch), nil
}

type tipParams struct {
	MerchantOrderNo string          `json:"merchant_order_no"`
	TipAmount       json.RawMessage `json:"tip_amount"`
}

func (api *API) tipAdjust(ctx context.Context, _ *rpc.Conn, p tipParams) (Payment, error) {
	if err := requireOrderNo(p.MerchantOrderNo); err != nil {
		return Payment{}, err
	}
	tip, err := moneyString("tip_amount", p.TipAmount)
	if err != nil {
		return Payment{}, err
	}
	if tip == "" {
		return Payment{}, rpc.InvalidParams("tip_amount", "required: a decimal string such as \"2.00\"")
	}
	return wrap(api.a.TipAdjust(ctx, p.MerchantOrderNo, tip))
}

// batchParams are the params of batch.get and batch.close.
type batchParams struct {
	TerminalSN string `json:"terminal_sn"`
	Source     string `json:"source"`
}

// checkBatch checks batchParams and returns the source they name.
func checkBatch(p batchParams) (string, error) {
	by, err := sourceParam(p.Source)
	if err != nil {
		return "", err
	}
	if p.TerminalSN == "" {
		return "", rpc.InvalidParams("terminal_sn", "required")
	}
	return by, nil
}

func (api *API) batchGet(ctx context.Context, _ *rpc.Conn, p batchParams) (BatchReport, error) {
	if _, err := checkBatch(p); err != nil {
		return BatchReport{}, err
	}
	return wrapBatch(api.a.BatchGet(ctx, p.TerminalSN))
}

func (api *API) batchClose(ctx context.Context, _ *rpc.Conn, p batchParams) (BatchReport, error) {
	by, err := checkBatch(p)
	if err != nil {
		return BatchReport{}, err
	}
	return wrapBatch(api.a.BatchClose(ctx, p.TerminalSN, by))
}

type batchListParams struct {
	TerminalSN string `json:"terminal_sn"`
	Limit      *int   `json:"limit"`
}

func (api *API) batchList(ctx context.Context, _ *rpc.Conn, p batchListParams) (BatchList, error) {
	limit, err := limitParam(p.Limit)
	if err != nil {
		return BatchList{}, err
	}
	list, err := api.a.BatchList(ctx, p.TerminalSN, limit)
	if err != nil {
		return BatchList{}, appError(err)
	}
	return BatchList{Batches: batchReportsFrom(list)}, nil
}

// subscribe adds topics to the connection and, with since, replays the
// payments changed after that seq. The subscription comes first and the
// journal is read after it, so no change falls between the two: a change
// committed before the read is in the replay, one committed after it is
// published to the subscription (some may come both ways; clients keep the
// higher seq of each payment). Live events wait until the answer is queued.
func (api *API) subscribe(ctx context.Context, c *rpc.Conn, p subscribeParams) (subscribeResult, error) {
	if len(p.Topics) == 0 {
		p.Topics = []string{"payment", "terminal", "batch"}
	}
	for _, t := range p.Topics {
		if t != "payment" && t != "terminal" && t != "batch" {
			return nil, rpc.InvalidParams("topics", fmt.Sprintf("unknown topic %q; want payment, terminal or batch", t))
		}
	}
	if p.TerminalSN != "" {
		if _, err := api.a.Registry().Lookup(p.TerminalSN); err != nil {
			return nil, rpc.InvalidParams("terminal_sn", fmt.Sprintf("unknown terminal %q", p.TerminalSN))
		}
	}
	var q *agent.ChangesQuery
	switch {
	case p.Since != nil && !slices.Contains(p.Topics, "payment"):
		return nil, rpc.InvalidParams("since", "replays payments: subscribe to the payment topic too")
	case p.Since != nil:
		q = &agent.ChangesQuery{Since: *p.Since, TerminalSN: p.TerminalSN, Limit: changesLimit(p.Limit)}
		if err := api.a.CheckChanges(ctx, *q); err != nil {
			return nil, appError(err)
		}
	case p.Limit != nil:
		return nil, rpc.InvalidParams("limit", "only with since")
	}
	st := api.state(c)
	api.mu.Lock()
	for _, t := range p.Topics {
		st.topics[t] = true
	}
	st.terminal = p.TerminalSN
	subscribed := make([]string, 0, len(st.topics))
	for _, t := range []string{"payment", "terminal", "batch"} {
		if st.topics[t] {
			subscribed = append(subscribed, t)
		}
	}
	if q != nil {
		st.beginReplay()
	}
	api.mu.Unlock()
	if q == nil {
		return Subscribed{Subscribed: subscribed}, nil
	}
	defer api.afterReply(ctx, func() { st.endReplay(c) })()
	ch, err := api.a.ChangesSince(ctx, *q)
	if err != nil {
		return nil, appError(err)
	}
	return SubscribedReplay{More: ch.More, Next: ch.Next, Payments: paymentsFrom(ch.Payments), Subscribed: subscribed}, nil
}

// subscribeResult is the result of events.subscribe: Subscribed, or
// SubscribedReplay when the call has since.
type subscribeResult any

type subscribeParams struct {
	Topics     []string `json:"topics"`
	TerminalSN string   `json:"terminal_sn"`
	Since      *int64   `json:"since"`
	Limit      *int     `json:"limit"`
}

// changesLimit reads the optional page size of a catch-up; the agent checks
// its range.
func changesLimit(l *int) int {
	if l == nil {
		return agent.DefaultChangesLimit
	}
	return *l
}

func validState(s string) bool {
	switch s {
	case agent.StateQueued, agent.StateSending, agent.StateOnTerminal, agent.StateUnknown, agent.StateApproved,
		agent.StateDeclined, agent.StateCancelled, agent.StateExpired, agent.StateFailed:
		return true
	}
	return false
}

type createParams struct {
	MerchantOrderNo     string          `json:"merchant_order_no"`
	Type                string          `json:"type"`
	TerminalSN          string          `json:"terminal_sn"`
	Lane                string          `json:"lane"`
	Amount              json.RawMessage `json:"amount"`
	Currency            string          `json:"currency"`
	TipAmount           json.RawMessage `json:"tip_amount"`
	CashbackAmount      json.RawMessage `json:"cashback_amount"`
	OrigMerchantOrderNo string          `json:"orig_merchant_order_no"`
	Description         string          `json:"description"`
	Card                json.RawMessage `json:"card"`
	Options             *Options        `json:"options"`
	Source              string          `json:"source"`
	// Extensions: method qr, va and link (docs/websocket-api.md).
	Method        string `json:"method"`
	QRMode        string `json:"qr_mode"`
	CustomerCode  string `json:"customer_code"`
	VAMethod      string `json:"va_method"`
	CustomerName  string `json:"customer_name"`
	CustomerEmail string `json:"customer_email"`
	CustomerPhone string `json:"customer_phone"`
	// Method link: how long the payment link may be paid, in seconds.
	LinkExpiresIn int64 `json:"link_expires_in"`
}

// sourceParam reads the optional "source" of a call: which front end speaks
// over the WebSocket (ws by default; the console and the CLI say so).
func sourceParam(s string) (string, error) {
	switch s {
	case "":
		return agent.SourceWS, nil
	case agent.SourceWS, agent.SourceConsole, agent.SourceCLI:
		return s, nil
	}
	return "", rpc.InvalidParams("source", fmt.Sprintf("want ws, console or cli, got %q", s))
}

func (api *API) create(ctx context.Context, c *rpc.Conn, p createParams) (Payment, error) {
	req := agent.CreateRequest{
		MerchantOrderNo:     p.MerchantOrderNo,
		Type:                p.Type,
		TerminalSN:          p.TerminalSN,
		Lane:                p.Lane,
		Currency:            p.Currency,
		OrigMerchantOrderNo: p.OrigMerchantOrderNo,
		Description:         p.Description,
		Method:              p.Method, QRMode: p.QRMode, CustomerCode: p.CustomerCode, VAMethod: p.VAMethod,
		CustomerName: p.CustomerName, CustomerEmail: p.CustomerEmail, CustomerPhone: p.CustomerPhone,
		LinkExpiresIn: p.LinkExpiresIn,
	}
	src, err := sourceParam(p.Source)
	if err != nil {
		return Payment{}, err
	}
	req.Source = src
	if c, err := parseCard(p.Card); err != nil {
		return Payment{}, err
	} else if c != nil {
		req.Card = c
	}
	if p.Options != nil {
		req.Options = p.Options.agentOptions()
	}
	if req.Amount, err = moneyString("amount", p.Amount); err != nil {
		return Payment{}, err
	}
	if req.TipAmount, err = moneyString("tip_amount", p.TipAmount); err != nil {
		return Payment{}, err
	}
	if req.CashbackAmount, err = moneyString("cashback_amount", p.CashbackAmount); err != nil {
		return Payment{}, err
	}
	// Own the order before it exists, so this connection sees its first
	// event, and hold its events until the answer is queued.
	st := api.state(c)
	no := req.MerchantOrderNo
	api.mu.Lock()
	already := st.owned[no]
	if no != "" {
		st.owned[no] = true
		st.beginCreate(no)
	}
	api.mu.Unlock()
	if no != "" {
		defer api.afterReply(ctx, func() { st.endCreate(c, no) })()
	}
	pay, err := api.a.Create(ctx, req)
	if err != nil {
		if !already {
			api.mu.Lock()
			delete(st.owned, req.MerchantOrderNo)
			api.mu.Unlock()
		}
		return Payment{}, appError(err)
	}
	return PaymentFrom(pay), nil
}

// refund is payment.refund: a refund through CodePay's cloud or on a
// terminal (agent.Refund). Like payment.create, the calling connection owns
// the refund's notifications, which follow the answer.
func (api *API) refund(ctx context.Context, c *rpc.Conn, p refundParams) (Payment, error) {
	if err := requireOrderNo(p.MerchantOrderNo); err != nil {
		return Payment{}, err
	}
	req := agent.RefundRequest{
		MerchantOrderNo: p.MerchantOrderNo, OrigMerchantOrderNo: p.OrigMerchantOrderNo, Currency: p.Currency,
		Description: p.Description, Via: p.Via, TerminalSN: p.TerminalSN, Lane: p.Lane,
	}
	var err error
	if req.Source, err = sourceParam(p.Source); err != nil {
		return Payment{}, err
	}
	if req.Amount, err = moneyString("amount", p.Amount); err != nil {
		return Payment{}, err
	}
	st := api.state(c)
	no := req.MerchantOrderNo
	api.mu.Lock()
	already := st.owned[no]
	st.owned[no] = true
	st.beginCreate(no)
	api.mu.Unlock()
	defer api.afterReply(ctx, func() { st.endCreate(c, no) })()
	pay, err := api.a.Refund(ctx, req)
	if err != nil {
		if !already {
			api.mu.Lock()
			delete(st.owned, no)
			api.mu.Unlock()
		}
		return Payment{}, appError(err)
	}
	return PaymentFrom(pay), nil
}

type refundParams struct {
	MerchantOrderNo     string          `json:"merchant_order_no"`
	OrigMerchantOrderNo string          `json:"orig_merchant_order_no"`
	Amount              json.RawMessage `json:"amount"`
	Currency            string          `json:"currency"`
	Description         string          `json:"description"`
	Via                 string          `json:"via"`
	TerminalSN          string          `json:"terminal_sn"`
	Lane                string          `json:"lane"`
	Source              string          `json:"source"`
}

// afterReply arranges for release to run under API.mu once the answer to
// the call with ctx is queued. The handler must defer the function it
// returns: when ctx is not a call's (a direct call in a test), that runs
// release as the handler returns.
func (api *API) afterReply(ctx context.Context, release func()) (atReturn func()) {
	locked := func() {
		api.mu.Lock()
		defer api.mu.Unlock()
		release()
	}
	if rpc.AfterReply(ctx, locked) {
		return func() {}
	}
	return locked
}

// parseCard decodes and validates the card object. Errors name the field
// under "card" and never contain the card data.
func parseCard(raw json.RawMessage) (*card.Card, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, rpc.InvalidParams("card", "must be an object with reader_mode and track2")
	}
	var in card.Input
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, rpc.InvalidParams("card."+te.Field, "wrong type: want "+te.Type.String())
		}
		if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
			return nil, rpc.InvalidParams("card."+strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`), "unknown field")
		}
		return nil, rpc.InvalidParams("card", "malformed card object")
	}
	c, err := card.Parse(in, time.Now())
	if err != nil {
		var fe *card.FieldError
		if errors.As(err, &fe) {
			return nil, rpc.InvalidParams(fe.Field, fe.Reason)
		}
		return nil, rpc.InvalidParams("card", "invalid card data")
	}
	return c, nil
}

// moneyString insists on a JSON string: a JSON number could already have lost digits.
func moneyString(field string, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] != '"' {
		return "", rpc.InvalidParams(field, "must be a decimal string such as \"12.34\", not a JSON number")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", rpc.InvalidParams(field, "must be a decimal string")
	}
	if s == "" {
		return "", rpc.InvalidParams(field, "must not be empty")
	}
	return s, nil
}

// limitParam reads an optional list limit.
func limitParam(l *int) (int, error) {
	if l == nil {
		return defaultListLimit, nil
	}
	if *l < 1 || *l > maxListLimit {
		return 0, rpc.InvalidParams("limit", fmt.Sprintf("want 1 to %d", maxListLimit))
	}
	return *l, nil
}

// requireOrderNo refuses params without a merchant_order_no.
func requireOrderNo(orderNo string) error {
	if orderNo == "" {
		return rpc.InvalidParams("merchant_order_no", "required")
	}
	return nil
}

// decodeParams reads params strictly into a T: a JSON object (absent or
// null params read as {}) with known fields of the right types. Errors are
// -32602 naming the field at fault.
func decodeParams[T any](params json.RawMessage) (T, error) {
	var v T
	params = bytes.TrimSpace(params)
	if len(params) == 0 || string(params) == "null" {
		params = []byte("{}")
	}
	if params[0] != '{' {
		return v, rpc.InvalidParams("params", "must be an object with named members")
	}
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return v, rpc.InvalidParams(te.Field, fmt.Sprintf("wrong type: want %s", te.Type.String()))
		}
		if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
			field := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
			return v, rpc.InvalidParams(field, "unknown field")
		}
		return v, rpc.InvalidParams("params", "malformed params")
	}
	return v, nil
}

// wrap is the answer of a method returning a payment.
func wrap(p agent.Payment, err error) (Payment, error) {
	if err != nil {
		return Payment{}, appError(err)
	}
	return PaymentFrom(p), nil
}

// wrapBatch is the answer of a method returning a batch report.
func wrapBatch(r agent.BatchReport, err error) (BatchReport, error) {
	if err != nil {
		return BatchReport{}, appError(err)
	}
	return BatchReportFrom(r), nil
}

// appError maps agent errors to JSON-RPC errors.
func appError(err error) error {
	var fe *agent.FieldError
	switch {
	case errors.As(err, &fe):
		return rpc.InvalidParams(fe.Field, fe.Msg)
	case errors.Is(err, agent.ErrOrderNoReused):
		return &rpc.Error{Code: CodeOrderNoReused, Message: err.Error()}
	case errors.Is(err, agent.ErrNotFound):
		return &rpc.Error{Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, agent.ErrNotCancellable):
		return &rpc.Error{Code: CodeNotCancellable, Message: err.Error()}
	case errors.Is(err, agent.ErrStopping):
		return &rpc.Error{Code: CodeStopping, Message: err.Error()}
	case errors.Is(err, agent.ErrTerminalBusy):
		return &rpc.Error{Code: CodeTerminalBusy, Message: err.Error()}
	case errors.Is(err, agent.ErrBatchCloseRefused):
		return &rpc.Error{Code: CodeBatchRefused, Message: err.Error()}
	case errors.Is(err, agent.ErrBatchCloseUnknown):
		return &rpc.Error{Code: CodeBatchUnknown, Message: err.Error()}
	case errors.Is(err, agent.ErrNotAdjustable):
		return &rpc.Error{Code: CodeNotAdjustable, Message: err.Error()}
	case errors.Is(err, agent.ErrFallbackRefused):
		return &rpc.Error{Code: CodeFallbackRefused, Message: err.Error()}
	case errors.Is(err, agent.ErrCodePayNoAnswer):
		return &rpc.Error{Code: CodeCodePayNoAnswer, Message: err.Error()}
	case errors.Is(err, agent.ErrCancelUnconfirmed):
		return &rpc.Error{Code: CodeCancelUnknown, Message: err.Error()}
	case errors.Is(err, agent.ErrNoReceipt):
		return &rpc.Error{Code: CodeNoReceipt, Message: err.Error()}
	case errors.Is(err, agent.ErrTipUnknown):
		return &rpc.Error{Code: CodeTipUnknown, Message: err.Error()}
	}
	return err
}
