package zvt

import "fmt"

// Message is any ZVT message this package can encode.
type Message interface {
	// Encode returns the message as an APDU.
	Encode() (APDU, error)
}

// Command is an ECR→PT command returned by ParseCommand.
type Command interface {
	Message
	isCommand()
}

// CardInput holds the card data an ECR may send with a payment command (its own
// reader or manual entry). The card number is kept masked only; track data and
// CVV stay in Secret values that never print.
type CardInput struct {
	MaskedPAN string // BMP 22, masked on decode (first 6 / last 4 at most)
	Expiry    string // BMP 0E, YYMM
	Track1    Secret // BMP 2D
	Track2    Secret // BMP 23
	Track3    Secret // BMP 24
	CVV       Secret // BMP 3A
}

// Present reports whether any card data was sent.
func (c CardInput) Present() bool {
	return c.MaskedPAN != "" || c.Expiry != "" || c.Track1 != nil || c.Track2 != nil || c.Track3 != nil || c.CVV != nil
}

func (c *CardInput) decode(fs fieldSet) error {
	var err error
	if c.MaskedPAN, err = fs.maskedPAN(); err != nil {
		return err
	}
	if c.Expiry, err = fs.digits(BMPExpiry); err != nil {
		return err
	}
	c.Track1, c.Track2, c.Track3 = fs.secret(BMPTrack1), fs.secret(BMPTrack2), fs.secret(BMPTrack3)
	c.CVV = fs.secret(BMPCVV)
	return nil
}

func (c CardInput) encode(w *fieldWriter) {
	w.secret(BMPTrack1, c.Track1)
	w.digits(BMPExpiry, c.Expiry, 2)
	w.pan(c.MaskedPAN)
	w.secret(BMPTrack2, c.Track2)
	w.secret(BMPTrack3, c.Track3)
	w.secret(BMPCVV, c.CVV)
}

// splitPassword takes the positional 3-byte BCD password off a data block.
func splitPassword(data []byte) (string, []byte, error) {
	if len(data) < 3 {
		return "", nil, fieldErr("password", ErrMissingField)
	}
	pw, err := unpackDigits(data[:3])
	if err != nil {
		return "", nil, fieldErr("password", err)
	}
	return pw, data[3:], nil
}

func appendPassword(out []byte, pw string) ([]byte, error) {
	b, err := packDigits(pw, 3)
	if err != nil {
		return nil, fieldErr("password", err)
	}
	return append(out, b...), nil
}

func checkControl(a APDU, want uint16, what string) error {
	if a.Control() != want {
		return fmt.Errorf("decoding %s: %w: control field %02X %02X", what, ErrInvalidField, a.Class, a.Instr)
	}
	return nil
}

// decodeCommand checks a's control field and parses its data with decode,
// naming the command in any error.
func decodeCommand(a APDU, want uint16, what string, decode func(data []byte) error) error {
	if err := checkControl(a, want, what); err != nil {
		return err
	}
	if err := decode(a.Data); err != nil {
		return fmt.Errorf("decoding %s: %w", what, err)
	}
	return nil
}

// encodeCommand builds a command whose data is the password (when
// withPassword) followed by the fields fields writes.
func encodeCommand(ctrl uint16, what string, withPassword bool, pw string, fields func(w *fieldWriter)) (APDU, error) {
	var w fieldWriter
	if withPassword {
		out, err := appendPassword(nil, pw)
		if err != nil {
			return APDU{}, fmt.Errorf("encoding %s: %w", what, err)
		}
		w.out = out
	}
	fields(&w)
	if w.err != nil {
		return APDU{}, fmt.Errorf("encoding %s: %w", what, w.err)
	}
	return newAPDU(ctrl, nonNil(w.out)), nil
}

// passwordFields splits the password off a data block and decodes the BMP
// fields after it.
func passwordFields(data []byte) (string, fieldSet, error) {
	pw, rest, err := splitPassword(data)
	if err != nil {
		return "", fieldSet{}, err
	}
	fs, err := decodeFieldSet(rest)
	if err != nil {
		return "", fieldSet{}, err
	}
	return pw, fs, nil
}

// Registration is 06 00 (PA00P015 §2.1):
// <password> <config-byte> [<CC> [03 <service-byte>] [06 <TLV>]].
type Registration struct {
	Password    string // 6 digits
	ConfigByte  byte   // Config* bits
	Currency    int    // ISO 4217 numeric (978 = EUR); 0 = absent
	ServiceByte *byte  // BMP 03; requires Currency
	TLV         []TLV  // BMP 06; nil = absent, empty = "TLV supported"; requires Currency
}

func (Registration) isCommand() {}

// Encode implements Message.
func (m Registration) Encode() (APDU, error) {
	out, err := appendPassword(nil, m.Password)
	if err != nil {
		return APDU{}, fmt.Errorf("encoding registration: %w", err)
	}
	out = append(out, m.ConfigByte)
	if m.Currency == 0 {
		if m.ServiceByte != nil || m.TLV != nil {
			return APDU{}, fmt.Errorf("encoding registration: %w", fieldErr("currency (needed with service byte or TLV)", ErrMissingField))
		}
		return newAPDU(CtrlRegistration, out), nil
	}
	cc, err := EncodeBCD(uint64(m.Currency), 2)
	if err != nil || m.Currency < 0 {
		return APDU{}, fmt.Errorf("encoding registration: %w", fieldErr("currency", ErrInvalidField))
	}
	w := fieldWriter{out: append(out, cc...)}
	w.byte1(BMPServiceByte, m.ServiceByte)
	w.tlv(m.TLV)
	if w.err != nil {
		return APDU{}, fmt.Errorf("encoding registration: %w", w.err)
	}
	return newAPDU(CtrlRegistration, w.out), nil
}

// Decode parses a 06 00 APDU into m.
func (m *Registration) Decode(a APDU) error {
	return decodeCommand(a, CtrlRegistration, "registration", m.decode)
}

func (m *Registration) decode(data []byte) error {
	*m = Registration{}
	pw, rest, err := splitPassword(data)
	if err != nil {
		return err
	}
	if len(rest) < 1 {
		return fieldErr("config byte", ErrMissingField)
	}
	m.Password, m.ConfigByte, rest = pw, rest[0], rest[1:]
	if len(rest) == 0 {
		return nil
	}
	if len(rest) < 2 {
		return fieldErr("currency", ErrTruncated)
	}
	cc, err := DecodeBCD(rest[:2])
	if err != nil {
		return fieldErr("currency", err)
	}
	m.Currency = int(cc)
	fs, err := decodeFieldSet(rest[2:])
	if err != nil {
		return err
	}
	m.ServiceByte = fs.byte1(BMPServiceByte)
	m.TLV, err = fs.tlv()
	return err
}

// Authorization is 06 01, a payment (PA00P015 §2.2.1). All parameters are
// BMP-tagged; BMPs the table knows but posbridge does not use are skipped.
type Authorization struct {
	Amount         *int64 // BMP 04, minor units
	Currency       int    // BMP 49, ISO 4217 numeric; 0 = absent (EUR by default)
	PaymentType    *byte  // BMP 19
	Timeout        *byte  // BMP 01, seconds the PT waits during issue of goods
	MaxStatusInfos *byte  // BMP 02
	PumpNo         *byte  // BMP 05
	CardType       *byte  // BMP 8A
	AdditionalData []byte // BMP 3C
	Card           CardInput
	TLV            []TLV // BMP 06
}

func (Authorization) isCommand() {}

// Encode implements Message.
func (m Authorization) Encode() (APDU, error) {
	return encodeCommand(CtrlAuthorization, "authorisation", false, "", func(w *fieldWriter) {
		w.amount(BMPAmount, m.Amount)
		w.currency(m.Currency)
		w.byte1(BMPPaymentType, m.PaymentType)
		m.Card.encode(w)
		w.byte1(BMPTimeout, m.Timeout)
		w.byte1(BMPMaxStatusInfos, m.MaxStatusInfos)
		w.byte1(BMPPumpNo, m.PumpNo)
		w.raw(BMPAdditionalText, m.AdditionalData)
		w.byte1(BMPCardType, m.CardType)
		w.tlv(m.TLV)
	})
}

// Decode parses a 06 01 APDU into m.
func (m *Authorization) Decode(a APDU) error {
	return decodeCommand(a, CtrlAuthorization, "authorisation", m.decode)
}

func (m *Authorization) decode(data []byte) error {
	*m = Authorization{}
	fs, err := decodeFieldSet(data)
	if err != nil {
		return err
	}
	if m.Amount, err = fs.amount(BMPAmount); err != nil {
		return err
	}
	if m.Currency, err = fs.currency(); err != nil {
		return err
	}
	m.PaymentType = fs.byte1(BMPPaymentType)
	m.Timeout = fs.byte1(BMPTimeout)
	m.MaxStatusInfos = fs.byte1(BMPMaxStatusInfos)
	m.PumpNo = fs.byte1(BMPPumpNo)
	m.CardType = fs.byte1(BMPCardType)
	m.AdditionalData = fs.raw(BMPAdditionalText)
	if err = m.Card.decode(fs); err != nil {
		return err
	}
	m.TLV, err = fs.tlv()
	return err
}

// Reversal is 06 30 (PA00P015 §2.9): <password> 87 <receipt-no> [04 ..] ...
type Reversal struct {
	Password       string // 6 digits
	ReceiptNo      int    // BMP 87, mandatory: the payment to reverse
	Amount         *int64 // BMP 04, optional check against the payment
	Currency       int    // BMP 49
	PaymentType    *byte  // BMP 19
	AdditionalData []byte // BMP 3C
	Card           CardInput
	TLV            []TLV // BMP 06
}

func (Reversal) isCommand() {}

// Encode implements Message.
func (m Reversal) Encode() (APDU, error) {
	return encodeCommand(CtrlReversal, "reversal", true, m.Password, func(w *fieldWriter) {
		w.number(BMPReceiptNo, &m.ReceiptNo, 2)
		w.amount(BMPAmount, m.Amount)
		w.currency(m.Currency)
		w.byte1(BMPPaymentType, m.PaymentType)
		m.Card.encode(w)
		w.raw(BMPAdditionalText, m.AdditionalData)
		w.tlv(m.TLV)
	})
}

// Decode parses a 06 30 APDU into m.
func (m *Reversal) Decode(a APDU) error {
	return decodeCommand(a, CtrlReversal, "reversal", m.decode)
}

func (m *Reversal) decode(data []byte) error {
	*m = Reversal{}
	pw, fs, err := passwordFields(data)
	if err != nil {
		return err
	}
	m.Password = pw
	rn, err := fs.number(BMPReceiptNo)
	if err != nil {
		return err
	}
	if rn == nil {
		return bmpErr(BMPReceiptNo, ErrMissingField)
	}
	m.ReceiptNo = *rn
	if m.Amount, err = fs.amount(BMPAmount); err != nil {
		return err
	}
	if m.Currency, err = fs.currency(); err != nil {
		return err
	}
	m.PaymentType = fs.byte1(BMPPaymentType)
	m.AdditionalData = fs.raw(BMPAdditionalText)
	if err = m.Card.decode(fs); err != nil {
		return err
	}
	m.TLV, err = fs.tlv()
	return err
}

// Refund is 06 31 (PA00P015 §2.15): <password> [04 ..] [49 ..] ...
type Refund struct {
	Password       string // 6 digits
	Amount         *int64 // BMP 04
	Currency       int    // BMP 49
	PaymentType    *byte  // BMP 19
	AID            string // BMP 3B, authorisation attribute of an earlier payment
	AdditionalData []byte // BMP 3C
	CardType       *byte  // BMP 8A
	Card           CardInput
	TLV            []TLV // BMP 06
}

func (Refund) isCommand() {}

// Encode implements Message.
func (m Refund) Encode() (APDU, error) {
	return encodeCommand(CtrlRefund, "refund", true, m.Password, func(w *fieldWriter) {
		w.amount(BMPAmount, m.Amount)
		w.currency(m.Currency)
		w.byte1(BMPPaymentType, m.PaymentType)
		m.Card.encode(w)
		w.fixedText(BMPAID, m.AID, 8, 0)
		w.raw(BMPAdditionalText, m.AdditionalData)
		w.byte1(BMPCardType, m.CardType)
		w.tlv(m.TLV)
	})
}

// Decode parses a 06 31 APDU into m.
func (m *Refund) Decode(a APDU) error {
	return decodeCommand(a, CtrlRefund, "refund", m.decode)
}

func (m *Refund) decode(data []byte) error {
	*m = Refund{}
	pw, fs, err := passwordFields(data)
	if err != nil {
		return err
	}
	m.Password = pw
	if m.Amount, err = fs.amount(BMPAmount); err != nil {
		return err
	}
	if m.Currency, err = fs.currency(); err != nil {
		return err
	}
	m.PaymentType = fs.byte1(BMPPaymentType)
	m.AID = fs.text(BMPAID, false)
	m.AdditionalData = fs.raw(BMPAdditionalText)
	m.CardType = fs.byte1(BMPCardType)
	if err = m.Card.decode(fs); err != nil {
		return err
	}
	m.TLV, err = fs.tlv()
	return err
}

// EndOfDay is 06 50 (PA00P015 §2.16): <password> [06 <TLV>].
type EndOfDay struct {
	Password string
	TLV      []TLV
}

func (EndOfDay) isCommand() {}

// Encode implements Message.
func (m EndOfDay) Encode() (APDU, error) {
	return encodePasswordTLV(CtrlEndOfDay, "end-of-day", m.Password, nil, m.TLV)
}

// Decode parses a 06 50 APDU into m.
func (m *EndOfDay) Decode(a APDU) error {
	return decodeCommand(a, CtrlEndOfDay, "end-of-day", func(data []byte) error {
		pw, _, tlv, err := decodePasswordTLV(data)
		*m = EndOfDay{Password: pw, TLV: tlv}
		return err
	})
}

// SendTotals is 06 10, Send Turnover Totals (PA00P015 §2.43): <password>.
// The PT answers with the totals of the open batch in a Status-Information
// (§3.1.3) without closing it.
type SendTotals struct {
	Password string
}

func (SendTotals) isCommand() {}

// Encode implements Message.
func (m SendTotals) Encode() (APDU, error) {
	return encodePasswordTLV(CtrlSendTotals, "send turnover totals", m.Password, nil, nil)
}

// Decode parses a 06 10 APDU into m. A TLV container or service byte, which
// the specification does not define for it, is tolerated and ignored.
func (m *SendTotals) Decode(a APDU) error {
	return decodeCommand(a, CtrlSendTotals, "send turnover totals", func(data []byte) error {
		pw, _, _, err := decodePasswordTLV(data)
		*m = SendTotals{Password: pw}
		return err
	})
}

// RepeatReceipt is 06 20 (PA00P015 §2.20): <password> [03 <service-byte>] [06 <TLV>].
// Service-byte bit 0x01 asks for the last Status-Information, 0x02 for no receipt.
type RepeatReceipt struct {
	Password    string
	ServiceByte *byte
	TLV         []TLV
}

func (RepeatReceipt) isCommand() {}

// RepeatReceipt service-byte bits.
const (
	RepeatSendStatusInfo byte = 0x01 // ECR requires the Status-Information again
	RepeatNoReceipt      byte = 0x02 // no receipt at all
)

// Encode implements Message.
func (m RepeatReceipt) Encode() (APDU, error) {
	return encodePasswordTLV(CtrlRepeatReceipt, "repeat receipt", m.Password, m.ServiceByte, m.TLV)
}

// Decode parses a 06 20 APDU into m.
func (m *RepeatReceipt) Decode(a APDU) error {
	return decodeCommand(a, CtrlRepeatReceipt, "repeat receipt", func(data []byte) error {
		pw, sb, tlv, err := decodePasswordTLV(data)
		*m = RepeatReceipt{Password: pw, ServiceByte: sb, TLV: tlv}
		return err
	})
}

func encodePasswordTLV(ctrl uint16, what, pw string, sb *byte, tlv []TLV) (APDU, error) {
	return encodeCommand(ctrl, what, true, pw, func(w *fieldWriter) {
		w.byte1(BMPServiceByte, sb)
		w.tlv(tlv)
	})
}

// decodePasswordTLV parses <password> [03 <service-byte>] [06 <TLV>]; on
// an error all results are zero.
func decodePasswordTLV(data []byte) (string, *byte, []TLV, error) {
	pw, fs, err := passwordFields(data)
	if err != nil {
		return "", nil, nil, err
	}
	tlv, err := fs.tlv()
	if err != nil {
		return "", nil, nil, err
	}
	return pw, fs.byte1(BMPServiceByte), tlv, nil
}

// StatusEnquiry is 05 01 (PA00P015 §2.56): [<password> [03 <service-byte>] [06 <TLV>]].
type StatusEnquiry struct {
	Password    string // "" = absent
	ServiceByte *byte  // requires Password
	TLV         []TLV  // requires Password
}

func (StatusEnquiry) isCommand() {}

// Encode implements Message.
func (m StatusEnquiry) Encode() (APDU, error) {
	if m.Password == "" {
		if m.ServiceByte != nil || m.TLV != nil {
			return APDU{}, fmt.Errorf("encoding status enquiry: %w", fieldErr("password (needed with service byte or TLV)", ErrMissingField))
		}
		return newAPDU(CtrlStatusEnquiry, []byte{}), nil
	}
	return encodePasswordTLV(CtrlStatusEnquiry, "status enquiry", m.Password, m.ServiceByte, m.TLV)
}

// Decode parses a 05 01 APDU into m.
func (m *StatusEnquiry) Decode(a APDU) error {
	return decodeCommand(a, CtrlStatusEnquiry, "status enquiry", func(data []byte) error {
		*m = StatusEnquiry{}
		if len(data) == 0 {
			return nil
		}
		pw, sb, tlv, err := decodePasswordTLV(data)
		*m = StatusEnquiry{Password: pw, ServiceByte: sb, TLV: tlv}
		return err
	})
}

// AbortRequest is 06 B0, the ECR asking the PT to abort (PA00P015 §2.23).
type AbortRequest struct {
	CardOutput *byte // BMP D2, card output direction
	CardReader *byte // BMP FA, card-reader activation
}

func (AbortRequest) isCommand() {}

// Encode implements Message.
func (m AbortRequest) Encode() (APDU, error) {
	return encodeCommand(CtrlAbortRequest, "abort request", false, "", func(w *fieldWriter) {
		w.byte1(BMPCardOutput, m.CardOutput)
		w.byte1(BMPCardReaderActive, m.CardReader)
	})
}

// Decode parses a 06 B0 APDU into m.
func (m *AbortRequest) Decode(a APDU) error {
	return decodeCommand(a, CtrlAbortRequest, "abort request", func(data []byte) error {
		fs, err := decodeFieldSet(data)
		if err != nil {
			return err
		}
		*m = AbortRequest{CardOutput: fs.byte1(BMPCardOutput), CardReader: fs.byte1(BMPCardReaderActive)}
		return nil
	})
}

// LogOff is 06 02 (PA00P015 §2.24); it has no data.
type LogOff struct{}

func (LogOff) isCommand() {}

// Encode implements Message.
func (LogOff) Encode() (APDU, error) { return newAPDU(CtrlLogOff, []byte{}), nil }

// Decode parses a 06 02 APDU. Data, which the specification does not define,
// is ignored.
func (m *LogOff) Decode(a APDU) error {
	return checkControl(a, CtrlLogOff, "log-off")
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
