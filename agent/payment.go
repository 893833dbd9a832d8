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

// Options are the per-payment options of payment.create. Their JSON is a
// stored format, not the API's: it is kept in the journal
// (payments.options_json) and hashed into the idempotency fingerprint
// (normalized.hash), so these tags must never change.
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

	// Method is card ("" means card), qr or va (provider.go).
	Method string
	// QRMode (native or quick) and CustomerCode (quick: the code scanned
	// from the customer's wallet app, never stored) are for method qr.
	QRMode, CustomerCode string
	// VAMethod (one of idpay.Methods()) and the customer's name, e-mail and
	// phone are for method va.
	VAMethod                                   string
	CustomerName, CustomerEmail, CustomerPhone string
	// LinkExpiresIn is how long a method link payment may be paid, in
	// seconds (0: the agent's default; at most 7 days).
	LinkExpiresIn int64
}

// checkCardOnly refuses the method parameters of qr and va on a card
// payment.
func checkCardOnly(r CreateRequest) error {
	switch {
	case r.QRMode != "" || r.CustomerCode != "":
		return fieldErr("qr_mode", "qr_mode and customer_code are for method qr only")
	case r.VAMethod != "" || r.CustomerName != "" || r.CustomerEmail != "" || r.CustomerPhone != "":
		return fieldErr("va_method", "va_method and customer_* are for method va only")
	case r.LinkExpiresIn != 0:
		return fieldErr("link_expires_in", "link_expires_in is for method link only")
	}
	return nil
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
	Brand     string
	MaskedPAN string
	EntryMode string
}

// PaymentError is the provider's or posbridge's reason for a declined or failed payment.
type PaymentError struct {
	Code    string
	Message string
	// Fallback is "native" when the payment may be sent again with the same
	// merchant_order_no plus card to go through the Bindo fallback.
	Fallback string
}

// Payment is a payment as the agent reports it to its front ends. It has no
// JSON of its own: the WebSocket API's payment object (design/contract.md) is
// api/wsapi.Payment, made from it there.
type Payment struct {
	MerchantOrderNo     string
	Type                string
	State               string
	Source              string
	TerminalSN          string
	Amount              string
	Currency            string
	TipAmount           string
	CashbackAmount      string
	OrigMerchantOrderNo string
	Description         string
	Route               string
	TransNo             string
	TransStatus         *int
	AuthCode            string
	RefNo               string
	Card                *Card
	Error               *PaymentError
	Notice              string
	Alert               string
	// AlertHandledAt is when a person marked the alert handled (zero:
	// open, or no alert; HandleAlert).
	AlertHandledAt time.Time
	// ReceiptAvailable: Receipt returns the payment's receipt (receipt.go).
	ReceiptAvailable bool
	ExpiresAt        time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// Seq is the id of the journal event behind this state of the payment
	// (store.Payment.EventID): it increases with every change, across all
	// payments, but not by one (events that change nothing take ids too).
	// events.since resumes after it. 0 when not known.
	Seq int64
	// Method is qr or va for a provider payment, "" for a card payment.
	// QRPayload (a QR code to render: the QR wallet's native code or a
	// QRIS payload), PayURL (an e-wallet redirect), VANumber (the virtual
	// account to pay) and PaymentCode (a retail counter code) are what the
	// customer pays with; ExpiresAt is then until when.
	Method      string
	QRPayload   string
	PayURL      string
	VANumber    string
	PaymentCode string
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
		AlertHandledAt:      p.AlertHandledAt.UTC(), // the zero time stays zero
		ReceiptAvailable:    receiptAvailable(p),
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
	if md, ok := methodOf(p); ok {
		v.Method, v.QRPayload, v.PayURL, v.VANumber, v.PaymentCode = md.Method, md.QRPayload, md.PayURL, md.VANumber, md.PaymentCode
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
	if err := checkOrderNo("merchant_order_no", r.MerchantOrderNo); err != nil {
		return nil, err
	}
	tt, ok := transTypes[r.Type]
	if !ok {
		return nil, fieldErr("type", "want one of sale, refund, void, preauth, completion, cashback; got %q", r.Type)
	}
	for _, check := range []func() error{
		func() error { return a.validateTerminal(r, n) },
		func() error { return validateAmounts(r, n, tt) },
		func() error { return validateOriginal(r, tt) },
		func() error { return validateDescription(r, n) },
		func() error { return a.validateOptions(r, tt) },
		func() error { return validateSource(r.Source) },
	} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// checkOrderNo checks a merchant_order_no-shaped field.
func checkOrderNo(field, v string) error {
	if v == "" {
		return fieldErr(field, "required")
	}
	if !config.ValidOrderNo(v) {
		return fieldErr(field, "want 1-32 characters of 0-9 A-Z a-z _ - | * @")
	}
	return nil
}

// validateTerminal resolves terminal_sn or lane and the currency the
// terminal takes.
func (a *Agent) validateTerminal(r CreateRequest, n *normalized) error {
	switch {
	case r.TerminalSN != "":
		t, err := a.reg.Lookup(r.TerminalSN)
		if err != nil {
			return fieldErr("terminal_sn", "unknown terminal %q", r.TerminalSN)
		}
		if r.Lane != "" && t.Lane != r.Lane {
			return fieldErr("lane", "terminal %s is on lane %q, not %q", t.SN, t.Lane, r.Lane)
		}
		n.terminalSN, n.currency = t.SN, t.Currency
	case r.Lane != "":
		t, err := a.reg.ByLane(r.Lane)
		if err != nil {
			return fieldErr("lane", "no terminal on lane %q", r.Lane)
		}
		n.terminalSN, n.currency = t.SN, t.Currency
	default:
		return fieldErr("terminal_sn", "required: terminal_sn or lane")
	}
	if r.Currency == "" {
		return fieldErr("currency", "required: the ISO 4217 code, e.g. %q", n.currency.Code)
	}
	if r.Currency != n.currency.Code {
		if _, err := money.LookupCurrency(r.Currency); err != nil {
			return fieldErr("currency", "unknown currency %q", r.Currency)
		}
		return fieldErr("currency", "terminal %s takes %s, not %s", n.terminalSN, n.currency.Code, r.Currency)
	}
	return nil
}

// validateAmounts parses amount, tip and cashback in the terminal's currency.
func validateAmounts(r CreateRequest, n *normalized, tt codepay.TransType) error {
	var err error
	if n.amount, err = parseAmountField("amount", r.Amount, n.currency, true); err != nil {
		return err
	}
	if n.amount <= 0 {
		return fieldErr("amount", "must be greater than zero")
	}
	if n.tip, err = parseAmountField("tip_amount", r.TipAmount, n.currency, false); err != nil {
		return err
	}
	if n.cashback, err = parseAmountField("cashback_amount", r.CashbackAmount, n.currency, false); err != nil {
		return err
	}
	if tt == codepay.TransCashback && n.cashback <= 0 {
		return fieldErr("cashback_amount", "required and greater than zero for a cashback payment")
	}
	if tt != codepay.TransCashback && r.CashbackAmount != "" {
		return fieldErr("cashback_amount", "only allowed for type cashback")
	}
	return nil
}

// validateOriginal checks orig_merchant_order_no's presence and shape (the
// original's rules are checkOriginal's, against the journal).
func validateOriginal(r CreateRequest, tt codepay.TransType) error {
	switch {
	case tt.NeedsOriginal() && r.OrigMerchantOrderNo == "":
		return fieldErr("orig_merchant_order_no", "required for %s", r.Type)
	case !tt.NeedsOriginal() && r.OrigMerchantOrderNo != "":
		return fieldErr("orig_merchant_order_no", "only allowed for void, refund and completion")
	case r.OrigMerchantOrderNo == "":
		return nil
	case !config.ValidOrderNo(r.OrigMerchantOrderNo):
		return fieldErr("orig_merchant_order_no", "want 1-32 characters of 0-9 A-Z a-z _ - | * @")
	case r.OrigMerchantOrderNo == r.MerchantOrderNo:
		return fieldErr("orig_merchant_order_no", "must differ from merchant_order_no")
	}
	return nil
}

// validateDescription checks the description and fills its default.
func validateDescription(r CreateRequest, n *normalized) error {
	if len(r.Description) > 128 {
		return fieldErr("description", "at most 128 bytes of UTF-8, got %d", len(r.Description))
	}
	if err := config.CheckText(r.Description); err != nil {
		return fieldErr("description", "%v", err)
	}
	n.description = r.Description
	if n.description == "" {
		n.description = "posbridge " + r.Type
	}
	return nil
}

// validateOptions checks options and whether card data may be used.
func (a *Agent) validateOptions(r CreateRequest, tt codepay.TransType) error {
	o := r.Options
	switch {
	case o.OnScreenTip != nil && *o.OnScreenTip && !tt.AllowsOnScreenTip():
		return fieldErr("options.on_screen_tip", "only for sale, refund and preauth")
	case o.ReceiptPrintMode != nil && !codepay.ReceiptPrintMode(*o.ReceiptPrintMode).Valid():
		return fieldErr("options.receipt_print_mode", "want 0 (none), 1 (merchant), 2 (customer) or 3 (both)")
	case o.Fallback != "" && o.Fallback != "auto" && o.Fallback != "never":
		return fieldErr("options.fallback", "want auto or never, got %q", o.Fallback)
	case o.Route != "" && o.Route != "auto" && o.Route != "native":
		return fieldErr("options.route", "want auto or native, got %q", o.Route)
	case o.Route == "native" && r.Card == nil:
		return fieldErr("options.route", "route native needs card data")
	case r.Card == nil:
		return nil
	case a.cfg.Bindo == nil:
		return fieldErr("card", "card-present data needs the Bindo fallback, which is not configured on this agent")
	case r.Type != TypeSale:
		return fieldErr("card", "card data is accepted for sales only; voids and refunds of Bindo payments need none")
	case !a.fallbackAllowed(o):
		return fieldErr("card", "the Bindo route is disabled for this payment (fallback never)")
	}
	return nil
}

// validateSource checks the front end a request came from.
func validateSource(source string) error {
	switch source {
	case SourceWS, SourceECR, SourceConsole, SourceCLI:
		return nil
	}
	return fmt.Errorf("validate request: unknown source %q", source)
}
