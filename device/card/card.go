// Package card validates and holds card-present data for the Bindo native
// fallback: track 2, track 1 and EMV ICC data (BER-TLV) as read by a POS or
// ECR's own card reader.
//
// Parse checks everything the gateway would otherwise refuse later (formats,
// Luhn, track/ICC agreement, expiry, the per-mode rules) and returns a Card.
// A Card keeps the raw data in byte slices it owns, so Wipe can zero them as
// soon as the request is answered. Every way of printing or encoding a Card or
// an Input (fmt with any verb, log/slog, encoding/json, encoding.TextMarshaler)
// shows only the brand, the masked PAN (first 6, last 4) and the entry mode;
// error texts name the field and never contain card data.
//
// The package is a leaf: no I/O, no logging, no storage.
package card

import (
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"
)

// ReaderMode is how the card was read; the values are Bindo's
// card_reader_mode strings.
type ReaderMode string

// Reader modes accepted in Input.ReaderMode.
const (
	Swipe       ReaderMode = "swipe"
	Contact     ReaderMode = "contact"
	Contactless ReaderMode = "contactless"
)

// Valid reports whether m is one of Swipe, Contact and Contactless.
func (m ReaderMode) Valid() bool {
	return m == Swipe || m == Contact || m == Contactless
}

// Input is the `card` object of payment.create as decoded from JSON. It holds
// raw card data in plain strings: decode it, call Parse, and drop it. Its
// String, GoString, Format, LogValue and MarshalJSON print only the reader
// mode and the masked PAN ("card input (swipe, masked 476173******0119)" or
// "card input (invalid)"); it refuses gob encoding. Printing a struct that
// holds an Input in an unexported field bypasses these methods (fmt cannot
// call methods on unexported fields): keep Input in exported fields or behind
// a pointer.
type Input struct {
	ReaderMode string `json:"reader_mode"`
	Track2     string `json:"track2"`
	Track1     string `json:"track1"`
	ICC        string `json:"icc"`
	CardSN     string `json:"card_sn"`
	Fallback   bool   `json:"fallback"`
}

// ErrInvalidCard is wrapped by every error Parse returns.
var ErrInvalidCard = errors.New("invalid card data")

// FieldError says which field of the card object is wrong and why. Reason
// never contains card data.
type FieldError struct {
	Field  string // "card.track2", "card.track1", "card.icc", "card.card_sn", "card.reader_mode" or "card.fallback"
	Reason string
}

// Error returns "card.track2: reason".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap returns ErrInvalidCard.
func (e *FieldError) Unwrap() error { return ErrInvalidCard }

// Field names used in FieldError.
const (
	fieldReaderMode = "card.reader_mode"
	fieldTrack2     = "card.track2"
	fieldTrack1     = "card.track1"
	fieldICC        = "card.icc"
	fieldCardSN     = "card.card_sn"
	fieldFallback   = "card.fallback"
)

// maxICC is the largest ICC data accepted, in bytes (4096 hex digits). EMV
// authorisation data (ISO 8583 field 55) is at most a few hundred bytes.
const maxICC = 2048

func fieldErr(field, reason string) *FieldError { return &FieldError{Field: field, Reason: reason} }

// Parse validates in and returns the card. The rules:
//
//   - reader_mode is swipe, contact or contactless; fallback is only allowed
//     with swipe.
//   - track2 is required (with or without sentinels, '=' or 'D' separator, or
//     the hex form of tag 57); its PAN is 12–19 digits and passes Luhn.
//   - track1, when present, is format B and agrees with track2 (PAN, expiry).
//   - icc is required for contact and contactless, refused on a fallback
//     swipe, and accepted (validated, passed on) on a plain swipe. It is hex
//     BER-TLV; the PAN in tags 5A and 57, the expiry in 5F24 and 57 must agree
//     with track2; 5F34 gives the PAN sequence number.
//   - card_sn is 1–3 digits (zero-padded to 3), must equal tag 5F34 when both
//     are present, and is required (from either) for contact and contactless.
//   - a card whose expiry month is before now's month is refused
//     (card.track2 "card expired").
//
// Every error is a *FieldError wrapping ErrInvalidCard.
func Parse(in Input, now time.Time) (_ *Card, err error) {
	mode := ReaderMode(in.ReaderMode)
	switch {
	case in.ReaderMode == "":
		return nil, fieldErr(fieldReaderMode, "required")
	case !mode.Valid():
		return nil, fieldErr(fieldReaderMode, "must be swipe, contact or contactless")
	case in.Fallback && mode != Swipe:
		return nil, fieldErr(fieldFallback, "only allowed with reader_mode swipe")
	}

	t2, why := parseTrack2(in.Track2)
	if why != "" {
		return nil, fieldErr(fieldTrack2, why)
	}
	if !Luhn(t2.pan) {
		return nil, fieldErr(fieldTrack2, "PAN fails the Luhn check")
	}

	var t1 track1
	if in.Track1 != "" {
		if t1, why = parseTrack1(in.Track1); why != "" {
			return nil, fieldErr(fieldTrack1, why)
		}
		if t1.pan != t2.pan {
			return nil, fieldErr(fieldTrack1, "PAN does not match track2")
		}
		if t1.expiry != t2.expiry {
			return nil, fieldErr(fieldTrack1, "expiry does not match track2")
		}
	}

	sn := ""
	if in.CardSN != "" {
		if len(in.CardSN) > 3 || !allDigits(in.CardSN) {
			return nil, fieldErr(fieldCardSN, "must be 1 to 3 digits")
		}
		sn = strings.Repeat("0", 3-len(in.CardSN)) + in.CardSN
	}

	var icc []byte
	defer func() {
		if err != nil {
			clear(icc)
		}
	}()
	switch {
	case in.ICC == "" && mode != Swipe:
		return nil, fieldErr(fieldICC, "required for contact and contactless")
	case in.ICC != "" && in.Fallback:
		return nil, fieldErr(fieldICC, "not allowed on a fallback swipe (the chip was not read)")
	case in.ICC != "":
		var iccSN string
		var fe *FieldError
		if icc, iccSN, fe = parseICC(in.ICC, t2); fe != nil {
			return nil, fe
		}
		if iccSN != "" {
			if sn != "" && sn != iccSN {
				return nil, fieldErr(fieldCardSN, "does not match ICC tag 5F34")
			}
			sn = iccSN
		}
	}
	if sn == "" && mode != Swipe {
		return nil, fieldErr(fieldCardSN, "required for contact and contactless (give card_sn or ICC tag 5F34)")
	}

	if expired(t2.expiry, now) {
		return nil, fieldErr(fieldTrack2, "card expired")
	}

	entry := string(mode)
	if in.Fallback {
		entry = "fallback_swipe"
	}
	r := &raw{
		pan:    []byte(t2.pan),
		expiry: []byte(t2.expiry),
		track2: []byte(t2.normalised()),
		icc:    icc,
		cardSN: []byte(sn),
	}
	c := &Card{
		mode:   mode,
		entry:  entry,
		brand:  BrandOf(t2.pan),
		masked: Mask(t2.pan),
		raw:    func() *raw { return r },
	}
	if in.Track1 != "" {
		c.raw().track1 = []byte(t1.norm)
	}
	return c, nil
}

// expired reports whether a card valid through the month yymm has expired at
// now (in now's location). YY is taken as 20YY.
func expired(yymm string, now time.Time) bool {
	y := 2000 + prefix(yymm, 2)
	m := prefix(yymm[2:], 2)
	ny, nm := now.Year(), int(now.Month())
	return y < ny || (y == ny && m < nm)
}

// parseICC validates the hex ICC data against track 2 and returns it as
// upper-case hex, with the PAN sequence number from tag 5F34 ("" when absent).
func parseICC(s string, t2 track2) (_ []byte, _ string, fe *FieldError) {
	if len(s) > 2*maxICC {
		return nil, "", fieldErr(fieldICC, "longer than 2048 bytes")
	}
	if len(s)%2 != 0 {
		return nil, "", fieldErr(fieldICC, "odd number of hex digits")
	}
	up := []byte(s)
	defer func() {
		if fe != nil {
			clear(up)
		}
	}()
	for i, c := range up {
		if c >= 'a' && c <= 'f' {
			up[i] = c - 'a' + 'A'
		}
	}
	b := make([]byte, len(up)/2)
	defer clear(b)
	if _, err := hex.Decode(b, up); err != nil {
		return nil, "", fieldErr(fieldICC, "not hexadecimal")
	}
	tlvs, err := ParseTLV(b)
	if err != nil {
		// A *TLVError: offset and reason only, never data bytes.
		return nil, "", fieldErr(fieldICC, err.Error())
	}
	if len(tlvs) == 0 {
		return nil, "", fieldErr(fieldICC, "contains no data objects")
	}

	if t, ok := Find(tlvs, 0x5A); ok {
		pan := strings.TrimRight(strings.ToUpper(hex.EncodeToString(t.Value)), "F")
		if !isPAN(pan) {
			return nil, "", fieldErr(fieldICC, "tag 5A is not a valid PAN")
		}
		if pan != t2.pan {
			return nil, "", fieldErr(fieldICC, "tag 5A does not match track2")
		}
	}
	if t, ok := Find(tlvs, 0x57); ok {
		eq, why := parseTrack2(strings.ToUpper(hex.EncodeToString(t.Value)))
		if why != "" {
			return nil, "", fieldErr(fieldICC, "tag 57 is not valid track 2 equivalent data: "+why)
		}
		if eq.pan != t2.pan || eq.expiry != t2.expiry {
			return nil, "", fieldErr(fieldICC, "tag 57 does not match track2")
		}
	}
	if t, ok := Find(tlvs, 0x5F24); ok {
		d := hex.EncodeToString(t.Value)
		if len(d) != 6 || !validYYMM(d[:4]) || !allDigits(d) || prefix(d[4:], 2) < 1 || prefix(d[4:], 2) > 31 {
			return nil, "", fieldErr(fieldICC, "tag 5F24 is not a valid YYMMDD date")
		}
		if d[:4] != t2.expiry {
			return nil, "", fieldErr(fieldICC, "expiry in tag 5F24 does not match track2")
		}
	}
	sn := ""
	if t, ok := Find(tlvs, 0x5F34); ok {
		d := hex.EncodeToString(t.Value)
		if len(d) != 2 || !allDigits(d) {
			return nil, "", fieldErr(fieldICC, "tag 5F34 is not a valid PAN sequence number")
		}
		sn = "0" + d
	}
	return up, sn, nil
}

// Card is validated card-present data. It lives in memory only for the
// duration of one request: call Wipe when the request is answered.
//
// A Card prints and encodes (fmt, slog, JSON, text) only its brand, masked PAN
// and entry mode. The raw values are available only through the accessors
// documented as being for the Bindo client.
//
// Printing methods have value receivers so that a Card value prints masked as
// well as a *Card; the raw data sits behind a pointer, so even reflection over
// an unexported Card field shows only an address.
type Card struct {
	mode   ReaderMode
	entry  string
	brand  string
	masked string
	// raw is reached through a function: fmt prints a func field as an
	// address, so even a Card value inside a struct's unexported field (where
	// fmt cannot call the String methods) never prints the raw bytes.
	raw func() *raw
}

// raw is the sensitive part of a Card, in byte slices Wipe can zero.
type raw struct {
	mu     sync.Mutex
	wiped  bool
	pan    []byte
	expiry []byte
	track2 []byte
	track1 []byte
	icc    []byte
	cardSN []byte
}

// Masked returns the PAN as first 6 + '*' + last 4, e.g. "476173******0119".
// It survives Wipe.
func (c *Card) Masked() string {
	if c == nil {
		return ""
	}
	return c.masked
}

// Brand returns the scheme from the BIN (see BrandOf).
func (c *Card) Brand() string {
	if c == nil {
		return ""
	}
	return c.brand
}

// EntryMode returns "swipe", "contact", "contactless" or "fallback_swipe".
func (c *Card) EntryMode() string {
	if c == nil {
		return ""
	}
	return c.entry
}

// ReaderMode returns the reader mode as given in the input (a fallback swipe
// is Swipe).
func (c *Card) ReaderMode() ReaderMode {
	if c == nil {
		return ""
	}
	return c.mode
}

// Fallback reports whether this is a swipe after a chip failure.
func (c *Card) Fallback() bool { return c.EntryMode() == "fallback_swipe" }

// Expiry returns the expiry date as YYMM, or "" after Wipe.
func (c *Card) Expiry() string { return c.get(func(r *raw) []byte { return r.expiry }) }

// Track2 returns track 2 normalised: no sentinels, LRC or padding, '=' as the
// separator. For the Bindo client only (card_track2); "" after Wipe.
func (c *Card) Track2() string { return c.get(func(r *raw) []byte { return r.track2 }) }

// Track1 returns track 1 without sentinels and LRC (starting with the format
// code 'B'), or "" when none was given. For the Bindo client only
// (card_track1); "" after Wipe.
func (c *Card) Track1() string { return c.get(func(r *raw) []byte { return r.track1 }) }

// ICCHex returns the ICC data as received, in upper-case hex, or "" when none
// was given. For the Bindo client only (icc_request); "" after Wipe.
func (c *Card) ICCHex() string { return c.get(func(r *raw) []byte { return r.icc }) }

// CardSN returns the PAN sequence number as 3 digits (from the input or ICC
// tag 5F34), or "" when neither had one (possible only for swipe). For the
// Bindo client only (card_sn); "" after Wipe.
func (c *Card) CardSN() string { return c.get(func(r *raw) []byte { return r.cardSN }) }

// PAN returns the full card number. For the Bindo client only (card_number);
// "" after Wipe.
func (c *Card) PAN() string { return c.get(func(r *raw) []byte { return r.pan }) }

// Wiped reports whether Wipe was called.
func (c *Card) Wiped() bool {
	if c == nil || c.raw == nil {
		return true
	}
	r := c.raw()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wiped
}

// Wipe overwrites every raw byte the Card holds with zeros and drops them;
// later raw accessors return "". Masked, Brand and EntryMode keep working.
// Strings already returned by the accessors (and the Input strings) are
// immutable copies Wipe cannot reach: take them only to build the request.
// Wipe is safe to call more than once and concurrently with the accessors.
func (c *Card) Wipe() {
	if c == nil || c.raw == nil {
		return
	}
	r := c.raw()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range []*[]byte{&r.pan, &r.expiry, &r.track2, &r.track1, &r.icc, &r.cardSN} {
		clear(*b)
		*b = nil
	}
	r.wiped = true
}

func (c *Card) get(f func(*raw) []byte) string {
	if c == nil || c.raw == nil {
		return ""
	}
	r := c.raw()
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(f(r))
}
