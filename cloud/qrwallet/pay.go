package qrwallet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
	"github.com/posbridge/posbridge/money"
)

// ResultSuccess is the only result_code the spec shows (lines 51, 87, 152).
// Any other code in an answer is not understood: it is neither a success
// nor proof that nothing happened.
const ResultSuccess = "SUCCESS"

// Kind is the kind of a payment: it selects the service_id.
type Kind int

// Payment kinds.
const (
	KindNative   Kind = iota + 1 // native pay: the customer scans a QR code
	KindQuickPay                 // quick pay: the cashier scans the customer's code
)

func (k Kind) String() string {
	switch k {
	case KindNative:
		return "native"
	case KindQuickPay:
		return "quick_pay"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ServiceID is the service_id the client sends for kind (0 if unknown).
func (c *Client) ServiceID(kind Kind) int {
	switch kind {
	case KindNative:
		return c.nativeSvc
	case KindQuickPay:
		return c.quickSvc
	}
	return 0
}

// PayOptions are the optional fields of a payment (lines 22-24, 35-38).
type PayOptions struct {
	// SubStoreID is a reference only, "not use for payment" (line 23).
	SubStoreID *int64
	// SubStoreName is shown to the payer instead of the store's name
	// (line 22); at most 64 characters.
	SubStoreName string
	// FeeRatePercent surcharges the buyer: "fee_rate: 2 is Over charge
	// buyer 2% of include total amount" (line 24). Amount is then the
	// total the buyer pays, fee included; the answer must carry the same
	// amount. nil sends no fee_rate.
	FeeRatePercent *int
}

// NativePayRequest asks for a dynamic QR code for one amount (lines 19-53).
type NativePayRequest struct {
	OutTradeNo string       // the merchant's order number: 1-32 of A-Z a-z 0-9 _ -
	Amount     money.Amount // in the client's currency
	PayOptions
}

// NativePayResult is the QR code to show. ExpiresAt is local: the spec
// gives the code no expiry (Config.QRLifetime), and offers no way to close
// it, so a customer may still pay after it; keep querying.
type NativePayResult struct {
	OutTradeNo string
	QRCode     string // the payload to render as a QR code, e.g. "weixin://wxpay/bizpayurl?pr=..."
	Amount     money.Amount
	ResultCode string // "SUCCESS", or "" when the answer has none
	ExpiresAt  time.Time
}

// QuickPayRequest charges the customer's payment code, scanned by the
// cashier (lines 55-89).
type QuickPayRequest struct {
	OutTradeNo string
	Amount     money.Amount
	// CustomerCode is the code scanned from the customer's wallet app, sent
	// as auth_code (line 74): digits only, Config.CustomerCodeMinLen to
	// CustomerCodeMaxLen of them. It is never logged.
	CustomerCode string
	PayOptions
}

// QuickPayResult is the answer to a quick pay. Paid is set only for
// result_code "SUCCESS"; otherwise (the payer may be entering a PIN, line
// 58) follow the payment with WaitPayment.
type QuickPayResult struct {
	OutTradeNo    string
	TransactionID string
	Amount        money.Amount
	ResultCode    string
	Paid          bool
}

// PaymentStatus is the answer of CHECK PAYMENT STATUS (lines 156-183).
type PaymentStatus struct {
	OutTradeNo string
	// Paid is is_success (line 174). false means "not successful (yet)":
	// the spec has no other state, no final failure and no way to close an
	// order, so false is never final by itself.
	Paid bool
	// Amount is the reported amount; Minor is 0 when the answer has none.
	Amount        money.Amount
	ServiceID     int
	TransactionID string
	OutRefundNo   string // the spec's sample carries one (line 179)
	Message       string
}

// RefundRequest refunds (part of) a paid payment to the buyer (lines
// 123-154). PaidAmount (and RefundedAmount, what earlier refunds took) come
// from the journal: a refund above PaidAmount - RefundedAmount is refused
// locally.
type RefundRequest struct {
	OutTradeNo     string
	OutRefundNo    string
	Kind           Kind // the payment's kind: selects service_id
	Amount         money.Amount
	PaidAmount     money.Amount
	RefundedAmount money.Amount // zero value: no earlier refund
	Reason         string       // optional, at most 128 characters
}

// RefundResult is the answer to a refund. Done is set only for
// result_code "SUCCESS"; otherwise follow it with RefundStatus.
type RefundResult struct {
	OutTradeNo    string
	OutRefundNo   string
	TransactionID string
	Amount        money.Amount
	ResultCode    string
	Done          bool
}

// RefundStatus is the answer of CHECK REFUND STATUS (lines 185-212).
type RefundStatus struct {
	OutTradeNo  string
	OutRefundNo string // the refund the answer is about
	Refunded    bool   // is_success (line 203)
	Amount      money.Amount
	Message     string
}

// orderNoPattern is the rule for out_trade_no and out_refund_no. The spec
// only shows samples ("ORDER-433***", "REFUND-433***-1"); 32 characters of
// letters, digits, '_' and '-' is the common upstream wallet limit.
var orderNoPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

func checkOrderNo(field, v string) error {
	if !orderNoPattern.MatchString(v) {
		return &ValidationError{Field: field, Reason: "want 1-32 characters of A-Z a-z 0-9 _ -"}
	}
	return nil
}

// checkAmount validates a positive amount in the client's currency.
func (c *Client) checkAmount(field string, a money.Amount) error {
	switch {
	case a.Currency != c.cur:
		return &ValidationError{Field: field, Reason: fmt.Sprintf("currency %q, the account's is %s", a.Currency.Code, c.cur.Code)}
	case a.Minor <= 0 || a.Minor > money.MaxMinor:
		return &ValidationError{Field: field, Reason: "must be positive and at most " + money.Format(money.MaxMinor, c.cur)}
	}
	return nil
}

// checkText validates an optional free text.
func checkText(field, v string, maxRunes int) error {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxRunes || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return &ValidationError{Field: field, Reason: fmt.Sprintf("want at most %d characters of valid UTF-8 without control characters", maxRunes)}
	}
	return nil
}

// checkPay validates the common fields of a payment.
func (c *Client) checkPay(outTradeNo string, amount money.Amount, o PayOptions) error {
	if err := checkOrderNo("out_trade_no", outTradeNo); err != nil {
		return err
	}
	if err := c.checkAmount("amount", amount); err != nil {
		return err
	}
	if o.SubStoreID != nil && *o.SubStoreID <= 0 {
		return &ValidationError{Field: "sub_store_id", Reason: "must be positive"}
	}
	if o.FeeRatePercent != nil && (*o.FeeRatePercent < 0 || *o.FeeRatePercent > 100) {
		return &ValidationError{Field: "fee_rate", Reason: "want a whole percentage 0-100"}
	}
	return checkText("sub_store_name", o.SubStoreName, 64)
}

// checkCustomerCode validates the customer's payment code (auth_code).
func (c *Client) checkCustomerCode(code string) error {
	const field = "customer_code"
	n := len(code)
	switch {
	case strings.IndexFunc(code, func(r rune) bool { return r < '0' || r > '9' }) >= 0:
		return &ValidationError{Field: field, Reason: "must be digits only (the wallet's payment code)"}
	case n < c.cfg.CustomerCodeMinLen || n > c.cfg.CustomerCodeMaxLen:
		return &ValidationError{Field: field, Reason: fmt.Sprintf("want %d-%d digits, got %d", c.cfg.CustomerCodeMinLen, c.cfg.CustomerCodeMaxLen, n)}
	case code[0] == '0' && !c.cfg.CustomerCodeAsString:
		return &ValidationError{Field: field, Reason: "a leading zero cannot be sent as the JSON number the spec shows (set customer_code_as_string)"}
	}
	return nil
}

// payBody builds a native or quick pay body (lines 32-41, 67-76).
func (c *Client) payBody(serviceID int, outTradeNo string, amount money.Amount, o PayOptions) map[string]any {
	b := map[string]any{
		"service_id":   json.Number(strconv.Itoa(serviceID)),
		"store_id":     c.storeID, // a string in the spec's samples (lines 34, 69)
		"amount":       amountNumber(amount.Minor, c.cur),
		"out_trade_no": outTradeNo,
	}
	if o.SubStoreID != nil {
		b["sub_store_id"] = json.Number(strconv.FormatInt(*o.SubStoreID, 10))
	}
	if o.SubStoreName != "" {
		b["sub_store_name"] = o.SubStoreName
	}
	if o.FeeRatePercent != nil {
		b["fee_rate"] = json.Number(strconv.Itoa(*o.FeeRatePercent))
	}
	return b
}

// NativePay asks for a dynamic QR code (lines 19-53). A request that
// failed with ErrUnknownOutcome may have created the order: query it
// before offering another code for the same sale.
func (c *Client) NativePay(ctx context.Context, req NativePayRequest) (*NativePayResult, error) {
	if err := c.checkPay(req.OutTradeNo, req.Amount, req.PayOptions); err != nil {
		return nil, err
	}
	body := c.payBody(c.nativeSvc, req.OutTradeNo, req.Amount, req.PayOptions)
	env, err := c.call(ctx, OpNativePay, c.urls.NativePay, body, c.cfg.HTTPTimeout, c.log.With("out_trade_no", req.OutTradeNo))
	if err != nil {
		return nil, err
	}
	now := c.clock.Now()
	a := c.answer(OpNativePay, env)
	a.expectString("out_trade_no", req.OutTradeNo, true)
	a.expectAmount("amount", req.Amount.Minor, true)
	a.expectCurrency()
	qr := a.text("qr_code", true)
	code := a.resultCode(true)
	if a.err != nil {
		return nil, a.err
	}
	if !printableASCII(qr) {
		return nil, &MismatchError{Op: OpNativePay, Field: "qr_code", Reason: "not a printable payload"}
	}
	return &NativePayResult{
		OutTradeNo: req.OutTradeNo, QRCode: qr, Amount: req.Amount, ResultCode: code,
		ExpiresAt: now.Add(c.cfg.QRLifetime),
	}, nil
}

// QuickPay charges the customer's code (lines 55-89), waiting up to
// Config.QuickPayTimeout (45 s, line 58) for the answer. Anything but a
// "SUCCESS" answer — a pending code, ErrUnknownOutcome, a refusal — is
// followed with WaitPayment (a refusal confirmed by a status query).
func (c *Client) QuickPay(ctx context.Context, req QuickPayRequest) (*QuickPayResult, error) {
	if err := c.checkPay(req.OutTradeNo, req.Amount, req.PayOptions); err != nil {
		return nil, err
	}
	if err := c.checkCustomerCode(req.CustomerCode); err != nil {
		return nil, err
	}
	body := c.payBody(c.quickSvc, req.OutTradeNo, req.Amount, req.PayOptions)
	if c.cfg.CustomerCodeAsString {
		body["auth_code"] = req.CustomerCode
	} else {
		body["auth_code"] = json.Number(req.CustomerCode) // a number in the sample (line 74)
	}
	env, err := c.call(ctx, OpQuickPay, c.urls.QuickPay, body, c.cfg.QuickPayTimeout, c.log.With("out_trade_no", req.OutTradeNo))
	if err != nil {
		return nil, err
	}
	a := c.answer(OpQuickPay, env)
	a.expectString("out_trade_no", req.OutTradeNo, true)
	a.expectAmount("amount", req.Amount.Minor, true)
	a.expectCurrency()
	txn := a.text("transaction_id", false)
	code := a.resultCode(false)
	if a.err != nil {
		return nil, a.err
	}
	return &QuickPayResult{
		OutTradeNo: req.OutTradeNo, TransactionID: txn, Amount: req.Amount, ResultCode: code,
		Paid: code == ResultSuccess,
	}, nil
}

// statusBody is the body of both status queries (lines 164-167, 193-196):
// store_id as a JSON number, as the samples show.
func (c *Client) statusBody(outTradeNo string) map[string]any {
	return map[string]any{"store_id": json.Number(c.storeID), "out_trade_no": outTradeNo}
}

// PaymentStatus queries a payment (lines 156-183). A refusal whose message
// says the order does not exist is a *GatewayError with NotFound
// (IsNotFound); every other error says nothing about the payment.
func (c *Client) PaymentStatus(ctx context.Context, outTradeNo string) (*PaymentStatus, error) {
	if err := checkOrderNo("out_trade_no", outTradeNo); err != nil {
		return nil, err
	}
	env, err := c.call(ctx, OpPaymentStatus, c.urls.PaymentStatus, c.statusBody(outTradeNo), c.cfg.HTTPTimeout, c.log.With("out_trade_no", outTradeNo))
	if err != nil {
		return nil, c.markNotFound(err)
	}
	a := c.answer(OpPaymentStatus, env)
	a.expectString("out_trade_no", outTradeNo, true)
	paid := a.boolean("is_success")
	amount := a.amount("amount")
	a.expectCurrency()
	svc := a.integer("service_id")
	st := &PaymentStatus{
		OutTradeNo: outTradeNo, Paid: paid, Amount: money.Amount{Minor: amount, Currency: c.cur},
		ServiceID: int(svc), TransactionID: a.text("transaction_id", false),
		OutRefundNo: a.text("out_refund_no", false), Message: httpx.Scrub(a.text("message", false), maxMessage),
	}
	if a.err != nil {
		return nil, a.err
	}
	if paid && amount == 0 {
		return nil, &MismatchError{Op: OpPaymentStatus, Field: "amount", Reason: "a successful payment without an amount"}
	}
	return st, nil
}

// Refund refunds to the buyer (lines 123-154). ErrUnknownOutcome means the
// refund may have been made: follow it with RefundStatus and never send it
// again under another out_refund_no.
func (c *Client) Refund(ctx context.Context, req RefundRequest) (*RefundResult, error) {
	if err := c.checkRefund(req); err != nil {
		return nil, err
	}
	body := map[string]any{
		"service_id":    json.Number(strconv.Itoa(c.ServiceID(req.Kind))),
		"store_id":      c.storeID, // a string in the request sample (line 133)
		"refund_amount": amountNumber(req.Amount.Minor, c.cur),
		"out_trade_no":  req.OutTradeNo,
		"out_refund_no": req.OutRefundNo,
	}
	if req.Reason != "" {
		body["reason"] = req.Reason
	}
	log := c.log.With("out_trade_no", req.OutTradeNo, "out_refund_no", req.OutRefundNo)
	env, err := c.call(ctx, OpRefund, c.urls.Refund, body, c.cfg.HTTPTimeout, log)
	if err != nil {
		return nil, err
	}
	a := c.answer(OpRefund, env)
	a.expectString("out_trade_no", req.OutTradeNo, true)
	a.expectString("out_refund_no", req.OutRefundNo, true)
	a.expectAmount("refund_amount", req.Amount.Minor, true)
	a.expectCurrency()
	a.expectString("store_id", c.storeID, false) // a number in the answer (line 146)
	a.expectString("service_id", strconv.Itoa(c.ServiceID(req.Kind)), false)
	txn := a.text("transaction_id", false)
	code := a.resultCode(false)
	if a.err != nil {
		return nil, a.err
	}
	return &RefundResult{
		OutTradeNo: req.OutTradeNo, OutRefundNo: req.OutRefundNo, TransactionID: txn,
		Amount: req.Amount, ResultCode: code, Done: code == ResultSuccess,
	}, nil
}

// checkRefund validates a refund locally, including that it does not take
// more than is left of the payment.
func (c *Client) checkRefund(req RefundRequest) error {
	if err := checkOrderNo("out_trade_no", req.OutTradeNo); err != nil {
		return err
	}
	if err := checkOrderNo("out_refund_no", req.OutRefundNo); err != nil {
		return err
	}
	if c.ServiceID(req.Kind) == 0 {
		return &ValidationError{Field: "kind", Reason: "want KindNative or KindQuickPay (selects service_id)"}
	}
	if err := c.checkAmount("refund_amount", req.Amount); err != nil {
		return err
	}
	if err := c.checkAmount("paid_amount", req.PaidAmount); err != nil {
		return err
	}
	refunded := req.RefundedAmount
	if refunded == (money.Amount{}) {
		refunded.Currency = c.cur
	}
	if refunded.Currency != c.cur || refunded.Minor < 0 || refunded.Minor > req.PaidAmount.Minor {
		return &ValidationError{Field: "refunded_amount", Reason: "must be in the account's currency, between 0 and the paid amount"}
	}
	if left := req.PaidAmount.Minor - refunded.Minor; req.Amount.Minor > left {
		return &ValidationError{Field: "refund_amount", Reason: fmt.Sprintf("%s is more than the %s left of the payment",
			money.Format(req.Amount.Minor, c.cur), money.Format(left, c.cur))}
	}
	return checkText("reason", req.Reason, 128)
}

// RefundStatus queries the refund of a payment (lines 185-212). The query
// names only the payment; when outRefundNo is given and the answer is about
// another refund (or names none), the answer is returned with
// ErrOtherRefund. A refusal whose message says the payment or refund does
// not exist is IsNotFound.
func (c *Client) RefundStatus(ctx context.Context, outTradeNo, outRefundNo string) (*RefundStatus, error) {
	if err := checkOrderNo("out_trade_no", outTradeNo); err != nil {
		return nil, err
	}
	if outRefundNo != "" {
		if err := checkOrderNo("out_refund_no", outRefundNo); err != nil {
			return nil, err
		}
	}
	log := c.log.With("out_trade_no", outTradeNo, "out_refund_no", outRefundNo)
	env, err := c.call(ctx, OpRefundStatus, c.urls.RefundStatus, c.statusBody(outTradeNo), c.cfg.HTTPTimeout, log)
	if err != nil {
		return nil, c.markNotFound(err)
	}
	a := c.answer(OpRefundStatus, env)
	a.expectString("out_trade_no", outTradeNo, true)
	st := &RefundStatus{
		OutTradeNo: outTradeNo, OutRefundNo: a.text("out_refund_no", false), Refunded: a.boolean("is_success"),
		Amount: money.Amount{Minor: a.amount("amount"), Currency: c.cur}, Message: httpx.Scrub(a.text("message", false), maxMessage),
	}
	a.expectCurrency()
	if a.err != nil {
		return nil, a.err
	}
	if outRefundNo != "" && st.OutRefundNo != outRefundNo {
		return st, fmt.Errorf("qrwallet refund status of %s: %w: answer names %q, asked about %q", outTradeNo, ErrOtherRefund, st.OutRefundNo, outRefundNo)
	}
	return st, nil
}

// markNotFound sets NotFound on a status query's refusal that says so.
func (c *Client) markNotFound(err error) error {
	var ge *GatewayError
	if errors.As(err, &ge) && !ge.AuthRefused && c.notFound(ge.Message) {
		ge.NotFound = true
	}
	return err
}

func printableASCII(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e })
}
