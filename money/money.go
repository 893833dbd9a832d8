// Package money converts between the decimal strings of posbridge's wire formats
// and the int64 minor units plus ISO 4217 code used everywhere inside.
//
// Decimals (shopspring/decimal) appear only at the edges: parsing a string from a
// client or a provider, and formatting a string for one. float64 is never used.
package money

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/shopspring/decimal"
)

// Sentinel errors; callers branch with errors.Is.
var (
	// ErrUnknownCurrency means the code is not an ISO 4217 currency we know.
	ErrUnknownCurrency = errors.New("unknown currency")
	// ErrBadAmount means the text is not a plain non-negative decimal number.
	ErrBadAmount = errors.New("malformed amount")
	// ErrTooManyDecimals means the amount has more decimals than the currency allows.
	ErrTooManyDecimals = errors.New("too many decimals for currency")
	// ErrOutOfRange means the amount is negative, zero where not allowed, or too large.
	ErrOutOfRange = errors.New("amount out of range")
)

// MaxMinor is the largest amount in minor units posbridge accepts (12 integer
// digits plus up to 3 decimals stays well inside int64).
const MaxMinor int64 = 999_999_999_999_999

// Currency is an ISO 4217 currency with its number of minor-unit digits.
type Currency struct {
	Code     string // three upper-case letters, e.g. "USD"
	Exponent int    // digits after the decimal point: JPY 0, USD 2, KWD 3
}

// exponents holds ISO 4217 minor units for active currencies. Currencies not
// listed have exponent 2 only if listed; anything else is ErrUnknownCurrency.
var exponents = map[string]int{
	// zero-decimal currencies
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	// three-decimal currencies
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	// four-decimal
	"CLF": 4, "UYW": 4,
	// two-decimal currencies
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
	"AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BMD": 2, "BND": 2, "BOB": 2, "BRL": 2,
	"BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2, "CDF": 2, "CHF": 2, "CNY": 2,
	"COP": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2,
	"ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2,
	"GMD": 2, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2,
	"ILS": 2, "INR": 2, "IRR": 2, "JMD": 2, "KES": 2, "KGS": 2, "KHR": 2, "KPW": 2, "KYD": 2,
	"KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "MAD": 2, "MDL": 2, "MGA": 2,
	"MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2,
	"MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "PAB": 2,
	"PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2,
	"SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2,
	"SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2,
	"TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "USD": 2, "UYU": 2, "UZS": 2,
	"VES": 2, "WST": 2, "XCD": 2, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWL": 2,
}

// LookupCurrency returns the currency for an ISO 4217 code (upper case).
func LookupCurrency(code string) (Currency, error) {
	exp, ok := exponents[code]
	if !ok {
		return Currency{}, fmt.Errorf("%w %q", ErrUnknownCurrency, code)
	}
	return Currency{Code: code, Exponent: exp}, nil
}

// MustCurrency is LookupCurrency for constants known to be valid; it panics otherwise.
func MustCurrency(code string) Currency {
	c, err := LookupCurrency(code)
	if err != nil {
		panic(err)
	}
	return c
}

var amountPattern = regexp.MustCompile(`^[0-9]{1,15}(\.[0-9]{1,6})?$`)

// Parse converts a decimal string in major units ("12.34") to minor units for
// the currency. It accepts only plain non-negative decimals (no sign, exponent,
// spaces or thousands separators) and refuses more decimals than the currency
// has, even when the extra digits are zeros ("12.340" for USD is refused, since
// a POS sending it is most likely confused about the currency).
func Parse(s string, cur Currency) (int64, error) {
	if !amountPattern.MatchString(s) {
		return 0, fmt.Errorf("%w %q: want a decimal string such as \"12.34\"", ErrBadAmount, s)
	}
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > cur.Exponent {
		return 0, fmt.Errorf("%w: %q has %d decimals, %s allows %d", ErrTooManyDecimals, s, len(s)-i-1, cur.Code, cur.Exponent)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, fmt.Errorf("%w %q", ErrBadAmount, s)
	}
	minor := d.Shift(int32(cur.Exponent))
	if !minor.IsInteger() {
		return 0, fmt.Errorf("%w: %q for %s", ErrTooManyDecimals, s, cur.Code)
	}
	if minor.GreaterThan(decimal.NewFromInt(MaxMinor)) {
		return 0, fmt.Errorf("%w: %q is too large", ErrOutOfRange, s)
	}
	return minor.IntPart(), nil
}

// ParseLenient converts a provider's amount text to minor units. Unlike Parse
// it accepts trailing zeros beyond the currency's decimals ("100.00" for JPY
// is 100) and a leading minus sign, but never a non-zero digit that would be
// lost.
func ParseLenient(s string, cur Currency) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrBadAmount)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, fmt.Errorf("%w %q", ErrBadAmount, s)
	}
	minor := d.Shift(int32(cur.Exponent))
	if !minor.IsInteger() {
		return 0, fmt.Errorf("%w: %q for %s", ErrTooManyDecimals, s, cur.Code)
	}
	if minor.Abs().GreaterThan(decimal.NewFromInt(MaxMinor)) {
		return 0, fmt.Errorf("%w: %q is too large", ErrOutOfRange, s)
	}
	return minor.IntPart(), nil
}

// Format renders minor units as a decimal string in major units with exactly
// the currency's number of decimals: 1234 USD → "12.34", 500 JPY → "500".
func Format(minor int64, cur Currency) string {
	return decimal.New(minor, -int32(cur.Exponent)).StringFixed(int32(cur.Exponent))
}

// Amount is a sum of money in minor units of a currency.
type Amount struct {
	Minor    int64
	Currency Currency
}

// String formats the amount as "12.34 USD".
func (a Amount) String() string { return Format(a.Minor, a.Currency) + " " + a.Currency.Code }

// Decimal returns the amount in major units, for edges that need a decimal.
func (a Amount) Decimal() decimal.Decimal { return decimal.New(a.Minor, -int32(a.Currency.Exponent)) }
