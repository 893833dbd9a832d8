package bindosim

import (
	"fmt"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
	"github.com/posbridge/posbridge/money"
)

// Transaction states (appendix "transaction_state").
const (
	stateSuccess = "success"
	statePending = "pending"
	stateFailed  = "failed"
)

// Transaction types.
const (
	typeSale   = "sale"
	typeVoid   = "void"
	typeRefund = "refund"
	typeTips   = "tips"
)

// Error codes the emulator uses (JS SDK spec, "Error Code And Error message").
const (
	CodeParameters        = "100001"
	CodeNoRecord          = "100013"
	CodeAmountExceeded    = "100015"
	CodeCurrencyMismatch  = "100016"
	CodeRejectedByIssuer  = "110003"
	CodeInsufficientFunds = "110004"
	CodeTimeoutPayFailed  = "110010"
)

func codeText(code string) string {
	switch code {
	case "100000":
		return "Success"
	case CodeParameters:
		return "Parameters Error"
	case "100003":
		return "Merchant Account Is Disable. Please Contact Your Payment Process Service Provider"
	case "100005":
		return "Processing Rule Required. Please Contact Your Payment Process Service Provider"
	case "100007":
		return "Terminal TID is Busy. Please Try Again Later"
	case "100011":
		return "Risk Flagged. Please Contact Your Payment Process Service Provider"
	case CodeNoRecord:
		return "No Record"
	case CodeAmountExceeded:
		return "Transaction Amount Exceeded"
	case CodeCurrencyMismatch:
		return "The Currency Is Not Matched"
	case "100024":
		return "Order Closing"
	case "110001":
		return "Fraud Card Detected and Rejected."
	case CodeRejectedByIssuer:
		return "Rejected By Issuer"
	case CodeInsufficientFunds:
		return "Insufficient Funds. Please Make Sure The Card Has Sufficient Amount or To Process The Payment With Other Cards"
	case "110007":
		return "Bank Key Not Active"
	case CodeTimeoutPayFailed:
		return "Time-Out Payment Failed"
	}
	return "Error"
}

// responseCodeFor is the ISO 8583-style credit_card.response_code of a
// declined sale.
func responseCodeFor(code string) string {
	switch code {
	case CodeInsufficientFunds:
		return "51"
	case "110001":
		return "59"
	case CodeTimeoutPayFailed:
		return "68"
	}
	return "05"
}

type txn struct {
	uuid, brn, rrn   string
	typ              string
	state            string
	errCode, errDesc string
	respCode         string
	cur              money.Currency
	amount, tip      int64
	hasTip           bool
	mode             string // card_reader_mode
	fallback         bool
	masked           string // first 6 + last 4; the full PAN is never kept
	acquirer         string // acquirer_type
	cardSN           string
	sn               string // device serial number
	authCode         string
	traceNo          string
	invoiceNo        string
	batchNo          int
	createdAt        time.Time
	dueAt            time.Time // pending sales: when the outcome applies
	finalAt          time.Time
	outcome          Outcome
	origin           *txn // void, refund
	voided           bool
	voidedAt         time.Time
	settled          bool
	refunded         int64
	refundCount      int
	notifyURL        string
	fingerprint      string          // request parameters, for duplicate uuids
	notify           *simkit.Message // the webhook, once queued
	link             *linkInfo       // pre-created (pay-by-link) orders only
}

func (t *txn) view() TransactionView {
	v := TransactionView{
		UUID: t.uuid, BRN: t.brn, RRN: t.rrn, Type: t.typ, State: t.state, ErrorCode: t.errCode,
		ReaderMode: t.mode, Fallback: t.fallback, MaskedPAN: t.masked, AcquirerType: t.acquirer, TerminalSN: t.sn,
		Currency: t.cur.Code, Amount: t.amount, Tip: t.tip, Refunded: t.refunded, RefundCount: t.refundCount,
		Voided: t.voided, Settled: t.settled, CreatedAt: t.createdAt, FinalAt: t.finalAt,
	}
	if t.origin != nil {
		v.OriginBRN = t.origin.brn
	}
	if t.notify != nil {
		w := WebhookView(t.notify.State())
		v.Webhook = &w
	}
	if t.link != nil {
		v.PayURL, v.ExpiresAt, v.Abandoned = t.link.payURL, t.link.expiresAt, !t.link.abandonedAt.IsZero()
	}
	return v
}

// idsLocked returns a new 19-digit number with the given two-digit prefix
// (the samples' brn and rrn are 19 digits).
func (s *Sim) idLocked(prefix string, now time.Time) string {
	s.seq++
	return fmt.Sprintf("%s%011d%06d", prefix, now.Unix()%100_000_000_000, s.seq%1_000_000)
}

func (s *Sim) digitsLocked(n int) string {
	s.seq++
	return fmt.Sprintf("%0*d", n, s.seq%pow10(n))
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// addLocked files a new transaction. Filing one draws a sequence number,
// as the numbers handed out do, so the numbers that follow depend on it.
func (s *Sim) addLocked(t *txn) {
	s.seq++
	s.txns[t.uuid] = t
	s.byBRN[t.brn] = t
	s.list = append(s.list, t)
}

// advanceLocked applies every outcome due at or before now, oldest first.
func (s *Sim) advanceLocked(now time.Time) {
	for _, t := range s.list {
		if t.state == statePending && !t.dueAt.After(now) {
			s.finalizeLocked(t, t.dueAt)
		}
	}
}

// finalizeLocked gives a pending sale its outcome.
func (s *Sim) finalizeLocked(t *txn, at time.Time) {
	t.finalAt = at
	switch t.outcome.State {
	case stateSuccess:
		t.state = stateSuccess
		t.respCode = "00"
		t.rrn = s.idLocked("23", at)
		t.authCode = s.digitsLocked(6)
		t.traceNo = s.digitsLocked(6)
		t.invoiceNo = s.digitsLocked(6)
		t.batchNo = s.batchNo
	default:
		t.state = stateFailed
		t.errCode, t.errDesc = t.outcome.ErrorCode, t.outcome.ErrorDesc
		t.respCode = responseCodeFor(t.errCode)
	}
	s.log.Info("bindosim: transaction final", "uuid", t.uuid, "brn", t.brn, "type", t.typ, "state", t.state, "error_code", t.errCode)
	s.queueWebhookLocked(t, at)
}

// wireLocked is the transaction object of responses, queries and webhooks.
// full adds the query fields (is_voided, voided_time, refunded_times,
// refunded_amount).
func (s *Sim) wireLocked(t *txn, full bool) map[string]any {
	total := t.amount + t.tip
	m := map[string]any{
		"uuid":              t.uuid,
		"brn":               t.brn,
		"transaction_type":  t.typ,
		"payment_method":    t.paymentMethod(),
		"transaction_state": t.state,
		"amount":            amountText(t.amount, t.cur),
		"total_amount":      amountText(total, t.cur),
		"currency":          t.cur.Code,
		"dcc_amount":        "0",
		"date_time":         t.createdAt.UTC().Format(time.RFC3339Nano),
		"merchant_id":       MerchantID,
		"terminal_id":       TerminalID,
		"acquirer_name":     "fake",
	}
	if t.hasTip {
		m["tips_amount"] = amountText(t.tip, t.cur)
	}
	if t.sn != "" {
		m["sn"] = t.sn
	}
	if t.acquirer != "" {
		m["acquirer_type"] = t.acquirer
	}
	if t.rrn != "" {
		m["rrn"] = t.rrn
	}
	if t.state == stateFailed {
		m["error_code"] = t.errCode
		m["error_desc"] = t.errDesc
	}
	if t.link != nil {
		m["pay_redirect_url"] = t.link.payURL
	}
	if t.mode == "" { // a pre-created order nobody has paid: no card yet
		addQueryFields(m, t, full)
		return m
	}
	cc := map[string]any{"card_reader_mode": t.mode, "card_fallback": t.fallback, "card_number": t.masked}
	if t.cardSN != "" {
		cc["card_sn"] = t.cardSN
	}
	if t.respCode != "" {
		cc["response_code"] = t.respCode
	}
	if t.state == stateSuccess && t.authCode != "" {
		cc["auth_code"] = t.authCode
		cc["trace_no"] = t.traceNo
		cc["batch_no"] = fmt.Sprintf("%06d", t.batchNo)
		cc["invoice_no"] = t.invoiceNo
		if t.mode == "contact" || t.mode == "contactless" {
			cc["icc_response"] = "8A023030" // authorisation response code "00"
		}
	}
	m["credit_card"] = cc
	addQueryFields(m, t, full)
	return m
}

// addQueryFields adds, when full, what a query answer adds to the
// transaction object.
func addQueryFields(m map[string]any, t *txn, full bool) {
	if full {
		m["is_voided"] = t.voided
		if t.voided {
			m["voided_time"] = t.voidedAt.UTC().Format(time.RFC3339Nano)
		}
		m["refunded_times"] = t.refundCount
		m["refunded_amount"] = amountText(t.refunded, t.cur)
	}
}

func lower(s string) string { return strings.ToLower(s) }
