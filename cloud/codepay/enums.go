package codepay

import "fmt"

// Methods of the Cloud Open API (the "method" field of POST /api/entry).
const (
	MethodPayOrder      = "wisehub.cloud.pay.order"
	MethodPayClose      = "wisehub.cloud.pay.close"
	MethodOrderQuery    = "order.query"
	MethodOrderRevoker  = "order.revoker"
	MethodRefundSubmit  = "order.refund.submit"
	MethodRefundQuery   = "order.refund.query"
	MethodBatchClose    = "batch.close"
	MethodTipAdjustment = "tip.adjustment"
)

// Fixed values of the common request fields.
const (
	FormatJSON            = "JSON"
	CharsetUTF8           = "UTF-8"
	SignTypeRSA2          = "RSA2"
	SignTypeNone          = "NONE"
	Version               = "1.0"
	CreateOrderAPIVersion = "2.0"
	// ReceivingApplication is the fixed message_receiving_application for CodePay.
	ReceivingApplication = "CodePay Register"
	// TimestampWindow is how far a request's timestamp may be from server time.
	TimestampWindowMinutes = 15
)

// TransType is the trans_type of Create Order (reference/codepay.md §7.1).
type TransType int

// Transaction types accepted by Create Order.
const (
	TransSale       TransType = 1
	TransVoid       TransType = 2
	TransRefund     TransType = 3
	TransPreAuth    TransType = 4
	TransCompletion TransType = 6
	TransCashback   TransType = 11
)

// Valid reports whether t is one of the documented Create Order types.
func (t TransType) Valid() bool {
	switch t {
	case TransSale, TransVoid, TransRefund, TransPreAuth, TransCompletion, TransCashback:
		return true
	}
	return false
}

// NeedsOriginal reports whether the type requires orig_merchant_order_no.
func (t TransType) NeedsOriginal() bool {
	return t == TransVoid || t == TransRefund || t == TransCompletion
}

// AllowsOnScreenTip reports whether on_screen_tip may be set (types 1, 3, 4).
func (t TransType) AllowsOnScreenTip() bool {
	return t == TransSale || t == TransRefund || t == TransPreAuth
}

func (t TransType) String() string {
	switch t {
	case TransSale:
		return "sale"
	case TransVoid:
		return "void"
	case TransRefund:
		return "refund"
	case TransPreAuth:
		return "preauth"
	case TransCompletion:
		return "completion"
	case TransCashback:
		return "cashback"
	}
	return fmt.Sprintf("trans_type(%d)", int(t))
}

// TransStatus is trans_status of an order (reference/codepay.md §7.2).
type TransStatus int

// Order states. Only StatusCompleted means money moved.
const (
	StatusProcessing TransStatus = 0 // paying or refunding
	StatusFailed     TransStatus = 1 // closed with an error; trans_error_code/msg present
	StatusCompleted  TransStatus = 2 // successful
	StatusCancelled  TransStatus = 3 // cancelled or voided
	StatusCreated    TransStatus = 9 // pre-order; can still be closed
)

// Final reports whether the status can no longer change.
func (s TransStatus) Final() bool {
	return s == StatusFailed || s == StatusCompleted || s == StatusCancelled
}

func (s TransStatus) String() string {
	switch s {
	case StatusProcessing:
		return "processing"
	case StatusFailed:
		return "failed"
	case StatusCompleted:
		return "completed"
	case StatusCancelled:
		return "cancelled"
	case StatusCreated:
		return "created"
	}
	return fmt.Sprintf("trans_status(%d)", int(s))
}

// PayScenario is pay_scenario.
type PayScenario string

// Payment scenarios.
const (
	ScenarioSwipeCard PayScenario = "SWIPE_CARD"
	ScenarioBScanQR   PayScenario = "BSCANQR_PAY"
	ScenarioScanQR    PayScenario = "SCANQR_PAY"
)

// Valid reports whether the scenario is one Create Order accepts.
func (p PayScenario) Valid() bool {
	return p == ScenarioSwipeCard || p == ScenarioBScanQR || p == ScenarioScanQR
}

// CardType is card_type.
type CardType int

// Card types.
const (
	CardDebit  CardType = 1
	CardCredit CardType = 2
	CardEBT    CardType = 3
	CardGift   CardType = 4
)

// Valid reports whether c is a documented card type.
func (c CardType) Valid() bool { return c >= CardDebit && c <= CardGift }

// ReceiptPrintMode is receipt_print_mode.
type ReceiptPrintMode int

// Receipt printing modes.
const (
	ReceiptNone     ReceiptPrintMode = 0
	ReceiptMerchant ReceiptPrintMode = 1
	ReceiptCustomer ReceiptPrintMode = 2
	ReceiptBoth     ReceiptPrintMode = 3
)

// Valid reports whether m is a documented mode.
func (m ReceiptPrintMode) Valid() bool { return m >= ReceiptNone && m <= ReceiptBoth }

// Terminal online status values of terminal_online_status.
const (
	TerminalOnline  = "online"
	TerminalOffline = "offline"
)
