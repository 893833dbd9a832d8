package pt

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/money"
)

// Result codes of PA00P015 §10 that package zvt does not name.
const (
	// ResultDeclined is sent for a decline that carries no usable
	// authorisation-system code (ISO 8583 "05", do not honour; §10 range 01–63h).
	ResultDeclined byte = 0x05
	// ResultEndOfDayNotPossible is "end-of-day batch not possible" (77h).
	ResultEndOfDayNotPossible byte = 0x77
	// ResultPCIDSS is "function not allowed due to PCI-DSS/P2PE rules" (A5h):
	// the ECR sent card data, which posbridge does not forward.
	ResultPCIDSS byte = 0xA5
	// ResultAmountTooSmall is "amount too small" (C8h).
	ResultAmountTooSmall byte = 0xC8
)

// Intermediate status codes (PA00P015 §3.7, Table 17) sent while the cloud works.
const (
	// statusWaiting: queued or being sent to CodePay ("please wait...").
	statusWaiting = zvt.StatusPleaseWaitAlt
	// statusOnTerminal: the order is on the CodePay terminal ("insert card").
	statusOnTerminal = zvt.StatusInsertCard
	// statusReconciling: outcome unknown, posbridge queries CodePay
	// ("PT is waiting for response from FEP").
	statusReconciling = zvt.StatusWaitingFEP
)

// numericToAlpha maps ISO 4217 numeric codes (BMP 49) to alphabetic codes.
var numericToAlpha = map[int]string{
	978: "EUR", 840: "USD", 826: "GBP", 756: "CHF", 392: "JPY", 752: "SEK",
	208: "DKK", 578: "NOK", 985: "PLN", 203: "CZK", 348: "HUF", 946: "RON",
	975: "BGN", 36: "AUD", 124: "CAD", 554: "NZD", 344: "HKD", 702: "SGD",
	156: "CNY", 949: "TRY", 784: "AED", 710: "ZAR",
}

// CurrencyAlpha returns the ISO 4217 alphabetic code of a numeric code (978 → "EUR").
func CurrencyAlpha(numeric int) (string, bool) {
	s, ok := numericToAlpha[numeric]
	return s, ok
}

// CurrencyNumeric returns the ISO 4217 numeric code of an alphabetic code ("EUR" → 978).
func CurrencyNumeric(alpha string) (int, bool) {
	for n, a := range numericToAlpha {
		if a == alpha {
			return n, true
		}
	}
	return 0, false
}

// TerminalID derives the 8-digit ZVT terminal ID (BMP 29) from a CodePay
// terminal SN: the last eight digits of the SN, left-padded with zeros
// ("WPYB002248000865" → "48000865", "DEMO000001" → "00000001").
func TerminalID(sn string) string {
	var digits []byte
	for i := range len(sn) {
		if c := sn[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) > 8 {
		digits = digits[len(digits)-8:]
	}
	return strings.Repeat("0", 8-len(digits)) + string(digits)
}

// Order numbers of ECR payments: "ZVT-<name>-<seq>-<stamp>", where seq is the
// ECR's durable sequence number (trace and receipt numbers derive from it) and
// stamp the creation time in base-36 seconds, which keeps numbers unique
// across journal resets. The automatic reversal of one is the same number with
// prefix "ZAR".
const (
	orderPrefix    = "ZVT-"
	reversalPrefix = "ZAR-"
)

func orderNo(name string, seq int64, t time.Time) string {
	return orderPrefix + name + "-" + strconv.FormatInt(seq, 10) + "-" + strconv.FormatInt(t.Unix(), 36)
}

// reversalOrderNo is the order number of the automatic reversal of orderNo.
func reversalOrderNo(orderNo string) string {
	return reversalPrefix + strings.TrimPrefix(orderNo, orderPrefix)
}

// originalOfReversal is the order number a ZAR- reversal reverses.
func originalOfReversal(revNo string) string {
	return orderPrefix + strings.TrimPrefix(revNo, reversalPrefix)
}

// parseOrderNo returns the sequence number of one of this ECR's order
// numbers ("ZVT-<name>-<seq>-<stamp>") and whether it is one.
func parseOrderNo(name, s string) (int64, bool) {
	rest, ok := strings.CutPrefix(s, orderPrefix+name+"-")
	if !ok {
		return 0, false
	}
	seqText, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if err != nil || seq <= 0 {
		return 0, false
	}
	return seq, true
}

// seqPrefix is how the order numbers of sequence number seq start.
func seqPrefix(name string, seq int64) string {
	return orderPrefix + name + "-" + strconv.FormatInt(seq, 10) + "-"
}

// seqOfReceipt is the newest sequence number up to last whose receipt number
// is rn, or 0 when there is none.
func seqOfReceipt(last int64, rn int) int64 {
	if rn < 1 || rn > 9_999 || last < 1 {
		return 0
	}
	seq := last - int64((receiptOf(last)-rn+9_999)%9_999)
	if seq < 1 {
		return 0
	}
	return seq
}

// traceOf is the 6-digit trace number (BMP 0B) of sequence number seq, 1..999999.
func traceOf(seq int64) int { return int((seq-1)%999_999) + 1 }

// receiptOf is the 4-digit receipt number (BMP 87) of sequence number seq, 1..9999.
func receiptOf(seq int64) int { return int((seq-1)%9_999) + 1 }

// resultCode maps a final payment to the ZVT result code (BMP 27, 06 1E).
func resultCode(p agent.Payment) byte {
	switch p.State {
	case agent.StateApproved:
		return zvt.ResultOK
	case agent.StateDeclined:
		if p.Error != nil {
			return declineCode(p.Error.Code)
		}
		return ResultDeclined
	case agent.StateCancelled, agent.StateExpired:
		return zvt.ResultAbort
	case agent.StateFailed:
		if p.Error != nil && p.Error.Code == "codepay_unavailable" {
			return zvt.ResultNoConnection
		}
		return zvt.ResultSystemError
	}
	return zvt.ResultSystemError
}

// declineCode passes an authorisation-system response code through when it is
// a decimal 01–99 (PA00P015 §10: 01h–63h are the host's codes, e.g. "51"
// insufficient funds → 33h); anything else becomes 05h "declined".
func declineCode(code string) byte {
	if len(code) < 1 || len(code) > 2 {
		return ResultDeclined
	}
	n, err := strconv.Atoi(code)
	if err != nil || n < 1 || n > 99 {
		return ResultDeclined
	}
	return byte(n)
}

// intermediateStatus is the 04 FF code for a payment that is not final yet.
func intermediateStatus(p agent.Payment) byte {
	switch p.State {
	case agent.StateOnTerminal:
		return statusOnTerminal
	case agent.StateUnknown:
		return statusReconciling
	}
	return statusWaiting
}

// paymentMinor returns what the payment charged (amount + tip + cashback) in
// minor units of its currency.
func paymentMinor(p agent.Payment) (int64, error) {
	cur, err := money.LookupCurrency(p.Currency)
	if err != nil {
		return 0, fmt.Errorf("read payment amount: %w", err)
	}
	var total int64
	for _, s := range []string{p.Amount, p.TipAmount, p.CashbackAmount} {
		if s == "" {
			continue
		}
		v, err := money.ParseLenient(s, cur)
		if err != nil {
			return 0, fmt.Errorf("read payment amount: %w", err)
		}
		total += v
	}
	return total, nil
}

// cardName is the brand for BMP 8B, bounded to what an LLVAR carries.
func cardName(p agent.Payment) string {
	if p.Card == nil {
		return ""
	}
	b := strings.ToUpper(strings.TrimSpace(p.Card.Brand))
	if len(b) > 32 {
		b = b[:32]
	}
	return b
}

// maskedPAN is the card number for BMP 22: the payment's masked PAN, masked
// again by the encoder; "" when there is none.
func maskedPAN(p agent.Payment) string {
	if p.Card == nil {
		return ""
	}
	return zvt.MaskPAN(p.Card.MaskedPAN)
}
