package codepay

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/posbridge/posbridge/money"
)

// Field length limits from the Cloud Open API.
const (
	maxCreateDescription = 128
	maxRefundDescription = 64
	maxAttach            = 128
	maxNotifyURL         = 256
)

// orderNoPattern is the merchant_order_no rule: 1–32 of digits, letters and _ - | * @.
var orderNoPattern = regexp.MustCompile(`^[0-9A-Za-z_\-|*@]{1,32}$`)

// CreateOrderRequest is a Create Order (wisehub.cloud.pay.order): an order
// pushed to the terminal TerminalSN. Zero values of optional fields are
// omitted from the request.
type CreateOrderRequest struct {
	TerminalSN      string
	MerchantOrderNo string
	TransType       TransType
	// Amount is order_amount; its currency is price_currency.
	Amount money.Amount
	// TipAmount and CashbackAmount are minor units of Amount's currency; nil = omit.
	TipAmount, CashbackAmount *int64

	OrigMerchantOrderNo string // required for void, refund and completion
	Description         string // required, ≤ 128 characters
	Attach              string // ≤ 128, echoed in queries and notifications
	NotifyURL           string // ≤ 256, absolute http(s) without query

	// Expires is how long the order may be paid: required, whole seconds ≥ 1.
	Expires time.Duration

	PayScenario PayScenario
	PayMethodID string
	CardType    CardType

	OnScreenTip, ConfirmOnTerminal, OnScreenSignature, RejectWhenTerminalOffline, RequiredTerminalAuthentication *bool

	ReceiptPrintMode *ReceiptPrintMode
}

// CreateOrderResponse is the data of a successful Create Order.
type CreateOrderResponse struct {
	MessageID            string
	TransNo              string
	TerminalOnlineStatus string // TerminalOnline, TerminalOffline or as received
	TransAmount          *int64 // minor units of the request's currency; nil when absent
	PSN                  string
}

// CloseOrderRequest is a Close Order (wisehub.cloud.pay.close); only an
// order still in trans_status 9 can be closed.
type CloseOrderRequest struct {
	TerminalSN, MerchantOrderNo string
	Description                 string // optional reason, ≤ 128
}

// CloseOrderResponse is the data of a successful Close Order.
type CloseOrderResponse struct {
	MessageID, TransNo, PSN string
}

// RevokeResponse is the data of a successful Cancel Order (order.revoker).
type RevokeResponse struct {
	MessageID, TransNo, PSN string
}

// RefundRequest is a Submit Order Refund (order.refund.submit). One of
// OrigMerchantOrderNo and OrigTransNo is required.
type RefundRequest struct {
	MerchantOrderNo     string // the refund's own, new order number
	OrigMerchantOrderNo string
	OrigTransNo         string
	// Amount is the amount refunded, sent as order_amount and trans_amount
	// (as the SDK does); price_currency is its currency, the original's.
	Amount      money.Amount
	Description string // required, ≤ 64
	NotifyURL   string
}

// RefundResponse is the data of a successful refund submission.
type RefundResponse struct {
	TransNo     string
	TransAmount *int64 // minor units of the request's currency; nil when absent
	PSN         string
}

// CreateOrder pushes an order to a terminal. It is sent exactly once and
// never retried: on an error wrapping ErrUnknownOutcome the caller must
// reconcile with QueryOrder by MerchantOrderNo, never resend.
func (c *Client) CreateOrder(ctx context.Context, r CreateOrderRequest) (*CreateOrderResponse, error) {
	p, err := r.params()
	if err != nil {
		return nil, err
	}
	env, err := c.call(ctx, MethodPayOrder, r.MerchantOrderNo, p)
	if err != nil {
		return nil, err
	}
	// A signed success: the order exists. An unreadable trans_amount (an
	// optional echo) is dropped and logged, never an unknown outcome.
	amt := c.echoedAmount(MethodPayOrder, env.Data, r.Amount.Currency.Code)
	return &CreateOrderResponse{
		MessageID:            env.Data.str("message_id"),
		TransNo:              env.Data.str("trans_no"),
		TerminalOnlineStatus: env.Data.str("terminal_online_status"),
		TransAmount:          amt,
		PSN:                  env.PSN,
	}, nil
}

// params validates r and renders its business fields.
func (r CreateOrderRequest) params() (Params, error) {
	if err := checkText("terminal_sn", r.TerminalSN, true, maxIDLen); err != nil {
		return nil, err
	}
	if err := checkOrderNo("merchant_order_no", r.MerchantOrderNo, true); err != nil {
		return nil, err
	}
	if !r.TransType.Valid() {
		return nil, &ValidationError{Field: "trans_type", Reason: fmt.Sprintf("%d is not one of 1, 2, 3, 4, 6, 11", int(r.TransType))}
	}
	switch {
	case r.TransType.NeedsOriginal():
		if err := checkOrderNo("orig_merchant_order_no", r.OrigMerchantOrderNo, true); err != nil {
			return nil, err
		}
	case r.OrigMerchantOrderNo != "":
		return nil, &ValidationError{Field: "orig_merchant_order_no", Reason: fmt.Sprintf("only allowed for void, refund and completion, not %s", r.TransType)}
	}
	amount, cur, err := formatAmount("order_amount", r.Amount, false)
	if err != nil {
		return nil, err
	}
	if err := checkText("description", r.Description, true, maxCreateDescription); err != nil {
		return nil, err
	}
	if err := checkText("attach", r.Attach, false, maxAttach); err != nil {
		return nil, err
	}
	if err := checkNotifyURL(r.NotifyURL); err != nil {
		return nil, err
	}
	if r.Expires < time.Second || r.Expires%time.Second != 0 {
		return nil, &ValidationError{Field: "expires", Reason: fmt.Sprintf("%v must be a whole number of seconds, at least 1s", r.Expires)}
	}
	if r.PayScenario != "" && !r.PayScenario.Valid() {
		return nil, &ValidationError{Field: "pay_scenario", Reason: fmt.Sprintf("%q is not SWIPE_CARD, BSCANQR_PAY or SCANQR_PAY", string(r.PayScenario))}
	}
	if err := checkText("pay_method_id", r.PayMethodID, false, maxIDLen); err != nil {
		return nil, err
	}
	if r.CardType != 0 && !r.CardType.Valid() {
		return nil, &ValidationError{Field: "card_type", Reason: fmt.Sprintf("%d is not 1–4", int(r.CardType))}
	}
	if r.ReceiptPrintMode != nil && !r.ReceiptPrintMode.Valid() {
		return nil, &ValidationError{Field: "receipt_print_mode", Reason: fmt.Sprintf("%d is not 0–3", int(*r.ReceiptPrintMode))}
	}
	if r.OnScreenTip != nil && !r.TransType.AllowsOnScreenTip() {
		return nil, &ValidationError{Field: "on_screen_tip", Reason: fmt.Sprintf("only allowed for sale, refund and preauth, not %s", r.TransType)}
	}
	if r.CashbackAmount != nil && r.TransType != TransCashback {
		return nil, &ValidationError{Field: "cashback_amount", Reason: fmt.Sprintf("only allowed for cashback (11), not %s", r.TransType)}
	}

	p := Params{
		"terminal_sn":                   r.TerminalSN,
		"message_receiving_application": ReceivingApplication,
		"merchant_order_no":             r.MerchantOrderNo,
		"trans_type":                    strconv.Itoa(int(r.TransType)),
		"price_currency":                cur.Code,
		"order_amount":                  amount,
		"description":                   r.Description,
		"expires":                       strconv.FormatInt(int64(r.Expires/time.Second), 10),
		"api_version":                   CreateOrderAPIVersion,
	}
	for _, extra := range []struct {
		field string
		minor *int64
	}{{"tip_amount", r.TipAmount}, {"cashback_amount", r.CashbackAmount}} {
		if extra.minor == nil {
			continue
		}
		s, _, err := formatAmount(extra.field, money.Amount{Minor: *extra.minor, Currency: r.Amount.Currency}, true)
		if err != nil {
			return nil, err
		}
		p[extra.field] = s
	}
	setIf(p, "orig_merchant_order_no", r.OrigMerchantOrderNo)
	setIf(p, "attach", r.Attach)
	setIf(p, "notify_url", r.NotifyURL)
	setIf(p, "pay_scenario", string(r.PayScenario))
	setIf(p, "pay_method_id", r.PayMethodID)
	if r.CardType != 0 {
		p["card_type"] = strconv.Itoa(int(r.CardType))
	}
	if r.ReceiptPrintMode != nil {
		p["receipt_print_mode"] = strconv.Itoa(int(*r.ReceiptPrintMode))
	}
	for _, b := range []struct {
		field string
		v     *bool
	}{
		{"on_screen_tip", r.OnScreenTip},
		{"confirm_on_terminal", r.ConfirmOnTerminal},
		{"on_screen_signature", r.OnScreenSignature},
		{"reject_trade_when_terminal_offline", r.RejectWhenTerminalOffline},
		{"required_terminal_authentication", r.RequiredTerminalAuthentication},
	} {
		if b.v != nil {
			p[b.field] = strconv.FormatBool(*b.v)
		}
	}
	return p, nil
}

// CloseOrder removes an order that is still waiting (trans_status 9) from
// the terminal's queue.
func (c *Client) CloseOrder(ctx context.Context, r CloseOrderRequest) (*CloseOrderResponse, error) {
	if err := checkText("terminal_sn", r.TerminalSN, true, maxIDLen); err != nil {
		return nil, err
	}
	if err := checkOrderNo("merchant_order_no", r.MerchantOrderNo, true); err != nil {
		return nil, err
	}
	if err := checkText("description", r.Description, false, maxCreateDescription); err != nil {
		return nil, err
	}
	p := Params{
		"terminal_sn":                   r.TerminalSN,
		"merchant_order_no":             r.MerchantOrderNo,
		"message_receiving_application": ReceivingApplication,
	}
	setIf(p, "description", r.Description)
	env, err := c.call(ctx, MethodPayClose, r.MerchantOrderNo, p)
	if err != nil {
		return nil, err
	}
	return &CloseOrderResponse{MessageID: env.Data.str("message_id"), TransNo: env.Data.str("trans_no"), PSN: env.PSN}, nil
}

// QueryOrder returns an order by merchant_order_no or trans_no (at least one;
// the gateway prefers trans_no). It is idempotent: callers may retry it.
func (c *Client) QueryOrder(ctx context.Context, merchantOrderNo, transNo string) (*Order, error) {
	return c.query(ctx, MethodOrderQuery, merchantOrderNo, transNo)
}

// QueryRefund returns a refund by its merchant_order_no or trans_no.
func (c *Client) QueryRefund(ctx context.Context, merchantOrderNo, transNo string) (*Order, error) {
	return c.query(ctx, MethodRefundQuery, merchantOrderNo, transNo)
}

// query implements QueryOrder and QueryRefund.
func (c *Client) query(ctx context.Context, method, merchantOrderNo, transNo string) (*Order, error) {
	if merchantOrderNo == "" && transNo == "" {
		return nil, &ValidationError{Field: "merchant_order_no", Reason: "merchant_order_no or trans_no is required"}
	}
	if err := checkOrderNo("merchant_order_no", merchantOrderNo, false); err != nil {
		return nil, err
	}
	if err := checkText("trans_no", transNo, false, maxIDLen); err != nil {
		return nil, err
	}
	p := Params{}
	setIf(p, "merchant_order_no", merchantOrderNo)
	setIf(p, "trans_no", transNo)
	env, err := c.call(ctx, method, merchantOrderNo, p)
	if err != nil {
		return nil, err
	}
	o, err := decodeOrder(env.Data, "")
	if err != nil {
		return nil, fmt.Errorf("decode %s response: %w: %w", method, ErrUnknownOutcome, err)
	}
	// Never attribute another order's state to the one asked about.
	// Asked by trans_no, the gateway answers that transaction (spec: "When
	// both exist, trans_no priority"), whatever merchant_order_no it shows;
	// an answer without trans_no must then match by merchant_order_no.
	if transNo != "" {
		switch {
		case o.TransNo != "" && o.TransNo != transNo:
			return nil, fmt.Errorf("decode %s response: %w: asked for trans_no %s, got %s", method, ErrUnknownOutcome, transNo, o.TransNo)
		case o.TransNo == "" && merchantOrderNo != "" && o.MerchantOrderNo != "" && o.MerchantOrderNo != merchantOrderNo:
			return nil, fmt.Errorf("decode %s response: %w: asked for merchant_order_no %s, got %s without trans_no", method, ErrUnknownOutcome, merchantOrderNo, o.MerchantOrderNo)
		}
	} else if o.MerchantOrderNo != "" && o.MerchantOrderNo != merchantOrderNo {
		return nil, fmt.Errorf("decode %s response: %w: asked for merchant_order_no %s, got %s", method, ErrUnknownOutcome, merchantOrderNo, o.MerchantOrderNo)
	}
	o.PSN = env.PSN
	return o, nil
}

// RevokeOrder cancels an order (order.revoker): closes it if unpaid, refunds
// it if paid. The gateway supports this for QR and online orders only, not
// for offline card transactions.
func (c *Client) RevokeOrder(ctx context.Context, merchantOrderNo string) (*RevokeResponse, error) {
	if err := checkOrderNo("merchant_order_no", merchantOrderNo, true); err != nil {
		return nil, err
	}
	env, err := c.call(ctx, MethodOrderRevoker, merchantOrderNo, Params{"merchant_order_no": merchantOrderNo})
	if err != nil {
		return nil, err
	}
	return &RevokeResponse{MessageID: env.Data.str("message_id"), TransNo: env.Data.str("trans_no"), PSN: env.PSN}, nil
}

// SubmitRefund refunds (part of) a completed order. Like CreateOrder it
// moves money and is never retried here: on an error wrapping
// ErrUnknownOutcome the caller reconciles with QueryRefund by the refund's
// MerchantOrderNo, and sends the same request again only after a signed
// "not found".
func (c *Client) SubmitRefund(ctx context.Context, r RefundRequest) (*RefundResponse, error) {
	if err := checkOrderNo("merchant_order_no", r.MerchantOrderNo, true); err != nil {
		return nil, err
	}
	if r.OrigMerchantOrderNo == "" && r.OrigTransNo == "" {
		return nil, &ValidationError{Field: "orig_merchant_order_no", Reason: "orig_merchant_order_no or orig_trans_no is required"}
	}
	if err := checkOrderNo("orig_merchant_order_no", r.OrigMerchantOrderNo, false); err != nil {
		return nil, err
	}
	if r.OrigMerchantOrderNo == r.MerchantOrderNo {
		return nil, &ValidationError{Field: "merchant_order_no", Reason: "a refund needs its own merchant_order_no, not the original's"}
	}
	if err := checkText("orig_trans_no", r.OrigTransNo, false, maxIDLen); err != nil {
		return nil, err
	}
	amount, cur, err := formatAmount("order_amount", r.Amount, false)
	if err != nil {
		return nil, err
	}
	if err := checkText("description", r.Description, true, maxRefundDescription); err != nil {
		return nil, err
	}
	if err := checkNotifyURL(r.NotifyURL); err != nil {
		return nil, err
	}
	// The SDK (OrderRefundSubmitRequest) sends the refund amount twice:
	// order_amount (the spec's required field) and trans_amount (the spec's
	// own request sample); both are the amount refunded.
	p := Params{
		"merchant_order_no": r.MerchantOrderNo,
		"price_currency":    cur.Code,
		"order_amount":      amount,
		"trans_amount":      amount,
		"description":       r.Description,
	}
	setIf(p, "orig_merchant_order_no", r.OrigMerchantOrderNo)
	setIf(p, "orig_trans_no", r.OrigTransNo)
	setIf(p, "notify_url", r.NotifyURL)
	env, err := c.call(ctx, MethodRefundSubmit, r.MerchantOrderNo, p)
	if err != nil {
		return nil, err
	}
	amt := c.echoedAmount(MethodRefundSubmit, env.Data, cur.Code)
	return &RefundResponse{TransNo: env.Data.str("trans_no"), TransAmount: amt, PSN: env.PSN}, nil
}

// AdjustTip sets the tip of a completed order before settlement
// (tip.adjustment). tip may be zero to remove a tip.
func (c *Client) AdjustTip(ctx context.Context, merchantOrderNo string, tip money.Amount) error {
	if err := checkOrderNo("merchant_order_no", merchantOrderNo, true); err != nil {
		return err
	}
	amount, _, err := formatAmount("tip_adjustment_amount", tip, true)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, MethodTipAdjustment, merchantOrderNo, Params{
		"merchant_order_no":     merchantOrderNo,
		"tip_adjustment_amount": amount,
	})
	return err
}

// echoedAmount reads the trans_amount a signed success echoes, in the
// answer's price_currency or else the request's; nil (logged once) when it
// cannot be read.
func (c *Client) echoedAmount(method string, f fields, requestCurrency string) *int64 {
	cur, _, err := f.currency(requestCurrency)
	if err != nil {
		warnField(c.log, method, "price_currency", "not a known currency code")
		return nil
	}
	amt, err := f.amount("trans_amount", cur)
	if err != nil {
		warnField(c.log, method, "trans_amount", "not an amount in the order's currency")
		return nil
	}
	return amt
}

// setIf sets p[k] only for a non-empty value: optional fields are omitted,
// never sent as "".
func setIf(p Params, k, v string) {
	if v != "" {
		p[k] = v
	}
}

// checkOrderNo validates a merchant order number.
func checkOrderNo(field, v string, required bool) error {
	if v == "" && !required {
		return nil
	}
	if !orderNoPattern.MatchString(v) {
		return &ValidationError{Field: field, Reason: fmt.Sprintf("%q must be 1–32 characters of 0-9 A-Z a-z _ - | * @", v)}
	}
	return nil
}

// checkText validates a free-text or identifier field: valid UTF-8, no
// control characters, at most max characters, present when required.
func checkText(field, v string, required bool, max int) error {
	switch {
	case v == "" && required:
		return &ValidationError{Field: field, Reason: "required"}
	case !printable(v):
		return &ValidationError{Field: field, Reason: "must be valid UTF-8 without control characters"}
	case utf8.RuneCountInString(v) > max:
		return &ValidationError{Field: field, Reason: fmt.Sprintf("longer than %d characters", max)}
	}
	return nil
}

// checkNotifyURL validates an optional notify_url: absolute http(s), no
// query or fragment, at most 256 characters.
func checkNotifyURL(v string) error {
	const field = "notify_url"
	if v == "" {
		return nil
	}
	if err := checkText(field, v, false, maxNotifyURL); err != nil {
		return err
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return &ValidationError{Field: field, Reason: fmt.Sprintf("%q is not an absolute http(s) URL", v)}
	}
	if strings.ContainsAny(v, "?# ") {
		return &ValidationError{Field: field, Reason: fmt.Sprintf("%q must not contain a query, fragment or spaces", v)}
	}
	return nil
}

// formatAmount renders an amount once, with exactly its currency's
// decimals, for both the wire and the signature. The currency must be a
// known ISO 4217 code whose exponent matches (an amount with more decimals
// than the currency allows is refused). zeroOK permits 0.
func formatAmount(field string, a money.Amount, zeroOK bool) (string, money.Currency, error) {
	if a.Currency.Code == "" {
		return "", money.Currency{}, &ValidationError{Field: "price_currency", Reason: "required"}
	}
	cur, err := money.LookupCurrency(a.Currency.Code)
	if err != nil {
		return "", money.Currency{}, &ValidationError{Field: "price_currency", Reason: err.Error()}
	}
	if a.Currency.Exponent > cur.Exponent {
		return "", cur, &ValidationError{Field: field, Reason: fmt.Sprintf("too many decimals: %s allows %d, amount has %d", cur.Code, cur.Exponent, a.Currency.Exponent)}
	}
	if a.Currency.Exponent != cur.Exponent {
		return "", cur, &ValidationError{Field: field, Reason: fmt.Sprintf("amount has %d decimals, %s has %d", a.Currency.Exponent, cur.Code, cur.Exponent)}
	}
	switch {
	case a.Minor < 0:
		return "", cur, &ValidationError{Field: field, Reason: "must not be negative"}
	case a.Minor == 0 && !zeroOK:
		return "", cur, &ValidationError{Field: field, Reason: "must be greater than zero"}
	case a.Minor > money.MaxMinor:
		return "", cur, &ValidationError{Field: field, Reason: "too large"}
	}
	return money.Format(a.Minor, cur), cur, nil
}
