package card

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Summary is what posbridge shows of a card: the payment object's `card`.
type Summary struct {
	Brand     string `json:"brand"`
	MaskedPAN string `json:"masked_pan"`
	EntryMode string `json:"entry_mode"`
}

// Summary returns the brand, masked PAN and entry mode, e.g. for the journal.
func (c *Card) Summary() Summary {
	return Summary{Brand: c.Brand(), MaskedPAN: c.Masked(), EntryMode: c.EntryMode()}
}

// Compile-time checks of the printing interfaces.
var (
	_ fmt.Formatter  = Card{}
	_ fmt.Stringer   = Card{}
	_ fmt.GoStringer = Card{}
	_ slog.LogValuer = Card{}
	_ json.Marshaler = Card{}
	_ fmt.Formatter  = Input{}
	_ fmt.Stringer   = Input{}
	_ fmt.GoStringer = Input{}
	_ slog.LogValuer = Input{}
	_ json.Marshaler = Input{}
)

// String returns "card Visa 476173******0119 (contact)", or "card (none)" for
// the zero Card.
func (c Card) String() string {
	if c.masked == "" {
		return "card (none)"
	}
	return "card " + c.brand + " " + c.masked + " (" + c.entry + ")"
}

// GoString is the %#v form; it too shows only the masked data.
func (c Card) GoString() string {
	return fmt.Sprintf("card.Card{Brand: %q, MaskedPAN: %q, EntryMode: %q}", c.brand, c.masked, c.entry)
}

// Format prints the String form for every verb (%#v prints GoString, %q a
// quoted String), so no verb can reach the raw data.
func (c Card) Format(f fmt.State, verb rune) { format(f, verb, c.String(), c.GoString()) }

// LogValue logs the card as the group {brand, masked_pan, entry_mode}.
func (c Card) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("brand", c.brand),
		slog.String("masked_pan", c.masked),
		slog.String("entry_mode", c.entry),
	)
}

// MarshalJSON encodes {"brand", "masked_pan", "entry_mode"} (see Summary).
func (c Card) MarshalJSON() ([]byte, error) {
	return json.Marshal(Summary{Brand: c.brand, MaskedPAN: c.masked, EntryMode: c.entry})
}

// MarshalText returns the String form.
func (c Card) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// describe returns the reader mode and masked PAN of an input, or ok=false
// when the mode is unknown or track 2 cannot be parsed.
func (in Input) describe() (mode ReaderMode, masked string, ok bool) {
	mode = ReaderMode(in.ReaderMode)
	if !mode.Valid() {
		return "", "", false
	}
	t, why := parseTrack2(in.Track2)
	if why != "" {
		return "", "", false
	}
	return mode, Mask(t.pan), true
}

// String returns "card input (swipe, masked 476173******0119)" or
// "card input (invalid)" when the reader mode or track 2 is unusable.
func (in Input) String() string {
	mode, masked, ok := in.describe()
	if !ok {
		return "card input (invalid)"
	}
	return "card input (" + string(mode) + ", masked " + masked + ")"
}

// GoString is the %#v form; it too shows only the masked data.
func (in Input) GoString() string { return "card.Input{" + in.String() + "}" }

// Format prints the String form for every verb (%#v prints GoString, %q a
// quoted String).
func (in Input) Format(f fmt.State, verb rune) { format(f, verb, in.String(), in.GoString()) }

// LogValue logs the input as the group {reader_mode, masked_pan, fallback};
// reader_mode and masked_pan are "invalid" and "" when unusable.
func (in Input) LogValue() slog.Value {
	mode, masked, ok := in.describe()
	if !ok {
		mode = "invalid"
	}
	return slog.GroupValue(
		slog.String("reader_mode", string(mode)),
		slog.String("masked_pan", masked),
		slog.Bool("fallback", in.Fallback),
	)
}

// inputJSON is the masked JSON form of Input.
type inputJSON struct {
	ReaderMode string `json:"reader_mode"`
	MaskedPAN  string `json:"masked_pan"`
	Fallback   bool   `json:"fallback"`
}

// MarshalJSON encodes only {"reader_mode", "masked_pan", "fallback"}
// (reader_mode "invalid" and masked_pan "" when unusable). It is lossy on
// purpose: an Input cannot be round-tripped through JSON and must not be
// journaled.
func (in Input) MarshalJSON() ([]byte, error) {
	mode, masked, ok := in.describe()
	if !ok {
		mode = "invalid"
	}
	return json.Marshal(inputJSON{ReaderMode: string(mode), MaskedPAN: masked, Fallback: in.Fallback})
}

// errNoGob is returned by Input.GobEncode.
var errNoGob = errors.New("encode card input: card data is not serialisable")

// GobEncode refuses: raw card data never leaves memory.
func (in Input) GobEncode() ([]byte, error) { return nil, errNoGob }

// format writes s for any verb, gostr for %#v and a quoted s for %q, keeping
// width and flags.
func format(f fmt.State, verb rune, s, gostr string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, gostr)
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(s))
	default:
		_, _ = fmt.Fprintf(f, fmt.FormatString(f, 's'), s)
	}
}
