package card

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// verbs are all the fmt verbs and flag combinations a caller might use.
var verbs = []string{
	"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%10v", "%-30s", "%.4s", "%#s", "%+q", "%#q", "%p",
}

// leakyInput is a contact input with every field filled.
func leakyInput() Input {
	return Input{ReaderMode: "contact", Track2: ";" + visaTrack2 + "?", Track1: visaTrack1, ICC: visaICC, CardSN: "01"}
}

func secrets(in Input) []string {
	return []string{visaPAN, in.Track2, visaTrack2, in.Track1, in.ICC, "D2812201175892888", "Visa ACQUIRER"[5:]}
}

func TestNothingLeaks(t *testing.T) {
	in := leakyInput()
	c, err := Parse(in, now)
	if err != nil {
		t.Fatal(err)
	}
	type embedded struct {
		Input
		Other string
	}
	type holder struct {
		Card    *Card
		Value   Card
		Input   Input
		InPtr   *Input
		OrderNo string
	}
	type hidden struct {
		card *Card
		val  Card
	}
	// rawUnderBadVerb marks values holding an Input by value: fmt prints a
	// bad verb's operand by reflection, without calling Format, so %p of such
	// a non-pointer would show the Input's fields. go vet (in CI) rejects %p
	// with a non-pointer operand; Card is safe even then.
	values := []struct {
		name            string
		v               any
		rawUnderBadVerb bool
	}{
		{"*Card", c, false},
		{"Card", *c, false},
		{"Input", in, true},
		{"*Input", &in, false},
		{"struct embedding Input", embedded{Input: in, Other: "x"}, true},
		{"*struct embedding Input", &embedded{Input: in, Other: "x"}, false},
		{"struct holding both", holder{Card: c, Value: *c, InPtr: &in, OrderNo: "A1"}, false},
		{"struct holding an Input", holder{Input: in}, true},
		{"*struct holding both", &holder{Card: c, Value: *c, Input: in, InPtr: &in, OrderNo: "A1"}, false},
		{"unexported Card fields", hidden{card: c, val: *c}, false},
		{"slice of cards", []*Card{c, c}, false},
		{"map of inputs", map[string]Input{"k": in}, false},
	}
	for _, tc := range values {
		name, v := tc.name, tc.v
		t.Run(name, func(t *testing.T) {
			for _, verb := range verbs {
				if verb == "%p" && tc.rawUnderBadVerb {
					continue
				}
				s := fmt.Sprintf(verb, v)
				assertClean(t, name+" "+verb, s, visaPAN, secrets(in)...)
			}
			extra := "no verbs" // fmt appends %!(EXTRA type=value)
			//lint:ignore SA5009 the extra argument is the point: fmt prints it as %!(EXTRA ...)
			for _, s := range []string{fmt.Sprint(v), fmt.Sprintln(v), fmt.Sprint("x", v, 1), fmt.Sprintf(extra, v), fmt.Errorf("wrap: %w", fmt.Errorf("%v", v)).Error()} {
				assertClean(t, name+" Sprint", s, visaPAN, secrets(in)...)
			}

			if name != "unexported Card fields" {
				b, err := json.Marshal(v)
				if err != nil {
					t.Fatalf("json.Marshal: %v", err)
				}
				assertClean(t, name+" JSON", string(b), visaPAN, secrets(in)...)
			}

			for hname, mk := range map[string]func(*bytes.Buffer) slog.Handler{
				"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
				"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			} {
				var buf bytes.Buffer
				log := slog.New(mk(&buf))
				log.Info("payment", "card", v)
				log.Info("payment", slog.Any("card", v), slog.String("s", fmt.Sprint(v)))
				log.With("card", v).WithGroup("g").Error("failed", "card", v)
				assertClean(t, name+" slog "+hname, buf.String(), visaPAN, secrets(in)...)
			}

			var gb bytes.Buffer
			if err := gob.NewEncoder(&gb).Encode(v); err == nil {
				assertClean(t, name+" gob", gb.String(), visaPAN, secrets(in)...)
			}
		})
	}
}

func TestPrintedForms(t *testing.T) {
	in := leakyInput()
	c, err := Parse(in, now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, got, want string
	}{
		{"Card %v", fmt.Sprintf("%v", c), "card Visa 476173******0119 (contact)"},
		{"Card value %s", fmt.Sprintf("%s", *c), "card Visa 476173******0119 (contact)"},
		{"Card %q", fmt.Sprintf("%q", c), `"card Visa 476173******0119 (contact)"`},
		{"Card %#v", fmt.Sprintf("%#v", c), `card.Card{Brand: "Visa", MaskedPAN: "476173******0119", EntryMode: "contact"}`},
		{"Card %x", fmt.Sprintf("%x", c), "card Visa 476173******0119 (contact)"},
		{"Card width", fmt.Sprintf("[%-40v]", c), "[card Visa 476173******0119 (contact)    ]"},
		{"Input %v", fmt.Sprintf("%v", in), "card input (contact, masked 476173******0119)"},
		{"Input %+v", fmt.Sprintf("%+v", &in), "card input (contact, masked 476173******0119)"},
		{"Input %#v", fmt.Sprintf("%#v", in), "card.Input{card input (contact, masked 476173******0119)}"},
		{"Input invalid track", fmt.Sprint(Input{ReaderMode: "swipe", Track2: visaPAN}), "card input (invalid)"},
		{"Input invalid mode", fmt.Sprint(Input{ReaderMode: visaPAN, Track2: visaTrack2}), "card input (invalid)"},
		{"fallback", fmt.Sprint(mustParse(t, Input{ReaderMode: "swipe", Track2: visaTrack2, Fallback: true})), "card Visa 476173******0119 (fallback_swipe)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func mustParse(t *testing.T, in Input) *Card {
	t.Helper()
	c, err := Parse(in, now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEncodedForms(t *testing.T) {
	in := leakyInput()
	c := mustParse(t, in)

	b, err := json.Marshal(c)
	if err != nil || string(b) != `{"brand":"Visa","masked_pan":"476173******0119","entry_mode":"contact"}` {
		t.Errorf("json.Marshal(card) = %s, %v", b, err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil || s != c.Summary() {
		t.Errorf("card JSON does not decode into its Summary: %+v, %v", s, err)
	}
	b, err = json.Marshal(in)
	if err != nil || string(b) != `{"reader_mode":"contact","masked_pan":"476173******0119","fallback":false}` {
		t.Errorf("json.Marshal(input) = %s, %v", b, err)
	}
	b, err = json.Marshal(Input{ReaderMode: "swipe", Track2: "garbage" + visaPAN, Fallback: true})
	if err != nil || string(b) != `{"reader_mode":"invalid","masked_pan":"","fallback":true}` {
		t.Errorf("json.Marshal(invalid input) = %s, %v", b, err)
	}
	txt, err := c.MarshalText()
	if err != nil || string(txt) != c.String() {
		t.Errorf("MarshalText = %q, %v", txt, err)
	}

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("paid", "card", c, "input", in)
	var rec struct {
		Card  Summary `json:"card"`
		Input struct {
			ReaderMode string `json:"reader_mode"`
			MaskedPAN  string `json:"masked_pan"`
			Fallback   bool   `json:"fallback"`
		} `json:"input"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("slog JSON: %v\n%s", err, buf.String())
	}
	if rec.Card != c.Summary() || rec.Input.MaskedPAN != "476173******0119" || rec.Input.ReaderMode != "contact" {
		t.Errorf("slog JSON record = %+v", rec)
	}

	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("refused", "card", Input{ReaderMode: "swipe", Track2: visaPAN})
	if !strings.Contains(buf.String(), "card.reader_mode=invalid card.masked_pan=\"\" card.fallback=false") {
		t.Errorf("slog text of an invalid input = %s", buf.String())
	}

	if err := gob.NewEncoder(&bytes.Buffer{}).Encode(in); err == nil {
		t.Error("gob encoded an Input")
	}
	if err := gob.NewEncoder(&bytes.Buffer{}).Encode(c); err == nil {
		t.Error("gob encoded a Card")
	}
}

func TestInputDecodesFromJSON(t *testing.T) {
	// The RPC layer decodes the card object straight into Input.
	var req struct {
		Card *Input `json:"card"`
	}
	body := `{"card":{"reader_mode":"contact","track2":"` + visaTrack2 + `","icc":"` + visaICC + `","card_sn":"1","fallback":false,"track1":""}}`
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		t.Fatal(err)
	}
	want := Input{ReaderMode: "contact", Track2: visaTrack2, ICC: visaICC, CardSN: "1"}
	if *req.Card != want {
		t.Errorf("decoded %s, want the raw input back", req.Card) // prints masked
	}
	c := mustParse(t, *req.Card)
	if c.CardSN() != "001" {
		t.Errorf("CardSN = %q", c.CardSN())
	}
}
