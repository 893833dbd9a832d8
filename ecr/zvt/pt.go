package zvt

import (
	"bytes"
	"fmt"
	"time"
)

// StatusInformation is 04 0F, the PT's report of a transaction result
// (PA00P015 §3.1.1) or of end-of-day totals (§3.1.3). Encode writes the BMPs in
// the table order of §3.1.1, which old ECRs rely on; BMP 27 is always written.
type StatusInformation struct {
	ResultCode     byte    // BMP 27; absent on the wire decodes as 00
	Amount         *int64  // BMP 04, minor units (payment or end-of-day total)
	Trace          *int    // BMP 0B, 6 digits
	OrigTrace      *int    // BMP 37, reversal only
	Time           string  // BMP 0C, HHMMSS
	Date           string  // BMP 0D, MMDD
	Expiry         string  // BMP 0E, YYMM
	CardSeqNo      *int    // BMP 17, 4 digits
	PaymentType    *byte   // BMP 19 (40 offline, 50 checked, 60 online, 70 PIN)
	MaskedPAN      string  // BMP 22, always masked ('*' = masked digit)
	TID            string  // BMP 29, 8 digits
	AID            string  // BMP 3B, authorisation attribute, up to 8 characters
	Currency       int     // BMP 49, only if the ECR sent one
	ReceiptNo      *int    // BMP 87, 4 digits
	CardType       *byte   // BMP 8A, ZVT card-type ID
	CardTypeID     *byte   // BMP 8C, network-operator card-type ID
	AIDParam       []byte  // BMP BA, 5 bytes
	VUNumber       string  // BMP 2A, up to 15 characters
	AdditionalText string  // BMP 3C
	ResultCodeAS   *byte   // BMP A0
	TurnoverNo     *int    // BMP 88, 6 digits
	CardName       string  // BMP 8B
	Totals         *Totals // BMP 60, end-of-day only
	TLV            []TLV   // BMP 06
}

// SetTimestamp fills Time (HHMMSS) and Date (MMDD) from t in t's location.
func (m *StatusInformation) SetTimestamp(t time.Time) {
	m.Time = t.Format("150405")
	m.Date = t.Format("0102")
}

// Encode implements Message.
func (m StatusInformation) Encode() (APDU, error) {
	var w fieldWriter
	w.add(BMPResultCode, []byte{m.ResultCode})
	w.amount(BMPAmount, m.Amount)
	w.number(BMPTrace, m.Trace, 3)
	w.number(BMPOrigTrace, m.OrigTrace, 3)
	w.digits(BMPTime, m.Time, 3)
	w.digits(BMPDate, m.Date, 2)
	w.digits(BMPExpiry, m.Expiry, 2)
	w.number(BMPCardSeqNo, m.CardSeqNo, 2)
	w.byte1(BMPPaymentType, m.PaymentType)
	w.pan(m.MaskedPAN)
	w.digits(BMPTID, m.TID, 4)
	w.fixedText(BMPAID, m.AID, 8, 0)
	w.currency(m.Currency)
	w.number(BMPReceiptNo, m.ReceiptNo, 2)
	w.byte1(BMPCardType, m.CardType)
	w.byte1(BMPCardTypeID, m.CardTypeID)
	w.raw(BMPAIDParam, m.AIDParam)
	w.fixedText(BMPVUNumber, m.VUNumber, 15, ' ')
	w.text(BMPAdditionalText, m.AdditionalText, false)
	w.byte1(BMPResultCodeAS, m.ResultCodeAS)
	w.number(BMPTurnoverNo, m.TurnoverNo, 3)
	w.text(BMPCardName, m.CardName, true)
	if m.Totals != nil {
		t, err := m.Totals.encode()
		if err != nil {
			w.fail(BMPTotals, err)
		} else {
			w.add(BMPTotals, t)
		}
	}
	w.tlv(m.TLV)
	if w.err != nil {
		return APDU{}, fmt.Errorf("encoding status information: %w", w.err)
	}
	return newAPDU(CtrlStatusInformation, w.out), nil
}

// Decode parses a 04 0F APDU into m.
func (m *StatusInformation) Decode(a APDU) error {
	return decodeCommand(a, CtrlStatusInformation, "status information", m.decode)
}

func (m *StatusInformation) decode(data []byte) error {
	*m = StatusInformation{}
	fs, err := decodeFieldSet(data)
	if err != nil {
		return err
	}
	if rc := fs.byte1(BMPResultCode); rc != nil {
		m.ResultCode = *rc
	}
	if m.Amount, err = fs.amount(BMPAmount); err != nil {
		return err
	}
	for _, f := range []struct {
		bmp byte
		dst **int
	}{{BMPTrace, &m.Trace}, {BMPOrigTrace, &m.OrigTrace}, {BMPCardSeqNo, &m.CardSeqNo}, {BMPReceiptNo, &m.ReceiptNo}, {BMPTurnoverNo, &m.TurnoverNo}} {
		if *f.dst, err = fs.number(f.bmp); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		bmp byte
		dst *string
	}{{BMPTime, &m.Time}, {BMPDate, &m.Date}, {BMPExpiry, &m.Expiry}, {BMPTID, &m.TID}} {
		if *f.dst, err = fs.digits(f.bmp); err != nil {
			return err
		}
	}
	if m.MaskedPAN, err = fs.maskedPAN(); err != nil {
		return err
	}
	if m.Currency, err = fs.currency(); err != nil {
		return err
	}
	m.PaymentType = fs.byte1(BMPPaymentType)
	m.CardType = fs.byte1(BMPCardType)
	m.CardTypeID = fs.byte1(BMPCardTypeID)
	m.ResultCodeAS = fs.byte1(BMPResultCodeAS)
	m.AIDParam = fs.raw(BMPAIDParam)
	m.AID = fs.text(BMPAID, false)
	m.VUNumber = fs.text(BMPVUNumber, true)
	m.AdditionalText = fs.text(BMPAdditionalText, false)
	m.CardName = fs.text(BMPCardName, false)
	if v, ok := fs[BMPTotals]; ok {
		var t Totals
		if err := t.decode(v); err != nil {
			return bmpErr(BMPTotals, err)
		}
		m.Totals = &t
	}
	m.TLV, err = fs.tlv()
	return err
}

// SchemeTotal is one card scheme's line in the end-of-day totals.
type SchemeTotal struct {
	Count  int   // number of transactions, 0..255
	Amount int64 // turnover in minor units
}

// Totals is BMP 60, the individual totals of an end-of-day (PA00P015 §3.1.3):
// receipt-number range, then count and turnover per scheme.
type Totals struct {
	ReceiptFrom, ReceiptTo int // 4 digits each
	Girocard               SchemeTotal
	JCB                    SchemeTotal
	Eurocard               SchemeTotal
	Amex                   SchemeTotal
	Visa                   SchemeTotal
	Diners                 SchemeTotal
	Other                  SchemeTotal
}

// totalsLen is 2+2 receipt-number bytes plus 7 × (1 count + 6 amount).
const totalsLen = 4 + 7*7

func (t *Totals) schemes() []*SchemeTotal {
	return []*SchemeTotal{&t.Girocard, &t.JCB, &t.Eurocard, &t.Amex, &t.Visa, &t.Diners, &t.Other}
}

func (t Totals) encode() ([]byte, error) {
	out := make([]byte, 0, totalsLen)
	for _, rn := range []int{t.ReceiptFrom, t.ReceiptTo} {
		if rn < 0 {
			return nil, fmt.Errorf("%w: negative receipt number", ErrInvalidField)
		}
		b, err := EncodeBCD(uint64(rn), 2)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	for _, s := range t.schemes() {
		if s.Count < 0 || s.Count > 0xFF {
			return nil, fmt.Errorf("%w: count %d outside 0..255", ErrInvalidField, s.Count)
		}
		a, err := EncodeAmount(s.Amount)
		if err != nil {
			return nil, err
		}
		out = append(out, byte(s.Count))
		out = append(out, a...)
	}
	return out, nil
}

func (t *Totals) decode(b []byte) error {
	if len(b) != totalsLen {
		return fmt.Errorf("%w: individual totals need %d bytes, got %d", ErrInvalidField, totalsLen, len(b))
	}
	from, err := DecodeBCD(b[0:2])
	if err != nil {
		return err
	}
	to, err := DecodeBCD(b[2:4])
	if err != nil {
		return err
	}
	*t = Totals{ReceiptFrom: int(from), ReceiptTo: int(to)}
	b = b[4:]
	for _, s := range t.schemes() {
		a, err := DecodeAmount(b[1:7])
		if err != nil {
			return err
		}
		*s = SchemeTotal{Count: int(b[0]), Amount: a}
		b = b[7:]
	}
	return nil
}

// IntermediateStatus is 04 FF (PA00P015 §3.7):
// <intermediate-status> [<timeout>] [06 <TLV>]. Sending it resets the ECR's
// time-out T4; TimeoutMinutes also sets T4.
type IntermediateStatus struct {
	Code           byte  // Status* constants (Table 17)
	TimeoutMinutes *int  // 1 byte BCD, 0..99 minutes; mandatory when TLV is sent
	TLV            []TLV // BMP 06, e.g. tag 24 display texts
}

// Encode implements Message.
func (m IntermediateStatus) Encode() (APDU, error) {
	out := []byte{m.Code}
	if m.TimeoutMinutes != nil {
		b, err := EncodeBCD(uint64(*m.TimeoutMinutes), 1)
		if err != nil || *m.TimeoutMinutes < 0 {
			return APDU{}, fmt.Errorf("encoding intermediate status: %w", fieldErr("timeout", ErrInvalidField))
		}
		out = append(out, b...)
	} else if m.TLV != nil {
		return APDU{}, fmt.Errorf("encoding intermediate status: %w", fieldErr("timeout (needed with TLV)", ErrMissingField))
	}
	w := fieldWriter{out: out}
	w.tlv(m.TLV)
	if w.err != nil {
		return APDU{}, fmt.Errorf("encoding intermediate status: %w", w.err)
	}
	return newAPDU(CtrlIntermediateStatus, w.out), nil
}

// Decode parses a 04 FF APDU into m. The timeout byte is positional and may be
// absent, so after the status byte the decoder prefers "timeout, then optional
// TLV container" (what the specification mandates) and falls back to "TLV
// container without timeout", which real PTs send (PA00P015 §5.1 example).
func (m *IntermediateStatus) Decode(a APDU) error {
	if err := checkControl(a, CtrlIntermediateStatus, "intermediate status"); err != nil {
		return err
	}
	*m = IntermediateStatus{}
	d := a.Data
	if len(d) == 0 {
		return fmt.Errorf("decoding intermediate status: %w", fieldErr("status", ErrMissingField))
	}
	m.Code, d = d[0], d[1:]
	if len(d) == 0 {
		return nil
	}
	if tm, err := DecodeBCD(d[:1]); err == nil {
		if tlv, ok := exactTLV(d[1:]); ok {
			t := int(tm)
			m.TimeoutMinutes, m.TLV = &t, tlv
			return nil
		}
	}
	if tlv, ok := exactTLV(d); ok && d[0] == BMPTLV {
		m.TLV = tlv
		return nil
	}
	return fmt.Errorf("decoding intermediate status: %w: %d bytes after the status do not form [<timeout>] [06 <TLV>]", ErrInvalidField, len(d))
}

// exactTLV parses b as nothing or exactly one BMP 06 field with a valid
// container. It returns nil objects for empty b.
func exactTLV(b []byte) ([]TLV, bool) {
	if len(b) == 0 {
		return nil, true
	}
	if b[0] != BMPTLV {
		return nil, false
	}
	fields, err := DecodeFields(b)
	if err != nil || len(fields) != 1 {
		return nil, false
	}
	objs, err := DecodeTLV(fields[0].Value)
	if err != nil {
		return nil, false
	}
	return objs, true
}

// Completion is 06 0F. It has two shapes:
//
//   - after Registration and most commands (PA00P015 §3.2):
//     [27 <result>] [0C <time>] [AA <date>] [19 <status-byte>] [29 <TID>] [49 <CC>] [06 <TLV>];
//     a plain "06 0F 00" ends a successful transaction;
//   - after Status-Enquiry (§2.56.5): [<SW-version> (LLLVAR)] <terminal-status> [06 <TLV>],
//     chosen when TerminalStatus is set.
//
// Decode tells them apart by the first bytes: F0..F9 ×3 start a software
// version; a single byte, or a first byte that is none of 27 0C AA 19 29 49 06,
// is a terminal status code.
type Completion struct {
	ResultCode *byte  // BMP 27
	Time       string // BMP 0C, HHMMSS
	Date       string // BMP AA, YYMMDD
	StatusByte *byte  // BMP 19, Table 3
	TID        string // BMP 29, 8 digits
	Currency   int    // BMP 49
	TLV        []TLV  // BMP 06 (both shapes)

	SWVersion      string // Status-Enquiry shape: software version (LLLVAR); "" = absent
	TerminalStatus *byte  // Status-Enquiry shape: Terminal* code
}

// isCompletionBMP reports whether b can open the BMP shape of a Completion.
func isCompletionBMP(b byte) bool {
	switch b {
	case BMPResultCode, BMPTime, BMPDateYYMMDD, BMPPaymentType, BMPTID, BMPCurrency, BMPTLV:
		return true
	}
	return false
}

// Encode implements Message.
func (m Completion) Encode() (APDU, error) {
	if m.TerminalStatus != nil {
		return m.encodeStatus()
	}
	if m.SWVersion != "" {
		return APDU{}, fmt.Errorf("encoding completion: %w", fieldErr("terminal status (needed with SW version)", ErrMissingField))
	}
	var w fieldWriter
	w.byte1(BMPResultCode, m.ResultCode)
	w.digits(BMPTime, m.Time, 3)
	w.digits(BMPDateYYMMDD, m.Date, 3)
	w.byte1(BMPPaymentType, m.StatusByte)
	w.digits(BMPTID, m.TID, 4)
	w.currency(m.Currency)
	w.tlv(m.TLV)
	if w.err != nil {
		return APDU{}, fmt.Errorf("encoding completion: %w", w.err)
	}
	return newAPDU(CtrlCompletion, nonNil(w.out)), nil
}

func (m Completion) encodeStatus() (APDU, error) {
	if m.ResultCode != nil || m.Time != "" || m.Date != "" || m.StatusByte != nil || m.TID != "" || m.Currency != 0 {
		return APDU{}, fmt.Errorf("encoding completion: %w: BMP fields cannot accompany a terminal status", ErrInvalidField)
	}
	st := *m.TerminalStatus
	if m.SWVersion == "" && m.TLV != nil && isCompletionBMP(st) {
		return APDU{}, fmt.Errorf("encoding completion: %w: terminal status %02X with TLV is ambiguous without SW version", ErrInvalidField, st)
	}
	var out []byte
	if m.SWVersion != "" {
		var err error
		sw := EncodeText(m.SWVersion)
		if out, err = appendVarLen(out, len(sw), 3); err != nil {
			return APDU{}, fmt.Errorf("encoding completion: %w", fieldErr("SW version", err))
		}
		out = append(out, sw...)
	}
	w := fieldWriter{out: append(out, st)}
	w.tlv(m.TLV)
	if w.err != nil {
		return APDU{}, fmt.Errorf("encoding completion: %w", w.err)
	}
	return newAPDU(CtrlCompletion, w.out), nil
}

// Decode parses a 06 0F APDU into m.
func (m *Completion) Decode(a APDU) error {
	return decodeCommand(a, CtrlCompletion, "completion", m.decode)
}

func isVarDigit(b byte) bool { return b >= 0xF0 && b <= 0xF9 }

func (m *Completion) decode(d []byte) error {
	*m = Completion{}
	swForm := len(d) >= 3 && isVarDigit(d[0]) && isVarDigit(d[1]) && isVarDigit(d[2])
	if swForm || len(d) == 1 || (len(d) > 0 && !isCompletionBMP(d[0])) {
		if swForm {
			n, _ := readVarLen(d, 3)
			if len(d) < 3+n {
				return fieldErr("SW version", ErrTruncated)
			}
			m.SWVersion = DecodeText(d[3 : 3+n])
			d = d[3+n:]
		}
		if len(d) == 0 {
			return fieldErr("terminal status", ErrMissingField)
		}
		st := d[0]
		m.TerminalStatus = &st
		tlv, ok := exactTLV(d[1:])
		if !ok {
			return fieldErr("TLV after terminal status", ErrInvalidField)
		}
		m.TLV = tlv
		return nil
	}
	fs, err := decodeFieldSet(d)
	if err != nil {
		return err
	}
	m.ResultCode = fs.byte1(BMPResultCode)
	m.StatusByte = fs.byte1(BMPPaymentType)
	if m.Time, err = fs.digits(BMPTime); err != nil {
		return err
	}
	if m.Date, err = fs.digits(BMPDateYYMMDD); err != nil {
		return err
	}
	if m.TID, err = fs.digits(BMPTID); err != nil {
		return err
	}
	if m.Currency, err = fs.currency(); err != nil {
		return err
	}
	m.TLV, err = fs.tlv()
	return err
}

// Abort is 06 1E, the PT ending a command unsuccessfully (PA00P015 §3.3, §2.2.9):
// <result-code> [<CC>] [06 <TLV>]. The currency code is only sent with result
// code 6F (wrong currency).
type Abort struct {
	ResultCode byte  // Result* constants
	Currency   int   // positional CC, only with ResultWrongCurrency
	TLV        []TLV // BMP 06, e.g. tags 1F16 / 1F17
}

// Encode implements Message.
func (m Abort) Encode() (APDU, error) {
	out := []byte{m.ResultCode}
	if m.Currency != 0 {
		if m.ResultCode != ResultWrongCurrency {
			return APDU{}, fmt.Errorf("encoding abort: %w: currency only goes with result code 6F", ErrInvalidField)
		}
		cc, err := EncodeBCD(uint64(m.Currency), 2)
		if err != nil || m.Currency < 0 {
			return APDU{}, fmt.Errorf("encoding abort: %w", fieldErr("currency", ErrInvalidField))
		}
		out = append(out, cc...)
	}
	w := fieldWriter{out: out}
	w.tlv(m.TLV)
	if w.err != nil {
		return APDU{}, fmt.Errorf("encoding abort: %w", w.err)
	}
	return newAPDU(CtrlAbort, w.out), nil
}

// Decode parses a 06 1E APDU into m. With result code 6F, two bytes of valid
// BCD after it are read as the currency code before any TLV container.
func (m *Abort) Decode(a APDU) error {
	if err := checkControl(a, CtrlAbort, "abort"); err != nil {
		return err
	}
	*m = Abort{}
	d := a.Data
	if len(d) == 0 {
		return fmt.Errorf("decoding abort: %w", fieldErr("result code", ErrMissingField))
	}
	m.ResultCode, d = d[0], d[1:]
	if m.ResultCode == ResultWrongCurrency && len(d) >= 2 {
		if cc, err := DecodeBCD(d[:2]); err == nil {
			if tlv, ok := exactTLV(d[2:]); ok {
				m.Currency, m.TLV = int(cc), tlv
				return nil
			}
		}
	}
	tlv, ok := exactTLV(d)
	if !ok {
		return fmt.Errorf("decoding abort: %w", fieldErr("data after result code", ErrInvalidField))
	}
	m.TLV = tlv
	return nil
}

// PrintLine is 06 D1 (PA00P015 §3.5): <attribute> <text>.
type PrintLine struct {
	Attribute byte   // Table 16; 0x00 normal text, 1xxx xxxx (not 80) marks the last line
	Text      string // no CR LF
}

// Encode implements Message.
func (m PrintLine) Encode() (APDU, error) {
	data := append([]byte{m.Attribute}, EncodeText(m.Text)...)
	if len(data) > 0xFFFF {
		return APDU{}, fmt.Errorf("encoding print line: %w", ErrTooLong)
	}
	return newAPDU(CtrlPrintLine, data), nil
}

// Decode parses a 06 D1 APDU into m.
func (m *PrintLine) Decode(a APDU) error {
	if err := checkControl(a, CtrlPrintLine, "print line"); err != nil {
		return err
	}
	if len(a.Data) == 0 {
		return fmt.Errorf("decoding print line: %w", fieldErr("attribute", ErrMissingField))
	}
	*m = PrintLine{Attribute: a.Data[0], Text: DecodeText(a.Data[1:])}
	return nil
}

// PrintTextBlock is 06 D3 (PA00P015 §3.6): 06 <TLV> with tag 25 (print texts).
type PrintTextBlock struct {
	TLV []TLV
}

// Encode implements Message.
func (m PrintTextBlock) Encode() (APDU, error) {
	var w fieldWriter
	w.tlv(nonNilTLV(m.TLV))
	if w.err != nil {
		return APDU{}, fmt.Errorf("encoding print text block: %w", w.err)
	}
	return newAPDU(CtrlPrintTextBlock, w.out), nil
}

// Decode parses a 06 D3 APDU into m.
func (m *PrintTextBlock) Decode(a APDU) error {
	if err := checkControl(a, CtrlPrintTextBlock, "print text block"); err != nil {
		return err
	}
	tlv, ok := exactTLV(a.Data)
	if !ok || tlv == nil {
		return fmt.Errorf("decoding print text block: %w", fieldErr("BMP 06", ErrInvalidField))
	}
	*m = PrintTextBlock{TLV: tlv}
	return nil
}

func nonNilTLV(t []TLV) []TLV {
	if t == nil {
		return []TLV{}
	}
	return t
}

// Response is the application-level answer to a command (PA00P016 §5.2.3):
// 80 00 positive, 84 xx negative with error ID xx (84 00 also positive). Data
// may carry a TLV container or, for 84 9D, an amount.
type Response struct {
	CCRC byte // CCRCPositive or CCRCNegative
	APRC byte // 00, or the error ID of a negative response
	Data []byte
}

// Positive reports whether the response confirms the command (80 00 or 84 00).
func (r Response) Positive() bool {
	return r.APRC == 0 && (r.CCRC == CCRCPositive || r.CCRC == CCRCNegative)
}

// Encode implements Message.
func (r Response) Encode() (APDU, error) {
	if r.CCRC != CCRCPositive && r.CCRC != CCRCNegative {
		return APDU{}, fmt.Errorf("encoding response: %w: CCRC %02X", ErrInvalidField, r.CCRC)
	}
	return APDU{Class: r.CCRC, Instr: r.APRC, Data: nonNil(bytes.Clone(r.Data))}, nil
}

// Decode parses an 80 xx or 84 xx APDU into r.
func (r *Response) Decode(a APDU) error {
	if a.Class != CCRCPositive && a.Class != CCRCNegative {
		return fmt.Errorf("decoding response: %w: CCRC %02X", ErrInvalidField, a.Class)
	}
	*r = Response{CCRC: a.Class, APRC: a.Instr, Data: nonNil(bytes.Clone(a.Data))}
	return nil
}

// Ack returns 80 00 00, the positive application response.
func Ack() APDU { return APDU{Class: CCRCPositive, Instr: 0x00, Data: []byte{}} }

// Nack returns 84 <code> 00, a negative application response.
func Nack(code byte) APDU { return APDU{Class: CCRCNegative, Instr: code, Data: []byte{}} }

// NackCurrency returns 84 1E <6F> [<CC>], the PT's refusal of a
// registration in a currency it does not take (PA00P015 §2.1), with the PT's
// own ISO 4217 numeric currency; 0 (or an invalid code) leaves CC out.
func NackCurrency(currency int) APDU {
	data := []byte{ResultWrongCurrency}
	if cc, err := EncodeBCD(uint64(currency), 2); err == nil && currency > 0 {
		data = append(data, cc...)
	}
	return APDU{Class: CCRCNegative, Instr: 0x1E, Data: data}
}
