package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/device/card"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// Payment states (design/contract.md) and types: the journal's, so each is
// defined once (store/payments.go) and front ends need not import store.
const (
	StateQueued     = store.StateQueued
	StateSending    = store.StateSending
	StateOnTerminal = store.StateOnTerminal
	StateUnknown    = store.StateUnknown
	StateApproved   = store.StateApproved
	StateDeclined   = store.StateDeclined
	StateCancelled  = store.StateCancelled
	StateExpired    = store.StateExpired
	StateFailed     = store.StateFailed

	TypeSale       = store.TypeSale
	TypeRefund     = store.TypeRefund
	TypeVoid       = store.TypeVoid
	TypePreAuth    = store.TypePreAuth
	TypeCompletion = store.TypeCompletion
	TypeCashback   = store.TypeCashback
)

// Sources of a payment.
const (
	SourceWS      = "ws"
	SourceECR     = "ecr"
	SourceConsole = "console"
	SourceCLI     = "cli"
)

// Routes.
const (
	RouteCodePay = "codepay"
	RouteBindo   = "bindo"
)

var transTypes = map[string]codepay.TransType{
	TypeSale: codepay.TransSale, TypeVoid: codepay.TransVoid, TypeRefund: codepay.TransRefund,
	TypePreAuth: codepay.TransPreAuth, TypeCompletion: codepay.TransCompletion, TypeCashback: codepay.TransCashback,
}

// IsFinal reports whether a payment state can no longer change.
func IsFinal(state string) bool { return store.IsFinal(state) }

// Options are the per-payment options of payment.create.
type Options struct {
	OnScreenTip       *bool  `json:"on_screen_tip,omitempty"`
	ConfirmOnTerminal *bool  `json:"confirm_on_terminal,omitempty"`
	ReceiptPrintMode  *int   `json:"receipt_print_mode,omitempty"`
	Fallback          string `json:"fallback,omitempty"`
	Route             string `json:"route,omitempty"`
}

// CreateRequest is a payment request from any front end, with amounts still
// as the decimal strings the front end sent.
type CreateRequest struct {
	MerchantOrderNo     string
	Type                string
	TerminalSN          string
	Lane                string
	Amount              string
	Currency            string
	TipAmount           string
	CashbackAmount      string
	OrigMerchantOrderNo string
	Description         string
	Options             Options
	Source              string
	// Card is card-present data for the Bindo route (nil for none). It is
	// held in memory only and wiped once the sale has been sent.
	Card *card.Card
}

// FieldError is a request field that failed validation; the WebSocket API
// answers it with -32602 and data.field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalidParams) true.
func (e *FieldError) Unwrap() error { return ErrInvalidParams }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Card is what may be shown of the card that paid: never a full PAN.
type Card struct {
	Brand     string `json:"brand"`
	MaskedPAN string `json:"masked_pan"`
	EntryMode string `json:"entry_mode"`
}

// PaymentError is the provider's or posbridge's reason for a declined or failed payment.
type PaymentError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Fallback is "native" when the payment may be sent again with the same
	// merchant_order_no plus card to go through the Bindo fallback.
	Fallback string `json:"fallback,omitempty"`
}

// Payment is the payment object of the public API (design/contract.md).
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
	ExpiresAt           time.Time     `json:"expires_at"`
	CreatedAt           time.Time     `json:"created_at"`
	UpdatedAt           time.Time     `json:"updated_at"`
	// Seq is the id of the journal event behind this state of the payment
	// (store.Payment.EventID): it increases with every change, across all
	// payments, but not by one (events that change nothing take ids too).
	// events.since resumes after it. 0 when not known.
	Seq int64 `json:"seq"`
}

// Final reports whether the payment is in a final state.
func (p *Payment) Final() bool { return IsFinal(p.State) }

// View is the public payment object of a journal row read outside the
// agent, such as one moved into an archive file (store.ArchivedPayment).
func View(p *store.Payment) Payment { return view(p, "") }

// view turns a journal row into the public payment object.
func view(p *store.Payment, notice string) Payment {
	cur, err := money.LookupCurrency(p.Currency)
	if err != nil {
		cur = money.Currency{Code: p.Currency, Exponent: 2}
	}
	v := Payment{
		MerchantOrderNo:     p.MerchantOrderNo,
		Type:                p.Type,
		State:               p.State,
		Source:              p.Source,
		TerminalSN:          p.TerminalSN,
		Amount:              money.Format(p.AmountMinor, cur),
		Currency:            p.Currency,
		TipAmount:           money.Format(p.TipMinor, cur),
		OrigMerchantOrderNo: p.OrigMerchantOrderNo,
		Description:         p.Description,
		Route:               p.Route,
		TransNo:             p.TransNo,
		AuthCode:            p.AuthCode,
		RefNo:               p.RefNo,
		ExpiresAt:           p.ExpiresAt.UTC(),
		CreatedAt:           p.CreatedAt.UTC(),
		UpdatedAt:           p.UpdatedAt.UTC(),
		Notice:              notice,
		Alert:               p.Alert,
		Seq:                 p.EventID,
	}
	if p.CashbackMinor > 0 {
		v.CashbackAmount = money.Format(p.CashbackMinor, cur)
	}
	if p.TransStatus != "" {
		if n, err := strconv.Atoi(p.TransStatus); err == nil {
			v.TransStatus = &n
		}
	}
	if p.MaskedPAN != "" || p.CardBrand != "" || p.EntryMode != "" {
		v.Card = &Card{Brand: p.CardBrand, MaskedPAN: p.MaskedPAN, EntryMode: p.EntryMode}
	}
	if p.ErrorCode != "" || p.ErrorMessage != "" {
		v.Error = &PaymentError{Code: p.ErrorCode, Message: p.ErrorMessage}
	}
	return v
}

// normalized is a validated request: what is stored and hashed.
type normalized struct {
	orderNo     string
	typ         string
	terminalSN  string
	currency    money.Currency
	amount      int64
	tip         int64
	cashback    int64
	orig        string
	description string
	options     Options
	source      string
}

// hash is the idempotency fingerprint: the same merchant_order_no with the same
// hash is the same request.
func (n *normalized) hash() string {
	b, _ := json.Marshal(struct {
		T, SN, Cur, Orig, Desc string
		A, Tip, CB             int64
		O                      Options
	}{n.typ, n.terminalSN, n.currency.Code, n.orig, n.description, n.amount, n.tip, n.cashback, n.options})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

func parseAmountField(field, s string, cur money.Currency, required bool) (int64, error) {
	if s == "" {
		if required {
			return 0, fieldErr(field, "required: a decimal string such as \"12.34\"")
		}
		return 0, nil
	}
	v, err := money.Parse(s, cur)
	if err != nil {
		switch {
		case errors.Is(err, money.ErrTooManyDecimals):
			return 0, fieldErr(field, "%q has more decimals than %s allows (%d)", s, cur.Code, cur.Exponent)
		case errors.Is(err, money.ErrOutOfRange):
			return 0, fieldErr(field, "%q is too large", s)
		default:
			return 0, fieldErr(field, "%q is not a decimal string such as \"12.34\"", s)
		}
	}
	return v, nil
}

// validate checks a request against the configuration; it touches nothing.
func (a *Agent) validate(r CreateRequest) (*normalized, error) {
	n := &normalized{orderNo: r.MerchantOrderNo, typ: r.Type, orig: r.OrigMerchantOrderNo, options: r.Options, source: r.Source}
	if r.MerchantOrderNo == "" {
		return nil, fieldErr("merchant_order_no", "required")
	}
	if !config.ValidOrderNo(r.MerchantOrderNo) {
		return nil, fieldErr("merchant_order_no", "want 1-32 characters of 0-9 A-Z a-z _ - | * @")
	}
	tt, ok := transTypes[r.Type]
	if !ok {
		return nil, fieldErr("type", "want one of sale, refund, void, preauth, completion, cashback; got %q", r.Type)
	}
	switch {
	case r.TerminalSN != "":
		t, err := a.reg.Lookup(r.TerminalSN)
		if err != nil {
			return nil, fieldErr("terminal_sn", "unknown terminal %q", r.TerminalSN)
		}
		if r.Lane != "" && t.Lane != r.Lane {
			return nil, fieldErr("lane", "terminal %s is on lane %q, not %q", t.SN, t.Lane, r.Lane)
		}
		n.terminalSN, n.currency = t.SN, t.Currency
	case r.Lane != "":
		t, err := a.reg.ByLane(r.Lane)
		if err != nil {
			return nil, fieldErr("lane", "no terminal on lane %q", r.Lane)
		}
		n.terminalSN, n.currency = t.SN, t.Currency
	default:
		return nil, fieldErr("terminal_sn", "required: terminal_sn or lane")
	}
	if r.Currency == "" {
		return nil, fieldErr("currency", "required: the ISO 4217 code, e.g. %q", n.currency.Code)
	}
	if r.Currency != n.currency.Code {
		if _, err := money.LookupCurrency(r.Currency); err != nil {
			return nil, fieldErr("currency", "unknown currency %q", r.Currency)
		}
		return nil, fieldErr("currency", "terminal %s takes %s, not %s", n.terminalSN, n.currency.Code, r.Currency)
	}
	var err error
	if n.amount, err = parseAmountField("amount", r.Amount, n.currency, true); err != nil {
		return nil, err
	}
	if n.amount <= 0 {
		return nil, fieldErr("amount", "must be greater than zero")
	}
	if n.tip, err = parseAmountField("tip_amount", r.TipAmount, n.currency, false); err != nil {
		return nil, err
	}
	if n.cashback, err = parseAmountField("cashback_amount", r.CashbackAmount, n.currency, false); err != nil {
		return nil, err
	}
	if tt == codepay.TransCashback && n.cashback <= 0 {
		return nil, fieldErr("cashback_amount", "required and greater than zero for a cashback payment")
	}
	if tt != codepay.TransCashback && r.CashbackAmount != "" {
		return nil, fieldErr("cashback_amount", "only allowed for type cashback")
	}
	if tt.NeedsOriginal() && r.OrigMerchantOrderNo == "" {
		return nil, fieldErr("orig_merchant_order_no", "required for %s", r.Type)
	}
	if !tt.NeedsOriginal() && r.OrigMerchantOrderNo != "" {
		return nil, fieldErr("orig_merchant_order_no", "only allowed for void, refund and completion")
	}
	if r.OrigMerchantOrderNo != "" {
		if !config.ValidOrderNo(r.OrigMerchantOrderNo) {
			return nil, fieldErr("orig_merchant_order_no", "want 1-32 characters of 0-9 A-Z a-z _ - | * @")
		}
		if r.OrigMerchantOrderNo == r.MerchantOrderNo {
			return nil, fieldErr("orig_merchant_order_no", "must differ from merchant_order_no")
		}
	}
	if len(r.Description) > 128 {
		return nil, fieldErr("description", "at most 128 characters, got %d", len(r.Description))
	}
	if err := config.CheckText(r.Description); err != nil {
		return nil, fieldErr("description", "%v", err)
	}
	n.description = r.Description
	if n.description == "" {
		n.description = "posbridge " + r.Type
	}
	o := r.Options
	if o.OnScreenTip != nil && *o.OnScreenTip && !tt.AllowsOnScreenTip() {
		return nil, fieldErr("options.on_screen_tip", "only for sale, refund and preauth")
	}
	if o.ReceiptPrintMode != nil && !codepay.ReceiptPrintMode(*o.ReceiptPrintMode).Valid() {
		return nil, fieldErr("options.receipt_print_mode", "want 0 (none), 1 (merchant), 2 (customer) or 3 (both)")
	}
	if o.Fallback != "" && o.Fallback != "auto" && o.Fallback != "never" {
		return nil, fieldErr("options.fallback", "want auto or never, got %q", o.Fallback)
	}
	if o.Route != "" && o.Route != "auto" && o.Route != "native" {
		return nil, fieldErr("options.route", "want auto or native, got %q", o.Route)
	}
	if o.Route == "native" && r.Card == nil {
		return nil, fieldErr("options.route", "route native needs card data")
	}
	if r.Card != nil {
		switch {
		case a.cfg.Bindo == nil:
			return nil, fieldErr("card", "card-present data needs the Bindo fallback, which is not configured on this agent")
		case r.Type != TypeSale:
			return nil, fieldErr("card", "card data is accepted for sales only; voids and refunds of Bindo payments need none")
		case !a.fallbackAllowed(o):
			return nil, fieldErr("card", "the Bindo route is disabled for this payment (fallback never)")
		}
	}
	switch r.Source {
	case SourceWS, SourceECR, SourceConsole, SourceCLI:
	default:
		return nil, fmt.Errorf("validate request: unknown source %q", r.Source)
	}
	return n, nil
}
