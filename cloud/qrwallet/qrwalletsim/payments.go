package qrwalletsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posbridge/posbridge/money"
)

type payKind string

const (
	kindNative payKind = "native"
	kindQuick  payKind = "quick_pay"
	kindJSAPI  payKind = "jsapi"
)

type payState string

const (
	statePending payState = "pending"
	statePaid    payState = "paid"
	stateFailed  payState = "failed"
)

// Messages of status answers. "Payment Successful!" and "Refund
// Successful!" are the spec's (lines 181, 210); the others are the
// emulator's.
const (
	msgPaid         = "Payment Successful!"
	msgRefunded     = "Refund Successful!"
	msgWaitScan     = "Waiting for the customer to scan"
	msgQRExpired    = "QR code expired"
	msgWaitPIN      = "Waiting for the payer to enter the payment PIN"
	msgDeclined     = "Payment declined: insufficient balance"
	msgPINAbandoned = "Payment failed: the payer did not confirm"
	msgRefundNone   = "Refund not found"
)

type payment struct {
	no           string
	kind         payKind
	serviceID    int64
	amount       int64
	feeRate      *int64
	subStoreID   *int64
	subStoreName string
	customerCode string // masked
	created      time.Time
	state        payState
	message      string // why it failed
	paidAt       time.Time
	qr           string
	qrExpires    time.Time
	pinAt        time.Time // pending quick pay: paid at this time
	failAt       time.Time // pending quick pay: failed at this time
	txn          string
	refunds      []*refund
	refunded     int64
}

type refund struct {
	no        string
	amount    int64
	reason    string
	serviceID int64
	at        time.Time
}

// settleLocked applies what is due at now to a pending quick payment.
func (s *Sim) settleLocked(p *payment, now time.Time) {
	if p.state != statePending {
		return
	}
	switch {
	case !p.pinAt.IsZero() && !now.Before(p.pinAt):
		s.payLocked(p, p.pinAt)
	case !p.failAt.IsZero() && !now.Before(p.failAt):
		p.state, p.message = stateFailed, msgPINAbandoned
	}
}

func (s *Sim) payLocked(p *payment, at time.Time) {
	p.state, p.paidAt, p.pinAt, p.failAt = statePaid, at, time.Time{}, time.Time{}
	p.txn = s.newIDLocked("4200", at)
}

// statusMessage is the message of a payment status answer.
func (s *Sim) statusMessage(p *payment, now time.Time) string {
	switch {
	case p.state == statePaid:
		return msgPaid
	case p.state == stateFailed:
		return p.message
	case p.kind == kindNative && !now.Before(p.qrExpires):
		return msgQRExpired
	case p.kind == kindNative:
		return msgWaitScan
	}
	return msgWaitPIN
}

// tokenLocked is GET API TOKEN (lines 1-17).
func (s *Sim) tokenLocked(_ *http.Request, b body, now time.Time) reply {
	user, e := b.required("user")
	if e != nil {
		return e.reply()
	}
	pass, e := b.required("password")
	if e != nil {
		return e.reply()
	}
	if !hmac.Equal([]byte(user), []byte(s.cfg.User)) || !hmac.Equal([]byte(pass), []byte(s.cfg.Password)) {
		return reply{status: http.StatusUnauthorized, msg: "Invalid credentials"}
	}
	exp := now.Add(s.cfg.TokenTTL)
	tok := s.jwtLocked(user, now, exp)
	s.tokens[tok] = exp
	return success(kv{"message", "SUCCESS"}, kv{"token", tok})
}

// jwtLocked issues an HS256 JWT like the sample's (lines 15, 28).
func (s *Sim) jwtLocked(user string, now, exp time.Time) string {
	s.seq++
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256"}`))
	claims, _ := json.Marshal(map[string]any{"sub": user, "iat": now.Unix(), "exp": exp.Unix(), "jti": strconv.FormatUint(s.seq, 10)})
	unsigned := head + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// authenticateLocked checks "Authorization: Bearer <token>" (line 28)
// against the tokens issued and not expired.
func (s *Sim) authenticateLocked(r *http.Request, now time.Time) *refusal {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	exp, known := s.tokens[strings.TrimSpace(tok)]
	if !ok || !known || !now.Before(exp) {
		if known {
			delete(s.tokens, tok)
		}
		return &refusal{status: http.StatusUnauthorized, msg: "Unauthenticated."}
	}
	return nil
}

// payFields are the fields of native, quick and JSAPI pay (lines 32-41,
// 67-76, 99-108).
type payFields struct {
	serviceID    int64
	amount       int64
	no           string
	subStoreID   *int64
	subStoreName string
	feeRate      *int64
	authCode     string
}

// checkStore checks store_id, a string or a number (lines 34, 146, 165).
func (s *Sim) checkStore(b body) *refusal {
	id, e := b.required("store_id")
	if e != nil {
		return e
	}
	if id != s.cfg.StoreID {
		return refuse("The selected store id is invalid.")
	}
	return nil
}

// payFieldsLocked validates a pay request. auth_code is required when
// needCode (quick pay, line 74) and optional otherwise (it appears in the
// native and JSAPI samples too, lines 39 and 106).
func (s *Sim) payFieldsLocked(b body, needCode bool) (payFields, *refusal) {
	var f payFields
	var e *refusal
	if f.serviceID, _, e = b.integer("service_id", true); e != nil {
		return f, e
	}
	if f.serviceID <= 0 {
		return f, refuse("The selected service id is invalid.")
	}
	if e = s.checkStore(b); e != nil {
		return f, e
	}
	if f.amount, e = b.amount("amount", s.cur); e != nil {
		return f, e
	}
	if f.no, e = b.required("out_trade_no"); e != nil {
		return f, e
	}
	if len(f.no) > 64 {
		return f, refuse("The out trade no may not be greater than 64 characters.")
	}
	if _, dup := s.payments[f.no]; dup {
		return f, refuse("The out trade no has already been taken.")
	}
	if e = f.optional(b); e != nil {
		return f, e
	}
	code, ok, e := b.text("auth_code")
	switch {
	case e != nil:
		return f, e
	case needCode && !ok:
		return f, refuse("The auth code field is required.")
	case ok && !digitsPattern.MatchString(code):
		return f, refuse("The auth code must be digits.")
	}
	f.authCode = code
	return f, nil
}

// optional reads the nullable fields (lines 22-24).
func (f *payFields) optional(b body) *refusal {
	if id, ok, e := b.integer("sub_store_id", false); e != nil {
		return e
	} else if ok {
		f.subStoreID = &id
	}
	name, _, e := b.text("sub_store_name")
	if e != nil {
		return e
	}
	if len(name) > 128 {
		return refuse("The sub store name may not be greater than 128 characters.")
	}
	f.subStoreName = name
	if rate, ok, e := b.integer("fee_rate", false); e != nil {
		return e
	} else if ok {
		if rate > 100 {
			return refuse("The fee rate must be between 0 and 100.")
		}
		f.feeRate = &rate
	}
	return nil
}

func (s *Sim) newPaymentLocked(f payFields, kind payKind, now time.Time) *payment {
	p := &payment{
		no: f.no, kind: kind, serviceID: f.serviceID, amount: f.amount, feeRate: f.feeRate,
		subStoreID: f.subStoreID, subStoreName: f.subStoreName, customerCode: maskCode(f.authCode),
		created: now, state: statePending,
	}
	s.payments[p.no] = p
	s.order = append(s.order, p)
	return p
}

// nativePayLocked is NATIVE PAY (lines 19-53): a pending payment with a
// dynamic QR code the customer scans (Scan, POST /sim/payments/{no}/scan).
func (s *Sim) nativePayLocked(_ *http.Request, b body, now time.Time) reply {
	f, e := s.payFieldsLocked(b, false)
	if e != nil {
		return e.reply()
	}
	p := s.newPaymentLocked(f, kindNative, now)
	p.qr = "weixin://wxpay/bizpayurl?pr=" + randomHex(4)[:7] // the sample's form, line 48
	p.qrExpires = now.Add(s.cfg.QRLifetime)
	return success(kv{"qr_code", p.qr}, kv{"amount", amt(p.amount)}, kv{"out_trade_no", p.no}, kv{"result_code", "SUCCESS"})
}

// quickPayLocked is QUICK PAY (lines 55-89).
func (s *Sim) quickPayLocked(_ *http.Request, b body, now time.Time) reply {
	return s.payerLocked(b, kindQuick, now)
}

// jsapiPayLocked is JSAPI PAY (lines 91-121): the same answer as quick pay.
func (s *Sim) jsapiPayLocked(_ *http.Request, b body, now time.Time) reply {
	return s.payerLocked(b, kindJSAPI, now)
}

// payerLocked creates a payment the payer answers at once or after a PIN:
// a Script for the out_trade_no, else the amount's suffix.
func (s *Sim) payerLocked(b body, kind payKind, now time.Time) reply {
	f, e := s.payFieldsLocked(b, kind == kindQuick)
	if e != nil {
		return e.reply()
	}
	p := s.newPaymentLocked(f, kind, now)
	sc, ok := s.scripts[p.no]
	if !ok {
		sc = Script{Outcome: suffixOutcome(p.amount % 100)}
	}
	switch sc.Outcome {
	case OutcomeDeclined:
		p.state, p.message = stateFailed, msgDeclined
		return refuse("%s", msgDeclined).reply()
	case OutcomePIN:
		delay := sc.PINDelay
		if delay <= 0 {
			delay = s.cfg.PINDelay
		}
		p.pinAt = now.Add(delay)
	case OutcomePINAbandoned:
		p.failAt = now.Add(s.cfg.PINTimeout)
	default:
		s.payLocked(p, now)
	}
	code := s.mode.PendingCode
	if p.state != statePaid && s.mode.PendingAsRefusal {
		return refuse("%s", code).reply()
	}
	data := []kv{{"amount", amt(p.amount)}, {"currency", s.cur.Code}, {"out_trade_no", p.no}}
	if p.state == statePaid {
		code = "SUCCESS"
		data = append(data, kv{"transaction_id", p.txn})
	}
	return success(append(data, kv{"result_code", code})...)
}

func suffixOutcome(suffix int64) string {
	switch suffix {
	case SuffixDeclined:
		return OutcomeDeclined
	case SuffixPIN:
		return OutcomePIN
	case SuffixPINAbandoned:
		return OutcomePINAbandoned
	}
	return OutcomePaid
}

// refundLocked is REFUND TO BUYER (lines 123-154). Refunds of a payment
// never add up to more than it was paid; an out_refund_no repeated with the
// same payment and amount answers the first refund again.
func (s *Sim) refundLocked(_ *http.Request, b body, now time.Time) reply {
	svc, _, e := b.integer("service_id", true)
	if e != nil {
		return e.reply()
	}
	if e := s.checkStore(b); e != nil {
		return e.reply()
	}
	amount, e := b.amount("refund_amount", s.cur)
	if e != nil {
		return e.reply()
	}
	p, e := s.paymentLocked(b, now)
	if e != nil {
		return e.reply()
	}
	no, e := b.required("out_refund_no")
	if e != nil {
		return e.reply()
	}
	reason, _, e := b.text("reason")
	if e != nil {
		return e.reply()
	}
	if rf, e := s.findRefundLocked(no, p, amount); e != nil || rf != nil {
		if e != nil {
			return e.reply()
		}
		return s.refundReply(p, rf)
	}
	switch {
	case p.state != statePaid:
		return refuse("The payment is not successful and cannot be refunded.").reply()
	case amount > p.amount-p.refunded:
		return refuse("The refund amount %s exceeds the refundable amount %s.",
			money.Format(amount, s.cur), money.Format(p.amount-p.refunded, s.cur)).reply()
	}
	rf := &refund{no: no, amount: amount, reason: reason, serviceID: svc, at: now}
	p.refunds = append(p.refunds, rf)
	p.refunded += amount
	return s.refundReply(p, rf)
}

// findRefundLocked finds an earlier refund with this out_refund_no: the
// same one again (same payment and amount) or a conflict.
func (s *Sim) findRefundLocked(no string, p *payment, amount int64) (*refund, *refusal) {
	for _, q := range s.payments {
		for _, rf := range q.refunds {
			if rf.no != no {
				continue
			}
			if q != p || rf.amount != amount {
				return nil, refuse("The out refund no has already been taken.")
			}
			return rf, nil
		}
	}
	return nil, nil
}

func (s *Sim) refundReply(p *payment, rf *refund) reply {
	var storeID any = s.cfg.StoreID
	if digitsPattern.MatchString(s.cfg.StoreID) {
		storeID = json.Number(s.cfg.StoreID) // a number in the answer (line 146)
	}
	return success(kv{"service_id", rf.serviceID}, kv{"store_id", storeID}, kv{"refund_amount", amt(rf.amount)},
		kv{"currency", s.cur.Code}, kv{"out_trade_no", p.no}, kv{"out_refund_no", rf.no},
		kv{"transaction_id", p.txn}, kv{"result_code", "SUCCESS"})
}

// paymentLocked finds the payment named by out_trade_no.
func (s *Sim) paymentLocked(b body, now time.Time) (*payment, *refusal) {
	no, e := b.required("out_trade_no")
	if e != nil {
		return nil, e
	}
	p, ok := s.payments[no]
	if !ok {
		return nil, refuse("%s", s.mode.NotFoundMessage)
	}
	s.settleLocked(p, now)
	return p, nil
}

// paymentStatusLocked is CHECK PAYMENT STATUS (lines 156-183). The answer
// repeats out_trade_no as the sample does (unless Mode.SingleKeys) and
// names the payment's latest refund, if any (line 179).
func (s *Sim) paymentStatusLocked(_ *http.Request, b body, now time.Time) reply {
	if e := s.checkStore(b); e != nil {
		return e.reply()
	}
	p, e := s.paymentLocked(b, now)
	if e != nil {
		return e.reply()
	}
	data := []kv{{"is_success", p.state == statePaid}, {"service_id", p.serviceID}, {"out_trade_no", p.no},
		{"amount", amt(p.amount)}, {"out_trade_no", p.no}}
	if n := len(p.refunds); n > 0 && !s.mode.Sparse {
		data = append(data, kv{"out_refund_no", p.refunds[n-1].no})
	}
	data = append(data, kv{"currency", s.cur.Code}, kv{"message", s.statusMessage(p, now)})
	return success(data...)
}

// refundStatusLocked is CHECK REFUND STATUS (lines 185-212): the request
// names only the payment, so the answer is about its latest refund.
func (s *Sim) refundStatusLocked(_ *http.Request, b body, now time.Time) reply {
	if e := s.checkStore(b); e != nil {
		return e.reply()
	}
	p, e := s.paymentLocked(b, now)
	if e != nil {
		return e.reply()
	}
	if len(p.refunds) == 0 {
		return refuse(msgRefundNone).reply()
	}
	rf := p.refunds[len(p.refunds)-1]
	return success(kv{"is_success", true}, kv{"service_id", rf.serviceID}, kv{"out_trade_no", p.no},
		kv{"amount", amt(rf.amount)}, kv{"out_trade_no", p.no}, kv{"out_refund_no", rf.no},
		kv{"currency", s.cur.Code}, kv{"message", msgRefunded})
}

// maskCode keeps the last 4 digits of a customer code.
func maskCode(code string) string {
	if len(code) <= 4 {
		return strings.Repeat("*", len(code))
	}
	return strings.Repeat("*", len(code)-4) + code[len(code)-4:]
}

// PaymentView is a payment as the admin API shows it.
type PaymentView struct {
	OutTradeNo    string       `json:"out_trade_no"`
	Kind          string       `json:"kind"` // native, quick_pay, jsapi
	ServiceID     int64        `json:"service_id"`
	Amount        string       `json:"amount"`
	Currency      string       `json:"currency"`
	State         string       `json:"state"` // pending, paid, failed
	Message       string       `json:"message"`
	QRCode        string       `json:"qr_code,omitempty"`
	QRExpiresAt   *time.Time   `json:"qr_expires_at,omitempty"`
	CreatedAt     time.Time    `json:"created_at"`
	PaidAt        *time.Time   `json:"paid_at,omitempty"`
	TransactionID string       `json:"transaction_id,omitempty"`
	FeeRate       *int64       `json:"fee_rate,omitempty"`
	SubStoreID    *int64       `json:"sub_store_id,omitempty"`
	SubStoreName  string       `json:"sub_store_name,omitempty"`
	CustomerCode  string       `json:"customer_code,omitempty"` // masked
	Refunded      string       `json:"refunded"`
	Refunds       []RefundView `json:"refunds"`
}

// RefundView is one refund of a payment.
type RefundView struct {
	OutRefundNo string    `json:"out_refund_no"`
	Amount      string    `json:"amount"`
	Reason      string    `json:"reason,omitempty"`
	At          time.Time `json:"at"`
}

func (s *Sim) viewLocked(p *payment) PaymentView {
	v := PaymentView{
		OutTradeNo: p.no, Kind: string(p.kind), ServiceID: p.serviceID, Amount: money.Format(p.amount, s.cur),
		Currency: s.cur.Code, State: string(p.state), Message: s.statusMessage(p, s.clock.Now()), QRCode: p.qr,
		CreatedAt: p.created, TransactionID: p.txn, FeeRate: p.feeRate, SubStoreID: p.subStoreID,
		SubStoreName: p.subStoreName, CustomerCode: p.customerCode, Refunded: money.Format(p.refunded, s.cur),
		Refunds: []RefundView{},
	}
	if !p.qrExpires.IsZero() {
		t := p.qrExpires
		v.QRExpiresAt = &t
	}
	if !p.paidAt.IsZero() {
		t := p.paidAt
		v.PaidAt = &t
	}
	for _, rf := range p.refunds {
		v.Refunds = append(v.Refunds, RefundView{OutRefundNo: rf.no, Amount: money.Format(rf.amount, s.cur), Reason: rf.reason, At: rf.at})
	}
	return v
}
