package receipt

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/posbridge/posbridge/money"
)

var update = flag.Bool("update", false, "rewrite the golden receipts")

func cardSale() Receipt {
	return Receipt{
		Copy: CopyCustomer, Kind: "sale", Method: "card", Result: "approved",
		MerchantName: "Corner Bakery", MerchantLines: []string{"12 Market Street", "Springfield"},
		MerchantID: "302100001234", TerminalSN: "WPYB002248000123",
		MerchantOrderNo: "POS-20261206-0042", TransNo: "2412061234567890123", RefNo: "634112345678", AuthCode: "A1B2C3",
		At:       time.Date(2026, 12, 6, 14, 3, 9, 0, time.UTC),
		Currency: money.MustCurrency("USD"), Amount: 1234, Tip: 200,
		MaskedPAN: "476173******0119", Brand: "VISA", EntryMode: "contactless", AID: "A0000000031010", AppLabel: "VISA CREDIT",
		Footer: []string{"Thank you"},
	}
}

func TestGoldenReceipts(t *testing.T) {
	declined := cardSale()
	declined.Copy, declined.Result, declined.ResultText, declined.AuthCode, declined.Tip = CopyMerchant, "declined", "Insufficient funds (51): the card issuer declined the payment", "", 0
	refund := cardSale()
	refund.Kind, refund.MerchantOrderNo, refund.OrigMerchantOrderNo, refund.Amount, refund.Tip = "refund", "POS-20261206-0042-R1", "POS-20261206-0042", 500, 0
	qr := Receipt{Copy: CopyCustomer, Kind: "sale", Method: "qr", Result: "approved", MerchantName: "Corner Bakery",
		TerminalSN: "qrwallet", MerchantOrderNo: "QR-7", TransNo: "420026120623042900000002",
		At: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC), Currency: money.MustCurrency("IDR"), Amount: 150000, EntryMode: "qr"}
	link := Receipt{Copy: CopyCustomer, Kind: "sale", Method: "link", Result: "approved", MerchantName: "Corner Bakery",
		TerminalSN: "codepay_link", MerchantOrderNo: "PHONE-42", TransNo: "2412061530001234567",
		At: time.Date(2026, 12, 6, 15, 30, 0, 0, time.UTC), Currency: money.MustCurrency("USD"), Amount: 725, Brand: "Visa",
		Footer: []string{"Thank you"}}
	for name, r := range map[string]Receipt{"card-sale": cardSale(), "card-declined": declined, "card-refund": refund, "qr-sale": qr, "link-sale": link} {
		for _, w := range []int{32, 40, 48} {
			lines, err := r.Lines(w)
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range lines {
				if n := utf8.RuneCountInString(l); n > w {
					t.Errorf("%s/%d line %d is %d wide: %q", name, w, i, n, l)
				}
			}
			got := strings.Join(lines, "\n") + "\n"
			path := filepath.Join("testdata", name+"-"+itoa(w)+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./receipt -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s at %d columns:\n%s\nwant:\n%s", name, w, got, want)
			}
		}
	}
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

func TestLinesContent(t *testing.T) {
	lines, _ := cardSale().Lines(32)
	text := strings.Join(lines, "\n")
	for _, want := range []string{"CUSTOMER COPY", "476173******0119", "TOTAL", "14.34 USD", "Tip", "2.00 USD", "APPROVED", "A1B2C3"} {
		if !strings.Contains(text, want) {
			t.Errorf("receipt lacks %q:\n%s", want, text)
		}
	}
	r := cardSale()
	r.Copy = CopyMerchant
	lines, _ = r.Lines(40)
	if text := strings.Join(lines, "\n"); !strings.Contains(text, "MERCHANT COPY") || strings.Contains(text, "CUSTOMER COPY") {
		t.Errorf("merchant copy:\n%s", text)
	}
}

// The result line says what did not happen for the kind of payment.
func TestResultLine(t *testing.T) {
	for _, tc := range []struct{ kind, result, want string }{
		{"sale", "approved", "APPROVED"},
		{"sale", "declined", "DECLINED - NOT CHARGED"},
		{"sale", "expired", "EXPIRED - NOT CHARGED"},
		{"refund", "declined", "DECLINED - NOTHING REFUNDED"},
		{"void", "declined", "DECLINED - NOT VOIDED"},
		{"sale", "", "NOT COMPLETED"},
	} {
		r := cardSale()
		r.Kind, r.Result = tc.kind, tc.result
		lines, err := r.Lines(40)
		if err != nil {
			t.Fatal(err)
		}
		if text := strings.Join(lines, "\n"); !strings.Contains(text, "\n"+center(tc.want, 40)+"\n") {
			t.Errorf("%s %s: no line %q in\n%s", tc.kind, tc.result, tc.want, text)
		}
	}
}

func center(s string, w int) string { return strings.Repeat(" ", (w-len(s))/2) + s }

// A brand without a card number (a wallet paid on the terminal) is not
// called a card.
func TestWalletBrand(t *testing.T) {
	r := cardSale()
	r.MaskedPAN, r.Brand, r.EntryMode, r.AID, r.AppLabel = "", "Alipay+", "", "", ""
	lines, _ := r.Lines(32)
	text := strings.Join(lines, "\n")
	if !strings.Contains(text, "Paid with") || strings.Contains(text, "Card ") {
		t.Errorf("wallet receipt:\n%s", text)
	}
}

func TestWidthRefused(t *testing.T) {
	for _, w := range []int{0, MinWidth - 1, MaxWidth + 1} {
		if _, err := cardSale().Lines(w); !errors.Is(err, ErrWidth) {
			t.Errorf("width %d: err = %v", w, err)
		}
	}
}

func TestParseCopy(t *testing.T) {
	for in, want := range map[string]Copy{"": CopyCustomer, "customer": CopyCustomer, "merchant": CopyMerchant} {
		if got, err := ParseCopy(in); err != nil || got != want {
			t.Errorf("ParseCopy(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseCopy("both"); err == nil || !strings.Contains(err.Error(), `"merchant" or "customer"`) {
		t.Errorf("ParseCopy(both) = %v", err)
	}
}

// No provider text, however long or strange, makes a line wider than the
// printer or carries a control character to it.
func FuzzLines(f *testing.F) {
	f.Add("Corner Bakery", "Insufficient funds", "POS-1", 32)
	f.Add(strings.Repeat("W", 200), "a\x1b[2Jb\r\nc", "\x00\x10\x03", 20)
	f.Add("Bäckerei Müller – Filiale 3", "Karte abgelehnt", "日本語の注文番号", 48)
	f.Fuzz(func(t *testing.T, name, text, order string, w int) {
		r := cardSale()
		r.MerchantName, r.ResultText, r.MerchantOrderNo, r.Result = name, text, order, "declined"
		lines, err := r.Lines(w)
		if w < MinWidth || w > MaxWidth {
			if err == nil {
				t.Fatalf("width %d accepted", w)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if utf8.RuneCountInString(l) > w {
				t.Fatalf("line %q wider than %d", l, w)
			}
			for _, c := range l {
				if c < ' ' || c == 0x7f || (c >= 0x80 && c < 0xa0) {
					t.Fatalf("control character %U in %q", c, l)
				}
			}
		}
	})
}
