package idpay

import (
	"context"
	"crypto/rsa"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/posbridge/posbridge/money"
)

// keyPair holds the merchant key (signs requests) and the platform key
// (verifies responses and callbacks).
type keyPair struct {
	priv     *rsa.PrivateKey
	platform *rsa.PublicKey
}

// maxName is the longest name the gateway displays on a virtual account
// (spec line 78: "no more than 30 digits").
const maxName = 30

var (
	// namePattern: "composed of letters, numbers and spaces" (spec line 78).
	namePattern = regexp.MustCompile(`^[A-Za-z0-9 ]+$`)
	// phonePattern: "the mobile phone number must be a pure number" (spec
	// line 79), e.g. 082113086611 (line 80).
	phonePattern = regexp.MustCompile(`^[0-9]{6,20}$`)
	// emailPattern: "the email format must be xxx@xx.xx" (spec line 79).
	emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
)

// CreateRequest is one payment order.
type CreateRequest struct {
	// OrderNo is the merchant's order number, unique per merchant: 1-32
	// ASCII letters, digits, '_' or '-'. It is the only key a lost create
	// can be reconciled by.
	OrderNo string
	Method  Method
	// Amount must be IDR in whole rupiah (spec lines 35, 60).
	Amount money.Amount
	// Name is displayed as the virtual account name: letters, digits and
	// spaces, at most 30 (spec line 78). Required.
	Name string
	// Email and Phone are optional, checked for format (spec line 79);
	// Phone is required for EWALLET_OVO: the number the customer's OVO
	// wallet is registered with (spec line 80).
	Email, Phone string
	// ExpiryPeriod is how long the order may be paid, in whole minutes of
	// 15-97200; 0 omits it and the gateway uses 4320 minutes (spec line 81).
	ExpiryPeriod time.Duration
	// NotifyURL overrides Config.NotifyURL for this order.
	NotifyURL string
}

// Payment is the gateway's view of an order.
type Payment struct {
	OrderNo     string
	PlatOrderNo string // the gateway's order number, when given
	Method      Method // as the gateway reports it ("" when absent)
	// Amount is the order amount the gateway reports, in IDR; nil when
	// absent or unreadable (an echo, never trusted over the journal).
	Amount *money.Amount
	// Status is the raw status (spec lines 64-68); State its mapping.
	Status string
	State  State

	// What the customer pays with, by Method.Kind (create only): VANumber
	// (VA), QRContent (QRIS), PaymentCode (retail), PayURL (e-wallet
	// redirect; empty for OVO, which pushes to the wallet app, spec line 80).
	VANumber, QRContent, PaymentCode, PayURL string
	// ExpiresAt is when the order stops being payable (create only):
	// the send time plus the expiry period (spec line 81), or 30 s for OVO
	// (line 80). The document names no expiry field in the answer.
	ExpiresAt time.Time
}

// CreatePayment creates a payment order. It is sent exactly once: on an
// error wrapping ErrUnknownOutcome (platRespCode UNKNOWN, a timeout, a
// dropped connection, HTTP 5xx, a bad signature) the caller reconciles
// with QueryPayment by OrderNo and never creates it again (spec line 104).
// A *GatewayError is a signed FAIL of this request; ErrNotSent means it
// never left; ErrInvalidRequest means nothing was sent.
func (c *Client) CreatePayment(ctx context.Context, r CreateRequest) (*Payment, error) {
	p, err := c.createParams(r)
	if err != nil {
		return nil, err
	}
	sent := c.now()
	ans, err := c.call(ctx, opCreate, c.createURL, r.OrderNo, p)
	if err != nil {
		return nil, err
	}
	pay := c.payment(ans, r.OrderNo)
	if pay.Method == "" {
		pay.Method = r.Method
	}
	period := r.ExpiryPeriod
	if period == 0 {
		period = DefaultExpiryPeriod
	}
	if r.Method == MethodEWalletOVO {
		period = min(period, OVOPayWindow)
	}
	pay.ExpiresAt = sent.Add(period)
	if pay.Status == "" {
		// A signed SUCCESS acceptance without a status: the order was
		// "successfully created" (INIT_ORDER, spec line 65).
		pay.Status, pay.State = StatusInitOrder, StatePending
	}
	return pay, nil
}

// createParams validates r and renders the request fields.
func (c *Client) createParams(r CreateRequest) (Params, error) {
	if err := checkOrderNo(r.OrderNo); err != nil {
		return nil, err
	}
	if !r.Method.Valid() {
		return nil, &ValidationError{Field: c.f.Method, Reason: fmt.Sprintf("%q is not a method of the document (spec lines 43-56)", string(r.Method))}
	}
	rupiah, err := Rupiah(c.f.Amount, r.Amount)
	if err != nil {
		return nil, err
	}
	if err := checkCustomer(r); err != nil {
		return nil, err
	}
	p := Params{
		c.f.MerchantCode: c.merchant,
		c.f.OrderNo:      r.OrderNo,
		c.f.Method:       string(r.Method),
		c.f.Amount:       strconv.FormatInt(rupiah, 10),
		FieldName:        r.Name,
		FieldEmail:       r.Email,
		FieldPhone:       r.Phone,
	}
	if r.ExpiryPeriod != 0 {
		if r.ExpiryPeriod%time.Minute != 0 || r.ExpiryPeriod < MinExpiryPeriod || r.ExpiryPeriod > MaxExpiryPeriod {
			return nil, &ValidationError{Field: FieldExpiryPeriod, Reason: fmt.Sprintf("%s: want whole minutes of 15-97200 (spec line 81)", r.ExpiryPeriod)}
		}
		p[FieldExpiryPeriod] = strconv.FormatInt(int64(r.ExpiryPeriod/time.Minute), 10)
	}
	notify := r.NotifyURL
	if notify == "" {
		notify = c.notifyURL
	} else if err := checkNotifyURL(c.f.NotifyURL, notify); err != nil {
		return nil, err
	}
	p[c.f.NotifyURL] = notify
	for k, v := range p {
		if v == "" {
			delete(p, k)
		}
	}
	return p, nil
}

// checkCustomer applies the document's rules for name, email and phone.
func checkCustomer(r CreateRequest) error {
	if r.Name == "" || utf8.RuneCountInString(r.Name) > maxName || !namePattern.MatchString(r.Name) {
		return &ValidationError{Field: FieldName, Reason: "required: 1-30 letters, digits and spaces (spec line 78)"}
	}
	if r.Email != "" {
		if _, err := mail.ParseAddress(r.Email); err != nil || !emailPattern.MatchString(r.Email) {
			return &ValidationError{Field: FieldEmail, Reason: "must be an address such as xxx@xx.xx (spec line 79)"}
		}
	}
	if r.Phone != "" && !phonePattern.MatchString(r.Phone) {
		return &ValidationError{Field: FieldPhone, Reason: "must be digits only, e.g. 082113086611 (spec lines 79-80)"}
	}
	if r.Method == MethodEWalletOVO && r.Phone == "" {
		return &ValidationError{Field: FieldPhone, Reason: "required for EWALLET_OVO: the customer's OVO-registered mobile number (spec line 80)"}
	}
	return nil
}

// checkOrderNo validates a merchant order number.
func checkOrderNo(no string) error {
	if len(no) > maxIDLen || !plainToken(no) {
		return &ValidationError{Field: "order_no", Reason: "required: 1-32 ASCII letters, digits, '_' or '-'"}
	}
	return nil
}

// checkNotifyURL validates a callback URL: absolute http(s), no fragment.
func checkNotifyURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || len(raw) > 256 {
		return &ValidationError{Field: field, Reason: "must be an absolute http(s) URL of at most 256 characters"}
	}
	return nil
}

// QueryRequest asks for one order.
type QueryRequest struct {
	OrderNo string
	// ExpiresAt is the order's expiry from CreatePayment (journaled by the
	// caller). When set, an order still pending ExpiryGrace after it is
	// reported StateExpired. Zero never derives expired.
	ExpiresAt time.Time
}

// QueryPayment asks the gateway for an order. A signed answer maps the
// status (MapStatus); a status the document does not list is StateUnknown,
// never a failure. A signed FAIL whose error code is one of
// OrderNotFoundCodes is a *GatewayError with NotFound (IsOrderNotFound),
// the only definitive "the gateway has no such order". Everything else
// that is not a signed answer wraps ErrUnknownOutcome: query again later.
func (c *Client) QueryPayment(ctx context.Context, r QueryRequest) (*Payment, error) {
	if err := checkOrderNo(r.OrderNo); err != nil {
		return nil, err
	}
	p := Params{c.f.MerchantCode: c.merchant, c.f.OrderNo: r.OrderNo}
	ans, err := c.call(ctx, opQuery, c.queryURL, r.OrderNo, p)
	if err != nil {
		return nil, err
	}
	pay := c.payment(ans, r.OrderNo)
	if pay.State == StatePending && !r.ExpiresAt.IsZero() && c.now().After(r.ExpiresAt.Add(c.grace)) {
		pay.State = StateExpired
	}
	return pay, nil
}

// payment reads the order fields of a verified answer.
func (c *Client) payment(ans Params, orderNo string) *Payment {
	pay := &Payment{
		OrderNo:     orderNo,
		PlatOrderNo: ans[c.f.PlatOrderNo],
		Method:      Method(ans[c.f.Method]),
		Status:      ans[FieldStatus],
		VANumber:    ans[c.f.VANumber],
		QRContent:   ans[c.f.QRContent],
		PaymentCode: ans[c.f.PaymentCode],
		PayURL:      ans[c.f.PayURL],
	}
	if pay.Status != "" {
		pay.State = MapStatus(pay.Status)
	} else {
		pay.State = StateUnknown
	}
	if v := ans[c.f.Amount]; v != "" {
		if a, err := parseWireRupiah(v); err == nil {
			pay.Amount = &a
		} else {
			c.log.Warn("idpay: unreadable amount in a signed answer ignored", "order_no", orderNo, "error", err)
		}
	}
	return pay
}

// parseWireRupiah reads an amount the gateway sent: a positive integer
// number of rupiah ("30000"); "30000.00" is tolerated, a fraction is not.
func parseWireRupiah(s string) (money.Amount, error) {
	n, err := money.ParseLenient(s, money.Currency{Code: IDR.Code, Exponent: 0})
	if err != nil {
		return money.Amount{}, err
	}
	if n <= 0 || n > money.MaxMinor/100 {
		return money.Amount{}, fmt.Errorf("%w: %q", money.ErrOutOfRange, s)
	}
	return FromRupiah(n), nil
}
