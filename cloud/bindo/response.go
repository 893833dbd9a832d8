package bindo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/pan"
)

// Status is posbridge's reading of a Bindo transaction. The mapping from
// the gateway's transaction_state (success, pending, failed) and error codes
// is documented in docs/bindo.md:
//
//	success                               → approved (or voided / refunded / partially_refunded, from a query's is_voided and refunded_amount)
//	pending, unknown states, 100024       → pending (not final: poll Query)
//	failed with 110001/110003/110004/100011 → declined (card, issuer or risk decline)
//	failed with any other code (query)    → failed
type Status string

// Statuses.
const (
	StatusPending           Status = "pending"
	StatusApproved          Status = "approved"
	StatusDeclined          Status = "declined"
	StatusFailed            Status = "failed"
	StatusVoided            Status = "voided"
	StatusRefunded          Status = "refunded"
	StatusPartiallyRefunded Status = "partially_refunded"
)

// Final reports whether the status can no longer change by itself (a final
// approved sale may still be voided or refunded later).
func (s Status) Final() bool { return s != StatusPending && s != "" }

// Gateway transaction states (appendix "transaction_state").
const (
	StateSuccess = "success"
	StatePending = "pending"
	StateFailed  = "failed"
)

// Transaction is a Bindo transaction as the gateway reported it. Amounts
// are minor units of Currency; nil means the gateway did not report it. It
// holds no card data beyond the masked PAN.
type Transaction struct {
	UUID, BRN string
	Type      string // transaction_type: "sale", "refund", "void", ...
	State     string // transaction_state as received
	Status    Status
	Final     bool // Status.Final()
	// Approved reports transaction_state "success": the gateway approved
	// this transaction. It stays true for a sale later voided or refunded.
	Approved bool
	Voided   bool // is_voided (query responses)

	Amount, Tip, Total *int64
	Refunded           *int64 // refunded_amount (query responses)
	RefundCount        int    // refunded_times
	Currency           string

	AuthCode     string // credit_card.auth_code
	RefNo        string // rrn
	ResponseCode string // credit_card.response_code ("00" approved)
	MaskedPAN    string // credit_card.card_number, masked 6/4 if the gateway sent it clear
	Brand        string // from acquirer_type: "Visa", "Mastercard", "UnionPay", "Amex", "JCB", "Discover"
	EntryMode    string // credit_card.card_reader_mode; "fallback_swipe" for a fallback
	TraceNo      string
	BatchNo      string
	MerchantID   string
	TerminalID   string
	Time         time.Time // date_time; zero when absent or unreadable

	ErrorCode string // error_code when failed
	Message   string // error_desc, with long digit runs masked

	// PayURL is pay_redirect_url, present on pre-created (pay-by-link)
	// transactions: the page the customer pays on. It is kept only when it
	// is an absolute http(s) URL without user info; it carries the order's
	// X-CLIENT-SECRET, so it is never logged.
	PayURL string
}

// wireEnvelope is {"transaction": {...}}, tolerating error fields at the
// top level as well.
type wireEnvelope struct {
	Transaction *wireTxn   `json:"transaction"`
	ErrorCode   flexString `json:"error_code"`
	ErrorDesc   flexString `json:"error_desc"`
	Message     flexString `json:"message"`
}

type wireTxn struct {
	UUID           flexString `json:"uuid"`
	BRN            flexString `json:"brn"`
	RRN            flexString `json:"rrn"`
	Type           flexString `json:"transaction_type"`
	State          flexString `json:"transaction_state"`
	ErrorCode      flexString `json:"error_code"`
	ErrorDesc      flexString `json:"error_desc"`
	DateTime       flexString `json:"date_time"`
	MerchantID     flexString `json:"merchant_id"`
	TerminalID     flexString `json:"terminal_id"`
	AcquirerType   flexString `json:"acquirer_type"`
	Amount         flexString `json:"amount"`
	TipsAmount     flexString `json:"tips_amount"`
	TotalAmount    flexString `json:"total_amount"`
	Currency       flexString `json:"currency"`
	IsVoided       flexString `json:"is_voided"`
	RefundedTimes  flexString `json:"refunded_times"`
	RefundedAmount flexString `json:"refunded_amount"`
	PayRedirectURL flexString `json:"pay_redirect_url"`
	CreditCard     *wireCard  `json:"credit_card"`
}

type wireCard struct {
	ReaderMode   flexString `json:"card_reader_mode"`
	Number       flexString `json:"card_number"`
	Fallback     flexString `json:"card_fallback"`
	AuthCode     flexString `json:"auth_code"`
	ResponseCode flexString `json:"response_code"`
	TraceNo      flexString `json:"trace_no"`
	BatchNo      flexString `json:"batch_no"`
}

// flexString accepts a JSON string, number, boolean or null (as ""): the
// samples show amounts and codes as strings, but numbers must not break us.
// Numbers keep their exact literal text (never a float).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("want a string, number or boolean, got %c", b[0])
	default:
		*f = flexString(b)
	}
	return nil
}

func (f flexString) str() string { return strings.TrimSpace(string(f)) }

// errDecode marks decoding failures; they become ErrUnknownOutcome for
// gateway responses and ErrBadWebhook for webhooks.
var errDecode = errors.New("unreadable transaction")

// decodeEnvelope parses a response or webhook body.
func decodeEnvelope(raw []byte) (*wireEnvelope, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%w: empty body", errDecode)
	}
	var env wireEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%w: %s", errDecode, jsonErrorText(err))
	}
	return &env, nil
}

// jsonErrorText describes a JSON error without quoting the input (which may
// hold card data in a malformed echo).
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %s has JSON type %s", te.Field, te.Value)
	}
	return "invalid JSON"
}

// toTransaction converts the wire form. It fails only on amounts that cannot
// be read exactly.
func (w *wireTxn) toTransaction() (*Transaction, error) {
	t := &Transaction{
		UUID: w.UUID.str(), BRN: w.BRN.str(), Type: w.Type.str(), State: w.State.str(),
		RefNo: w.RRN.str(), ErrorCode: w.ErrorCode.str(), Message: scrubDigits(w.ErrorDesc.str()),
		MerchantID: w.MerchantID.str(), TerminalID: w.TerminalID.str(), Currency: strings.ToUpper(w.Currency.str()),
		Brand: brandOf(w.AcquirerType.str()),
	}
	if !printableID(t.UUID) || !printableID(t.BRN) || !printableID(t.RefNo) {
		return nil, fmt.Errorf("%w: uuid, brn or rrn is not a printable identifier", errDecode)
	}
	if ts, err := time.Parse(time.RFC3339Nano, w.DateTime.str()); err == nil {
		t.Time = ts
	}
	t.PayURL = linkURL(w.PayRedirectURL.str())
	t.Voided = w.IsVoided.str() == "true"
	if n, err := strconv.Atoi(w.RefundedTimes.str()); err == nil && n >= 0 {
		t.RefundCount = n
	}
	var cur money.Currency
	needCur := w.Amount.str() != "" || w.TipsAmount.str() != "" || w.TotalAmount.str() != "" || w.RefundedAmount.str() != ""
	if needCur {
		var err error
		if cur, err = money.LookupCurrency(t.Currency); err != nil {
			return nil, fmt.Errorf("%w: amounts without a known currency", errDecode)
		}
	}
	for _, a := range []struct {
		name string
		v    flexString
		dst  **int64
	}{{"amount", w.Amount, &t.Amount}, {"tips_amount", w.TipsAmount, &t.Tip}, {"total_amount", w.TotalAmount, &t.Total}, {"refunded_amount", w.RefundedAmount, &t.Refunded}} {
		s := a.v.str()
		if s == "" {
			continue
		}
		minor, err := money.ParseLenient(s, cur)
		if err != nil || minor < 0 {
			return nil, fmt.Errorf("%w: %s is not a non-negative %s amount", errDecode, a.name, cur.Code)
		}
		*a.dst = &minor
	}
	if cc := w.CreditCard; cc != nil {
		// Identifiers, not card data (the samples' auth codes are 19 digits):
		// kept when they are short printable tokens.
		t.AuthCode = cleanID(cc.AuthCode.str())
		t.ResponseCode = cleanID(cc.ResponseCode.str())
		t.TraceNo = cleanID(cc.TraceNo.str())
		t.BatchNo = cleanID(cc.BatchNo.str())
		t.MaskedPAN = maskResponsePAN(cc.Number.str())
		t.EntryMode = scrubDigits(cc.ReaderMode.str())
		if cc.Fallback.str() == "true" && t.EntryMode == ModeSwipe {
			t.EntryMode = "fallback_swipe"
		}
	}
	return t, nil
}

// printableID reports whether s is empty or a short printable ASCII identifier.
func printableID(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// cleanID returns s if it is a printable identifier, else "".
func cleanID(s string) string {
	if printableID(s) {
		return s
	}
	return ""
}

// maskResponsePAN keeps a masked card number and masks a clear one.
func maskResponsePAN(s string) string {
	if allDigits(s) && len(s) >= 12 {
		return pan.Mask(s)
	}
	return scrubDigits(s)
}

// brandOf maps acquirer_type (appendix "acquire_type") to the brand names
// device/card uses.
func brandOf(acquirerType string) string {
	switch strings.ToLower(acquirerType) {
	case "":
		return ""
	case "visa":
		return "Visa"
	case "mastercard":
		return "Mastercard"
	case "cup":
		return "UnionPay"
	case "amex":
		return "Amex"
	case "jcb":
		return "JCB"
	case "discover":
		return "Discover"
	}
	return scrubDigits(acquirerType)
}

// Error-code classes for failed transactions (docs/bindo.md).
var (
	declineCodes = map[string]bool{
		CodeFraudCard: true, CodeRejectedByIssuer: true, CodeInsufficientFunds: true, CodeRiskFlagged: true,
	}
	// refusalCodes refuse a request before anything is processed.
	refusalCodes = map[string]bool{
		CodeParameters: true, CodeMerchantDisabled: true, CodeRuleRequired: true, CodeTerminalBusy: true,
		CodeNoRecord: true, CodeAmountExceeded: true, CodeCurrencyMismatch: true, CodeBankKeyNotActive: true,
	}
)

// classifyRecorded sets Status/Final/Approved for a transaction as the
// gateway has recorded it (query responses and webhooks).
func classifyRecorded(t *Transaction) {
	switch strings.ToLower(t.State) {
	case StateSuccess:
		t.Approved = true
		t.Status = StatusApproved
		switch {
		case t.Voided:
			t.Status = StatusVoided
		case t.Refunded != nil && *t.Refunded > 0:
			t.Status = StatusPartiallyRefunded
			if full := captured(t); full != nil && *t.Refunded >= *full {
				t.Status = StatusRefunded
			}
		}
	case StateFailed:
		switch {
		case declineCodes[t.ErrorCode]:
			t.Status = StatusDeclined
		case t.ErrorCode == CodeOrderClosing:
			t.Status = StatusPending
		default:
			t.Status = StatusFailed
		}
	default: // pending, or a state the appendix does not list
		t.Status = StatusPending
	}
	t.Final = t.Status.Final()
}

// captured is the amount a refund is measured against: total_amount, else
// amount plus tip.
func captured(t *Transaction) *int64 {
	if t.Total != nil {
		return t.Total
	}
	if t.Amount == nil {
		return nil
	}
	v := *t.Amount
	if t.Tip != nil {
		v += *t.Tip
	}
	return &v
}

// ident is what a response must be about.
type ident struct{ uuid, brn string }

// interpret turns a gateway answer into a Transaction or an error class.
// mutation is true for sale, void, refund and tips: for those a failed state
// with an error code the spec does not list is an unknown outcome (reconcile
// with Query), and a refusal code is a *GatewayError. For query a failed
// state is the gateway's record and final, except 100013 (ErrNotFound).
func interpret(op string, resp *rawResponse, mutation bool, want ident) (*Transaction, error) {
	st := resp.status
	switch {
	case st >= 200 && st <= 299:
	case st == http.StatusRequestTimeout || st >= 500 || st < 200 || (st >= 300 && st <= 399):
		return nil, fmt.Errorf("read bindo %s answer: %w: HTTP status %d", op, ErrUnknownOutcome, st)
	default: // 4xx: a definite refusal
		ge := &GatewayError{Op: op, Code: fmt.Sprintf("HTTP_%d", st), Message: httpx.ErrorText(st, resp.body), HTTPStatus: st}
		if env, err := decodeEnvelope(resp.body); err == nil {
			code, desc := env.ErrorCode.str(), env.ErrorDesc.str()
			if env.Transaction != nil && env.Transaction.ErrorCode.str() != "" {
				code, desc = env.Transaction.ErrorCode.str(), env.Transaction.ErrorDesc.str()
			}
			if desc == "" {
				desc = env.Message.str()
			}
			if code != "" {
				ge.Code = scrubDigits(code)
			}
			if desc != "" {
				ge.Message = scrubDigits(desc)
			}
		}
		return nil, ge
	}
	env, err := decodeEnvelope(resp.body)
	if err != nil {
		return nil, fmt.Errorf("decode bindo %s answer: %w: %w", op, ErrUnknownOutcome, err)
	}
	if env.Transaction == nil {
		if code := env.ErrorCode.str(); code != "" {
			env.Transaction = &wireTxn{State: StateFailed, ErrorCode: env.ErrorCode, ErrorDesc: env.ErrorDesc}
		} else {
			return nil, fmt.Errorf("decode bindo %s answer: %w: %w: no transaction object", op, ErrUnknownOutcome, errDecode)
		}
	}
	t, err := env.Transaction.toTransaction()
	if err != nil {
		return nil, fmt.Errorf("decode bindo %s answer: %w: %w", op, ErrUnknownOutcome, err)
	}
	failed := strings.EqualFold(t.State, StateFailed)
	if failed && t.ErrorCode == CodeNoRecord && !mutation {
		return nil, &GatewayError{Op: op, Code: CodeNoRecord, Message: orText(t.Message, "No Record"), HTTPStatus: st}
	}
	if failed && mutation {
		switch {
		case declineCodes[t.ErrorCode], t.ErrorCode == CodeTimeoutPayFailed, t.ErrorCode == CodeOrderClosing:
		case refusalCodes[t.ErrorCode]:
			return nil, &GatewayError{Op: op, Code: t.ErrorCode, Message: t.Message, HTTPStatus: st}
		default:
			return nil, fmt.Errorf("classify bindo %s answer: %w: failed with unlisted error code %q (%s)", op, ErrUnknownOutcome, scrubDigits(t.ErrorCode), t.Message)
		}
	}
	// The answer must be about the transaction we asked for (an empty uuid or
	// brn in a failed answer is tolerated: refusals may not echo them).
	if want.uuid != "" && t.UUID != "" && !strings.EqualFold(t.UUID, want.uuid) {
		return nil, fmt.Errorf("check bindo %s answer: %w: it is for uuid %s, not %s", op, ErrUnknownOutcome, t.UUID, want.uuid)
	}
	if want.brn != "" && t.BRN != "" && t.BRN != want.brn {
		return nil, fmt.Errorf("check bindo %s answer: %w: it is for brn %s, not %s", op, ErrUnknownOutcome, t.BRN, want.brn)
	}
	if !failed && t.UUID == "" && t.BRN == "" {
		return nil, fmt.Errorf("decode bindo %s answer: %w: %w: neither uuid nor brn", op, ErrUnknownOutcome, errDecode)
	}
	if t.UUID == "" && want.uuid != "" {
		t.UUID = strings.ToLower(want.uuid)
	}
	classifyRecorded(t)
	return t, nil
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
