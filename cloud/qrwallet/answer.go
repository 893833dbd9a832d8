package qrwallet

import (
	"encoding/json"
	"fmt"

	"github.com/posbridge/posbridge/money"
)

// answer reads the data object of a successful answer, keeping the first
// problem. Every problem is a *MismatchError: the answer cannot be trusted
// as being about the request (it wraps ErrUnknownOutcome).
type answer struct {
	op   string
	data map[string]json.RawMessage
	cur  money.Currency
	err  error
}

func (c *Client) answer(op string, env *envelope) *answer {
	return &answer{op: op, data: env.data, cur: c.cur}
}

func (a *answer) fail(field, reason string) {
	if a.err == nil {
		a.err = &MismatchError{Op: a.op, Field: field, Reason: reason}
	}
}

// text returns a string member; required ones must be present and non-empty.
func (a *answer) text(key string, required bool) string {
	s, ok, err := getString(a.data, key)
	switch {
	case err != nil:
		a.fail(key, err.Error())
	case required && (!ok || s == ""):
		a.fail(key, "missing")
	}
	return s
}

// expectString checks that a member equals want (absent is allowed unless
// required).
func (a *answer) expectString(key, want string, required bool) {
	s, ok, err := getString(a.data, key)
	switch {
	case err != nil:
		a.fail(key, err.Error())
	case !ok:
		if required {
			a.fail(key, "missing")
		}
	case s != want:
		a.fail(key, fmt.Sprintf("answer has %q, the request %q", s, want))
	}
}

// amount returns an optional amount member in minor units (0 when absent).
func (a *answer) amount(key string) int64 {
	v, _, err := getAmount(a.data, key, a.cur)
	if err != nil {
		a.fail(key, err.Error())
	}
	return v
}

// expectAmount checks that an amount member equals want minor units.
func (a *answer) expectAmount(key string, want int64, required bool) {
	v, ok, err := getAmount(a.data, key, a.cur)
	switch {
	case err != nil:
		a.fail(key, err.Error())
	case !ok:
		if required {
			a.fail(key, "missing")
		}
	case v != want:
		a.fail(key, fmt.Sprintf("answer has %s, the request %s", money.Format(v, a.cur), money.Format(want, a.cur)))
	}
}

// expectCurrency checks an optional currency member against the account's.
func (a *answer) expectCurrency() { a.expectString("currency", a.cur.Code, false) }

// boolean returns a required boolean member.
func (a *answer) boolean(key string) bool {
	v, ok, err := getBool(a.data, key)
	switch {
	case err != nil:
		a.fail(key, err.Error())
	case !ok:
		a.fail(key, "missing")
	}
	return v
}

// integer returns an optional integer member (0 when absent).
func (a *answer) integer(key string) int64 {
	v, _, err := getInt(a.data, key)
	if err != nil {
		a.fail(key, err.Error())
	}
	return v
}

// resultCode returns result_code. When strict (native pay: the QR is shown
// only on a known success), a present code other than "SUCCESS" is not
// trusted.
func (a *answer) resultCode(strict bool) string {
	code := a.text("result_code", false)
	if strict && code != "" && code != ResultSuccess {
		a.fail("result_code", fmt.Sprintf("%q is not a code the spec documents", code))
	}
	return code
}
