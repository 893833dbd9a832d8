package logging

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
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
	// panRe matches digit runs that could be a PAN (13-19 digits, optionally separated).
	panRe = regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`)
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
	s = panRe.ReplaceAllStringFunc(s, func(m string) string {
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, m)
		if !luhn(digits) {
			return m
		}
		return digits[:6] + strings.Repeat("*", len(digits)-10) + digits[len(digits)-4:]
	})
	return s
}

func luhn(d string) bool {
	if len(d) < 12 {
		return false
	}
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

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
