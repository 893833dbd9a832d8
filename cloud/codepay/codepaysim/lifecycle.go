package codepaysim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/internal/simkit"
	"github.com/posbridge/posbridge/money"
)

// Order sources.
const (
	sourceCreate       = "create"        // wisehub.cloud.pay.order, pushed to a terminal
	sourceRefundSubmit = "refund_submit" // order.refund.submit, processed by the cloud
	sourceCheckout     = "checkout"      // pay.checkout, paid by the customer on the hosted page
)

// Fixed card details of approved emulated card payments.
const (
	simCardNo     = "476173******0119"
	simEntryMode  = "contactless"
	simCardMethod = "Visa"
	simQRMethod   = "Alipay+"
)

// endTimeLayout is trans_end_time: UTC "YYYY-MM-DD HH:mm:ss".
const endTimeLayout = "2006-01-02 15:04:05"

type terminal struct {
	sn          string
	online      bool
	onlineSince time.Time // when it last came online
	freeAt      time.Time // when the order it was busy with last left the queue head
	batchNo     int
	batchOpened time.Time
	closed      []BatchSummary
}

type order struct {
	seq         uint64
	no          string
	transNo     string
	messageID   string
	terminal    string // terminal_sn; for cloud refunds the original's terminal
	viaTerminal bool   // queued on the terminal (create) rather than processed by the cloud
	source      string
	typ         codepay.TransType
	status      codepay.TransStatus
	cur         money.Currency
	amount      int64 // order_amount, minor units
	tip         int64
	cashback    int64
	hasTip      bool
	hasCashback bool
	scenario    codepay.PayScenario
	payMethod   string // requested pay_method_id
	orig        string // orig_merchant_order_no
	attach      string
	notifyURL   string
	createdAt   time.Time
	expiresAt   time.Time // zero: never expires
	pickedAt    time.Time // entered status 0
	finalAt     time.Time
	errCode     string
	errMsg      string
	cardRead    bool // the terminal read a card / QR code: payment details are known
	authNo      string
	refNo       string
	batchNo     int             // batch the order was approved into; 0 if never approved
	voidedBy    string          // merchant_order_no of the approved void, or "order.revoker"
	notify      *simkit.Message // the notification, once queued
	page        *hostedPage     // pay.checkout orders only
	magic       *MagicAmount    // the order's magic amount (magic.go), if any
}

func (o *order) transAmount() int64 { return o.amount + o.tip + o.cashback }

func (o *order) final() bool { return o.status.Final() }

// isMagic reports whether the order's magic amount is of kind k.
func (o *order) isMagic(k MagicKind) bool { return o.magic != nil && o.magic.Kind == k }

// magicDelay is the delay of the order's magic amount when it is of kind k.
func (o *order) magicDelay(k MagicKind) time.Duration {
	if !o.isMagic(k) {
		return 0
	}
	return o.magic.Delay()
}

func (o *order) isCard() bool { return o.scenario == codepay.ScenarioSwipeCard }

// isPayment reports whether the type moves money from the customer.
func (o *order) isPayment() bool {
	switch o.typ {
	case codepay.TransSale, codepay.TransPreAuth, codepay.TransCompletion, codepay.TransCashback:
		return true
	}
	return false
}

// isCapture reports whether an approved order of this type can be voided,
// refunded or tip-adjusted (a sale, a completion, a sale with cashback).
func (o *order) isCapture() bool {
	return o.typ == codepay.TransSale || o.typ == codepay.TransCompletion || o.typ == codepay.TransCashback
}

type eventKind int

// Event kinds in tie-break order: at the same instant a final result wins over
// expiry, and expiry over a pickup.
const (
	evFinal eventKind = iota
	evExpire
	evPickup
)

// headLocked returns the order the terminal is working on or will pick up
// next: the one in status 0, else the oldest queued order in status 9.
func (s *Sim) headLocked(sn string) *order {
	var head *order
	for _, o := range s.active {
		if !o.viaTerminal || o.terminal != sn {
			continue
		}
		if o.status == codepay.StatusProcessing {
			return o
		}
		if o.status == codepay.StatusCreated && head == nil && !o.isMagic(MagicOffline) {
			head = o
		}
	}
	return head
}

// advanceLocked applies, in time order, every transition due at or before now.
func (s *Sim) advanceLocked(now time.Time) {
	for {
		var (
			best   *order
			bestAt time.Time
			bestEv eventKind
		)
		consider := func(o *order, at time.Time, ev eventKind) {
			if at.After(now) {
				return
			}
			if best == nil || at.Before(bestAt) || (at.Equal(bestAt) && (ev < bestEv || (ev == bestEv && o.seq < best.seq))) {
				best, bestAt, bestEv = o, at, ev
			}
		}
		heads := make(map[string]*order)
		for _, o := range s.active {
			if o.viaTerminal {
				if _, ok := heads[o.terminal]; !ok {
					heads[o.terminal] = s.headLocked(o.terminal)
				}
			}
		}
		for _, o := range s.active {
			if !o.expiresAt.IsZero() {
				consider(o, o.expiresAt, evExpire)
			}
			switch o.status {
			case codepay.StatusProcessing:
				if !o.isMagic(MagicNeverPaid) {
					consider(o, o.pickedAt.Add(s.process+o.magicDelay(MagicSlowCustomer)), evFinal)
				}
			case codepay.StatusCreated:
				t := s.terminals[o.terminal]
				if heads[o.terminal] == o && t != nil && t.online {
					ready := latest(o.createdAt, t.onlineSince, t.freeAt)
					consider(o, ready.Add(s.pickup), evPickup)
				}
			}
		}
		if best == nil {
			return
		}
		switch bestEv {
		case evPickup:
			best.status = codepay.StatusProcessing
			best.pickedAt = bestAt
			s.log.Info("codepaysim: terminal picked up order", "terminal_sn", best.terminal, "merchant_order_no", best.no)
		case evExpire:
			s.finishLocked(best, Outcome{Status: codepay.StatusFailed, ErrorCode: "ORDER_EXPIRED", ErrorMsg: "order expired before it was paid"}, bestAt, false)
		case evFinal:
			s.finishLocked(best, s.decideLocked(best), bestAt, true)
		}
	}
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// decideLocked returns how the terminal (or the cloud, for refunds) finishes o.
func (s *Sim) decideLocked(o *order) Outcome {
	if sc, ok := s.scripts[o.no]; ok {
		if sc.Status == codepay.StatusFailed && sc.ErrorCode == "" {
			sc.ErrorCode, sc.ErrorMsg = "05", "Do not honor"
		}
		if sc.Status == codepay.StatusCancelled && sc.ErrorMsg == "" {
			sc.ErrorMsg = "cancelled on the terminal"
		}
		return sc
	}
	if o.magic != nil {
		if out, ok := o.magic.outcome(); ok {
			return out
		}
	}
	return Outcome{Status: codepay.StatusCompleted}
}

// finishLocked moves an active order to a final status at time at. processed
// means the terminal or cloud handled it (card/QR details become known).
func (s *Sim) finishLocked(o *order, out Outcome, at time.Time, processed bool) {
	if o.final() {
		return
	}
	if o.viaTerminal && s.headLocked(o.terminal) == o {
		if t := s.terminals[o.terminal]; t != nil && at.After(t.freeAt) {
			t.freeAt = at
		}
	}
	o.status = out.Status
	o.finalAt = at
	o.cardRead = processed
	if out.Status == codepay.StatusFailed {
		o.errCode, o.errMsg = out.ErrorCode, out.ErrorMsg
	}
	if out.Status == codepay.StatusCompleted {
		if t := s.terminals[o.terminal]; t != nil {
			o.batchNo = t.batchNo
		}
		o.authNo = fmt.Sprintf("%06d", rand.IntN(1_000_000))
		o.refNo = fmt.Sprintf("%012d", rand.Int64N(1_000_000_000_000))
		if o.typ == codepay.TransVoid {
			if orig := s.orders[o.orig]; orig != nil && orig.status == codepay.StatusCompleted {
				orig.status = codepay.StatusCancelled
				orig.voidedBy = o.no
			}
		}
	}
	s.active = slices.DeleteFunc(s.active, func(x *order) bool { return x == o })
	s.log.Info("codepaysim: order final", "merchant_order_no", o.no, "trans_status", int(o.status),
		"trans_error_code", o.errCode)
	if o.notifyURL != "" {
		o.notify = s.notifications.Add(o.no, o.notifyURL, at, func(now time.Time) ([]byte, error) {
			return s.notificationBody(o, now)
		})
	}
}

// reservedRefundsLocked sums refunds of orig that are approved or in flight.
func (s *Sim) reservedRefundsLocked(orig *order) int64 {
	var sum int64
	for _, o := range s.orderList {
		if o.typ == codepay.TransRefund && o.orig == orig.no &&
			(o.status == codepay.StatusCompleted || !o.final()) {
			sum += o.transAmount()
		}
	}
	return sum
}

// childLocked returns an order of type tt on orig that is approved or in flight.
func (s *Sim) childLocked(orig *order, tt codepay.TransType) *order {
	for _, o := range s.orderList {
		if o.typ == tt && o.orig == orig.no && (o.status == codepay.StatusCompleted || !o.final()) {
			return o
		}
	}
	return nil
}

// batchTotalsLocked sums the terminal's open batch: approved card sales,
// completions and sales with cashback count positive, approved refunds
// negative; voided orders (status 3), pre-authorisations, voids and QR
// orders are left out. ok is false when the batch mixes currencies.
func (s *Sim) batchTotalsLocked(t *terminal) (sum BatchSummary, ok bool) {
	sum = BatchSummary{BatchNo: t.batchNo, OpenedAt: t.batchOpened}
	for _, o := range s.orderList {
		if o.terminal != t.sn || o.batchNo != t.batchNo || o.status != codepay.StatusCompleted || !o.isCard() {
			continue
		}
		var sign int64
		switch {
		case o.isCapture():
			sign = 1
		case o.typ == codepay.TransRefund:
			sign = -1
		default:
			continue
		}
		if sum.Currency == "" {
			sum.Currency = o.cur.Code
		} else if sum.Currency != o.cur.Code {
			return sum, false
		}
		sum.Count++
		sum.TotalMinor += sign * o.transAmount()
	}
	sum.TotalAmount = "0"
	if sum.Currency != "" {
		sum.TotalAmount = money.Format(sum.TotalMinor, money.MustCurrency(sum.Currency))
	}
	return sum, true
}

// BatchSummary is one terminal batch as the emulator's cloud sees it.
type BatchSummary struct {
	BatchNo    int       `json:"batch_no"`
	OpenedAt   time.Time `json:"opened_at"`
	ClosedAt   time.Time `json:"closed_at,omitzero"`
	Count      int       `json:"count"`
	TotalMinor int64     `json:"total_minor"`
	// TotalAmount is TotalMinor as the decimal string batch.close returns
	// ("0" while the batch is empty).
	TotalAmount string `json:"total_amount"`
	Currency    string `json:"currency,omitempty"` // "" while the batch is empty
}

// BatchReport is GET /sim/batches/{sn}.
type BatchReport struct {
	TerminalSN string         `json:"terminal_sn"`
	Open       BatchSummary   `json:"open"`
	OpenOrders []string       `json:"open_orders"` // merchant_order_no of orders approved in the open batch
	Closed     []BatchSummary `json:"closed"`
}

// OrderView is a snapshot of one emulated order. Amounts are minor units of
// Currency; in JSON they are decimal strings.
type OrderView struct {
	MerchantOrderNo     string
	TransNo             string
	TerminalSN          string
	Source              string // "create" or "refund_submit"
	TransType           codepay.TransType
	Status              codepay.TransStatus
	Currency            string
	OrderAmount         int64
	TipAmount           int64
	CashbackAmount      int64
	TransAmount         int64
	RefundedAmount      int64 // approved refunds of this order
	PayScenario         codepay.PayScenario
	OrigMerchantOrderNo string
	ErrorCode, ErrorMsg string
	AuthNo, RefNo       string
	Attach, NotifyURL   string
	BatchNo             int    // batch it was approved into; 0 if never approved
	VoidedBy            string // the void's merchant_order_no or "order.revoker"
	CreatedAt           time.Time
	ExpiresAt           time.Time
	PickedUpAt          time.Time
	FinalAt             time.Time
	Notification        *NotificationView // nil without notify_url or before the order is final
	// PayURL and Abandoned describe a pay.checkout order only.
	PayURL    string
	Abandoned bool
}

// NotificationView is the delivery state of an order's notification.
type NotificationView struct {
	URL       string    `json:"url"`
	Attempts  int       `json:"attempts"`
	Delivered bool      `json:"delivered"`
	GaveUp    bool      `json:"gave_up"`
	NextAt    time.Time `json:"next_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// MarshalJSON renders amounts as decimal strings with the currency's decimals.
func (v OrderView) MarshalJSON() ([]byte, error) {
	cur, err := money.LookupCurrency(v.Currency)
	if err != nil {
		return nil, fmt.Errorf("marshal order view: %w", err)
	}
	return json.Marshal(struct {
		MerchantOrderNo     string            `json:"merchant_order_no"`
		TransNo             string            `json:"trans_no"`
		TerminalSN          string            `json:"terminal_sn"`
		Source              string            `json:"source"`
		TransType           int               `json:"trans_type"`
		Status              int               `json:"trans_status"`
		Currency            string            `json:"price_currency"`
		OrderAmount         string            `json:"order_amount"`
		TipAmount           string            `json:"tip_amount"`
		CashbackAmount      string            `json:"cashback_amount"`
		TransAmount         string            `json:"trans_amount"`
		RefundedAmount      string            `json:"refunded_amount"`
		PayScenario         string            `json:"pay_scenario"`
		OrigMerchantOrderNo string            `json:"orig_merchant_order_no,omitempty"`
		ErrorCode           string            `json:"trans_error_code,omitempty"`
		ErrorMsg            string            `json:"trans_error_msg,omitempty"`
		AuthNo              string            `json:"auth_no,omitempty"`
		RefNo               string            `json:"ref_no,omitempty"`
		Attach              string            `json:"attach,omitempty"`
		NotifyURL           string            `json:"notify_url,omitempty"`
		BatchNo             int               `json:"batch_no,omitempty"`
		VoidedBy            string            `json:"voided_by,omitempty"`
		CreatedAt           time.Time         `json:"created_at"`
		ExpiresAt           time.Time         `json:"expires_at,omitzero"`
		PickedUpAt          time.Time         `json:"picked_up_at,omitzero"`
		FinalAt             time.Time         `json:"final_at,omitzero"`
		Notification        *NotificationView `json:"notification,omitempty"`
		PayURL              string            `json:"pay_url,omitempty"`
		Abandoned           bool              `json:"abandoned,omitempty"`
	}{
		v.MerchantOrderNo, v.TransNo, v.TerminalSN, v.Source, int(v.TransType), int(v.Status), v.Currency,
		money.Format(v.OrderAmount, cur), money.Format(v.TipAmount, cur), money.Format(v.CashbackAmount, cur),
		money.Format(v.TransAmount, cur), money.Format(v.RefundedAmount, cur), string(v.PayScenario),
		v.OrigMerchantOrderNo, v.ErrorCode, v.ErrorMsg, v.AuthNo, v.RefNo, v.Attach, v.NotifyURL, v.BatchNo,
		v.VoidedBy, v.CreatedAt, v.ExpiresAt, v.PickedUpAt, v.FinalAt, v.Notification, v.PayURL, v.Abandoned,
	})
}

func (s *Sim) viewLocked(o *order) OrderView {
	v := OrderView{
		MerchantOrderNo: o.no, TransNo: o.transNo, TerminalSN: o.terminal, Source: o.source,
		TransType: o.typ, Status: o.status, Currency: o.cur.Code,
		OrderAmount: o.amount, TipAmount: o.tip, CashbackAmount: o.cashback, TransAmount: o.transAmount(),
		PayScenario: o.scenario, OrigMerchantOrderNo: o.orig, ErrorCode: o.errCode, ErrorMsg: o.errMsg,
		AuthNo: o.authNo, RefNo: o.refNo, Attach: o.attach, NotifyURL: o.notifyURL, BatchNo: o.batchNo,
		VoidedBy: o.voidedBy, CreatedAt: o.createdAt, ExpiresAt: o.expiresAt, PickedUpAt: o.pickedAt,
		FinalAt: o.finalAt,
	}
	for _, r := range s.orderList {
		if r.typ == codepay.TransRefund && r.orig == o.no && r.status == codepay.StatusCompleted {
			v.RefundedAmount += r.transAmount()
		}
	}
	if o.notify != nil {
		n := NotificationView(o.notify.State())
		v.Notification = &n
	}
	if o.page != nil {
		v.PayURL, v.Abandoned = o.page.url, !o.page.leftAt.IsZero()
	}
	return v
}

// queryData is the data object of order.query / order.refund.query and the
// business part of a notification.
func (s *Sim) queryData(o *order) map[string]any {
	d := map[string]any{
		"trans_no":          o.transNo,
		"merchant_order_no": o.no,
		"trans_type":        int(o.typ),
		"trans_status":      int(o.status),
		"order_amount":      money.Format(o.amount, o.cur),
		"trans_amount":      money.Format(o.transAmount(), o.cur),
		"price_currency":    o.cur.Code,
		"pay_scenario":      string(o.scenario),
	}
	if o.hasTip {
		d["tip_amount"] = money.Format(o.tip, o.cur)
	}
	if o.hasCashback {
		d["cashback_amount"] = money.Format(o.cashback, o.cur)
	}
	if o.orig != "" {
		d["orig_merchant_order_no"] = o.orig
	}
	if o.attach != "" {
		d["attach"] = o.attach
	}
	if s.cfg.StoreNo != "" {
		d["store_no"] = s.cfg.StoreNo
	}
	if o.cardRead {
		method := o.payMethod
		if method == "" {
			method = simQRMethod
			if o.isCard() {
				method = simCardMethod
			}
		}
		d["pay_method_id"] = method
		if o.isCard() {
			d["card_no"] = simCardNo
			d["entry_mode"] = simEntryMode
		}
	}
	if o.authNo != "" {
		d["auth_no"] = o.authNo
		d["ref_no"] = o.refNo
		d["pay_channel_trans_no"] = "PC" + o.transNo
	}
	if o.status == codepay.StatusCompleted {
		d["paid_amount"] = money.Format(o.transAmount(), o.cur)
	}
	if o.final() {
		d["trans_end_time"] = o.finalAt.UTC().Format(endTimeLayout)
	}
	if o.status == codepay.StatusFailed {
		d["trans_error_code"] = o.errCode
		d["trans_error_msg"] = o.errMsg
	}
	return d
}
