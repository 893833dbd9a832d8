package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/receipt"
	"github.com/posbridge/posbridge/store"
)

// Which final payments have a receipt (docs/receipts.md).
func TestNoReceiptRule(t *testing.T) {
	for _, tc := range []struct {
		state, code string
		sent        bool
		has         bool
	}{
		{StateApproved, "", true, true},
		{StateDeclined, "51", true, true},
		{StateCancelled, "cancelled", true, true},
		{StateCancelled, "cancelled", false, true}, // taken out of the queue: the slip says cancelled
		{StateExpired, "expired", true, true},      // the terminal or the customer had it
		{StateExpired, "expired", false, false},    // expired in the queue
		{StateFailed, "codepay_refused", true, true},
		{StateFailed, "bindo_refused", true, true},
		{StateFailed, CodeProviderRefused, true, true},
		{StateFailed, CodeCodePayUnavailable, true, false},
		{StateFailed, CodeCardNotSent, false, false},
		{StateFailed, CodeProviderUnavailable, true, false},
		{StateQueued, "", false, false},
		{StateOnTerminal, "", true, false},
		{StateUnknown, "", true, false},
	} {
		p := &store.Payment{State: tc.state, ErrorCode: tc.code, CreateSent: tc.sent}
		if got := receiptAvailable(p); got != tc.has {
			t.Errorf("%s %s sent=%v: receipt available = %v, want %v (%s)", tc.state, tc.code, tc.sent, got, tc.has, noReceipt(p))
		}
	}
}

// A receipt prints the [receipt] settings and the journal's fields; times
// are in the receipt's zone.
func TestReceiptOf(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	cfg := ReceiptConfig{MerchantName: "Corner Bakery", Lines: []string{"12 Market Street"}, Footer: []string{"Thank you"}, Location: berlin}
	p := &store.Payment{
		MerchantOrderNo: "POS-1", Type: TypeCashback, State: StateDeclined, TerminalSN: "T1", Currency: "EUR",
		AmountMinor: 2000, CashbackMinor: 500, ErrorCode: "05", ErrorMessage: "Do not honour", Route: RouteBindo,
		MaskedPAN: "555555******4444", CardBrand: "Mastercard", EntryMode: "contact", CardAID: "A0000000041010",
		CardAppLabel: "MASTERCARD", ProviderTID: "TID1", ProviderMID: "MID1",
		ProviderAt: time.Date(2026, 12, 6, 13, 3, 9, 0, time.UTC),
	}
	a := &Agent{cfg: Config{Receipt: cfg}}
	r := receiptOf(p, receipt.CopyMerchant, cfg)
	r.At = a.receiptTime(t.Context(), p)
	if r.MerchantName != "Corner Bakery" || r.Method != MethodCard || r.Total() != 2500 || r.ResultText != "Do not honour (05)" ||
		r.AID != "A0000000041010" || r.TerminalID != "TID1" || r.MerchantID != "MID1" || r.At.Location() != berlin {
		t.Errorf("receipt = %+v", r)
	}
	lines, err := r.Lines(40)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{"Corner Bakery", "12 Market Street", "Thank you", "CASHBACK", "2026-12-06 14:03:09", "Cashback", "25.00 EUR",
		"DECLINED - NOT CHARGED", "Do not honour (05)", "MERCHANT COPY"} {
		if !strings.Contains(text, want) {
			t.Errorf("receipt lacks %q:\n%s", want, text)
		}
	}
}

func TestResultText(t *testing.T) {
	for _, tc := range []struct{ state, code, msg, want string }{
		{StateApproved, "", "", ""},
		{StateDeclined, "51", "Insufficient funds", "Insufficient funds (51)"},
		{StateDeclined, "declined", "declined by the issuer", "declined by the issuer"},
		{StateDeclined, "51", "", "51"},
		{StateCancelled, "cancelled", "cancelled at the terminal or at CodePay", "cancelled at the terminal or at CodePay"},
		{StateFailed, "codepay_refused", "CodePay refused the order: 40001 bad terminal (code codepay_refused)", "CodePay refused the order: 40001 bad terminal (code codepay_refused)"},
	} {
		if got := resultText(&store.Payment{State: tc.state, ErrorCode: tc.code, ErrorMessage: tc.msg}); got != tc.want {
			t.Errorf("resultText(%s, %s, %q) = %q, want %q", tc.state, tc.code, tc.msg, got, tc.want)
		}
	}
}
