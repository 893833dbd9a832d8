package agent

// Refunds and cancels through CodePay's cloud, without the terminal
// (order.refund.submit + order.refund.query, order.revoker), for orders the
// cloud can reverse without the card: QR and wallet payments. Card-present
// payments keep going through the terminal (a refund is trans_type 3 there).
//
// The outcome rule of docs/reliability.md holds unchanged: the intent is in
// the journal before a call; an unknown outcome is reconciled by querying;
// only a signed answer about the order ends it; the same refund is sent again
// only after a signed "not found", with the same merchant_order_no.
//
// A cloud refund is an ordinary refund payment, marked {"via":"cloud"} in its
// stored options. It is parked (NextCheckAt set) for as long as it is open,
// so no terminal worker ever takes it: the background reconciler drives it,
// from the first submit to the final state, and picks it up again after a
// restart.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// Ways a refund is sent (payment.refund's via).
const (
	ViaCloud    = "cloud"    // order.refund.submit: no card, no terminal
	ViaTerminal = "terminal" // a refund order (trans_type 3) on the terminal
)

const (
	// defaultCloudRefundDescription is order.refund.submit's required
	// description (the refund's reason) when the caller gives none.
	defaultCloudRefundDescription = "refund"
	// maxCloudRefundDescription is CodePay's limit for that description.
	maxCloudRefundDescription = 64
)

var (
	// ErrCodePayNoAnswer means CodePay did not answer a check that must come
	// before the request (how the original was paid); nothing was sent.
	ErrCodePayNoAnswer = errors.New("CodePay did not answer")
	// ErrTipUnknown means a tip adjustment's answer was lost: it may or may
	// not have been made, and sending the same adjustment again is safe (it
	// sets the tip, it does not add to it).
	ErrTipUnknown = errors.New("tip adjustment outcome unknown")
	// ErrCancelUnconfirmed means an order.revoker was sent but its answer was
	// lost: posbridge confirms by query and publishes the payment once
	// CodePay shows it cancelled.
	ErrCancelUnconfirmed = errors.New("cancel sent to CodePay; its outcome is being confirmed")
)

// CloudOrders is the part of the CodePay client that refunds and cancels
// orders in the cloud. The agent uses it when Config.CodePay implements it
// (*codepay.Client does).
type CloudOrders interface {
	SubmitRefund(ctx context.Context, r codepay.RefundRequest) (*codepay.RefundResponse, error)
	QueryRefund(ctx context.Context, merchantOrderNo, transNo string) (*codepay.Order, error)
	RevokeOrder(ctx context.Context, merchantOrderNo string) (*codepay.RevokeResponse, error)
}

var _ CloudOrders = (*codepay.Client)(nil)

// RefundRequest is payment.refund: a refund of an earlier payment, through
// CodePay's cloud or on a terminal. Amounts are decimal strings.
type RefundRequest struct {
	MerchantOrderNo     string // the refund's own, new number: the idempotency key
	OrigMerchantOrderNo string
	Amount              string // "" = what is left to refund of the original
	Currency            string // "" = the original's
	Description         string
	Via                 string // "", ViaCloud or ViaTerminal
	// TerminalSN or Lane picks the terminal of a refund via terminal
	// (default: the original's terminal).
	TerminalSN, Lane string
	Source           string
}

// cloudMarker is what a cloud refund's stored options hold.
type cloudMarker struct {
	Via string `json:"via"`
}

var cloudMarkerJSON = func() string {
	b, _ := json.Marshal(cloudMarker{Via: ViaCloud})
	return string(b)
}()

// isCloudRefund reports whether a payment is a refund sent through CodePay's
// cloud (order.refund.submit) rather than a terminal.
func isCloudRefund(p *store.Payment) bool {
	if p.Type != TypeRefund || p.OptionsJSON == "" {
		return false
	}
	var m cloudMarker
	return json.Unmarshal([]byte(p.OptionsJSON), &m) == nil && m.Via == ViaCloud
}

// cloudOrders returns the client's cloud refund and cancel calls.
func (a *Agent) cloudOrders() (CloudOrders, bool) {
	c, ok := a.cfg.CodePay.(CloudOrders)
	return c, ok
}

// Refund accepts payment.refund. Via the terminal it is payment.create with
// type refund (same checks, same queue). Via the cloud it journals the refund
// (state sending) and returns; the background reconciler sends it and
// follows it to a final state, published like any payment.
func (a *Agent) Refund(ctx context.Context, r RefundRequest) (Payment, error) {
	if err := checkRefundRequest(r); err != nil {
		return Payment{}, err
	}
	if a.isStopping() {
		return Payment{}, ErrStopping
	}
	if existing, err := a.db.GetPayment(ctx, r.MerchantOrderNo); err == nil {
		return a.sameRefund(existing, r)
	} else if !errors.Is(err, store.ErrNotFound) {
		return Payment{}, fmt.Errorf("refund: %w", err)
	}
	orig, err := a.db.GetPayment(ctx, r.OrigMerchantOrderNo)
	if errors.Is(err, store.ErrNotFound) {
		if r.Via == ViaCloud {
			return Payment{}, fieldErr("orig_merchant_order_no", "%s is not a payment of this agent: posbridge refunds through CodePay's cloud only the payments it took; refund it on the terminal (via \"terminal\" with terminal_sn) or in the CodePay back office", r.OrigMerchantOrderNo)
		}
		return a.refundOnTerminal(ctx, r, nil)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("refund: %w", err)
	}
	if p, done, err := a.refundDirect(ctx, r, orig); done {
		return p, err
	}
	if orig.Route != RouteCodePay {
		if r.Via == ViaCloud {
			return Payment{}, fieldErr("via", "%s was paid through Bindo: CodePay's cloud cannot refund it; refund it with via \"terminal\" (a Bindo refund)", orig.MerchantOrderNo)
		}
		return a.refundOnTerminal(ctx, r, orig)
	}
	refundable := orig.State == StateApproved && (orig.Type == TypeSale || orig.Type == TypeCompletion)
	if r.Via == "" && (!refundable || localCard(orig)) {
		return a.refundOnTerminal(ctx, r, orig) // its checks say what is wrong, if anything
	}
	if !refundable {
		return Payment{}, fieldErr("orig_merchant_order_no", "%s is a %s %s: only an approved sale or completion can be refunded", orig.MerchantOrderNo, orig.State, orig.Type)
	}
	card, how, err := a.paidByCard(ctx, orig)
	if err != nil {
		return Payment{}, err
	}
	if card {
		if r.Via == ViaCloud {
			return Payment{}, fieldErr("via", "%s was paid by card on terminal %s (%s): CodePay's cloud cannot refund a card-present payment without the card; refund it on the terminal with via \"terminal\"", orig.MerchantOrderNo, orig.TerminalSN, how)
		}
		return a.refundOnTerminal(ctx, r, orig)
	}
	return a.refundInCloud(ctx, r, orig, how)
}

// refundDirect takes the refunds whose way is fixed: of a qr or va payment
// (provider.go), and those asked via the terminal. done is false for the
// rest.
func (a *Agent) refundDirect(ctx context.Context, r RefundRequest, orig *store.Payment) (_ Payment, done bool, _ error) {
	switch {
	case orig.Route == RouteCodePayLink:
		p, err := a.refundLink(ctx, r, orig)
		return p, true, err
	case isProviderRoute(orig.Route):
		p, err := a.refundProvider(ctx, r, orig)
		return p, true, err
	case r.Via == ViaTerminal:
		p, err := a.refundOnTerminal(ctx, r, orig)
		return p, true, err
	}
	return Payment{}, false, nil
}

// refundLink refunds a payment paid by link through CodePay hosted
// checkout: the order is CodePay's like any other, so it is refunded
// through the cloud with order.refund.submit ("If there's a need to issue a
// refund after a payment has been completed, you can request it through
// this API", spec:730-733) — there is no terminal to take it.
func (a *Agent) refundLink(ctx context.Context, r RefundRequest, orig *store.Payment) (Payment, error) {
	switch {
	case r.Via == ViaTerminal:
		return Payment{}, fieldErr("via", "%s was paid by link (CodePay hosted checkout): no terminal took it, so it is refunded through CodePay's cloud; leave via empty or use \"cloud\"", orig.MerchantOrderNo)
	case orig.Type != TypeSale || orig.State != StateApproved:
		return Payment{}, fieldErr("orig_merchant_order_no", "%s is a %s %s: only an approved link sale can be refunded", orig.MerchantOrderNo, orig.State, orig.Type)
	}
	return a.refundInCloud(ctx, r, orig, "paid by link (CodePay hosted checkout)")
}

// checkRefundRequest validates what needs no journal.
func checkRefundRequest(r RefundRequest) error {
	switch {
	case r.MerchantOrderNo == "":
		return fieldErr("merchant_order_no", "required: the refund's own new number")
	case r.OrigMerchantOrderNo == "":
		return fieldErr("orig_merchant_order_no", "required: the payment to refund")
	}
	if err := checkOrderNo("merchant_order_no", r.MerchantOrderNo); err != nil {
		return err
	}
	if err := checkOrderNo("orig_merchant_order_no", r.OrigMerchantOrderNo); err != nil {
		return err
	}
	if r.OrigMerchantOrderNo == r.MerchantOrderNo {
		return fieldErr("merchant_order_no", "must be the refund's own new number, not the original's")
	}
	switch r.Via {
	case "", ViaCloud, ViaTerminal:
	default:
		return fieldErr("via", "want cloud or terminal, got %q", r.Via)
	}
	if r.Via == ViaCloud && (r.TerminalSN != "" || r.Lane != "") {
		return fieldErr("terminal_sn", "a refund via cloud involves no terminal; terminal_sn and lane are for via \"terminal\"")
	}
	if err := config.CheckText(r.Description); err != nil {
		return fieldErr("description", "%v", err)
	}
	return validateSource(r.Source)
}

// sameRefund answers payment.refund for a number that exists: the same
// request again returns the refund as it stands; anything else is a reuse.
func (a *Agent) sameRefund(p *store.Payment, r RefundRequest) (Payment, error) {
	cloud := isCloudRefund(p)
	same := p.Type == TypeRefund && p.OrigMerchantOrderNo == r.OrigMerchantOrderNo &&
		(r.Via != ViaCloud || cloud) && (r.Via != ViaTerminal || !cloud) &&
		(r.Currency == "" || r.Currency == p.Currency) &&
		(r.Description == "" || r.Description == p.Description) &&
		(r.TerminalSN == "" || r.TerminalSN == p.TerminalSN)
	if same && r.Amount != "" {
		cur, err := money.LookupCurrency(p.Currency)
		v, perr := money.Parse(r.Amount, cur)
		same = err == nil && perr == nil && v == p.AmountMinor
	}
	if !same {
		return Payment{}, fmt.Errorf("%w: %s", ErrOrderNoReused, r.MerchantOrderNo)
	}
	return a.view(p), nil
}

// refundOnTerminal is payment.create with type refund, on the original's
// terminal unless the request names one.
func (a *Agent) refundOnTerminal(ctx context.Context, r RefundRequest, orig *store.Payment) (Payment, error) {
	cr := CreateRequest{
		MerchantOrderNo: r.MerchantOrderNo, Type: TypeRefund, TerminalSN: r.TerminalSN, Lane: r.Lane,
		Amount: r.Amount, Currency: r.Currency, OrigMerchantOrderNo: r.OrigMerchantOrderNo,
		Description: r.Description, Source: r.Source,
	}
	if cr.TerminalSN == "" && cr.Lane == "" {
		if orig == nil {
			return Payment{}, fieldErr("terminal_sn", "required: %s is not a payment of this agent, so name the terminal (terminal_sn or lane) that takes the refund", r.OrigMerchantOrderNo)
		}
		cr.TerminalSN = orig.TerminalSN
	}
	if cr.Currency == "" {
		if orig != nil {
			cr.Currency = orig.Currency
		} else if t, err := a.reg.Lookup(cr.TerminalSN); err == nil {
			cr.Currency = t.Currency.Code
		} else if t, err := a.reg.ByLane(cr.Lane); err == nil {
			cr.Currency = t.Currency.Code
		}
	}
	if orig != nil && orig.Route == RouteCodePay && orig.State == StateApproved && orig.Currency == cr.Currency {
		cur, err := money.LookupCurrency(orig.Currency)
		if err != nil {
			return Payment{}, fmt.Errorf("refund: %w", err)
		}
		left, reserved, err := a.refundable(ctx, orig)
		if err != nil {
			return Payment{}, err
		}
		if cr.Amount == "" {
			if left <= 0 {
				return Payment{}, nothingLeft(orig, reserved, cur)
			}
			cr.Amount = money.Format(left, cur)
		} else if v, err := money.Parse(cr.Amount, cur); err == nil && v > left {
			return Payment{}, exceeds(orig, v, left, reserved, cur)
		}
	}
	if cr.Amount == "" {
		return Payment{}, fieldErr("amount", "required: %s is not an approved CodePay payment of this agent, so there is no amount to default to", r.OrigMerchantOrderNo)
	}
	return a.Create(ctx, cr)
}

// refundAmountLocked is the amount of a refund of orig: the requested one
// (a positive amount in cur, not above what is left) or, when none is
// given, all that is left. The caller holds refundMu until the refund is
// journaled, so two refunds cannot both take what is left.
func (a *Agent) refundAmountLocked(ctx context.Context, requested string, orig *store.Payment, cur money.Currency) (int64, error) {
	var amount int64
	if requested != "" {
		var err error
		if amount, err = parseAmountField("amount", requested, cur, true); err != nil {
			return 0, err
		}
		if amount <= 0 {
			return 0, fieldErr("amount", "must be greater than zero")
		}
	}
	left, reserved, err := a.refundable(ctx, orig)
	if err != nil {
		return 0, err
	}
	switch {
	case requested == "" && left <= 0:
		return 0, nothingLeft(orig, reserved, cur)
	case requested == "":
		return left, nil
	case amount > left:
		return 0, exceeds(orig, amount, left, reserved, cur)
	}
	return amount, nil
}

// refundable returns what is left to refund of orig (its amount and tip
// minus every refund of it that is approved or may still be), and the sum
// of those refunds.
func (a *Agent) refundable(ctx context.Context, orig *store.Payment) (left, reserved int64, err error) {
	refunds, err := a.db.RefundsOf(ctx, orig.MerchantOrderNo)
	if err != nil {
		return 0, 0, fmt.Errorf("refund: %w", err)
	}
	for _, rf := range refunds {
		if rf.State == StateApproved || !IsFinal(rf.State) {
			reserved += rf.AmountMinor
		}
	}
	return orig.AmountMinor + orig.TipMinor - reserved, reserved, nil
}

func nothingLeft(orig *store.Payment, reserved int64, cur money.Currency) error {
	return fieldErr("amount", "nothing is left to refund of %s: %s paid, %s refunded or being refunded",
		orig.MerchantOrderNo, money.Format(orig.AmountMinor+orig.TipMinor, cur), money.Format(reserved, cur))
}

func exceeds(orig *store.Payment, amount, left, reserved int64, cur money.Currency) error {
	return fieldErr("amount", "a refund of %s exceeds what is left to refund of %s: %s (%s paid, %s refunded or being refunded)",
		money.Format(amount, cur), orig.MerchantOrderNo, money.Format(left, cur),
		money.Format(orig.AmountMinor+orig.TipMinor, cur), money.Format(reserved, cur))
}

// localCard reports whether the journal already shows that a payment was
// made with a card (a masked PAN or an entry mode).
func localCard(p *store.Payment) bool { return p.MaskedPAN != "" || p.EntryMode != "" }

// paidByCard asks CodePay (order.query, a signed answer) how orig was paid.
func (a *Agent) paidByCard(ctx context.Context, orig *store.Payment) (card bool, how string, err error) {
	if localCard(orig) {
		return true, strings.TrimSpace(orig.CardBrand + " " + orig.EntryMode), nil
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	o, err := a.cp.QueryOrder(callCtx, orig.MerchantOrderNo, "")
	cancel()
	switch {
	case codepay.IsOrderNotFound(err):
		return false, "", fieldErr("orig_merchant_order_no", "CodePay has no order %s (%v)", orig.MerchantOrderNo, err)
	case err != nil:
		return false, "", fmt.Errorf("%w: asking CodePay how %s was paid: %v; nothing was sent, try again", ErrCodePayNoAnswer, orig.MerchantOrderNo, err)
	case o.TransStatus != codepay.StatusCompleted:
		return false, "", fieldErr("orig_merchant_order_no", "CodePay shows %s at trans_status %d, not completed: there is nothing to refund", orig.MerchantOrderNo, int(o.TransStatus))
	}
	card, how = classifyPayment(o)
	return card, how, nil
}

// classifyPayment tells a card-present order from one the cloud can reverse
// without the card, by pay_scenario (spec: SWIPE_CARD is the offline bank
// card; the QR and online scenarios are not), else by the pay method. What
// cannot be told counts as card: the terminal can refund anything.
func classifyPayment(o *codepay.Order) (card bool, how string) {
	how = "pay_scenario " + o.PayScenario
	if o.PayScenario == "" {
		how = "no pay_scenario"
	}
	if o.PayMethodID != "" {
		how += ", pay_method_id " + o.PayMethodID
	}
	switch strings.ToUpper(o.PayScenario) {
	case string(codepay.ScenarioBScanQR), string(codepay.ScenarioScanQR), "WAP_PAY", "WEB_PAY":
		return false, how
	case "":
		if o.CardNo != "" || o.EntryMode != "" {
			return true, how
		}
		switch strings.ToLower(o.PayMethodID) {
		case "alipay+", "alipay", "wechatpay", "paypal", "venmo":
			return false, how
		}
	}
	return true, how
}

// refundInCloud journals a cloud refund of orig (state sending, parked so no
// terminal takes it) and hands it to the reconciler, which sends it.
func (a *Agent) refundInCloud(ctx context.Context, r RefundRequest, orig *store.Payment, how string) (Payment, error) {
	if _, ok := a.cloudOrders(); !ok {
		return Payment{}, fieldErr("via", "this agent's CodePay client cannot refund through the cloud; refund it on the terminal with via \"terminal\"")
	}
	cur, err := money.LookupCurrency(orig.Currency)
	if err != nil {
		return Payment{}, fmt.Errorf("refund: %w", err)
	}
	if r.Currency != "" && r.Currency != orig.Currency {
		return Payment{}, fieldErr("currency", "%s was paid in %s; a refund is in the original's currency, not %s", orig.MerchantOrderNo, orig.Currency, r.Currency)
	}
	desc := r.Description
	if desc == "" {
		desc = defaultCloudRefundDescription
	}
	if n := utf8.RuneCountInString(desc); n > maxCloudRefundDescription {
		return Payment{}, fieldErr("description", "at most %d characters for a refund through CodePay's cloud, got %d", maxCloudRefundDescription, n)
	}
	// One refund check-and-journal at a time, so two refunds sent together
	// cannot both take what is left (CodePay also refuses a total above the
	// original).
	a.refundMu.Lock()
	defer a.refundMu.Unlock()
	amount, err := a.refundAmountLocked(ctx, r.Amount, orig, cur)
	if err != nil {
		return Payment{}, err
	}
	now := a.clock.Now()
	n := &normalized{orderNo: r.MerchantOrderNo, typ: TypeRefund, terminalSN: ViaCloud, currency: cur, amount: amount, orig: orig.MerchantOrderNo, description: desc}
	row := &store.Payment{
		MerchantOrderNo:     r.MerchantOrderNo,
		Type:                TypeRefund,
		State:               StateSending,
		Source:              r.Source,
		TerminalSN:          orig.TerminalSN,
		Currency:            cur.Code,
		AmountMinor:         amount,
		OrigMerchantOrderNo: orig.MerchantOrderNo,
		Description:         desc,
		Route:               RouteCodePay,
		RequestHash:         n.hash(),
		OptionsJSON:         cloudMarkerJSON,
		ExpiresAt:           now.Add(a.cfg.OrderExpires),
		NextCheckAt:         now, // parked from the start: never the terminal's work
		CreatedAt:           now,
		UpdatedAt:           now,
	}
	saved, err := a.db.InsertPaymentThen(ctx, row, store.Event{Kind: "created", ToState: StateSending,
		Detail: fmt.Sprintf("accepted from %s: a refund of %s (%s) through CodePay's cloud (order.refund.submit), no terminal involved", r.Source, orig.MerchantOrderNo, how),
		At:     now}, a.publishPayment)
	if errors.Is(err, store.ErrDuplicate) && saved != nil {
		return a.sameRefund(saved, r)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("refund: %w", err)
	}
	a.log.Info("cloud refund accepted", "merchant_order_no", saved.MerchantOrderNo, "orig_merchant_order_no", orig.MerchantOrderNo, "source", r.Source)
	a.wakeReconciler()
	return a.view(saved), nil
}

// reconcileCloudRefund takes one step (or a few that follow at once) of a
// cloud refund due in the background reconciler.
func (a *Agent) reconcileCloudRefund(ctx context.Context, p *store.Payment, lastErr map[string]string) {
	cl, ok := a.cloudOrders()
	if !ok {
		a.log.Error("cloud refund in the journal but the CodePay client cannot refund through the cloud", "merchant_order_no", p.MerchantOrderNo)
		_ = a.db.Reschedule(ctx, p.MerchantOrderNo, a.clock.Now().Add(maxParkedInterval), p.Attempts)
		return
	}
	for range 3 {
		again, err := a.cloudRefundStep(ctx, cl, p, lastErr)
		if err != nil && !errors.Is(err, store.ErrStateChanged) {
			// The journal refused a write: look again shortly, and send
			// nothing whose intent is not written.
			_ = a.db.Reschedule(ctx, p.MerchantOrderNo, a.clock.Now().Add(journalRetry), p.Attempts)
			return
		}
		if !again || ctx.Err() != nil {
			return
		}
		np, err := a.db.GetPayment(ctx, p.MerchantOrderNo)
		if err != nil || IsFinal(np.State) {
			return
		}
		p = np
	}
}

// cloudRefundStep sends, re-sends or queries a cloud refund once. again is
// true when the next step is due at once.
func (a *Agent) cloudRefundStep(ctx context.Context, cl CloudOrders, p *store.Payment, lastErr map[string]string) (again bool, err error) {
	switch {
	case p.State == StateSending && !p.CreateSent:
		return false, a.submitCloudRefund(ctx, cl, p)
	case p.State == StateSending:
		// The intent was journaled but not the answer: a restart or a
		// journal failure during the call. Only a query can tell.
		now := a.clock.Now()
		_, err := a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State = StateUnknown
			p.CreateEndedAt = now
			p.NextCheckAt = now
			return nil
		}, "an order.refund.submit may have left before its answer was journaled (restart or journal failure); reconciling by order.refund.query")
		return err == nil, err
	default:
		return a.queryCloudRefund(ctx, cl, p, lastErr)
	}
}

// submitCloudRefund journals "submit may have left", then sends
// order.refund.submit and applies what comes back.
func (a *Agent) submitCloudRefund(ctx context.Context, cl CloudOrders, p *store.Payment) error {
	now := a.clock.Now()
	if p.Attempts > 0 && now.Sub(p.CreatedAt) >= a.cfg.QueueTimeout {
		_, err := a.fail(ctx, p, []string{StateSending}, CodeCodePayUnavailable,
			fmt.Sprintf("CodePay could not be reached for %s; nothing was refunded", a.cfg.QueueTimeout))
		return err
	}
	detail := "sending order.refund.submit"
	if p.Resends > 0 {
		detail = fmt.Sprintf("sending the same order.refund.submit again, same merchant_order_no (re-send %d of at most %d)", p.Resends, a.cfg.MaxResends)
	}
	p, err := a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
		p.CreateSent = true
		p.NextCheckAt = now.Add(2 * callTimeout) // a restart finds it after the call could have ended
		return nil
	}, detail)
	if err != nil {
		return err
	}
	cur, err := money.LookupCurrency(p.Currency)
	if err != nil {
		_, err = a.fail(ctx, p, []string{StateSending}, "invalid_request", err.Error())
		return err
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	resp, err := cl.SubmitRefund(callCtx, codepay.RefundRequest{
		MerchantOrderNo: p.MerchantOrderNo, OrigMerchantOrderNo: p.OrigMerchantOrderNo,
		Amount: money.Amount{Minor: p.AmountMinor, Currency: cur}, Description: p.Description, NotifyURL: a.cfg.NotifyURL,
	})
	a.reach.record(callCtx, err)
	cancel()
	ended := a.clock.Now()
	var ge *codepay.GatewayError
	switch {
	case err == nil:
		detail := "CodePay accepted the refund, trans_no " + resp.TransNo + "; following it with order.refund.query"
		if resp.TransAmount != nil && *resp.TransAmount != p.AmountMinor {
			detail += fmt.Sprintf(" (CodePay answered trans_amount %s for a refund of %s)", money.Format(*resp.TransAmount, cur), money.Format(p.AmountMinor, cur))
		}
		_, err = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State = StateOnTerminal
			p.TransNo = resp.TransNo
			p.TransStatus = strconv.Itoa(int(codepay.StatusProcessing))
			p.CreateEndedAt = ended
			p.Attempts = 0
			p.NextCheckAt = ended.Add(a.cfg.PollInterval)
			return nil
		}, detail)
		return err
	case errors.Is(err, codepay.ErrNotSent):
		a.event(ctx, p.MerchantOrderNo, "error", "CodePay unreachable, order.refund.submit not sent: "+err.Error())
		_, err = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.CreateSent = false
			p.Attempts++
			p.NextCheckAt = ended.Add(backoff(a.cfg.PollInterval, p.Attempts))
			return nil
		}, "will retry: nothing was sent")
		return err
	case errors.Is(err, codepay.ErrInvalidRequest):
		_, err = a.fail(ctx, p, []string{StateSending}, "invalid_request", err.Error())
		return err
	case errors.As(err, &ge):
		return a.refusedCloudRefund(ctx, cl, p, ge, ended)
	default:
		_, err = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State = StateUnknown
			p.CreateEndedAt = ended
			p.NextCheckAt = ended.Add(a.cfg.PollInterval)
			return nil
		}, "outcome of order.refund.submit unknown ("+err.Error()+"); reconciling by order.refund.query")
		return err
	}
}

// refusedCloudRefund confirms a signed refusal of the submit by one query,
// as a refused create is: an earlier submit may have arrived after all.
func (a *Agent) refusedCloudRefund(ctx context.Context, cl CloudOrders, p *store.Payment, ge *codepay.GatewayError, ended time.Time) error {
	a.event(ctx, p.MerchantOrderNo, "error", fmt.Sprintf("CodePay refused the refund: %s (code %s); confirming by order.refund.query", ge.Msg, ge.Code))
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	o, err := cl.QueryRefund(callCtx, p.MerchantOrderNo, "")
	a.reach.record(callCtx, err)
	cancel()
	switch {
	case err == nil:
		return a.applyCloudRefund(ctx, p, o)
	case codepay.IsOrderNotFound(err):
		_, err = a.fail(ctx, p, []string{StateSending}, "codepay_refused",
			fmt.Sprintf("CodePay refused the refund: %s (code %s); nothing was refunded", ge.Msg, ge.Code))
		return err
	default:
		_, err = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State = StateUnknown
			p.CreateEndedAt = ended
			p.NextCheckAt = a.clock.Now().Add(a.cfg.PollInterval)
			return nil
		}, fmt.Sprintf("refund refused (%s: %s) but the query got no answer (%v); reconciling by order.refund.query", ge.Code, ge.Msg, err))
		return err
	}
}

// queryCloudRefund asks order.refund.query once and applies the answer by
// the outcome rule.
func (a *Agent) queryCloudRefund(ctx context.Context, cl CloudOrders, p *store.Payment, lastErr map[string]string) (again bool, err error) {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	// With the refund's trans_no known (from the submit's signed answer),
	// ask by both: CodePay gives trans_no priority, and the answer is bound
	// by it (the spec's sample answers a refund query with another
	// merchant_order_no: docs/codepay-conformance.md P1).
	o, err := cl.QueryRefund(callCtx, p.MerchantOrderNo, p.TransNo)
	a.reach.record(callCtx, err)
	cancel()
	now := a.clock.Now()
	switch {
	case err == nil:
		delete(lastErr, p.MerchantOrderNo)
		return false, a.applyCloudRefund(ctx, p, o)
	case codepay.IsOrderNotFound(err) && p.State == StateUnknown:
		delete(lastErr, p.MerchantOrderNo)
		var ge *codepay.GatewayError
		errors.As(err, &ge)
		if settled := p.CreateEndedAt.Add(a.cfg.CreateSettle); now.Before(settled) {
			// The submit may still be on its way inside CodePay.
			return false, ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, settled, p.Attempts))
		}
		if p.Resends >= a.cfg.MaxResends {
			_, err := a.fail(ctx, p, []string{StateUnknown}, CodeCodePayUnavailable,
				fmt.Sprintf("CodePay has no record of this refund after %d re-sends (%s: %s); nothing was refunded", p.Resends, ge.Code, ge.Msg))
			return false, err
		}
		_, err := a.transition(ctx, p.MerchantOrderNo, []string{StateUnknown}, func(p *store.Payment) error {
			p.State = StateSending
			p.CreateSent = false // set again before the call
			p.Resends++
			p.NextCheckAt = now
			return nil
		}, fmt.Sprintf("CodePay has no record of this refund %s after order.refund.submit ended (%s: %s): sending the same refund again (re-send %d of at most %d)",
			now.Sub(p.CreateEndedAt).Round(time.Millisecond), ge.Code, ge.Msg, p.Resends+1, a.cfg.MaxResends))
		return err == nil, err
	}
	// No answer (or "not found" for a refund CodePay acknowledged).
	if msg := err.Error(); lastErr[p.MerchantOrderNo] != msg {
		lastErr[p.MerchantOrderNo] = msg
		a.event(ctx, p.MerchantOrderNo, "error", "order.refund.query got no answer: "+msg)
	}
	attempts := p.Attempts + 1
	return false, ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, now.Add(min(backoff(a.cfg.PollInterval, attempts)*2, maxParkedInterval)), attempts))
}

// applyCloudRefund maps a signed refund (order.refund.query) onto the
// payment; a final state never regresses.
func (a *Agent) applyCloudRefund(ctx context.Context, p *store.Payment, o *codepay.Order) error {
	// Bound to this refund by its number, or by its trans_no (an answer
	// asked by trans_no may show the original's number: the spec's sample).
	if o.MerchantOrderNo != "" && o.MerchantOrderNo != p.MerchantOrderNo && (p.TransNo == "" || o.TransNo != p.TransNo) {
		return fmt.Errorf("apply refund: answer is for %s, not %s", o.MerchantOrderNo, p.MerchantOrderNo)
	}
	status := strconv.Itoa(int(o.TransStatus))
	from := []string{StateSending, StateOnTerminal, StateUnknown}
	now := a.clock.Now()
	var err error
	switch o.TransStatus {
	case codepay.StatusCreated, codepay.StatusProcessing:
		attempts := p.Attempts + 1
		next := now.Add(backoff(a.cfg.PollInterval, attempts))
		if p.State == StateOnTerminal && p.TransStatus == status && (o.TransNo == "" || o.TransNo == p.TransNo) {
			return ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, next, attempts))
		}
		_, err = a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			p.State = StateOnTerminal
			p.TransStatus = status
			if o.TransNo != "" {
				p.TransNo = o.TransNo
			}
			p.Attempts = attempts
			p.NextCheckAt = next
			return nil
		}, "CodePay is processing the refund (trans_status "+status+")")
	case codepay.StatusCompleted:
		_, err = a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			p.State = StateApproved
			fillResult(p, o, status)
			return nil
		}, "refund approved by CodePay")
	case codepay.StatusFailed:
		_, err = a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			p.State = StateDeclined
			fillResult(p, o, status)
			p.ErrorCode, p.ErrorMessage = o.TransErrorCode, o.TransErrorMsg
			if p.ErrorCode == "" {
				p.ErrorCode = "declined"
			}
			if p.ErrorMessage == "" {
				p.ErrorMessage = "CodePay closed the refund without refunding"
			}
			return nil
		}, "CodePay closed the refund with trans_status 1")
	case codepay.StatusCancelled:
		_, err = a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			p.State = StateCancelled
			fillResult(p, o, status)
			p.ErrorCode, p.ErrorMessage = "cancelled", "the refund was cancelled at CodePay; nothing was refunded"
			return nil
		}, "refund cancelled at CodePay")
	default:
		a.event(ctx, p.MerchantOrderNo, "error", fmt.Sprintf("order.refund.query answered an unknown trans_status %d; asking again", int(o.TransStatus)))
		return ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, now.Add(backoff(a.cfg.PollInterval, p.Attempts+1)), p.Attempts+1))
	}
	return err
}

func ignoreChanged(err error) error {
	if errors.Is(err, store.ErrStateChanged) {
		return nil
	}
	return err
}

// --- payment.cancel through order.revoker -------------------------------

// revocable reports whether payment.cancel may try order.revoker on p: a
// CodePay payment (not a refund, void or cloud refund) that the terminal
// took or approved, not known locally to be a card payment.
func revocable(p *store.Payment) bool {
	switch p.Type {
	case TypeSale, TypeCompletion, TypeCashback, TypePreAuth:
	default:
		return false
	}
	return p.Route == RouteCodePay && !localCard(p)
}

func (a *Agent) claimRevoke(orderNo string) bool {
	a.revokeMu.Lock()
	defer a.revokeMu.Unlock()
	if a.revoking[orderNo] {
		return false
	}
	a.revoking[orderNo] = true
	return true
}

func (a *Agent) releaseRevoke(orderNo string) {
	a.revokeMu.Lock()
	defer a.revokeMu.Unlock()
	delete(a.revoking, orderNo)
}

func (a *Agent) revokeLive(orderNo string) bool {
	a.revokeMu.Lock()
	defer a.revokeMu.Unlock()
	return a.revoking[orderNo]
}

// cancelInCloud cancels a QR/wallet payment the terminal already took or
// approved with order.revoker (CodePay closes it, or refunds the customer if
// they paid). handled is false when the payment is not one for it (a card
// payment, say): payment.cancel then answers as before.
func (a *Agent) cancelInCloud(ctx context.Context, p *store.Payment) (_ Payment, handled bool, _ error) {
	cl, ok := a.cloudOrders()
	if !ok || !revocable(p) {
		return Payment{}, false, nil
	}
	no := p.MerchantOrderNo
	if err := a.checkRevocable(ctx, p); err != nil {
		return Payment{}, true, err
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	o, err := a.cp.QueryOrder(callCtx, no, "")
	cancel()
	if err != nil {
		return Payment{}, true, fmt.Errorf("%w: CodePay did not answer whether %s was paid by card or QR (%v); nothing was cancelled, try again", ErrNotCancellable, no, err)
	}
	card, how := classifyPayment(o)
	switch {
	case card:
		return Payment{}, false, nil
	case o.TransStatus == codepay.StatusCancelled:
		np, err := a.finishRevoked(ctx, no, o, "CodePay already shows the order cancelled")
		return np, true, err
	case o.TransStatus != codepay.StatusProcessing && o.TransStatus != codepay.StatusCompleted:
		return Payment{}, false, nil // waiting (9: close it) or closed (1): as before
	}
	if !a.claimRevoke(no) {
		return Payment{}, true, fmt.Errorf("%w: a cancel of %s is being sent to CodePay", ErrNotCancellable, no)
	}
	defer a.releaseRevoke(no)
	np, err := a.sendRevoke(ctx, cl, no, fmt.Sprintf("%s, trans_status %d", how, int(o.TransStatus)))
	return np, true, err
}

// checkRevocable refuses a cancel CodePay can no longer do: an approved
// payment whose batch closed, or one with refunds.
func (a *Agent) checkRevocable(ctx context.Context, p *store.Payment) error {
	if p.State != StateApproved {
		return nil
	}
	no := p.MerchantOrderNo
	if p.BatchID != 0 {
		if b, err := a.db.CurrentBatch(ctx, p.TerminalSN); err == nil && b.ID != p.BatchID {
			return fmt.Errorf("%w: the batch of %s is closed, so CodePay can no longer cancel it; refund it instead (payment.refund)", ErrNotCancellable, no)
		}
	}
	if _, reserved, err := a.refundable(ctx, p); err != nil {
		return err
	} else if reserved > 0 {
		return fmt.Errorf("%w: %s has refunds approved or in progress; refund what is left instead (payment.refund)", ErrNotCancellable, no)
	}
	return nil
}

// sendRevoke journals the cancel's intent, sends order.revoker and confirms
// its outcome by order.query; an outcome it cannot confirm is left to the
// reconciler (ErrCancelUnconfirmed).
func (a *Agent) sendRevoke(ctx context.Context, cl CloudOrders, no, how string) (Payment, error) {
	now := a.clock.Now()
	err := a.db.BeginRevoke(ctx, no, now.Add(3*callTimeout), store.Event{Kind: "revoke", At: now,
		Detail: fmt.Sprintf("cancel requested: sending order.revoker (%s); CodePay closes the order, or refunds the customer if they paid", how)})
	if errors.Is(err, store.ErrDuplicate) {
		return Payment{}, fmt.Errorf("%w: a cancel of %s was already sent; CodePay's answer is being confirmed", ErrNotCancellable, no)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("cancel payment: %w", err)
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	_, err = cl.RevokeOrder(callCtx, no)
	a.reach.record(callCtx, err)
	cancel()
	ended := a.clock.Now()
	if errors.Is(err, codepay.ErrNotSent) || errors.Is(err, codepay.ErrInvalidRequest) {
		a.event(ctx, no, "revoke", "order.revoker not sent: "+err.Error()+"; nothing was cancelled")
		if err := a.db.EndRevoke(ctx, no); err != nil {
			return Payment{}, fmt.Errorf("cancel payment: %w", err)
		}
		return Payment{}, fmt.Errorf("%w: CodePay could not be reached (%v); nothing was cancelled, try again", ErrNotCancellable, err)
	}
	var ge *codepay.GatewayError
	if err == nil || errors.As(err, &ge) {
		np, done, cerr := a.confirmRevoke(ctx, no, ge)
		if done {
			return np, cerr
		}
		err = cerr
	}
	// No answer about the order: the reconciler confirms by query.
	a.event(ctx, no, "revoke", "outcome of order.revoker unknown ("+err.Error()+"); confirming by order.query")
	if err := a.db.UpdateRevoke(ctx, store.Revoke{MerchantOrderNo: no, State: store.RevokeUnknown, EndedAt: ended, NextCheckAt: ended.Add(a.cfg.PollInterval)}); err != nil {
		return Payment{}, fmt.Errorf("cancel payment: %w", err)
	}
	a.wakeReconciler()
	return Payment{}, fmt.Errorf("%w: %s: payment.updated shows it cancelled once CodePay confirms", ErrCancelUnconfirmed, no)
}

// confirmRevoke asks for a signed answer about the order after a signed
// answer to order.revoker (a success, or the refusal ge). done is false when
// the answer does not settle it; err then says why.
func (a *Agent) confirmRevoke(ctx context.Context, no string, ge *codepay.GatewayError) (_ Payment, done bool, err error) {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	o, qerr := a.cp.QueryOrder(callCtx, no, "")
	cancel()
	switch {
	case qerr == nil && o.TransStatus == codepay.StatusCancelled:
		np, err := a.finishRevoked(ctx, no, o, "CodePay confirmed the cancel (order.revoker)")
		if err == nil {
			err = a.db.EndRevoke(ctx, no)
		}
		return np, true, err
	case qerr == nil && ge != nil:
		a.event(ctx, no, "revoke", fmt.Sprintf("CodePay refused order.revoker: %s (code %s); the order stays at trans_status %d", ge.Msg, ge.Code, int(o.TransStatus)))
		if err := a.db.EndRevoke(ctx, no); err != nil {
			return Payment{}, true, fmt.Errorf("cancel payment: %w", err)
		}
		return Payment{}, true, fmt.Errorf("%w: CodePay refused to cancel %s (%s: %s)", ErrNotCancellable, no, ge.Code, ge.Msg)
	case qerr != nil:
		return Payment{}, false, fmt.Errorf("confirming query got no answer: %w", qerr)
	default:
		return Payment{}, false, fmt.Errorf("CodePay answered but still shows trans_status %d", int(o.TransStatus))
	}
}

// finishRevoked records that CodePay shows the order cancelled after an
// order.revoker: the payment ends cancelled (also an approved one: the
// customer was refunded by CodePay).
func (a *Agent) finishRevoked(ctx context.Context, no string, o *codepay.Order, detail string) (Payment, error) {
	np, err := a.transition(ctx, no, []string{StateApproved, StateOnTerminal, StateUnknown, StateSending}, func(p *store.Payment) error {
		p.State = StateCancelled
		fillResult(p, o, strconv.Itoa(int(codepay.StatusCancelled)))
		p.ErrorCode = "cancelled"
		p.ErrorMessage = "cancelled through CodePay (order.revoker): the order was closed, or refunded to the customer if they had paid"
		if lostLink(p) {
			p.ErrorMessage = lostLinkWithdrawn
		}
		return nil
	}, detail)
	if errors.Is(err, store.ErrStateChanged) && np != nil {
		return a.view(np), nil
	}
	if err != nil {
		return Payment{}, fmt.Errorf("cancel payment: %w", err)
	}
	return a.view(np), nil
}

// revokeTookNoEffect handles a signed answer, past the settle time, that the
// order is not cancelled (o, or a signed "not found" notFound): the cancel
// did not take effect. Nothing is sent again on the cashier's behalf; a
// person decides, prompted by an alert — except for a lost link p
// (withdrawLostLink), which the agent withdraws again by itself at its next
// query: no person needs to act.
func (a *Agent) revokeTookNoEffect(ctx context.Context, p *store.Payment, o *codepay.Order, notFound error) {
	no := p.MerchantOrderNo
	what := "CodePay still shows the order at trans_status -1"
	if o != nil {
		what = fmt.Sprintf("CodePay still shows the order at trans_status %d", int(o.TransStatus))
	}
	if notFound != nil {
		what = "CodePay has no such order (" + notFound.Error() + ")"
	}
	if lostLink(p) {
		a.event(ctx, no, "revoke", "the withdrawal (order.revoker) did not take effect: "+what+"; it is sent again at the link's next query")
		_ = a.db.EndRevoke(ctx, no)
		return
	}
	a.event(ctx, no, "revoke", "the cancel (order.revoker) did not take effect: "+what)
	if err := a.db.EndRevoke(ctx, no); err == nil {
		_, _ = a.SetAlert(ctx, no, "The cancel sent to CodePay did not take effect ("+what+"): cancel it again, or refund it (payment.refund).")
	}
}

// reconcileRevoke confirms an order.revoker whose answer was lost (or that a
// restart interrupted) by querying the order.
func (a *Agent) reconcileRevoke(ctx context.Context, r store.Revoke, lastErr map[string]string) {
	no := r.MerchantOrderNo
	now := a.clock.Now()
	if a.revokeLive(no) {
		// A payment.cancel call is sending it right now.
		_ = a.db.RescheduleRevoke(ctx, no, now.Add(a.cfg.PollInterval))
		return
	}
	p, err := a.db.GetPayment(ctx, no)
	if errors.Is(err, store.ErrNotFound) || (err == nil && IsFinal(p.State) && p.State != StateApproved) {
		_ = a.db.EndRevoke(ctx, no) // nothing left to confirm: the payment ended by itself
		return
	}
	if err != nil {
		return
	}
	if r.State == store.RevokeSending || r.EndedAt.IsZero() {
		a.event(ctx, no, "revoke", "an order.revoker may have left before its answer was journaled (restart or journal failure); confirming by order.query")
		r.State, r.EndedAt = store.RevokeUnknown, now
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	o, err := a.cp.QueryOrder(callCtx, no, "")
	cancel()
	switch {
	case err == nil && o.TransStatus == codepay.StatusCancelled:
		delete(lastErr, no)
		if _, err := a.finishRevoked(ctx, no, o, "CodePay shows the order cancelled: the cancel (order.revoker) took effect"); err == nil {
			_ = a.db.EndRevoke(ctx, no)
		}
		return
	case err == nil && now.Before(r.EndedAt.Add(a.cfg.CreateSettle)):
		delete(lastErr, no)
		r.NextCheckAt = r.EndedAt.Add(a.cfg.CreateSettle)
	case err == nil, codepay.IsOrderNotFound(err):
		delete(lastErr, no)
		a.revokeTookNoEffect(ctx, p, o, err)
		return
	default:
		if msg := err.Error(); lastErr[no] != msg {
			lastErr[no] = msg
			a.event(ctx, no, "error", "confirming the cancel: order.query got no answer: "+msg)
		}
		r.Attempts++
		r.NextCheckAt = now.Add(min(backoff(a.cfg.PollInterval, r.Attempts)*4, maxParkedInterval))
	}
	if err := a.db.UpdateRevoke(ctx, r); err != nil && !errors.Is(err, store.ErrNotFound) {
		a.log.Error("reschedule revoke", "merchant_order_no", no, "err", err)
	}
}
