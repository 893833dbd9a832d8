package codepaysim

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/internal/simkit"
	"github.com/posbridge/posbridge/money"
)

// CodePay Hosted Checkout (pay.checkout, spec:130-181): the order is kept
// in the cloud, no terminal takes part, and the customer pays on the page
// pay_url opens. The emulator serves a stand-in for that page and lets
// tests (or the admin API) act as the customer.

// checkoutPagePath prefixes the stand-in checkout page of pay_url.
const checkoutPagePath = "/checkout/"

// checkoutScenario is the pay_scenario of hosted-checkout orders: the
// dictionary's web payment (reference/codepay.md §7.3).
const checkoutScenario codepay.PayScenario = "WEB_PAY"

// checkoutCardMethod is the pay_method_id of a paid hosted checkout.
const checkoutCardMethod = "Visa"

// hostedPage is what a pay.checkout order adds.
type hostedPage struct {
	token  string
	url    string
	leftAt time.Time // when the customer abandoned the page
}

// CustomerAction is what the customer does on a hosted checkout page:
//
//	pay      the payment succeeds: trans_status 2
//	decline  the card is declined: trans_status 1, error code "05" unless given
//	abandon  the customer leaves; the order stays in 9, payable, until it expires
//	expire   the order's expires is reached now: 1 with ORDER_EXPIRED, as by itself
type CustomerAction string

// The actions of Sim.Customer and POST /sim/checkout/{no}.
const (
	CustomerPays, CustomerDeclined    CustomerAction = "pay", "decline"
	CustomerAbandons, CustomerTooLate CustomerAction = "abandon", "expire"
)

// Errors of Customer.
var (
	ErrNotCheckout   = errors.New("not a hosted checkout order")
	ErrCheckoutFinal = errors.New("hosted checkout order is already final")
)

// Customer applies a customer's action to the hosted-checkout order no.
// errCode and errMsg describe a decline. Final orders refuse every action.
func (s *Sim) Customer(no string, a CustomerAction, errCode, errMsg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.advanceLocked(now)
	o, ok := s.orders[no]
	if !ok || o.page == nil {
		return fmt.Errorf("checkout %s: %w", no, ErrNotCheckout)
	}
	if o.final() {
		return fmt.Errorf("checkout %s: %w (trans_status %d)", no, ErrCheckoutFinal, o.status)
	}
	switch a {
	case CustomerPays:
		o.payMethod = checkoutCardMethod
		s.finishLocked(o, Outcome{Status: codepay.StatusCompleted}, now, true)
	case CustomerDeclined:
		if errCode == "" {
			errCode, errMsg = "05", "Do not honor"
		}
		o.payMethod = checkoutCardMethod
		s.finishLocked(o, Outcome{Status: codepay.StatusFailed, ErrorCode: errCode, ErrorMsg: errMsg}, now, true)
	case CustomerAbandons:
		o.page.leftAt = now
		s.log.Info("codepaysim: customer left the checkout page", "merchant_order_no", no)
	case CustomerTooLate:
		o.expiresAt = now
		s.advanceLocked(now)
	default:
		return fmt.Errorf("checkout %s: unknown action %q", no, a)
	}
	return nil
}

// checkoutLocked is pay.checkout: it keeps the order (trans_status 9) and
// answers data {"pay_url"} (spec:171-180, PayCheckoutResponse.java).
func (s *Sim) checkoutLocked(r *http.Request, p codepay.Params, now time.Time) (map[string]any, *apiError) {
	cur, e := parseCurrency(p)
	if e != nil {
		return nil, e
	}
	amount, _, e := parseAmount(p, "order_amount", cur)
	if e != nil {
		return nil, e
	}
	if amount <= 0 {
		return nil, refuse(CodeInvalidParameter, "invalid parameter: order_amount must be greater than zero")
	}
	secs, _ := parseInt(p, "expires")
	if secs < 1 || secs > maxExpires {
		return nil, refuse(CodeInvalidParameter, "invalid parameter: expires must be 1-%d seconds (at most 7 days)", maxExpires)
	}
	no := p["merchant_order_no"]
	if _, dup := s.orders[no]; dup {
		return nil, refuse(CodeDuplicateOrder, "duplicate merchant_order_no: %s already exists", no)
	}
	token := rand.Text()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	o := &order{
		no: no, source: sourceCheckout, typ: codepay.TransSale, status: codepay.StatusCreated,
		cur: cur, amount: amount, scenario: checkoutScenario, attach: p["attach"], notifyURL: p["notify_url"],
		createdAt: now, expiresAt: now.Add(time.Duration(secs) * time.Second),
		page: &hostedPage{token: token, url: scheme + "://" + r.Host + checkoutPagePath + token},
	}
	o.transNo, o.messageID = s.newIDsLocked(now)
	s.addOrderLocked(o)
	return map[string]any{"pay_url": o.page.url}, nil
}

// checkoutPage is GET /checkout/{token}: the stand-in checkout page. It
// shows the order (as order.query data, unsigned JSON); paying happens
// through Customer (POST /sim/checkout/{no}).
func (s *Sim) checkoutPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.advanceLocked(s.clock.Now())
	var found *order
	for _, o := range s.orderList {
		if o.page != nil && o.page.token == r.PathValue("token") {
			found = o
			break
		}
	}
	var d map[string]any
	if found != nil {
		d = s.queryData(found)
		d["description"] = "CodePay hosted checkout (emulated)"
		d["order_amount_display"] = money.Format(found.amount, found.cur) + " " + found.cur.Code
	}
	s.mu.Unlock()
	if d == nil {
		adminError(w, http.StatusNotFound, "checkout page not found")
		return
	}
	writeAdminJSON(w, http.StatusOK, d)
}

// POST /sim/checkout/{no} {"action","error_code","error_msg"}
func (s *Sim) adminCheckout(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Action    CustomerAction `json:"action"`
		ErrorCode string         `json:"error_code"`
		ErrorMsg  string         `json:"error_msg"`
	}
	if err := simkit.DecodeAdmin(r, &body); err != nil {
		adminError(w, http.StatusBadRequest, "bad body: "+err.Error())
		return
	}
	no := r.PathValue("no")
	err := s.Customer(no, body.Action, body.ErrorCode, body.ErrorMsg)
	switch {
	case errors.Is(err, ErrNotCheckout):
		adminError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrCheckoutFinal):
		adminError(w, http.StatusConflict, err.Error())
	case err != nil:
		adminError(w, http.StatusBadRequest, "action must be pay, decline, abandon or expire")
	default:
		v, _ := s.Order(no)
		writeAdminJSON(w, http.StatusOK, v)
	}
}
