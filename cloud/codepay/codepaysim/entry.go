package codepaysim

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/money"
)

// maxExpires bounds expires (seconds): seven days, the limit CodePay
// documents for hosted checkout.
const maxExpires = 7 * 24 * 3600

// processLocked authenticates and validates one decoded request and runs it.
func (s *Sim) processLocked(r *http.Request, p codepay.Params, now time.Time) (map[string]any, *apiError) {
	s.advanceLocked(now)
	if e := s.authenticate(r, p, now); e != nil {
		return nil, e
	}
	method := p["method"]
	fs, ok := methodFields[method]
	if !ok {
		return nil, refuse(CodeMethodNotSupported, "method not supported: %s", method)
	}
	if e := checkFields(p, fs); e != nil {
		return nil, e
	}
	switch method {
	case codepay.MethodPayOrder:
		return s.createOrderLocked(p, now)
	case codepay.MethodPayClose:
		return s.closeOrderLocked(p, now)
	case codepay.MethodOrderQuery:
		return s.queryLocked(p, false)
	case codepay.MethodRefundQuery:
		return s.queryLocked(p, true)
	case codepay.MethodOrderRevoker:
		return s.revokeLocked(p, now)
	case codepay.MethodRefundSubmit:
		return s.refundSubmitLocked(p, now)
	case codepay.MethodBatchClose:
		return s.batchCloseLocked(p, now)
	case codepay.MethodTipAdjustment:
		return s.tipAdjustLocked(p)
	case codepay.MethodPayCheckout:
		return s.checkoutLocked(r, p, now)
	}
	return nil, refuse(CodeMethodNotSupported, "method not supported: %s", method)
}

func (s *Sim) newIDsLocked(now time.Time) (transNo, messageID string) {
	s.seq++
	digits := fmt.Sprintf("%s%08d", now.UTC().Format("060102150405"), s.seq%100_000_000)
	return "50" + digits, "M" + digits
}

func (s *Sim) addOrderLocked(o *order) {
	s.seq++
	o.seq = s.seq
	s.orders[o.no] = o
	s.byTransNo[o.transNo] = o
	s.orderList = append(s.orderList, o)
	if !o.final() {
		s.active = append(s.active, o)
	}
}

func checkReceivingApp(p codepay.Params) *apiError {
	if p["message_receiving_application"] != codepay.ReceivingApplication {
		return refuse(CodeInvalidParameter, "invalid parameter: message_receiving_application must be %q", codepay.ReceivingApplication)
	}
	return nil
}

func parseInt(p codepay.Params, name string) (int64, bool) {
	v, ok := p[name]
	if !ok || v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// createOrderLocked is wisehub.cloud.pay.order.
func (s *Sim) createOrderLocked(p codepay.Params, now time.Time) (map[string]any, *apiError) {
	if e := checkReceivingApp(p); e != nil {
		return nil, e
	}
	if p["api_version"] != codepay.CreateOrderAPIVersion {
		return nil, refuse(CodeInvalidParameter, "invalid parameter: api_version must be %q", codepay.CreateOrderAPIVersion)
	}
	ttRaw, _ := parseInt(p, "trans_type")
	tt := codepay.TransType(ttRaw)
	if !tt.Valid() {
		return nil, refuse(CodeInvalidParameter, "invalid parameter: trans_type %s is not supported (1, 2, 3, 4, 6, 11)", p["trans_type"])
	}
	scenario := codepay.ScenarioSwipeCard
	if v := p["pay_scenario"]; v != "" {
		scenario = codepay.PayScenario(v)
		if !scenario.Valid() {
			return nil, refuse(CodeInvalidParameter, "invalid parameter: pay_scenario must be SWIPE_CARD, BSCANQR_PAY or SCANQR_PAY")
		}
	}
	if v, ok := parseInt(p, "card_type"); ok && !codepay.CardType(v).Valid() {
		return nil, refuse(CodeInvalidParameter, "invalid parameter: card_type must be 1-4")
	}
	if v, ok := parseInt(p, "receipt_print_mode"); ok && !codepay.ReceiptPrintMode(v).Valid() {
		return nil, refuse(CodeInvalidParameter, "invalid parameter: receipt_print_mode must be 0-3")
	}
	if v := p["order_queue_mode"]; v != "" && v != "FIFO" && v != "FILO" {
		return nil, refuse(CodeInvalidParameter, "invalid parameter: order_queue_mode must be FIFO or FILO")
	}
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
	tip, hasTip, e := parseAmount(p, "tip_amount", cur)
	if e != nil {
		return nil, e
	}
	cashback, hasCashback, e := parseAmount(p, "cashback_amount", cur)
	if e != nil {
		return nil, e
	}
	if hasCashback && tt != codepay.TransCashback {
		return nil, refuse(CodeInvalidParameter, "invalid parameter: cashback_amount is only allowed with trans_type 11")
	}
	if _, ok := p["on_screen_tip"]; ok && !tt.AllowsOnScreenTip() {
		return nil, refuse(CodeInvalidParameter, "invalid parameter: on_screen_tip can only be set for trans_type 1, 3 or 4")
	}
	origNo := p["orig_merchant_order_no"]
	if tt.NeedsOriginal() && origNo == "" {
		return nil, refuse(CodeInvalidParameter, "missing required parameter: orig_merchant_order_no (required for trans_type %d)", tt)
	}
	if !tt.NeedsOriginal() && origNo != "" {
		return nil, refuse(CodeInvalidParameter, "invalid parameter: orig_merchant_order_no is only allowed for trans_type 2, 3 and 6")
	}
	expires, _ := parseInt(p, "expires")
	if expires < 1 || expires > maxExpires {
		return nil, refuse(CodeInvalidParameter, "invalid parameter: expires must be 1-%d seconds", maxExpires)
	}
	sn := p["terminal_sn"]
	t, ok := s.terminals[sn]
	if !ok {
		return nil, refuse(CodeUnknownTerminal, "terminal not found: %s is not bound to this merchant", sn)
	}
	no := p["merchant_order_no"]
	if _, dup := s.orders[no]; dup {
		return nil, refuse(CodeDuplicateOrder, "duplicate merchant_order_no: %s already exists", no)
	}
	if p["reject_trade_when_terminal_offline"] == "true" && !t.online {
		return nil, refuse(CodeTerminalOffline, "terminal %s is offline", sn)
	}
	o := &order{
		no: no, terminal: sn, viaTerminal: true, source: sourceCreate, typ: tt, status: codepay.StatusCreated,
		cur: cur, amount: amount, tip: tip, cashback: cashback, hasTip: hasTip, hasCashback: hasCashback,
		scenario: scenario, payMethod: p["pay_method_id"], orig: origNo, attach: p["attach"],
		notifyURL: p["notify_url"], createdAt: now, expiresAt: now.Add(time.Duration(expires) * time.Second),
	}
	if sc, ok := s.paidWith[no]; ok && tt == codepay.TransSale {
		o.scenario = sc
	}
	if tt.NeedsOriginal() {
		if e := s.checkOriginalLocked(o); e != nil {
			return nil, e
		}
	}
	if m, ok := s.magicLocked(tt, amount); ok {
		if m.Kind == MagicRefused {
			return nil, refuse(CodeNotAllowed, "payment refused: %s is the emulator's magic amount for a refusal (docs/sandbox.md)", money.Format(amount, cur))
		}
		o.magic = &m
	}
	o.transNo, o.messageID = s.newIDsLocked(now)
	s.addOrderLocked(o)
	status := codepay.TerminalOffline
	if t.online && !o.isMagic(MagicOffline) {
		status = codepay.TerminalOnline
	}
	return map[string]any{
		"message_id":             o.messageID,
		"trans_no":               o.transNo,
		"terminal_online_status": status,
		"trans_amount":           money.Format(o.transAmount(), cur),
	}, nil
}

// checkOriginalLocked applies the rules of void (2), refund (3) and completion (6).
func (s *Sim) checkOriginalLocked(o *order) *apiError {
	orig, ok := s.orders[o.orig]
	if !ok {
		return refuse(CodeOrderNotFound, "original order not found: %s", o.orig)
	}
	if orig.cur != o.cur {
		return refuse(CodeInvalidParameter, "invalid parameter: price_currency %s differs from the original's %s", o.cur.Code, orig.cur.Code)
	}
	switch o.typ {
	case codepay.TransVoid:
		if !orig.isCapture() {
			return refuse(CodeVoidNotAllowed, "void not allowed: only an approved sale or completion can be voided")
		}
		if orig.status == codepay.StatusCancelled {
			return refuse(CodeVoidNotAllowed, "void not allowed: original order is already voided or cancelled")
		}
		if orig.status != codepay.StatusCompleted {
			return refuse(CodeVoidNotAllowed, "void not allowed: original order is not approved (trans_status %d)", orig.status)
		}
		if s.childLocked(orig, codepay.TransVoid) != nil {
			return refuse(CodeVoidNotAllowed, "void not allowed: a void of this order is already in progress")
		}
		if s.reservedRefundsLocked(orig) > 0 {
			return refuse(CodeVoidNotAllowed, "void not allowed: the original has refunds; refund the rest instead")
		}
		if orig.terminal != o.terminal {
			return refuse(CodeVoidNotAllowed, "void not allowed: the original was paid on terminal %s", orig.terminal)
		}
		if t := s.terminals[orig.terminal]; t == nil || orig.batchNo != t.batchNo {
			return refuse(CodeVoidNotAllowed, "void not allowed: the batch of the original is closed; refund instead")
		}
		if o.amount != orig.amount && o.amount != orig.transAmount() {
			return refuse(CodeInvalidParameter, "invalid parameter: a void must carry the original order_amount %s", money.Format(orig.amount, orig.cur))
		}
	case codepay.TransRefund:
		if !orig.isCapture() || orig.status != codepay.StatusCompleted {
			return refuse(CodeNotAllowed, "refund not allowed: original order is not an approved sale or completion")
		}
		if left := orig.transAmount() - s.reservedRefundsLocked(orig); o.transAmount() > left {
			return refuse(CodeRefundExceeds, "refund amount exceeds the refundable amount %s of the original", money.Format(left, orig.cur))
		}
	case codepay.TransCompletion:
		if orig.typ != codepay.TransPreAuth || orig.status != codepay.StatusCompleted {
			return refuse(CodeNotAllowed, "completion not allowed: original order is not an approved authorization")
		}
		if s.childLocked(orig, codepay.TransCompletion) != nil {
			return refuse(CodeNotAllowed, "completion not allowed: the authorization is already completed or a completion is in progress")
		}
		if o.transAmount() > orig.transAmount() {
			return refuse(CodeNotAllowed, "completion not allowed: amount exceeds the authorized %s", money.Format(orig.transAmount(), orig.cur))
		}
	}
	return nil
}

// findLocked resolves an order by trans_no (which wins) or merchant_order_no.
func (s *Sim) findLocked(p codepay.Params, noKey, transKey string) (*order, *apiError) {
	if tn := p[transKey]; tn != "" {
		if o, ok := s.byTransNo[tn]; ok {
			return o, nil
		}
		return nil, refuse(CodeOrderNotFound, "order not found: %s %s", transKey, tn)
	}
	if no := p[noKey]; no != "" {
		if o, ok := s.orders[no]; ok {
			return o, nil
		}
		return nil, refuse(CodeOrderNotFound, "order not found: %s %s", noKey, no)
	}
	return nil, refuse(CodeInvalidParameter, "missing required parameter: %s or %s", noKey, transKey)
}

// closeOrderLocked is wisehub.cloud.pay.close: only from status 9.
func (s *Sim) closeOrderLocked(p codepay.Params, now time.Time) (map[string]any, *apiError) {
	if e := checkReceivingApp(p); e != nil {
		return nil, e
	}
	sn := p["terminal_sn"]
	if _, ok := s.terminals[sn]; !ok {
		return nil, refuse(CodeUnknownTerminal, "terminal not found: %s is not bound to this merchant", sn)
	}
	o, ok := s.orders[p["merchant_order_no"]]
	if !ok || o.terminal != sn || o.source != sourceCreate {
		return nil, refuse(CodeOrderNotFound, "order not found: %s on terminal %s", p["merchant_order_no"], sn)
	}
	if o.status != codepay.StatusCreated {
		return nil, refuse(CodeNotClosable, "order cannot be closed: trans_status is %d, only 9 (not yet on the terminal) can be closed", o.status)
	}
	s.finishLocked(o, Outcome{Status: codepay.StatusCancelled}, now, false)
	return map[string]any{"message_id": o.messageID, "trans_no": o.transNo}, nil
}

// queryLocked is order.query and (refunds only) order.refund.query.
func (s *Sim) queryLocked(p codepay.Params, refundsOnly bool) (map[string]any, *apiError) {
	o, e := s.findLocked(p, "merchant_order_no", "trans_no")
	if e != nil {
		return nil, e
	}
	if refundsOnly && o.typ != codepay.TransRefund {
		return nil, refuse(CodeOrderNotFound, "refund not found: %s is not a refund", o.no)
	}
	d := s.queryData(o)
	if refundsOnly && s.mode.RefundQueryNumber == RefundQueryShowsOriginal && o.orig != "" {
		d["merchant_order_no"] = o.orig
	}
	return d, nil
}

// revokeLocked is order.revoker: QR orders only; cancels, or refunds if paid.
func (s *Sim) revokeLocked(p codepay.Params, now time.Time) (map[string]any, *apiError) {
	o, ok := s.orders[p["merchant_order_no"]]
	if !ok {
		return nil, refuse(CodeOrderNotFound, "order not found: %s", p["merchant_order_no"])
	}
	if o.isCard() {
		return nil, refuse(CodeNotAllowed, "order.revoker does not support bank card orders: close it while trans_status is 9, or void/refund it")
	}
	if !o.isPayment() {
		return nil, refuse(CodeNotAllowed, "order.revoker only cancels payments")
	}
	switch o.status {
	case codepay.StatusCreated, codepay.StatusProcessing:
		s.finishLocked(o, Outcome{Status: codepay.StatusCancelled}, now, false)
	case codepay.StatusCompleted:
		if s.reservedRefundsLocked(o) > 0 {
			return nil, refuse(CodeNotAllowed, "order.revoker not allowed: the order has refunds")
		}
		o.status = codepay.StatusCancelled
		o.voidedBy = codepay.MethodOrderRevoker
	}
	return map[string]any{"message_id": o.messageID, "trans_no": o.transNo}, nil
}

// refundSubmitLocked is order.refund.submit: a cloud-side refund of an
// approved payment, approved after ProcessDelay.
func (s *Sim) refundSubmitLocked(p codepay.Params, now time.Time) (map[string]any, *apiError) {
	orig, e := s.findLocked(p, "orig_merchant_order_no", "orig_trans_no")
	if e != nil {
		return nil, e
	}
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
	// trans_amount (sent by the SDK and the spec's sample) is the amount
	// refunded too: it must agree with order_amount.
	if ta, ok, e := parseAmount(p, "trans_amount", cur); e != nil {
		return nil, e
	} else if ok && ta != amount {
		return nil, refuse(CodeInvalidParameter, "invalid parameter: trans_amount %s differs from order_amount %s", money.Format(ta, cur), money.Format(amount, cur))
	}
	no := p["merchant_order_no"]
	if _, dup := s.orders[no]; dup {
		return nil, refuse(CodeDuplicateOrder, "duplicate merchant_order_no: %s already exists", no)
	}
	o := &order{
		no: no, terminal: orig.terminal, source: sourceRefundSubmit, typ: codepay.TransRefund,
		status: codepay.StatusProcessing, cur: cur, amount: amount, scenario: orig.scenario,
		orig: orig.no, notifyURL: p["notify_url"], createdAt: now, pickedAt: now,
	}
	if e := s.checkOriginalLocked(o); e != nil {
		return nil, e
	}
	o.transNo, o.messageID = s.newIDsLocked(now)
	s.addOrderLocked(o)
	return map[string]any{
		"trans_no":     o.transNo,
		"trans_amount": money.Format(amount, cur),
		"trans_fee_c":  "0",
		"vat_amount":   "0",
	}, nil
}

// batchCloseLocked is batch.close: closes the open batch and opens a new
// one. Its answer follows Config.BatchShape (see batchDataLocked).
func (s *Sim) batchCloseLocked(p codepay.Params, now time.Time) (map[string]any, *apiError) {
	sn := p["terminal_sn"]
	t, ok := s.terminals[sn]
	if !ok {
		return nil, refuse(CodeUnknownTerminal, "terminal not found: %s is not bound to this merchant", sn)
	}
	sum, ok := s.batchTotalsLocked(t)
	if !ok {
		return nil, refuse(CodeNotAllowed, "batch close not allowed: the open batch of %s mixes currencies", sn)
	}
	total := sum.TotalAmount
	data, err := s.batchDataLocked(sum.Count, total, sum.Currency)
	if err != nil { // before anything changes: the batch stays open
		return nil, refuse(CodeNotAllowed, "batch close not allowed: %v", err)
	}
	sum.ClosedAt = now
	t.closed = append(t.closed, sum)
	t.batchNo++
	t.batchOpened = now
	s.log.Info("codepaysim: batch closed", "terminal_sn", sn, "batch_no", sum.BatchNo, "count", sum.Count, "total", total,
		"batch_shape", s.mode.BatchShape)
	return data, nil
}

// tipAdjustLocked is tip.adjustment: replaces the tip of an approved card
// payment in the open batch.
func (s *Sim) tipAdjustLocked(p codepay.Params) (map[string]any, *apiError) {
	o, ok := s.orders[p["merchant_order_no"]]
	if !ok {
		return nil, refuse(CodeOrderNotFound, "order not found: %s", p["merchant_order_no"])
	}
	if !o.isCapture() || !o.isCard() || o.status != codepay.StatusCompleted {
		return nil, refuse(CodeNotAllowed, "tip adjustment not allowed: only approved card sales and completions can be adjusted")
	}
	if t := s.terminals[o.terminal]; t == nil || o.batchNo != t.batchNo {
		return nil, refuse(CodeNotAllowed, "tip adjustment not allowed: the batch of this order is closed")
	}
	tip, _, e := parseAmount(p, "tip_adjustment_amount", o.cur)
	if e != nil {
		return nil, e
	}
	if o.amount+tip+o.cashback < s.reservedRefundsLocked(o) {
		return nil, refuse(CodeRefundExceeds, "tip adjustment would leave refunds above the transaction amount")
	}
	o.tip, o.hasTip = tip, true
	return map[string]any{}, nil
}
