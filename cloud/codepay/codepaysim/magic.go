package codepaysim

import (
	"fmt"
	"slices"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
)

// Magic amounts let a POS developer play every outcome from the POS by the
// amount alone: declines with a given code, a cancel on the terminal, a
// slow customer, an order that runs out, an offline terminal, a lost or
// late answer, a refusal. They apply to payments (sale, pre-auth,
// completion, sale with cashback) created with wisehub.cloud.pay.order;
// refunds and voids are never affected. A scripted outcome
// (ScriptOutcome) wins over the amount. docs/sandbox.md lists them.
//
// Endings (MagicAmount.Exact false) match on the amount's last two digits
// in minor units ("x.51" USD, "151" JPY): they end quickly at the
// terminal, so any amount may carry them. Exact amounts ("0.44") make a
// terminal or the gateway slow or silent, so they never happen by chance.

// MagicKind is what a magic amount does.
type MagicKind string

// Magic kinds.
const (
	// MagicDecline: the terminal declines the payment: status 1 with
	// MagicAmount.Code and Message as trans_error_code and trans_error_msg.
	MagicDecline MagicKind = "decline"
	// MagicCancel: the customer cancels on the terminal: status 3.
	MagicCancel MagicKind = "cancel"
	// MagicSlowCustomer: the terminal approves MagicSlowCustomerDelay later
	// than usual (the customer takes their time).
	MagicSlowCustomer MagicKind = "slow_customer"
	// MagicNeverPaid: the terminal shows the payment and no card ever
	// comes; the order runs out at its expires (status 1 ORDER_EXPIRED).
	MagicNeverPaid MagicKind = "never_paid"
	// MagicOffline: the terminal is offline for this payment: the answer
	// says terminal_online_status "offline" and the order stays in status 9
	// until it is closed or runs out. Other orders are not held up.
	MagicOffline MagicKind = "offline"
	// MagicLostAnswer: the create is processed, then the connection closes
	// without an answer (the drop_after_process fault); the order goes on
	// and is approved.
	MagicLostAnswer MagicKind = "lost_answer"
	// MagicSlowGateway: the create is processed and answered
	// MagicSlowGatewayDelay late (the slow fault); the order is approved.
	MagicSlowGateway MagicKind = "slow_gateway"
	// MagicGatewayTimeout: the create is processed and answered
	// MagicGatewayTimeoutDelay late, after a client's usual 15 s timeout;
	// the order is approved.
	MagicGatewayTimeout MagicKind = "gateway_timeout"
	// MagicRefused: the gateway refuses the create (signed code 40012);
	// no order is created.
	MagicRefused MagicKind = "refused"
)

// Delays of the magic amounts.
const (
	MagicSlowCustomerDelay   = 20 * time.Second
	MagicSlowGatewayDelay    = 5 * time.Second
	MagicGatewayTimeoutDelay = 20 * time.Second
)

// MagicAmount is one magic amount.
type MagicAmount struct {
	// Minor is the amount's ending in minor units (0-99) or, when Exact,
	// the whole amount in minor units.
	Minor int64
	Exact bool
	Kind  MagicKind
	// Code and Message are the decline's trans_error_code and
	// trans_error_msg (MagicDecline only).
	Code, Message string
	// Effect says what the emulator does, in a few words.
	Effect string
}

// Label is the amount as the docs write it for a currency with two
// decimals: "x.51" for an ending, "0.44" for an exact amount.
func (m MagicAmount) Label() string {
	if m.Exact {
		return fmt.Sprintf("%d.%02d", m.Minor/100, m.Minor%100)
	}
	return fmt.Sprintf("x.%02d", m.Minor)
}

// Sample is an amount in a currency with two decimals that carries m:
// the exact amount, or 12 with m's ending ("12.51").
func (m MagicAmount) Sample() string {
	if m.Exact {
		return m.Label()
	}
	return fmt.Sprintf("12.%02d", m.Minor)
}

// Delay is how late the terminal finishes (MagicSlowCustomer) or the
// gateway answers (MagicSlowGateway, MagicGatewayTimeout); 0 otherwise.
func (m MagicAmount) Delay() time.Duration {
	switch m.Kind {
	case MagicSlowCustomer:
		return MagicSlowCustomerDelay
	case MagicSlowGateway:
		return MagicSlowGatewayDelay
	case MagicGatewayTimeout:
		return MagicGatewayTimeoutDelay
	}
	return 0
}

// magicAmounts is the table, in the order the docs list it. The .51
// ending moves with Config.DeclineMinorSuffix.
var magicAmounts = []MagicAmount{
	{Minor: 5, Kind: MagicDecline, Code: "05", Message: "Do not honor", Effect: "declined on the terminal"},
	{Minor: 14, Kind: MagicDecline, Code: "14", Message: "Invalid card number", Effect: "declined on the terminal"},
	{Minor: DefaultDeclineMinorSuffix, Kind: MagicDecline, Code: "51", Message: "Insufficient funds", Effect: "declined on the terminal"},
	{Minor: 54, Kind: MagicDecline, Code: "54", Message: "Expired card", Effect: "declined on the terminal"},
	{Minor: 55, Kind: MagicDecline, Code: "55", Message: "Incorrect PIN", Effect: "declined on the terminal"},
	{Minor: 61, Kind: MagicDecline, Code: "61", Message: "Exceeds withdrawal amount limit", Effect: "declined on the terminal"},
	{Minor: 91, Kind: MagicDecline, Code: "91", Message: "Issuer or switch inoperative", Effect: "declined on the terminal"},
	{Minor: 31, Kind: MagicCancel, Effect: "the customer cancels on the terminal (status 3)"},
	{Minor: 41, Exact: true, Kind: MagicSlowCustomer, Effect: "slow customer: the terminal approves 20 s later than usual"},
	{Minor: 42, Exact: true, Kind: MagicNeverPaid, Effect: "no card comes: the order runs out at its expires (status 1 ORDER_EXPIRED)"},
	{Minor: 43, Exact: true, Kind: MagicOffline, Effect: "terminal offline for this payment: answer says offline, the order stays in status 9"},
	{Minor: 44, Exact: true, Kind: MagicLostAnswer, Effect: "lost answer: the create is processed, the connection closes without an answer; the order is approved"},
	{Minor: 45, Exact: true, Kind: MagicSlowGateway, Effect: "slow CodePay: the create is answered 5 s late; the order is approved"},
	{Minor: 46, Exact: true, Kind: MagicGatewayTimeout, Effect: "CodePay timeout: the create is answered 20 s late, after a 15 s client timeout; the order is approved"},
	{Minor: 47, Exact: true, Kind: MagicRefused, Effect: "refused by CodePay: signed answer code 40012, no order is created"},
}

// MagicAmounts returns the magic amounts with their default endings.
func MagicAmounts() []MagicAmount { return slices.Clone(magicAmounts) }

// magicLocked is the magic amount of a payment of type tt and amount
// (minor units), if any. Config.DeclineMinorSuffix moves the "51"
// decline; -1 turns every magic amount off.
func (s *Sim) magicLocked(tt codepay.TransType, amount int64) (MagicAmount, bool) {
	if s.decline < 0 || !(&order{typ: tt}).isPayment() {
		return MagicAmount{}, false
	}
	for _, m := range magicAmounts {
		if m.Exact && m.Minor == amount {
			return m, true
		}
	}
	for _, m := range magicAmounts {
		if m.Code == "51" && amount%100 == int64(s.decline) {
			m.Minor = int64(s.decline)
			return m, true
		}
	}
	for _, m := range magicAmounts {
		if !m.Exact && m.Code != "51" && amount%100 == m.Minor {
			return m, true
		}
	}
	return MagicAmount{}, false
}

// magicFaultLocked is the transport behaviour of the order just created
// with number no: a fault for the create's answer, or the zero Fault.
func (s *Sim) magicFaultLocked(no string) Fault {
	o := s.orders[no]
	if o == nil || o.magic == nil {
		return Fault{}
	}
	switch o.magic.Kind {
	case MagicLostAnswer:
		return Fault{Kind: FaultDropAfterProcess}
	case MagicSlowGateway, MagicGatewayTimeout:
		return Fault{Kind: FaultSlow, Delay: o.magic.Delay()}
	}
	return Fault{}
}

// outcome is how the terminal finishes a magic order; ok is false for
// kinds that do not decide the outcome.
func (m MagicAmount) outcome() (Outcome, bool) {
	switch m.Kind {
	case MagicDecline:
		return Outcome{Status: codepay.StatusFailed, ErrorCode: m.Code, ErrorMsg: m.Message}, true
	case MagicCancel:
		return Outcome{Status: codepay.StatusCancelled, ErrorMsg: "cancelled on the terminal"}, true
	}
	return Outcome{}, false
}
