package logging

import (
	"context"
	"log/slog"
	"regexp"
	"strings"

	"github.com/posbridge/posbridge/pan"
)

// Redaction rules. Anything that can carry card data or secrets is removed
// before a record reaches any output; see docs/operations.md.
var (
	// secretKeys are attribute keys whose values are never logged.
	secretKeys = []string{"password", "passwd", "secret", "token", "authorization", "private", "sign",
		"track", "icc", "pan", "cvv", "cvc", "pin", "card_number", "cardnumber", "api_key", "apikey"}
	// track2Re matches track 2 data with or without sentinels ('=' or 'D' separator).
	track2Re = regexp.MustCompile(`;?\d{12,19}[=Dd]\d{4}\d*\??`)
	// track1Re matches track 1 data.
	track1Re = regexp.MustCompile(`%?B\d{12,19}\^[^^]{0,26}\^\d{4}[^?\s]*\??`)
	// hexRe matches long hex blobs (EMV ICC data, keys, signatures in hex).
	hexRe = regexp.MustCompile(`\b[0-9A-Fa-f]{32,}\b`)
	// pemRe matches PEM blocks.
	pemRe = regexp.MustCompile(`-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----`)
	// bearerRe matches bearer tokens in header-like text.
	bearerRe = regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+`)
)

// IsSecretKey reports whether values under this attribute key are never logged.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	if k == "masked_pan" || k == "sign_type" || k == "signature_ok" {
		return false
	}
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// RedactString removes card data and secrets from free text: track data,
// PAN-like digit runs that pass the Luhn check (kept as first 6 / last 4),
// long hex blobs, PEM blocks and bearer tokens.
func RedactString(s string) string {
	if s == "" {
		return s
	}
	s = pemRe.ReplaceAllString(s, "[pem redacted]")
	s = track1Re.ReplaceAllString(s, "[track1 redacted]")
	s = track2Re.ReplaceAllString(s, "[track2 redacted]")
	s = hexRe.ReplaceAllString(s, "[hex redacted]")
	s = bearerRe.ReplaceAllString(s, "${1}[redacted]")
	return maskPANs(s)
}

// PAN lengths: a card number has 13 to 19 digits.
const (
	minPAN = pan.MinLen
	maxPAN = pan.MaxLen
)

// maskPANs replaces with '*' the middle digits (all but the first 6 and the
// last 4) of every Luhn-valid window of 13–19 consecutive digits in s. The
// digits of a window come from a run of ASCII digits that may be separated
// by single spaces or dashes ("4761 7390 0101 0119"), and the window may sit
// anywhere in a longer run ("1 4761739001010119", "lane 7-4761739001010119",
// "ORD14761739001010119"): a PAN glued to other digits is still a PAN.
// Separators stay in place ("4761 73** **** 0119").
//
// No Luhn-valid window survives: masking only turns digits into '*', so each
// run of the result is a piece of a run of s, and each of its windows was
// checked. The price is that a long number that merely contains a Luhn-valid
// window, such as a 22-digit CodePay trans_no, is partly masked in logs.
//
// The work is linear in len(s): at most 7 windows end at each digit, and each
// is checked in constant time with prefix sums.
func maskPANs(s string) string {
	var (
		out []byte // a copy of s, made at the first masked digit
		pos []int  // byte offsets of the current run's digits
	)
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		pos = pos[:0]
		j := i
		for {
			pos = append(pos, j)
			j++
			if j < len(s) && isDigit(s[j]) {
				continue
			}
			if j+1 < len(s) && (s[j] == ' ' || s[j] == '-') && isDigit(s[j+1]) {
				j++
				continue
			}
			break
		}
		if len(pos) >= minPAN {
			out = maskRun(s, out, pos)
		}
		i = j
	}
	if out == nil {
		return s
	}
	return string(out)
}

// maskRun masks the middle of every Luhn-valid window among the digits of s
// at offsets pos (one run), writing into out, a copy of s made on first use.
func maskRun(s string, out []byte, pos []int) []byte {
	n := len(pos)
	// even[k] and odd[k] are Luhn sums of the first k digits, doubling the
	// digits at odd, respectively even, indexes. In a window ending at e the
	// digit at e is not doubled, the one before it is, and so on: so digits
	// whose index has the other parity than e are doubled.
	even, odd := make([]int, n+1), make([]int, n+1)
	for k, p := range pos {
		d := int(s[p] - '0')
		dd := 2 * d
		if dd > 9 {
			dd -= 9
		}
		if k%2 == 0 {
			even[k+1], odd[k+1] = even[k]+d, odd[k]+dd
		} else {
			even[k+1], odd[k+1] = even[k]+dd, odd[k]+d
		}
	}
	// maskTo[k] > k: the digits from k up to maskTo[k] (exclusive) are masked.
	var maskTo []int
	for e := minPAN - 1; e < n; e++ {
		sums := even
		if e%2 == 1 {
			sums = odd
		}
		for l := minPAN; l <= maxPAN && l <= e+1; l++ {
			b := e + 1 - l
			if (sums[e+1]-sums[b])%10 != 0 {
				continue
			}
			if maskTo == nil {
				maskTo = make([]int, n)
			}
			if from, to := b+6, e-3; to > maskTo[from] {
				maskTo[from] = to
			}
		}
	}
	if maskTo == nil {
		return out
	}
	if out == nil {
		out = []byte(s)
	}
	for k, until := 0, 0; k < n; k++ {
		until = max(until, maskTo[k])
		if k < until {
			out[pos[k]] = '*'
		}
	}
	return out
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// redactAttr returns a with secret values removed, recursing into groups.
func redactAttr(a slog.Attr) slog.Attr {
	if IsSecretKey(a.Key) {
		return slog.String(a.Key, "[redacted]")
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, RedactString(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, g := range attrs {
			out[i] = redactAttr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, RedactString(err.Error()))
		}
		return slog.String(a.Key, RedactString(v.String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// redactHandler scrubs every record before passing it on.
type redactHandler struct{ next slog.Handler }

// NewRedactHandler wraps next so that no record reaching it carries card data
// or secrets (see RedactString and IsSecretKey).
func NewRedactHandler(next slog.Handler) slog.Handler { return redactHandler{next} }

func (h redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, RedactString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = redactAttr(a)
	}
	return redactHandler{h.next.WithAttrs(clean)}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{h.next.WithGroup(name)}
}
