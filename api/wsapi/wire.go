package wsapi

import (
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/receipt"
)

// The wire types: the JSON objects of the WebSocket API as design/contract.md
// and docs/websocket-api.md define them. The agent's own types carry no JSON;
// each is turned into its wire type here, in one function per type.
//
// encoding/json writes a struct's fields in declaration order, and the order
// is part of the contract (clients compare bytes; the golden files in
// testdata/ pin it): never reorder fields, and keep nil and empty apart
// (null versus [] or {}) when converting.

// Payment is the payment object: the result of payment.create, .get, .wait,
// .cancel, .refund and .tip_adjust, and the params of payment.updated.
type Payment struct {
	MerchantOrderNo     string        `json:"merchant_order_no"`
	Type                string        `json:"type"`
	State               string        `json:"state"`
	Source              string        `json:"source"`
	TerminalSN          string        `json:"terminal_sn"`
	Amount              string        `json:"amount"`
	Currency            string        `json:"currency"`
	TipAmount           string        `json:"tip_amount"`
	CashbackAmount      string        `json:"cashback_amount,omitempty"`
	OrigMerchantOrderNo string        `json:"orig_merchant_order_no,omitempty"`
	Description         string        `json:"description,omitempty"`
	Route               string        `json:"route"`
	TransNo             string        `json:"trans_no"`
	TransStatus         *int          `json:"trans_status"`
	AuthCode            string        `json:"auth_code"`
	RefNo               string        `json:"ref_no"`
	Card                *Card         `json:"card"`
	Error               *PaymentError `json:"error"`
	Notice              string        `json:"notice,omitempty"`
	Alert               string        `json:"alert,omitempty"`
	AlertHandledAt      time.Time     `json:"alert_handled_at,omitzero"`
	ExpiresAt           time.Time     `json:"expires_at"`
	CreatedAt           time.Time     `json:"created_at"`
	UpdatedAt           time.Time     `json:"updated_at"`
	Seq                 int64         `json:"seq"`
	// Extensions for method qr and va, absent on card payments:
	Method      string `json:"method,omitempty"`
	QRPayload   string `json:"qr_payload,omitempty"`
	PayURL      string `json:"pay_url,omitempty"`
	VANumber    string `json:"va_number,omitempty"`
	PaymentCode string `json:"payment_code,omitempty"`
	// ReceiptAvailable is true on a final payment that has a receipt
	// (payment.receipt); absent otherwise.
	ReceiptAvailable bool `json:"receipt_available,omitempty"`
}

// Card is the payment object's card: never a full PAN.
type Card struct {
	Brand     string `json:"brand"`
	MaskedPAN string `json:"masked_pan"`
	EntryMode string `json:"entry_mode"`
}

// PaymentError is the payment object's error.
type PaymentError struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Fallback string `json:"fallback,omitempty"`
}

// PaymentFrom is the payment object of p.
func PaymentFrom(p agent.Payment) Payment {
	w := Payment{
		MerchantOrderNo: p.MerchantOrderNo, Type: p.Type, State: p.State, Source: p.Source, TerminalSN: p.TerminalSN,
		Amount: p.Amount, Currency: p.Currency, TipAmount: p.TipAmount, CashbackAmount: p.CashbackAmount,
		OrigMerchantOrderNo: p.OrigMerchantOrderNo, Description: p.Description, Route: p.Route,
		TransNo: p.TransNo, TransStatus: p.TransStatus, AuthCode: p.AuthCode, RefNo: p.RefNo,
		Notice: p.Notice, Alert: p.Alert, AlertHandledAt: p.AlertHandledAt, ExpiresAt: p.ExpiresAt, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Seq: p.Seq,
		Method: p.Method, QRPayload: p.QRPayload, PayURL: p.PayURL, VANumber: p.VANumber, PaymentCode: p.PaymentCode,
		ReceiptAvailable: p.ReceiptAvailable,
	}
	if p.Card != nil {
		w.Card = &Card{Brand: p.Card.Brand, MaskedPAN: p.Card.MaskedPAN, EntryMode: p.Card.EntryMode}
	}
	if p.Error != nil {
		w.Error = &PaymentError{Code: p.Error.Code, Message: p.Error.Message, Fallback: p.Error.Fallback}
	}
	return w
}

// paymentsFrom converts a list; nil stays nil.
func paymentsFrom(ps []agent.Payment) []Payment {
	if ps == nil {
		return nil
	}
	out := make([]Payment, len(ps))
	for i := range ps {
		out[i] = PaymentFrom(ps[i])
	}
	return out
}

// Terminal is one terminal of terminal.list and the params of
// terminal.updated.
type Terminal struct {
	SN             string      `json:"sn"`
	Lane           string      `json:"lane"`
	Name           string      `json:"name"`
	Currency       string      `json:"currency"`
	Online         bool        `json:"online"`
	OnlineKnown    bool        `json:"online_known"`
	Busy           bool        `json:"busy"`
	QueueDepth     int         `json:"queue_depth"`
	CurrentOrderNo string      `json:"current_order_no"`
	CodePay        CodePayLink `json:"codepay"`
}

// CodePayLink is a terminal's codepay object: reachable is null until
// known, and each time null until it happened.
type CodePayLink struct {
	Reachable           *bool      `json:"reachable"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	LastFailureAt       *time.Time `json:"last_failure_at"`
	UnreachableSince    *time.Time `json:"unreachable_since"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastError           string     `json:"last_error"`
}

// TerminalFrom is the terminal object of s.
func TerminalFrom(s device.Status) Terminal {
	l := s.CodePay
	w := Terminal{
		SN: s.SN, Lane: s.Lane, Name: s.Name, Currency: s.Currency, Online: s.Online, OnlineKnown: s.OnlineKnown,
		Busy: s.Busy, QueueDepth: s.QueueDepth, CurrentOrderNo: s.CurrentOrderNo,
		CodePay: CodePayLink{
			LastSuccessAt: timeOrNull(l.LastSuccessAt), LastFailureAt: timeOrNull(l.LastFailureAt),
			UnreachableSince: timeOrNull(l.UnreachableSince), ConsecutiveFailures: l.ConsecutiveFailures, LastError: l.LastError,
		},
	}
	if l.Known {
		r := l.Reachable
		w.CodePay.Reachable = &r
	}
	return w
}

// timeOrNull is t in UTC, or nil (JSON null) when t is zero.
func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// BatchReport is a batch as batch.get, batch.close and batch.list return it
// and the params of batch.closed.
type BatchReport struct {
	TerminalSN      string       `json:"terminal_sn"`
	BatchNo         int64        `json:"batch_no"`
	State           string       `json:"state"`
	OpenedAt        time.Time    `json:"opened_at"`
	ClosedAt        *time.Time   `json:"closed_at"`
	ClosedBy        string       `json:"closed_by,omitempty"`
	Local           BatchTotals  `json:"local"`
	Cloud           *CloudTotals `json:"cloud"`
	Differences     []string     `json:"differences"`
	Payments        []string     `json:"payments"`
	Comparison      string       `json:"comparison,omitempty"`
	CloudSettleList string       `json:"cloud_settle_list,omitempty"`
}

// BatchTotals are a batch report's local totals.
type BatchTotals struct {
	Count       int                  `json:"count"`
	TotalAmount string               `json:"total_amount"`
	Currency    string               `json:"currency"`
	ByType      map[string]TypeTotal `json:"by_type"`
	Tips        string               `json:"tips"`
	ByRoute     map[string]TypeTotal `json:"by_route"`
	// ByMethod is an extension: present only when the batch holds qr or va
	// payments.
	ByMethod map[string]TypeTotal `json:"by_method,omitempty"`
	// Cashback is the cash handed out with cashback sales (in the total);
	// absent only in reports stored before it existed.
	Cashback string `json:"cashback,omitempty"`
	// NotInTotal lists approved voids and pre-auths, which are not in the
	// total; absent when there are none.
	NotInTotal map[string]TypeTotal `json:"not_in_total,omitempty"`
}

// TypeTotal is a count and an amount.
type TypeTotal struct {
	Count  int    `json:"count"`
	Amount string `json:"amount"`
}

// CloudTotals are the totals CodePay returned.
type CloudTotals struct {
	Count       *int64 `json:"count"`
	TotalAmount string `json:"total_amount"`
}

// BatchReportFrom is the batch report object of r.
func BatchReportFrom(r agent.BatchReport) BatchReport {
	w := BatchReport{
		TerminalSN: r.TerminalSN, BatchNo: r.BatchNo, State: r.State, OpenedAt: r.OpenedAt, ClosedAt: r.ClosedAt,
		ClosedBy: r.ClosedBy, Differences: r.Differences, Payments: r.Payments, Comparison: r.Comparison,
		CloudSettleList: r.CloudSettleList,
		Local:           batchTotalsFrom(r.Local),
	}
	if r.Cloud != nil {
		w.Cloud = &CloudTotals{Count: r.Cloud.Count, TotalAmount: r.Cloud.TotalAmount}
	}
	return w
}

// batchTotalsFrom is the totals object of t.
func batchTotalsFrom(t agent.BatchTotals) BatchTotals {
	return BatchTotals{
		Count: t.Count, TotalAmount: t.TotalAmount, Currency: t.Currency, Tips: t.Tips,
		ByType: typeTotalsFrom(t.ByType), ByRoute: typeTotalsFrom(t.ByRoute), ByMethod: typeTotalsFrom(t.ByMethod),
		Cashback: t.Cashback, NotInTotal: typeTotalsFrom(t.NotInTotal),
	}
}

// typeTotalsFrom converts a totals map; nil stays nil.
func typeTotalsFrom(m map[string]agent.TypeTotal) map[string]TypeTotal {
	if m == nil {
		return nil
	}
	out := make(map[string]TypeTotal, len(m))
	for k, v := range m {
		out[k] = TypeTotal{Count: v.Count, Amount: v.Amount}
	}
	return out
}

// batchReportsFrom converts a list; nil stays nil.
func batchReportsFrom(rs []agent.BatchReport) []BatchReport {
	if rs == nil {
		return nil
	}
	out := make([]BatchReport, len(rs))
	for i := range rs {
		out[i] = BatchReportFrom(rs[i])
	}
	return out
}

// Changes is the result of events.since.
type Changes struct {
	Payments []Payment `json:"payments"`
	Next     int64     `json:"next"`
	More     bool      `json:"more"`
}

// ChangesFrom is the events.since result of c.
func ChangesFrom(c agent.Changes) Changes {
	return Changes{Payments: paymentsFrom(c.Payments), Next: c.Next, More: c.More}
}

// PaymentList is the result of payment.list.
type PaymentList struct {
	Payments []Payment `json:"payments"`
}

// TerminalList is the result of terminal.list.
type TerminalList struct {
	Terminals []Terminal `json:"terminals"`
}

// BatchList is the result of batch.list.
type BatchList struct {
	Batches []BatchReport `json:"batches"`
}

// Subscribed is the result of events.subscribe without since.
type Subscribed struct {
	Subscribed []string `json:"subscribed"`
}

// SubscribedReplay is the result of events.subscribe with since: the
// subscription and the replay, as events.since would return it. Its fields
// are in alphabetical order, as the API has always written them.
type SubscribedReplay struct {
	More       bool      `json:"more"`
	Next       int64     `json:"next"`
	Payments   []Payment `json:"payments"`
	Subscribed []string  `json:"subscribed"`
}

// Options are payment.create's options.
type Options struct {
	OnScreenTip       *bool  `json:"on_screen_tip,omitempty"`
	ConfirmOnTerminal *bool  `json:"confirm_on_terminal,omitempty"`
	ReceiptPrintMode  *int   `json:"receipt_print_mode,omitempty"`
	Fallback          string `json:"fallback,omitempty"`
	Route             string `json:"route,omitempty"`
}

// agentOptions are the agent's options of o.
func (o Options) agentOptions() agent.Options {
	return agent.Options{OnScreenTip: o.OnScreenTip, ConfirmOnTerminal: o.ConfirmOnTerminal,
		ReceiptPrintMode: o.ReceiptPrintMode, Fallback: o.Fallback, Route: o.Route}
}

// Receipt is the result of payment.receipt: one copy of a final payment's
// receipt, as structured fields and as text lines of at most Width
// characters, ready for a receipt printer.
type Receipt struct {
	MerchantOrderNo string        `json:"merchant_order_no"`
	Copy            string        `json:"copy"`
	Width           int           `json:"width"`
	Fields          ReceiptFields `json:"fields"`
	Lines           []string      `json:"lines"`
}

// ReceiptFields are what a receipt prints. Amounts are decimal strings
// (total_amount is amount + tip + cashback, positive for refunds too: kind
// says which way the money went); time is RFC 3339 in the store PC's zone.
type ReceiptFields struct {
	Kind                string       `json:"kind"`
	Method              string       `json:"method"`
	Result              string       `json:"result"`
	ResultText          string       `json:"result_text"`
	MerchantName        string       `json:"merchant_name"`
	MerchantLines       []string     `json:"merchant_lines"`
	MerchantID          string       `json:"merchant_id"`
	TerminalSN          string       `json:"terminal_sn"`
	TerminalID          string       `json:"terminal_id"`
	OrigMerchantOrderNo string       `json:"orig_merchant_order_no"`
	TransNo             string       `json:"trans_no"`
	RefNo               string       `json:"ref_no"`
	AuthCode            string       `json:"auth_code"`
	Time                string       `json:"time"`
	Currency            string       `json:"currency"`
	Amount              string       `json:"amount"`
	TipAmount           string       `json:"tip_amount"`
	CashbackAmount      string       `json:"cashback_amount"`
	TotalAmount         string       `json:"total_amount"`
	Card                *ReceiptCard `json:"card"`
	Footer              []string     `json:"footer"`
}

// ReceiptCard is the card a receipt names: never more than the masked PAN.
// aid and app_label are the EMV application, "" when not known.
type ReceiptCard struct {
	Brand     string `json:"brand"`
	MaskedPAN string `json:"masked_pan"`
	EntryMode string `json:"entry_mode"`
	AID       string `json:"aid"`
	AppLabel  string `json:"app_label"`
}

// ReceiptFrom is the payment.receipt result of r laid out in lines.
func ReceiptFrom(r receipt.Receipt, width int, lines []string) Receipt {
	amount := func(minor int64) string { return money.Format(minor, r.Currency) }
	f := ReceiptFields{
		Kind: r.Kind, Method: r.Method, Result: r.Result, ResultText: r.ResultText,
		MerchantName: r.MerchantName, MerchantLines: nonNil(r.MerchantLines), MerchantID: r.MerchantID,
		TerminalSN: r.TerminalSN, TerminalID: r.TerminalID, OrigMerchantOrderNo: r.OrigMerchantOrderNo,
		TransNo: r.TransNo, RefNo: r.RefNo, AuthCode: r.AuthCode,
		Currency: r.Currency.Code, Amount: amount(r.Amount), TipAmount: amount(r.Tip), CashbackAmount: amount(r.Cashback),
		TotalAmount: amount(r.Total()), Footer: nonNil(r.Footer),
	}
	if !r.At.IsZero() {
		f.Time = r.At.Format(time.RFC3339)
	}
	if r.Brand != "" || r.MaskedPAN != "" || r.EntryMode != "" || r.AID != "" || r.AppLabel != "" {
		f.Card = &ReceiptCard{Brand: r.Brand, MaskedPAN: r.MaskedPAN, EntryMode: r.EntryMode, AID: r.AID, AppLabel: r.AppLabel}
	}
	return Receipt{MerchantOrderNo: r.MerchantOrderNo, Copy: string(r.Copy), Width: width, Fields: f, Lines: nonNil(lines)}
}

// nonNil is s, or an empty list for nil (JSON [] rather than null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
