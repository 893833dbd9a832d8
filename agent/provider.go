package agent

// Payments through a provider other than a card terminal: the QR wallet
// (method qr, cloud/qrwallet) and the Indonesian VA/QRIS gateway (method va,
// cloud/idpay) and pay-by-link (method link, CodePay Hosted Checkout or
// Bindo pre-create, provider_link.go and provider_bindolink.go).
//
// The outcome rule of docs/reliability.md holds unchanged:
//
//   - Intent first: the payment is journaled `sending` with create_sent set
//     and parked (NextCheckAt) before the provider's create is sent, so no
//     terminal worker ever takes it and a restart finds it.
//   - An unknown outcome (transport error, 5xx, 429, an answer that does not
//     match, UNKNOWN) makes the payment `unknown`; the background reconciler
//     queries the provider by the same order number until it answers.
//   - Only an answer about the order moves it: paid → approved; a definitive
//     "no such order" at least CreateSettle after the create ended → failed,
//     nothing charged. A create is never sent twice: posbridge does not
//     re-send after "not found" for these providers, so a new number is
//     always the cashier's decision.
//   - While the customer has to act (scan the QR code, pay the VA), the
//     payment is `on_terminal`, documented for these methods as "waiting for
//     the customer"; it stays parked and is polled.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/idpay"
	"github.com/posbridge/posbridge/cloud/qrwallet"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// Payment methods (payment.create's method).
const (
	MethodCard = "card" // the default: a card terminal (CodePay, Bindo fallback)
	MethodQR   = "qr"   // the QR wallet (cloud/qrwallet)
	MethodVA   = "va"   // the VA/QRIS gateway (cloud/idpay)
	MethodLink = "link" // pay-by-link: CodePay Hosted Checkout or Bindo pre-create (provider_link.go)
)

// QR modes (payment.create's qr_mode).
const (
	QRModeNative = "native" // a dynamic QR code the customer scans
	QRModeQuick  = "quick"  // the cashier scanned the customer's code (customer_code)
)

// Routes of the provider payments; a payment without a terminal is counted
// under its route as a pseudo-desk (docs/websocket-api.md, "Batches").
const (
	RouteQRWallet = "qrwallet"
	RouteIDPay    = "idpay"
	// RouteCodePayLink is a CodePay Hosted Checkout order (method link):
	// CodePay, but no terminal's.
	RouteCodePayLink = "codepay_link"
	// RouteBindoLink is a Bindo pre-created order (method link with
	// [link] provider = "bindo", provider_bindolink.go).
	RouteBindoLink = "bindo_link"
)

// Error codes of provider payments.
const (
	CodeProviderUnavailable = "provider_unavailable"
	CodeProviderRefused     = "provider_refused"
)

// QRWallet is the part of the QR wallet client the agent uses
// (*qrwallet.Client).
type QRWallet interface {
	Currency() money.Currency
	NativePay(ctx context.Context, req qrwallet.NativePayRequest) (*qrwallet.NativePayResult, error)
	QuickPay(ctx context.Context, req qrwallet.QuickPayRequest) (*qrwallet.QuickPayResult, error)
	WaitPayment(ctx context.Context, outTradeNo string, since time.Time) (*qrwallet.WaitResult, error)
	PaymentStatus(ctx context.Context, outTradeNo string) (*qrwallet.PaymentStatus, error)
	Refund(ctx context.Context, req qrwallet.RefundRequest) (*qrwallet.RefundResult, error)
	RefundStatus(ctx context.Context, outTradeNo, outRefundNo string) (*qrwallet.RefundStatus, error)
}

// IDPay is the part of the VA/QRIS gateway client the agent uses
// (*idpay.Client).
type IDPay interface {
	CreatePayment(ctx context.Context, r idpay.CreateRequest) (*idpay.Payment, error)
	QueryPayment(ctx context.Context, r idpay.QueryRequest) (*idpay.Payment, error)
}

var (
	_ QRWallet = (*qrwallet.Client)(nil)
	_ IDPay    = (*idpay.Client)(nil)
)

// quickPayWindow bounds the follow-up of a quick pay (the spec's 45 s) plus
// the call itself.
const quickPayWindow = qrwallet.DefaultPollTotal + callTimeout

// methodData is what a provider payment keeps in its stored options
// (payments.options_json): the request's method parameters and the
// customer-facing data the provider returned. Customer codes, e-mail and
// phone numbers are never stored. A stored format: fields may be added
// (omitempty), never renamed.
type methodData struct {
	Method      string `json:"method"`
	QRMode      string `json:"qr_mode,omitempty"`
	VAMethod    string `json:"va_method,omitempty"`
	QRPayload   string `json:"qr_payload,omitempty"`
	PayURL      string `json:"pay_url,omitempty"`
	VANumber    string `json:"va_number,omitempty"`
	PaymentCode string `json:"payment_code,omitempty"`
}

func (m methodData) json() string {
	b, _ := json.Marshal(m)
	return string(b)
}

// isProviderRoute reports whether a route is one of the non-terminal
// providers.
func isProviderRoute(route string) bool {
	return route == RouteQRWallet || route == RouteIDPay || isLinkRoute(route)
}

// methodOf returns a provider payment's stored method data.
func methodOf(p *store.Payment) (methodData, bool) {
	if !isProviderRoute(p.Route) {
		return methodData{}, false
	}
	var m methodData
	if p.OptionsJSON != "" {
		_ = json.Unmarshal([]byte(p.OptionsJSON), &m)
	}
	if m.Method == "" {
		m.Method = map[string]string{RouteQRWallet: MethodQR, RouteIDPay: MethodVA, RouteCodePayLink: MethodLink, RouteBindoLink: MethodLink}[p.Route]
	}
	return m, true
}

// providerReq is a validated provider payment request.
type providerReq struct {
	orderNo, terminalSN, route, description, source string
	currency                                        money.Currency
	amount                                          int64
	md                                              methodData
	customerCode                                    string
	name, email, phone                              string
	hash                                            string
	linkExpires                                     time.Duration
	// transNo is journaled with the intent: a Bindo link's derived uuid.
	transNo string
}

// providerLive tracks the provider payments a goroutine of this process is
// sending right now; the reconciler leaves them alone.
type providerLive struct {
	mu sync.Mutex
	m  map[string]bool
}

func (l *providerLive) claim(no string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]bool{}
	}
	if l.m[no] {
		return false
	}
	l.m[no] = true
	return true
}

func (l *providerLive) release(no string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, no)
}

func (l *providerLive) live(no string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[no]
}

// validateProvider checks a qr, va or link payment.create; nothing is journaled
// when it fails.
func (a *Agent) validateProvider(r CreateRequest) (*providerReq, error) {
	if err := checkOrderNo("merchant_order_no", r.MerchantOrderNo); err != nil {
		return nil, err
	}
	if err := validateSource(r.Source); err != nil {
		return nil, err
	}
	pr := &providerReq{orderNo: r.MerchantOrderNo, source: r.Source, md: methodData{Method: r.Method}}
	switch r.Method {
	case MethodQR:
		if a.cfg.QRWallet == nil {
			return nil, fieldErr("method", "method qr needs the QR wallet, which is not configured on this agent ([qrwallet])")
		}
		pr.route, pr.currency = RouteQRWallet, a.cfg.QRWallet.Currency()
	case MethodVA:
		if a.cfg.IDPay == nil {
			return nil, fieldErr("method", "method va needs the VA/QRIS gateway, which is not configured on this agent ([idpay])")
		}
		pr.route, pr.currency = RouteIDPay, idpay.IDR
	case MethodLink:
		if err := a.linkRoute(pr); err != nil {
			return nil, err
		}
	default:
		return nil, fieldErr("method", "want card, qr, va or link, got %q", r.Method)
	}
	switch {
	case r.Type != "" && r.Type != TypeSale:
		return nil, fieldErr("type", "method %s takes sales only; refund with payment.refund", r.Method)
	case r.TipAmount != "" || r.CashbackAmount != "":
		return nil, fieldErr("tip_amount", "tip_amount and cashback_amount are for card payments only")
	case r.OrigMerchantOrderNo != "":
		return nil, fieldErr("orig_merchant_order_no", "only for card voids, refunds and completions")
	case r.Card != nil:
		return nil, fieldErr("card", "card data is for method card only")
	case r.Options != (Options{}):
		return nil, fieldErr("options", "options are for method card only")
	}
	for _, check := range []func() error{
		func() error { return a.providerDesk(r, pr) },
		func() error { return providerAmount(r, pr) },
		func() error { return providerDescription(r, pr) },
		func() error { return a.providerMethodParams(r, pr) },
	} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	pr.hash = pr.fingerprint()
	return pr, nil
}

// providerDesk resolves the optional terminal_sn or lane (which desk took
// the payment, for batches); without one the payment is counted under its
// route as a pseudo-desk.
func (a *Agent) providerDesk(r CreateRequest, pr *providerReq) error {
	if r.TerminalSN == "" && r.Lane == "" {
		pr.terminalSN = pr.route
		return nil
	}
	n := &normalized{}
	rr := r
	rr.Currency = pr.currency.Code
	if err := a.validateTerminal(rr, n); err != nil {
		if fe := (*FieldError)(nil); errors.As(err, &fe) && fe.Field == "currency" {
			return fieldErr("terminal_sn", "terminal %s takes %s; a %s payment is in %s, so it cannot be counted in that terminal's batch", n.terminalSN, n.currency.Code, r.Method, pr.currency.Code)
		}
		return err
	}
	pr.terminalSN = n.terminalSN
	return nil
}

// providerAmount parses the amount in the provider's currency: rupiah are
// whole for the VA/QRIS gateway.
func providerAmount(r CreateRequest, pr *providerReq) error {
	switch {
	case r.Currency == "":
		return fieldErr("currency", "required: the ISO 4217 code, e.g. %q", pr.currency.Code)
	case r.Currency != pr.currency.Code:
		return fieldErr("currency", "method %s takes %s, not %s", r.Method, pr.currency.Code, r.Currency)
	}
	if pr.route == RouteIDPay {
		if r.Amount == "" {
			return fieldErr("amount", "required: whole rupiah such as \"30000\"")
		}
		a, err := idpay.ParseRupiah("amount", r.Amount)
		if err != nil {
			return fieldErr("amount", "%q: the VA/QRIS gateway takes whole rupiah only, without decimals (e.g. \"30000\")", r.Amount)
		}
		pr.amount = a.Minor
	} else {
		v, err := parseAmountField("amount", r.Amount, pr.currency, true)
		if err != nil {
			return err
		}
		pr.amount = v
	}
	if pr.amount <= 0 {
		return fieldErr("amount", "must be greater than zero")
	}
	return nil
}

func providerDescription(r CreateRequest, pr *providerReq) error {
	if len(r.Description) > 128 {
		return fieldErr("description", "at most 128 bytes of UTF-8, got %d", len(r.Description))
	}
	if err := config.CheckText(r.Description); err != nil {
		return fieldErr("description", "%v", err)
	}
	pr.description = r.Description
	if pr.description == "" {
		pr.description = "posbridge " + r.Method + " sale"
	}
	return nil
}

// customerCodeOK: digits only, 10-24 of them (qrwallet's defaults; the
// client checks its configured bounds again before sending).
func customerCodeOK(s string) bool {
	if len(s) < qrwallet.DefaultCustomerCodeMinLen || len(s) > qrwallet.DefaultCustomerCodeMaxLen {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// providerMethodParams checks qr_mode/customer_code, va_method/customer
// and link_expires_in.
func (a *Agent) providerMethodParams(r CreateRequest, pr *providerReq) error {
	switch {
	case isLinkRoute(pr.route):
		return a.linkParams(r, pr)
	case r.LinkExpiresIn != 0:
		return fieldErr("link_expires_in", "link_expires_in is for method link only")
	case pr.route == RouteQRWallet:
		return qrParams(r, pr)
	}
	return a.vaParams(r, pr)
}

// qrParams checks qr_mode and customer_code.
func qrParams(r CreateRequest, pr *providerReq) error {
	if r.VAMethod != "" || r.CustomerName != "" || r.CustomerEmail != "" || r.CustomerPhone != "" {
		return fieldErr("va_method", "va_method and customer_* are for method va only")
	}
	switch r.QRMode {
	case QRModeNative, "":
		if r.CustomerCode != "" {
			return fieldErr("customer_code", "only with qr_mode quick (the cashier scanned the customer's code)")
		}
		pr.md.QRMode = QRModeNative
	case QRModeQuick:
		if r.CustomerCode == "" {
			return fieldErr("customer_code", "required with qr_mode quick: the code scanned from the customer's wallet app")
		}
		if !customerCodeOK(r.CustomerCode) {
			return fieldErr("customer_code", "want %d-%d digits as scanned from the customer's wallet app", qrwallet.DefaultCustomerCodeMinLen, qrwallet.DefaultCustomerCodeMaxLen)
		}
		pr.md.QRMode, pr.customerCode = QRModeQuick, r.CustomerCode
	default:
		return fieldErr("qr_mode", "want native or quick, got %q", r.QRMode)
	}
	return nil
}

// vaParams checks va_method and the customer.
func (a *Agent) vaParams(r CreateRequest, pr *providerReq) error {
	if r.QRMode != "" || r.CustomerCode != "" {
		return fieldErr("qr_mode", "qr_mode and customer_code are for method qr only")
	}
	m := idpay.Method(r.VAMethod)
	if r.VAMethod == "" || !m.Valid() {
		names := make([]string, 0, len(idpay.Methods()))
		for _, x := range idpay.Methods() {
			names = append(names, string(x))
		}
		return fieldErr("va_method", "want one of %s, got %q", strings.Join(names, ", "), r.VAMethod)
	}
	pr.md.VAMethod = r.VAMethod
	pr.name, pr.email, pr.phone = r.CustomerName, r.CustomerEmail, r.CustomerPhone
	if pr.name == "" {
		pr.name = a.cfg.IDPayDefaultName
	}
	if !nameOK(pr.name) {
		return fieldErr("customer_name", "required: letters, digits and spaces, at most 30 (shown as the account name)")
	}
	if m == idpay.MethodEWalletOVO && pr.phone == "" {
		return fieldErr("customer_phone", "required for EWALLET_OVO: the number the customer's OVO wallet is registered with")
	}
	return nil
}

// nameOK is the gateway's rule for name (spec line 78).
func nameOK(s string) bool {
	if s == "" || len(s) > 30 {
		return false
	}
	for _, c := range s {
		if !(c == ' ' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// fingerprint is the idempotency hash of a provider request.
func (pr *providerReq) fingerprint() string {
	code := ""
	if pr.customerCode != "" {
		s := sha256.Sum256([]byte(pr.customerCode))
		code = hex.EncodeToString(s[:8])
	}
	parts := []any{pr.md.Method, pr.md.QRMode, pr.md.VAMethod, pr.terminalSN, pr.currency.Code, pr.amount, pr.description, code, pr.name, pr.email, pr.phone}
	if pr.md.Method == MethodLink {
		parts = append(parts, int64(pr.linkExpires/time.Second))
	}
	b, _ := json.Marshal(parts)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// createProvider journals a qr or va payment and sends its create: native
// QR and VA at once (the answer carries the QR payload or VA number), quick
// pay in the background (it may take the spec's 45 s).
func (a *Agent) createProvider(ctx context.Context, r CreateRequest) (Payment, error) {
	pr, err := a.validateProvider(r)
	if err != nil {
		return Payment{}, err
	}
	if a.isStopping() {
		return Payment{}, ErrStopping
	}
	if existing, err := a.db.GetPayment(ctx, pr.orderNo); err == nil {
		return a.sameProvider(existing, pr)
	} else if !errors.Is(err, store.ErrNotFound) {
		return Payment{}, fmt.Errorf("create payment: %w", err)
	}
	if !a.live.claim(pr.orderNo) {
		return Payment{}, fmt.Errorf("%w: %s is being created", ErrOrderNoReused, pr.orderNo)
	}
	quick := pr.md.QRMode == QRModeQuick
	if quick && !a.tasks.reserve() {
		a.live.release(pr.orderNo)
		return Payment{}, ErrStopping
	}
	release := func() {
		a.live.release(pr.orderNo)
		if quick {
			a.tasks.unreserve()
		}
	}
	now := a.clock.Now()
	window := 2 * callTimeout
	if quick {
		window = quickPayWindow + callTimeout
	}
	row := &store.Payment{
		MerchantOrderNo: pr.orderNo, Type: TypeSale, State: StateSending, Source: pr.source,
		TerminalSN: pr.terminalSN, Currency: pr.currency.Code, AmountMinor: pr.amount,
		Description: pr.description, Route: pr.route, RequestHash: pr.hash, OptionsJSON: pr.md.json(), TransNo: pr.transNo,
		// Intent first: the create may leave once this row is durable. A
		// restart finds it sending and queries; it never sends it blindly.
		CreateSent: true,
		ExpiresAt:  now.Add(window),
		// Parked from the start: never a terminal's work. The reconciler
		// looks at it once the call could have ended.
		NextCheckAt: now.Add(window),
		CreatedAt:   now, UpdatedAt: now,
	}
	if isLinkRoute(pr.route) {
		// Until when the link will be payable, known before the create
		// leaves (shown even if its answer is lost).
		row.ExpiresAt = now.Add(pr.linkLifetime())
	}
	saved, err := a.db.InsertPaymentThen(ctx, row, store.Event{Kind: "created", ToState: StateSending,
		Detail: fmt.Sprintf("accepted from %s: %s through %s; sending the create", pr.source, describeMethod(pr.md), pr.route), At: now}, a.publishPayment)
	if errors.Is(err, store.ErrDuplicate) && saved != nil {
		release()
		return a.sameProvider(saved, pr)
	}
	if err != nil {
		release()
		return Payment{}, fmt.Errorf("create payment: %w", err)
	}
	a.log.Info("payment accepted", "merchant_order_no", pr.orderNo, "method", pr.md.Method, "route", pr.route, "terminal_sn", pr.terminalSN, "source", pr.source)
	if quick {
		code := pr.customerCode
		a.tasks.run(func(tctx context.Context) {
			defer a.live.release(pr.orderNo)
			a.sendQuickPay(tctx, saved, code)
		})
		return a.view(saved), nil
	}
	defer a.live.release(pr.orderNo)
	np, err := a.sendProviderCreate(ctx, saved, pr)
	// The reconciler may be sleeping until the create's window ends: it
	// follows the payment from now on.
	a.wakeReconciler()
	if err != nil || np == nil {
		np, err = a.db.GetPayment(context.WithoutCancel(ctx), pr.orderNo)
		if err != nil {
			return Payment{}, fmt.Errorf("create payment: %w", err)
		}
	}
	return a.view(np), nil
}

func describeMethod(m methodData) string {
	switch {
	case m.Method == MethodQR && m.QRMode == QRModeQuick:
		return "a QR wallet quick pay (the customer's code)"
	case m.Method == MethodQR:
		return "a QR wallet native pay (a QR code for the customer to scan)"
	case m.Method == MethodLink:
		return "a payment link (paid on the provider's hosted page)"
	default:
		return "a " + m.VAMethod + " payment"
	}
}

// sameProvider answers a repeated payment.create for an existing number.
func (a *Agent) sameProvider(existing *store.Payment, pr *providerReq) (Payment, error) {
	if existing.RequestHash != pr.hash {
		return Payment{}, fmt.Errorf("%w: %s", ErrOrderNoReused, pr.orderNo)
	}
	return a.view(existing), nil
}

// sendProviderCreate sends a native pay or a VA create whose intent is
// journaled, and applies the answer.
func (a *Agent) sendProviderCreate(ctx context.Context, p *store.Payment, pr *providerReq) (*store.Payment, error) {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	cur := money.Amount{Minor: p.AmountMinor, Currency: pr.currency}
	if isLinkRoute(p.Route) {
		return a.sendLinkCreate(ctx, p, pr)
	}
	if p.Route == RouteQRWallet {
		res, err := a.cfg.QRWallet.NativePay(callCtx, qrwallet.NativePayRequest{OutTradeNo: p.MerchantOrderNo, Amount: cur})
		ended := a.clock.Now()
		if err == nil {
			return a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
				md, _ := methodOf(p)
				md.QRPayload = res.QRCode
				p.OptionsJSON = md.json()
				p.State = StateOnTerminal
				p.ExpiresAt = res.ExpiresAt
				p.CreateEndedAt = ended
				p.NextCheckAt = ended.Add(a.cfg.PollInterval)
				return nil
			}, "QR code issued; waiting for the customer to scan and pay (until "+res.ExpiresAt.UTC().Format(time.RFC3339)+")")
		}
		return a.createFailed(ctx, p, err, ended)
	}
	res, err := a.cfg.IDPay.CreatePayment(callCtx, idpay.CreateRequest{
		OrderNo: p.MerchantOrderNo, Method: idpay.Method(pr.md.VAMethod), Amount: cur,
		Name: pr.name, Email: pr.email, Phone: pr.phone, ExpiryPeriod: a.cfg.IDPayExpiry,
	})
	ended := a.clock.Now()
	if err == nil {
		return a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			md, _ := methodOf(p)
			md.VANumber, md.QRPayload, md.PaymentCode, md.PayURL = res.VANumber, res.QRContent, res.PaymentCode, res.PayURL
			p.OptionsJSON = md.json()
			p.TransNo = res.PlatOrderNo
			p.State = StateOnTerminal
			if !res.ExpiresAt.IsZero() {
				p.ExpiresAt = res.ExpiresAt
			}
			p.CreateEndedAt = ended
			p.NextCheckAt = ended.Add(a.cfg.PollInterval)
			return nil
		}, "the gateway created the order; waiting for the customer to pay")
	}
	return a.createFailed(ctx, p, err, ended)
}

// createFailed applies a create's error by the outcome rule.
func (a *Agent) createFailed(ctx context.Context, p *store.Payment, err error, ended time.Time) (*store.Payment, error) {
	switch {
	case errors.Is(err, qrwallet.ErrNotSent) || errors.Is(err, idpay.ErrNotSent) || errors.Is(err, codepay.ErrNotSent) || errors.Is(err, bindo.ErrNotSent):
		return a.fail(ctx, p, []string{StateSending}, CodeProviderUnavailable, fmt.Sprintf("%s could not be reached (%v); nothing was sent, nothing was charged", p.Route, err))
	case errors.Is(err, qrwallet.ErrInvalidRequest) || errors.Is(err, idpay.ErrInvalidRequest) || errors.Is(err, codepay.ErrInvalidRequest) || errors.Is(err, bindo.ErrInvalidRequest):
		return a.fail(ctx, p, []string{StateSending}, "invalid_request", err.Error()+"; nothing was sent")
	}
	var qge *qrwallet.GatewayError
	var ige *idpay.GatewayError
	var cge *codepay.GatewayError
	var bge *bindo.GatewayError
	detail := "outcome of the create unknown (" + err.Error() + "); reconciling by query"
	refused := errors.As(err, &qge) || errors.As(err, &ige) || errors.As(err, &cge) || errors.As(err, &bge)
	if refused {
		// A refusal is confirmed by a query: an earlier attempt may have
		// created the order after all. The reconciler asks at once.
		detail = "the provider refused the create (" + err.Error() + "); confirming by query"
		a.event(ctx, p.MerchantOrderNo, "error", detail)
	}
	np, terr := a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
		p.State = StateUnknown
		p.CreateEndedAt = ended
		p.NextCheckAt = ended
		if refused {
			p.ErrorCode, p.ErrorMessage = CodeProviderRefused, err.Error()
		}
		return nil
	}, detail)
	a.wakeReconciler()
	return np, terr
}

// sendQuickPay charges the customer's code and follows it for the spec's
// 45 s (WaitPayment, every 3 s); what is still open then is the
// reconciler's.
func (a *Agent) sendQuickPay(ctx context.Context, p *store.Payment, code string) {
	qw := a.cfg.QRWallet
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), quickPayWindow)
	defer cancel()
	started := a.clock.Now()
	res, err := qw.QuickPay(callCtx, qrwallet.QuickPayRequest{OutTradeNo: p.MerchantOrderNo,
		Amount: money.Amount{Minor: p.AmountMinor, Currency: qw.Currency()}, CustomerCode: code})
	ended := a.clock.Now()
	if err == nil && res.Paid {
		_, _ = a.approveProvider(ctx, p, res.TransactionID, "the wallet approved the quick pay")
		return
	}
	var ge *qrwallet.GatewayError
	switch {
	case err != nil && (errors.Is(err, qrwallet.ErrNotSent) || errors.Is(err, qrwallet.ErrInvalidRequest)):
		_, _ = a.createFailed(ctx, p, err, ended)
		return
	case errors.As(err, &ge):
		a.event(ctx, p.MerchantOrderNo, "error", "the wallet refused the quick pay ("+err.Error()+"); confirming by payment status")
		st, qerr := qw.PaymentStatus(callCtx, p.MerchantOrderNo)
		switch {
		case qerr == nil && st.Paid:
			_, _ = a.approveProvider(ctx, p, st.TransactionID, "the wallet shows the quick pay paid after all")
		case qerr == nil || qrwallet.IsNotFound(qerr):
			// A wallet may refuse a quick pay whose payer is still entering
			// the PIN (its server gave up waiting): watched for a while
			// (latecheck.go), never declined without that watch.
			if !a.scheduleLateCheck(ctx, p, a.clock.Now(), declinedQuickPayWatch) {
				return
			}
			_, _ = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
				p.State = StateDeclined
				p.ErrorCode, p.ErrorMessage = "declined", "the wallet refused the payment: "+ge.Message+"; its status shows it unpaid (checked again for "+spoken(declinedQuickPayWatch)+" in case the payer confirms late)"
				return nil
			}, "declined: the wallet refused the quick pay and its status confirms it is not paid")
		default:
			_, _ = a.createFailed(ctx, p, qerr, a.clock.Now())
		}
		return
	}
	detail := "the customer is confirming the payment in the wallet app; following it (every 3 s for up to 45 s)"
	if err != nil {
		detail = "outcome of the quick pay unknown (" + err.Error() + "); following it by payment status"
	}
	np, terr := a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
		p.State = StateOnTerminal
		p.CreateEndedAt = ended
		p.ExpiresAt = started.Add(qrwallet.DefaultPollTotal)
		return nil
	}, detail)
	if terr != nil {
		return
	}
	a.wakeReconciler()
	w, _ := qw.WaitPayment(callCtx, p.MerchantOrderNo, started)
	if w != nil && w.Final && w.Status != nil {
		_, _ = a.approveProvider(ctx, np, w.Status.TransactionID, "the wallet shows the quick pay paid")
		return
	}
	// Not paid within the window: the reconciler decides with one more
	// answer (paid → approved; not paid past the window → expired).
	_ = ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, a.clock.Now(), 0))
	a.wakeReconciler()
}

// approveProvider makes a provider payment approved.
func (a *Agent) approveProvider(ctx context.Context, p *store.Payment, transNo, detail string) (*store.Payment, error) {
	return a.transition(ctx, p.MerchantOrderNo, []string{StateSending, StateOnTerminal, StateUnknown}, func(p *store.Payment) error {
		p.State = StateApproved
		if transNo != "" {
			p.TransNo = transNo
		}
		p.ErrorCode, p.ErrorMessage = "", ""
		return nil
	}, detail)
}
