package idpay

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/posbridge/posbridge/money"
)

// Method is a payment method code of the gateway (spec lines 40-56).
type Method string

// The payment methods the document lists (spec lines 43-56).
const (
	MethodVABCA       Method = "VA_BCA"          // line 43
	MethodVAMandiri   Method = "VA_MANDIRI"      // line 44
	MethodVAPermata   Method = "VA_PERMATA"      // line 45
	MethodVACIMB      Method = "VA_CIMB"         // line 46
	MethodVABNI       Method = "VA_BNI"          // line 47
	MethodVABRI       Method = "VA_BRI"          // line 48
	MethodVABNC       Method = "VA_BNC"          // line 49
	MethodVASampoerna Method = "VA_SAMPOERNA"    // line 50
	MethodVAMaybank   Method = "VA_MAYBANK"      // line 51
	MethodVADanamon   Method = "VA_DANAMON"      // line 52
	MethodRetailAlfa  Method = "RETAIL_ALFAMART" // line 53
	MethodQRIS        Method = "QRIS"            // line 54
	MethodEWalletDANA Method = "EWALLET_DANA"    // line 55
	MethodEWalletOVO  Method = "EWALLET_OVO"     // line 56
)

// Methods lists every method of the document, in its order.
func Methods() []Method {
	return []Method{MethodVABCA, MethodVAMandiri, MethodVAPermata, MethodVACIMB, MethodVABNI, MethodVABRI,
		MethodVABNC, MethodVASampoerna, MethodVAMaybank, MethodVADanamon, MethodRetailAlfa, MethodQRIS,
		MethodEWalletDANA, MethodEWalletOVO}
}

// Valid reports whether m is one of the document's methods.
func (m Method) Valid() bool { return slices.Contains(Methods(), m) }

// Kind is what the customer is given to pay with.
type Kind string

// Kinds of method.
const (
	KindVA      Kind = "va"      // a virtual account number to pay from any bank (line 85)
	KindQRIS    Kind = "qris"    // a QRIS payload for any wallet or bank app (line 54)
	KindRetail  Kind = "retail"  // a payment code to pay at the counter (line 53)
	KindEWallet Kind = "ewallet" // a redirect (DANA) or a push to the wallet app (OVO, line 80)
)

// Kind returns m's kind, "" for an unknown method.
func (m Method) Kind() Kind {
	switch {
	case !m.Valid():
		return ""
	case strings.HasPrefix(string(m), "VA_"):
		return KindVA
	case strings.HasPrefix(string(m), "RETAIL_"):
		return KindRetail
	case m == MethodQRIS:
		return KindQRIS
	}
	return KindEWallet
}

// OVOPayWindow is how long an OVO push stays payable: "OVO requires the
// customer to complete the payment within 30 seconds, and expires" (spec
// line 80).
const OVOPayWindow = 30 * time.Second

// Expiry period bounds and default, in minutes (spec line 81: "the field
// value range is recommended to remain in the range of 15-97200. If the
// value is not sent, the default is 4320").
const (
	MinExpiryPeriod     = 15 * time.Minute
	MaxExpiryPeriod     = 97200 * time.Minute
	DefaultExpiryPeriod = 4320 * time.Minute
)

// State is the small set of order states the agent acts on.
type State string

// States. Only StatePaid means money was collected (spec line 71: "Only
// when the order status is SUCCESS, the order status needs to be modified
// successfully").
const (
	// StatePending: created, waiting for the customer (INIT_ORDER, NO_PAY,
	// OPEN_PAY_URL; spec lines 65-66).
	StatePending State = "pending"
	// StatePaid: SUCCESS (spec line 67).
	StatePaid State = "paid"
	// StateExpired: still pending at the gateway, but past the order's
	// expiry plus Config.ExpiryGrace. The document has no expired status;
	// this is derived (QueryRequest.ExpiresAt), and a later SUCCESS still
	// wins.
	StateExpired State = "expired"
	// StateFailed: PAY_CANCEL, "the order has been canceled, if the payment
	// is successful, it means that a refund has been made" (spec line 68):
	// the merchant keeps no money either way.
	StateFailed State = "failed"
	// StateUnknown: a status the document does not list (UNKNOWN included).
	// It is never a failure: keep querying (spec line 104).
	StateUnknown State = "unknown"
)

// The order statuses of the document (spec lines 64-68).
const (
	StatusInitOrder  = "INIT_ORDER"
	StatusNoPay      = "NO_PAY"
	StatusOpenPayURL = "OPEN_PAY_URL"
	StatusSuccess    = "SUCCESS"
	StatusPayCancel  = "PAY_CANCEL"
)

// MapStatus maps a gateway order status to a State. Anything not listed in
// the document is StateUnknown, never StateFailed.
func MapStatus(status string) State {
	switch status {
	case StatusInitOrder, StatusNoPay, StatusOpenPayURL:
		return StatePending
	case StatusSuccess:
		return StatePaid
	case StatusPayCancel:
		return StateFailed
	}
	return StateUnknown
}

// Final reports whether s ends the payment (paid or failed). Expired is
// final for the till but a later SUCCESS must still be honoured.
func (s State) Final() bool { return s == StatePaid || s == StateFailed }

// IDR is the currency of every amount: money says ISO 4217 gives IDR two
// decimals, while the gateway takes whole rupiah only (spec lines 35, 60).
var IDR = money.MustCurrency("IDR")

// Rupiah returns a as the whole rupiah the gateway takes. A non-IDR
// amount, a fraction of a rupiah (IDR 10000.50), zero or a negative amount
// is a *ValidationError naming field. Whole rupiah in ISO minor units
// (IDR 10000.00 = 1000000 sen) are fine.
func Rupiah(field string, a money.Amount) (int64, error) {
	if a.Currency.Code != IDR.Code {
		return 0, &ValidationError{Field: field, Reason: fmt.Sprintf("currency %q: the gateway takes Indonesian rupiah (IDR) only (spec line 35)", a.Currency.Code)}
	}
	unit := int64(1)
	for range a.Currency.Exponent {
		unit *= 10
	}
	if a.Minor%unit != 0 {
		return 0, &ValidationError{Field: field, Reason: fmt.Sprintf("%s has a fraction of a rupiah; the gateway takes whole rupiah only (spec lines 35, 60)", a)}
	}
	if a.Minor <= 0 {
		return 0, &ValidationError{Field: field, Reason: fmt.Sprintf("%s: must be a positive integer number of rupiah (spec line 35)", a)}
	}
	return a.Minor / unit, nil
}

// FromRupiah returns whole rupiah as a money.Amount in IDR's ISO minor
// units (sen).
func FromRupiah(rupiah int64) money.Amount {
	return money.Amount{Minor: rupiah * 100, Currency: IDR}
}

// ParseRupiah reads a decimal amount string from the POS side for this
// gateway: whole rupiah only. "30000" is accepted; "30000.50" and even
// "30000.00" are refused as a *ValidationError naming field, so a POS that
// thinks in sen is caught before anything is sent.
func ParseRupiah(field, s string) (money.Amount, error) {
	if strings.Contains(s, ".") {
		return money.Amount{}, &ValidationError{Field: field, Reason: fmt.Sprintf("%q has decimals; the gateway takes whole rupiah only, e.g. \"30000\" (spec lines 35, 60)", s)}
	}
	n, err := money.Parse(s, money.Currency{Code: IDR.Code, Exponent: 0})
	if err != nil {
		return money.Amount{}, &ValidationError{Field: field, Reason: err.Error()}
	}
	if n <= 0 || n > money.MaxMinor/100 {
		return money.Amount{}, &ValidationError{Field: field, Reason: fmt.Sprintf("%q: must be a positive integer number of rupiah (spec line 35)", s)}
	}
	return FromRupiah(n), nil
}
