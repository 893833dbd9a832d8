package bindo

import (
	"strings"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
	"github.com/posbridge/posbridge/pan"
)

// Card is the card-present data of a sale, as read by the POS's or ECR's
// own reader. The agent adapts device/card's *card.Card to it. Track2,
// Track1, ICCHex and CardSN are raw card data: this package puts them on
// the wire and nowhere else (never in logs, errors or the request log).
type Card interface {
	// Track2 is the track 2 equivalent data: PAN, '=' (or 'D') separator,
	// YYMM expiry, service code, discretionary data; sentinels optional.
	Track2() string
	// Track1 is the optional track 1 data ("" when absent).
	Track1() string
	// ICCHex is the EMV ICC request data (BER-TLV) as hex; required for
	// contact and contactless.
	ICCHex() string
	// CardSN is the PAN sequence number (tag 5F34); required for contact
	// and contactless.
	CardSN() string
	// Expiry is "YYMM"; "" means take it from track 2.
	Expiry() string
	// Masked is the PAN as first 6 + '*' + last 4: the only card datum
	// that may be logged.
	Masked() string
	// Brand is the scheme ("Visa", "Mastercard", ...).
	Brand() string
	// EntryMode is "swipe", "contact", "contactless" or "fallback_swipe".
	EntryMode() string
	// Mode is the reader mode: "swipe", "contact" or "contactless".
	Mode() string
	// Fallback reports a chip card swiped after a chip failure.
	Fallback() bool
}

// Reader modes (credit_card.card_reader_mode) this client sends.
const (
	ModeSwipe       = "swipe"
	ModeContact     = "contact"
	ModeContactless = "contactless"
)

// creditCard is the request's credit_card object for a native sale.
type creditCard struct {
	ReaderMode string `json:"card_reader_mode"`
	Number     string `json:"card_number"`
	ExpDate    string `json:"card_exp_date"`
	Fallback   bool   `json:"card_fallback,omitempty"`
	CardSN     string `json:"card_sn,omitempty"`
	Track1     string `json:"card_track1,omitempty"`
	Track2     string `json:"card_track2"`
	ICCRequest string `json:"icc_request,omitempty"`
}

// buildCreditCard validates the card for its reader mode (the spec's
// per-mode rules: card_track2 for swipe, contact and contactless; icc_request
// and card_sn as well for contact and contactless) and builds the wire
// object. Reasons never contain card data.
func buildCreditCard(c Card) (*creditCard, error) {
	if c == nil {
		return nil, &ValidationError{Field: "card", Reason: "required for a native card-present sale"}
	}
	mode := c.Mode()
	switch mode {
	case ModeSwipe, ModeContact, ModeContactless:
	default:
		return nil, &ValidationError{Field: "card.reader_mode", Reason: "must be swipe, contact or contactless"}
	}
	if c.Fallback() && mode != ModeSwipe {
		return nil, &ValidationError{Field: "card.fallback", Reason: "fallback is only possible with reader mode swipe"}
	}
	t2 := strings.TrimSpace(c.Track2())
	if t2 == "" {
		return nil, &ValidationError{Field: "card.track2", Reason: "required for swipe, contact and contactless"}
	}
	pan, t2exp, ok := splitTrack2(t2)
	if !ok {
		return nil, &ValidationError{Field: "card.track2", Reason: "not track 2 data (PAN of 12-19 digits, '=' or 'D', YYMM)"}
	}
	exp := c.Expiry()
	if exp == "" {
		exp = t2exp
	}
	if !validYYMM(exp) {
		return nil, &ValidationError{Field: "card.expiry", Reason: "must be YYMM"}
	}
	cc := &creditCard{
		ReaderMode: mode, Number: pan, ExpDate: exp, Fallback: c.Fallback(),
		Track1: c.Track1(), Track2: t2,
	}
	if mode == ModeContact || mode == ModeContactless {
		icc := c.ICCHex()
		if icc == "" {
			return nil, &ValidationError{Field: "card.icc", Reason: "required for contact and contactless"}
		}
		if !isHex(icc) || len(icc)%2 != 0 {
			return nil, &ValidationError{Field: "card.icc", Reason: "must be an even number of hex digits"}
		}
		sn := c.CardSN()
		if sn == "" {
			return nil, &ValidationError{Field: "card.card_sn", Reason: "required for contact and contactless"}
		}
		if len(sn) > 3 || !allDigits(sn) {
			return nil, &ValidationError{Field: "card.card_sn", Reason: "must be 1-3 digits"}
		}
		cc.ICCRequest, cc.CardSN = icc, sn
	} else if sn := c.CardSN(); sn != "" && len(sn) <= 3 && allDigits(sn) {
		cc.CardSN = sn
	}
	return cc, nil
}

// splitTrack2 returns the PAN and the YYMM expiry of track 2 data, with or
// without the ';' and '?' sentinels and with '=' or 'D' as separator.
func splitTrack2(t2 string) (pan, exp string, ok bool) {
	t2 = strings.TrimPrefix(t2, ";")
	if i := strings.IndexByte(t2, '?'); i >= 0 {
		t2 = t2[:i]
	}
	sep := strings.IndexAny(t2, "=Dd")
	if sep < 12 || sep > 19 || !allDigits(t2[:sep]) {
		return "", "", false
	}
	rest := t2[sep+1:]
	if len(rest) < 4 || !allDigits(rest[:4]) {
		return "", "", false
	}
	return t2[:sep], rest[:4], true
}

func validYYMM(s string) bool {
	if len(s) != 4 || !allDigits(s) {
		return false
	}
	m := (s[2]-'0')*10 + (s[3] - '0')
	return m >= 1 && m <= 12
}

// allDigits reports whether s is non-empty and only ASCII digits.
func allDigits(s string) bool { return pan.AllDigits(s) }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// scrubDigits makes gateway-supplied text safe for an error or a log:
// every run of 12 or more digits (a possible card number) masked, control
// characters as spaces, at most maxErrorMessageLength bytes (httpx.Scrub).
// It is applied to every gateway-supplied text that reaches an error or a
// log.
func scrubDigits(s string) string { return httpx.Scrub(s, maxErrorMessageLength) }
