package zvt

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSpecVectors decodes every complete example APDU of the specification
// texts and zvt.md, checks the typed result, and checks that encoding the
// result gives the same bytes back.
func TestSpecVectors(t *testing.T) {
	tlvPermitted := TLV{Tag: TagPermittedCommands, Value: hx(t, "0A 02 06 D3")}
	seq := func(n string) TLV { return TLV{Tag: TagMsgSeqID, Value: hx(t, n)} }
	tests := []struct {
		name string
		wire string
		want Message
		// noReencode marks vectors whose re-encoding legitimately differs.
		noReencode string
	}{
		{
			name: "zvt.md registration 123456, config BA, EUR",
			wire: "06 00 06 12 34 56 BA 09 78",
			want: Registration{Password: "123456", ConfigByte: 0xBA, Currency: CurrencyEUR},
		},
		{
			name: "zvt.md authorisation 10.00",
			wire: "06 01 07 04 00 00 00 00 10 00",
			want: Authorization{Amount: new(int64(1000))},
		},
		{
			name: "PA00P015 §5.1 registration with MsgSeqId",
			wire: "06 00 14 00 00 00 9E 09 78 06 0C 26 04 0A 02 06 D3 1F 73 03 00 00 00",
			want: Registration{Password: "000000", ConfigByte: 0x9E, Currency: CurrencyEUR, TLV: []TLV{tlvPermitted, seq("00 00 00")}},
		},
		{
			name: "PA00P015 §5.1 completion, PT without MsgSeqId",
			wire: "06 0F 12 19 00 29 65 00 00 28 49 09 78 06 06 26 04 0A 02 06 D3",
			want: Completion{StatusByte: new(byte(0)), TID: "65000028", Currency: CurrencyEUR, TLV: []TLV{tlvPermitted}},
		},
		{
			name: "PA00P015 §5.1 completion, PT with MsgSeqId",
			wire: "06 0F 18 19 00 29 65 00 00 28 49 09 78 06 0C 26 04 0A 02 06 D3 1F 73 03 00 00 00",
			want: Completion{StatusByte: new(byte(0)), TID: "65000028", Currency: CurrencyEUR, TLV: []TLV{tlvPermitted, seq("00 00 00")}},
		},
		{
			// The text prints length 0C; the 20 data bytes need 14 (see
			// TestDecodeAPDUErrors). This is the corrected APDU.
			name: "PA00P015 §5.1 authorisation 1.00 EUR with MsgSeqId (length corrected)",
			wire: "06 01 14 04 00 00 00 00 01 00 49 09 78 19 44 06 06 1F 73 03 00 00 01",
			want: Authorization{Amount: new(int64(100)), Currency: CurrencyEUR, PaymentType: new(byte(0x44)), TLV: []TLV{seq("00 00 01")}},
		},
		{
			name: "PA00P015 §5.1 positive response echoing MsgSeqId",
			wire: "80 00 08 06 06 1F 73 03 00 00 01",
			want: Response{CCRC: 0x80, APRC: 0x00, Data: hx(t, "06 06 1F 73 03 00 00 01")},
		},
		{
			name:       "PA00P015 §5.1 intermediate status 17 with TLV but no timeout",
			wire:       "04 FF 09 17 06 06 1F 73 03 00 00 02",
			want:       IntermediateStatus{Code: 0x17, TLV: []TLV{seq("00 00 02")}},
			noReencode: "the PT must send <timeout> with a TLV container (PA00P015 §3.7); posbridge's encoder insists",
		},
		{
			name:       "PA00P015 §5.1 intermediate status 01",
			wire:       "04 FF 09 01 06 06 1F 73 03 00 00 03",
			want:       IntermediateStatus{Code: 0x01, TLV: []TLV{seq("00 00 03")}},
			noReencode: "as above",
		},
		{
			name: "PA00P015 §5.1 intermediate status with timeout and display text",
			wire: "04 FF 19 17 03 06 15 24 0D 07 0B 30 30 20 41 70 70 72 6F 76 65 64 1F 73 03 00 00 08",
			want: IntermediateStatus{Code: 0x17, TimeoutMinutes: new(3), TLV: []TLV{
				{Tag: TagDisplayTexts, Value: append(hx(t, "07 0B"), "00 Approved"...)}, seq("00 00 08"),
			}},
		},
		{
			name: "PA00P015 §5.1 final completion",
			wire: "06 0F 08 06 06 1F 73 03 00 00 11",
			want: Completion{TLV: []TLV{seq("00 00 11")}},
		},
		{name: "completion 06 0F 00", wire: "06 0F 00", want: Completion{}},
		{name: "registration refused, wrong currency (84 1E .. 6F CC)", wire: "84 1E 03 6F 09 78", want: Response{CCRC: 0x84, APRC: 0x1E, Data: hx(t, "6F 09 78")}},
		{name: "function not possible 84 83 00", wire: "84 83 00", want: Response{CCRC: 0x84, APRC: 0x83, Data: []byte{}}},
		{name: "please wait 84 9C 00", wire: "84 9C 00", want: Response{CCRC: 0x84, APRC: 0x9C, Data: []byte{}}},
		{name: "partial issue of goods 84 9D", wire: "84 9D 07 04 00 00 00 00 05 00", want: Response{CCRC: 0x84, APRC: 0x9D, Data: hx(t, "04 00 00 00 00 05 00")}},
		{name: "status information 04 0F 02 27 6C", wire: "04 0F 02 27 6C", want: StatusInformation{ResultCode: ResultAbort}},
		{name: "end-of-day error abort 06 1E 01", wire: "06 1E 01 6C", want: Abort{ResultCode: ResultAbort}},
		{name: "abort with currency after 6F", wire: "06 1E 03 6F 09 78", want: Abort{ResultCode: ResultWrongCurrency, Currency: CurrencyEUR}},
		{name: "log-off 06 02 00", wire: "06 02 00", want: LogOff{}},
		{name: "end-of-day 06 50 03", wire: "06 50 03 12 34 56", want: EndOfDay{Password: "123456"}},
		{name: "send turnover totals 06 10 03", wire: "06 10 03 12 34 56", want: SendTotals{Password: "123456"}},
		{name: "repeat receipt 06 20 03", wire: "06 20 03 12 34 56", want: RepeatReceipt{Password: "123456"}},
		{name: "repeat receipt asking for status information", wire: "06 20 05 12 34 56 03 01", want: RepeatReceipt{Password: "123456", ServiceByte: new(RepeatSendStatusInfo)}},
		{name: "status enquiry without password", wire: "05 01 00", want: StatusEnquiry{}},
		{name: "status enquiry with password and service byte", wire: "05 01 05 00 00 00 03 02", want: StatusEnquiry{Password: "000000", ServiceByte: new(byte(2))}},
		{name: "abort request 06 B0 00", wire: "06 B0 00", want: AbortRequest{}},
		{name: "reversal of receipt 0042", wire: "06 30 06 12 34 56 87 00 42", want: Reversal{Password: "123456", ReceiptNo: 42}},
		{name: "refund 5.00 EUR", wire: "06 31 0D 12 34 56 04 00 00 00 00 05 00 49 09 78", want: Refund{Password: "123456", Amount: new(int64(500)), Currency: CurrencyEUR}},
		{name: "status-enquiry completion: PT ready", wire: "06 0F 01 00", want: Completion{TerminalStatus: new(TerminalReady)}},
		{name: "status-enquiry completion with SW version", wire: "06 0F 08 F0 F0 F4 31 2E 32 33 DF", want: Completion{SWVersion: "1.23", TerminalStatus: new(TerminalOutOfOrder)}},
		{name: "print line", wire: "06 D1 0A 00 53 75 6D 6D 65 3A 20 81 84", want: PrintLine{Attribute: 0, Text: "Summe: üä"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := mustAPDU(t, tc.wire)
			got, err := ParseMessage(a)
			if err != nil {
				t.Fatalf("ParseMessage(%s): %v", tc.wire, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseMessage(%s)\n got %#v\nwant %#v", tc.wire, got, tc.want)
			}
			if tc.noReencode != "" {
				if _, err := got.Encode(); err == nil {
					t.Errorf("expected Encode to refuse (%s)", tc.noReencode)
				}
				return
			}
			if b := mustEncode(t, got); !bytes.Equal(b, hx(t, tc.wire)) {
				t.Errorf("re-encoded = %s, want %s", spaced(b), tc.wire)
			}
		})
	}
}

// TestPrintTextBlockExtended rebuilds the 861-byte Print Text-Block of the
// PA00P015 §5.1 trace ("06 D3 FF 5D 03 06 82 03 59 ... 1F 73 03 00 00 06"):
// extended APDU length low byte first, TLV length 82 high byte first.
func TestPrintTextBlockExtended(t *testing.T) {
	var lines []TLV
	for i := 0; ; i++ {
		lines = append(lines, TLV{Tag: TagTextLine, Value: []byte(fmt.Sprintf("%-38s", fmt.Sprintf("line %d", i)))})
		if len(lines)*40 >= 840 {
			break
		}
	}
	// 21 lines of 40 bytes = 840; pad to 847 with one short line (2+5).
	lines = append(lines, TLV{Tag: TagTextLine, Value: []byte("Ende.")})
	texts, err := NewConstructed(TagPrintTexts, lines...)
	if err != nil {
		t.Fatal(err)
	}
	m := PrintTextBlock{TLV: []TLV{texts, {Tag: TagMsgSeqID, Value: hx(t, "00 00 06")}}}
	b := mustEncode(t, m)
	if head := hx(t, "06 D3 FF 5D 03 06 82 03 59"); !bytes.Equal(b[:len(head)], head) {
		t.Fatalf("header = %s, want %s", spaced(b[:9]), spaced(head))
	}
	if tail := hx(t, "1F 73 03 00 00 06"); !bytes.HasSuffix(b, tail) {
		t.Fatalf("tail = %s", spaced(b[len(b)-6:]))
	}
	if len(b) != 5+861 {
		t.Fatalf("APDU is %d bytes, want 866", len(b))
	}
	a, err := DecodeAPDU(b)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseMessage(a)
	if err != nil || !reflect.DeepEqual(back, m) {
		t.Fatalf("round trip = %#v, %v", back, err)
	}
	kids, err := back.(PrintTextBlock).TLV[0].Children()
	if err != nil || len(kids) != len(lines) || string(kids[len(kids)-1].Value) != "Ende." {
		t.Errorf("print texts children: %d, %v", len(kids), err)
	}
	// The same through a serial frame.
	apdu, err := feedAll(NewFrameDecoder(0), EncodeFrame(b))
	if err != nil || !bytes.Equal(apdu, b) {
		t.Errorf("serial round trip failed: %v", err)
	}
}

func TestStatusInformationGolden(t *testing.T) {
	si := StatusInformation{
		ResultCode: ResultOK,
		Amount:     new(int64(1234)),
		Trace:      new(42),
		MaskedPAN:  "4761739001010010", // the encoder masks it
		TID:        "12345678",
		ReceiptNo:  new(7),
		CardType:   new(byte(0x0A)),
		CardName:   "VISA",
	}
	si.SetTimestamp(time.Date(2026, 5, 21, 15, 30, 12, 0, time.UTC))
	want := "04 0F 31 27 00 04 00 00 00 00 12 34 0B 00 00 42 0C 15 30 12 0D 05 21 " +
		"22 F0 F8 47 61 73 EE EE EE 00 10 29 12 34 56 78 87 00 07 8A 0A 8B F0 F5 56 49 53 41 00"
	if got := mustEncode(t, si); !bytes.Equal(got, hx(t, want)) {
		t.Fatalf("encoded\n got %s\nwant %s", spaced(got), want)
	}
	back, err := ParseMessage(mustAPDU(t, want))
	if err != nil {
		t.Fatal(err)
	}
	si.MaskedPAN = "476173******0010"
	if !reflect.DeepEqual(back, si) {
		t.Errorf("decoded\n got %#v\nwant %#v", back, si)
	}
}

func TestMessageRoundTrips(t *testing.T) {
	b := func(v byte) *byte { return &v }
	totals := &Totals{ReceiptFrom: 1, ReceiptTo: 57, Girocard: SchemeTotal{Count: 10, Amount: 12345},
		Visa: SchemeTotal{Count: 255, Amount: MaxAmount}, Other: SchemeTotal{Count: 1, Amount: 1}}
	tests := []struct {
		name string
		msg  Message
	}{
		{"full status information", StatusInformation{
			ResultCode: 0x05, Amount: new(int64(999)), Trace: new(999999), OrigTrace: new(1), Time: "235959", Date: "1231",
			Expiry: "2912", CardSeqNo: new(1), PaymentType: b(0x60), MaskedPAN: "476173******0010", TID: "00000001",
			AID: "A1B2C3", Currency: CurrencyCHF, ReceiptNo: new(9999), CardType: b(6), CardTypeID: b(0xFF),
			AIDParam: []byte{1, 2, 3, 4, 5}, VUNumber: "123456789", AdditionalText: "Gebühr ÄÖÜ ß", ResultCodeAS: b(0x41),
			TurnoverNo: new(123456), CardName: "Mastercard", TLV: []TLV{{Tag: TagTransactionID, Value: []byte{0x00, 0x07}}},
		}},
		{"end-of-day status information", StatusInformation{Amount: new(int64(0)), Trace: new(0), Totals: totals, Time: "000000", Date: "0101"}},
		{"registration with service byte and empty TLV", Registration{Password: "999999", ConfigByte: 0x86, Currency: CurrencyUSD, ServiceByte: b(1), TLV: []TLV{}}},
		{"authorisation with everything", Authorization{
			Amount: new(int64(5)), Currency: 978, PaymentType: b(0x40), Timeout: b(30), MaxStatusInfos: b(3), PumpNo: b(2),
			CardType: b(5), AdditionalData: []byte{1, 2, 3},
			Card: CardInput{MaskedPAN: "123456******3456", Expiry: "2512", Track1: Secret("B4761^X"), Track2: Secret{0x47, 0x61, 0xD2}, Track3: Secret{0x01}, CVV: Secret{0x12, 0x3F}},
			TLV:  []TLV{{Tag: TagTransactionID}},
		}},
		{"reversal with amount", Reversal{Password: "000000", ReceiptNo: 9999, Amount: new(int64(100)), Currency: 978, PaymentType: b(0x40), TLV: []TLV{}}},
		{"refund with AID and card type", Refund{Password: "111111", Amount: new(int64(1)), AID: "12345678", CardType: b(0x0A), AdditionalData: []byte("x")}},
		{"end-of-day with TLV", EndOfDay{Password: "123456", TLV: []TLV{{Tag: 0x1F26, Value: []byte{1}}}}},
		{"abort request with card output", AbortRequest{CardOutput: b(1), CardReader: b(0xFF)}},
		{"status enquiry with TLV", StatusEnquiry{Password: "000000", ServiceByte: b(4), TLV: []TLV{{Tag: 0x1F72, Value: []byte{0}}}}},
		{"intermediate status with timeout", IntermediateStatus{Code: StatusWaitingFEP, TimeoutMinutes: new(99)}},
		{"intermediate status timeout 06 then TLV", IntermediateStatus{Code: StatusPleaseWait, TimeoutMinutes: new(6), TLV: []TLV{}}},
		{"intermediate status bare", IntermediateStatus{Code: StatusInsertCard}},
		{"completion with result, time, date", Completion{ResultCode: b(0), Time: "101010", Date: "260521", StatusByte: b(0x08), TID: "87654321"}},
		{"status-enquiry completion with TLV", Completion{SWVersion: "posbridge 1.0", TerminalStatus: b(TerminalReady), TLV: []TLV{{Tag: 0x1F41, Value: []byte("1.0")}}}},
		{"status-enquiry completion status F0 with TLV", Completion{TerminalStatus: b(0xF0), TLV: []TLV{}}},
		{"abort with TLV extended error", Abort{ResultCode: ResultSystemError, TLV: []TLV{{Tag: TagExtendedErrorCode, Value: []byte{0x12}}, {Tag: TagExtendedErrorText, Value: []byte("cloud down")}}}},
		{"abort wrong currency with CC and TLV", Abort{ResultCode: ResultWrongCurrency, Currency: 840, TLV: []TLV{}}},
		{"print line, last line", PrintLine{Attribute: 0xFF, Text: "\x03"}},
		{"positive response", Response{CCRC: 0x80, Data: []byte{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wire := mustEncode(t, tc.msg)
			back, err := ParseMessage(mustAPDU(t, spaced(wire)))
			if err != nil {
				t.Fatalf("ParseMessage(%s): %v", spaced(wire), err)
			}
			if !reflect.DeepEqual(back, tc.msg) {
				t.Errorf("round trip of %s\n got %#v\nwant %#v", spaced(wire), back, tc.msg)
			}
		})
	}
}

func TestEncodeRefusals(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
		want error
	}{
		{"registration password not digits", Registration{Password: "12345a"}, ErrInvalidField},
		{"registration password short", Registration{Password: "1234"}, ErrInvalidField},
		{"registration TLV without currency", Registration{Password: "000000", TLV: []TLV{}}, ErrMissingField},
		{"authorisation amount too big", Authorization{Amount: new(MaxAmount + 1)}, ErrInvalidField},
		{"authorisation bad tag", Authorization{TLV: []TLV{{Tag: 0x1F}}}, ErrBadTLV},
		{"status information TID 7 digits", StatusInformation{TID: "1234567"}, ErrInvalidField},
		{"status information VU number too long", StatusInformation{VUNumber: strings.Repeat("9", 16)}, ErrInvalidField},
		{"status information negative trace", StatusInformation{Trace: new(-1)}, ErrInvalidField},
		{"status information trace 7 digits", StatusInformation{Trace: new(1000000)}, ErrInvalidField},
		{"status information AID param length", StatusInformation{AIDParam: []byte{1}}, ErrInvalidField},
		{"totals count too big", StatusInformation{Totals: &Totals{Visa: SchemeTotal{Count: 256}}}, ErrInvalidField},
		{"card name too long", StatusInformation{CardName: strings.Repeat("x", 99)}, ErrTooLong},
		{"intermediate status TLV without timeout", IntermediateStatus{TLV: []TLV{}}, ErrMissingField},
		{"intermediate status timeout 100", IntermediateStatus{TimeoutMinutes: new(100)}, ErrInvalidField},
		{"completion SW version without status", Completion{SWVersion: "1"}, ErrMissingField},
		{"completion mixing shapes", Completion{TID: "12345678", TerminalStatus: new(byte(0))}, ErrInvalidField},
		{"completion ambiguous status 19 with TLV", Completion{TerminalStatus: new(byte(0x19)), TLV: []TLV{}}, ErrInvalidField},
		{"abort currency without 6F", Abort{ResultCode: 0x05, Currency: 978}, ErrInvalidField},
		{"response with bad CCRC", Response{CCRC: 0x06}, ErrInvalidField},
		{"status enquiry TLV without password", StatusEnquiry{TLV: []TLV{}}, ErrMissingField},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.msg.Encode(); !errors.Is(err, tc.want) {
				t.Errorf("Encode error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	t.Run("every command type", func(t *testing.T) {
		want := map[string]Command{
			"06 00 04 12 34 56 8E":          Registration{Password: "123456", ConfigByte: 0x8E},
			"06 01 07 04 00 00 00 00 10 00": Authorization{Amount: new(int64(1000))},
			"06 30 06 12 34 56 87 00 01":    Reversal{Password: "123456", ReceiptNo: 1},
			"06 31 03 12 34 56":             Refund{Password: "123456"},
			"06 50 03 12 34 56":             EndOfDay{Password: "123456"},
			"06 10 03 00 00 00":             SendTotals{Password: "000000"},
			"06 B0 00":                      AbortRequest{},
			"06 02 00":                      LogOff{},
			"06 20 03 12 34 56":             RepeatReceipt{Password: "123456"},
			"05 01 03 12 34 56":             StatusEnquiry{Password: "123456"},
		}
		for wire, w := range want {
			got, err := ParseCommand(mustAPDU(t, wire))
			if err != nil || !reflect.DeepEqual(got, w) {
				t.Errorf("ParseCommand(%s) = %#v, %v; want %#v", wire, got, err, w)
			}
		}
	})
	tests := []struct {
		name     string
		wire     string
		want     error
		response string
	}{
		{"diagnosis 06 70 unsupported", "06 70 00", ErrUnsupported, "84 83 00"},
		{"pre-authorisation 06 22 unsupported", "06 22 07 04 00 00 00 00 10 00", ErrUnsupported, "84 83 00"},
		{"PT message is not a command", "04 0F 02 27 00", ErrUnsupported, "84 83 00"},
		{"unknown BMP in authorisation", "06 01 09 04 00 00 00 00 10 00 99 01", ErrUnknownBMP, "84 83 00"},
		{"bad BCD amount", "06 01 07 04 00 00 00 00 1A 00", ErrBadBCD, "84 9A 00"},
		{"two amounts", "06 01 0E 04 00 00 00 00 10 00 04 00 00 00 00 20 00", ErrDuplicateBMP, "84 9A 00"},
		{"reversal without receipt number", "06 30 03 12 34 56", ErrMissingField, "84 9A 00"},
		{"reversal without password", "06 30 00", ErrMissingField, "84 9A 00"},
		{"registration without config byte", "06 00 03 12 34 56", ErrMissingField, "84 9A 00"},
		{"registration with half a currency", "06 00 05 12 34 56 8E 09", ErrTruncated, "84 9A 00"},
		{"registration password with hex digit", "06 00 04 12 34 5A 8E", ErrBadBCD, "84 9A 00"},
		{"TLV container cut", "06 01 04 06 05 01 02", ErrTruncated, "84 9A 00"},
		{"PAN with bad nibble", "06 01 05 22 F0 F2 4A 11", ErrBadBCD, "84 9A 00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCommand(mustAPDU(t, tc.wire))
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseCommand(%s) error = %v, want %v", tc.wire, err, tc.want)
			}
			resp, _ := ResponseForError(err).Encode()
			if !bytes.Equal(resp, hx(t, tc.response)) {
				t.Errorf("ResponseForError = %s, want %s", spaced(resp), tc.response)
			}
		})
	}
	var ue *UnsupportedError
	if _, err := ParseCommand(mustAPDU(t, "06 70 00")); !errors.As(err, &ue) || ue.Class != 0x06 || ue.Instr != 0x70 {
		t.Errorf("want *UnsupportedError 06 70, got %v", err)
	}
}

// TestCardDataStaysMasked sends a manual-entry authorisation with a full PAN,
// track 2 and CVV: the parsed command must hold the PAN masked only, and no
// rendering of the command or of errors may show card data.
func TestCardDataStaysMasked(t *testing.T) {
	pan := "4761739001010010"
	panBCD, _ := packPAN(pan)
	var w fieldWriter
	w.amount(BMPAmount, new(int64(100)))
	w.add(BMPPAN, panBCD) // raw, unmasked, as an ECR would send it
	w.add(BMPTrack2, append([]byte{}, hx(t, "47 61 73 90 01 01 00 10 D2 51 22 01")...))
	w.add(BMPCVV, []byte{0x12, 0x3F})
	a := APDU{Class: 0x06, Instr: 0x01, Data: w.out}
	c, err := ParseCommand(a)
	if err != nil {
		t.Fatal(err)
	}
	auth := c.(Authorization)
	if auth.Card.MaskedPAN != "476173******0010" {
		t.Errorf("MaskedPAN = %q", auth.Card.MaskedPAN)
	}
	if !auth.Card.Present() || len(auth.Card.Track2) != 12 {
		t.Error("track 2 should be kept in memory for the caller")
	}
	for _, s := range []string{fmt.Sprintf("%v", auth), fmt.Sprintf("%+v", auth), fmt.Sprintf("%#v", auth), a.String()} {
		if strings.Contains(s, "739001") || strings.Contains(s, "0x47, 0x61") || strings.Contains(s, "[71 97") {
			t.Errorf("card data visible: %s", s)
		}
	}
	// An error about a broken PAN must not quote it.
	bad := APDU{Class: 0x06, Instr: 0x01, Data: append(hx(t, "22 F0 F8"), 0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x00, 0x1A)}
	_, err = ParseCommand(bad)
	if err == nil || strings.Contains(err.Error(), "4761") || strings.Contains(err.Error(), "47 61") {
		t.Errorf("error leaks or is missing: %v", err)
	}
}

func TestResponseAndNames(t *testing.T) {
	tests := []struct {
		r    Response
		want bool
	}{
		{Response{CCRC: 0x80, APRC: 0x00}, true},
		{Response{CCRC: 0x84, APRC: 0x00}, true}, // 84 00 is positive too (PA00P016 §5.2.3)
		{Response{CCRC: 0x84, APRC: 0x9C}, false},
		{Response{CCRC: 0x84, APRC: 0x83}, false},
	}
	for _, tc := range tests {
		if got := tc.r.Positive(); got != tc.want {
			t.Errorf("%02X %02X Positive() = %v, want %v", tc.r.CCRC, tc.r.APRC, got, tc.want)
		}
	}
	if a, _ := Nack(ResultReceiverNotReady).Encode(); !bytes.Equal(a, hx(t, "84 A0 00")) {
		t.Errorf("Nack(A0) = %s", spaced(a))
	}
	names := map[uint16]string{
		CtrlAuthorization: "authorisation", CtrlEndOfDay: "end-of-day", CtrlPrintTextBlock: "print text block",
		0x8000: "positive response", 0x8483: "negative response", 0x0670: "06 70",
	}
	for ctrl, want := range names {
		if got := ControlName(ctrl); got != want {
			t.Errorf("ControlName(%04X) = %q, want %q", ctrl, got, want)
		}
	}
	if !KnownBMP(0x04) || !KnownBMP(0xF8) || KnownBMP(0x99) || KnownBMP(0x00) {
		t.Error("KnownBMP disagrees with the PA00P015 §13 table")
	}
	msgs := []string{
		(&UnsupportedError{Class: 0x06, Instr: 0x70}).Error(),
		(&TransmissionError{Attempts: 3, Last: "NAK"}).Error(),
		bmpErr(0x22, ErrBadBCD).Error(),
	}
	for _, want := range []string{"command 06 70: unsupported command", "transmission error after 3 attempts (last: NAK)", "BMP 22: bad BCD digit"} {
		found := false
		for _, m := range msgs {
			found = found || m == want
		}
		if !found {
			t.Errorf("no error message %q in %q", want, msgs)
		}
	}
}

func TestDecodeChecksControlField(t *testing.T) {
	wrong := mustAPDU(t, "06 70 00")
	decoders := map[string]interface{ Decode(APDU) error }{
		"Registration": &Registration{}, "Authorization": &Authorization{}, "Reversal": &Reversal{},
		"Refund": &Refund{}, "EndOfDay": &EndOfDay{}, "SendTotals": &SendTotals{}, "RepeatReceipt": &RepeatReceipt{},
		"StatusEnquiry": &StatusEnquiry{}, "AbortRequest": &AbortRequest{}, "LogOff": &LogOff{},
		"StatusInformation": &StatusInformation{}, "IntermediateStatus": &IntermediateStatus{},
		"Completion": &Completion{}, "Abort": &Abort{}, "PrintLine": &PrintLine{},
		"PrintTextBlock": &PrintTextBlock{}, "Response": &Response{},
	}
	for name, d := range decoders {
		if err := d.Decode(wrong); !errors.Is(err, ErrInvalidField) {
			t.Errorf("%s.Decode(06 70) = %v, want ErrInvalidField", name, err)
		}
	}
	malformed := []string{
		"04 FF 00",                   // no status byte
		"04 FF 03 17 06 41",          // neither timeout+TLV nor TLV
		"06 1E 00",                   // no result code
		"06 1E 02 6C 41",             // junk after result code
		"06 0F 04 F0 F0 F5 41",       // SW version cut short
		"06 0F 04 F0 F0 F1 41",       // SW version but no status
		"06 0F 03 00 06 41",          // status then broken TLV
		"06 D1 00",                   // no attribute
		"06 D3 00",                   // no TLV container
		"04 0F 04 60 F0 F0 F1",       // LLLVAR cut
		"04 0F 06 60 F0 F0 F1 00 00", // totals too short
		"05 01 02 12 34",             // password cut
		"06 B0 01 D2",                // D2 value missing
	}
	for _, s := range malformed {
		if m, err := ParseMessage(mustAPDU(t, s)); err == nil {
			t.Errorf("ParseMessage(%s) = %#v, want an error", s, m)
		}
	}
}

// TestNackCurrency: the refusal of a registration in another currency
// (PA00P015 §2.1), byte for byte.
func TestNackCurrency(t *testing.T) {
	tests := []struct {
		currency int
		want     string
	}{
		{978, "841E036F0978"},
		{36, "841E036F0036"},
		{0, "841E016F"},
	}
	for _, tc := range tests {
		b, err := NackCurrency(tc.currency).Encode()
		if err != nil || fmt.Sprintf("%X", b) != tc.want {
			t.Errorf("NackCurrency(%d) = %X, %v; want %s", tc.currency, b, err, tc.want)
		}
	}
}
