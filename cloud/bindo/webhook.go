package bindo

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrBadSignature means a webhook's X-SIGNATURE did not verify.
	ErrBadSignature = errors.New("invalid webhook signature")
	// ErrBadWebhook means a webhook body could not be decoded or lacks the
	// fields a transaction needs.
	ErrBadWebhook = errors.New("malformed webhook")
)

// MaxWebhookBytes is the largest webhook body ParseWebhook accepts; read
// the body with this limit before verifying it.
const MaxWebhookBytes = 1 << 20

// VerifyWebhook checks a webhook's X-SIGNATURE header: HMAC-SHA256 of the
// raw body bytes (exactly as received, before any JSON parsing) keyed with
// the merchant's secret_key. The spec does not say how the digest is
// encoded, so hex (either case) is tried first, then standard Base64 (with
// or without padding) and URL-safe Base64; an optional "sha256=" prefix is
// ignored. The comparison is constant-time. Errors match ErrBadSignature.
func VerifyWebhook(secret, body []byte, signature string) error {
	if len(secret) == 0 {
		return fmt.Errorf("verify webhook: %w: no webhook secret configured", ErrBadSignature)
	}
	sig := strings.TrimSpace(signature)
	if len(sig) > 7 && strings.EqualFold(sig[:7], "sha256=") {
		sig = sig[7:]
	}
	if sig == "" {
		return fmt.Errorf("verify webhook: %w: X-SIGNATURE missing", ErrBadSignature)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	want := mac.Sum(nil)
	if _, ok := matchSignature(want, sig); ok {
		return nil
	}
	return fmt.Errorf("verify webhook: %w", ErrBadSignature)
}

// WebhookEncoding reports which encoding of X-SIGNATURE verified ("hex" or
// "base64"), or "" when none did; log it during certification, then pin it.
func WebhookEncoding(secret, body []byte, signature string) string {
	if len(secret) == 0 {
		return ""
	}
	sig := strings.TrimSpace(signature)
	if len(sig) > 7 && strings.EqualFold(sig[:7], "sha256=") {
		sig = sig[7:]
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	enc, _ := matchSignature(mac.Sum(nil), sig)
	return enc
}

// matchSignature compares want with every accepted decoding of sig. Every
// candidate is compared with hmac.Equal; the decodings depend only on the
// header, never on the secret.
func matchSignature(want []byte, sig string) (string, bool) {
	if b, err := hex.DecodeString(sig); err == nil && hmac.Equal(b, want) {
		return "hex", true
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(sig); err == nil && hmac.Equal(b, want) {
			return "base64", true
		}
	}
	return "", false
}

// ParseWebhook decodes a webhook body ({"transaction": {...}}, the query
// response's shape) into a Transaction with the same status mapping as
// Query. Verify the signature first. Errors match ErrBadWebhook and never
// quote the body.
func ParseWebhook(body []byte) (*Transaction, error) {
	if len(body) > MaxWebhookBytes {
		return nil, fmt.Errorf("parse webhook: %w: body larger than %d bytes", ErrBadWebhook, MaxWebhookBytes)
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		return nil, fmt.Errorf("parse webhook: %w: %w", ErrBadWebhook, err)
	}
	if env.Transaction == nil {
		return nil, fmt.Errorf("parse webhook: %w: no transaction object", ErrBadWebhook)
	}
	t, err := env.Transaction.toTransaction()
	if err != nil {
		return nil, fmt.Errorf("parse webhook: %w: %w", ErrBadWebhook, err)
	}
	if t.UUID == "" && t.BRN == "" {
		return nil, fmt.Errorf("parse webhook: %w: neither uuid nor brn", ErrBadWebhook)
	}
	if t.State == "" {
		return nil, fmt.Errorf("parse webhook: %w: no transaction_state", ErrBadWebhook)
	}
	classifyRecorded(t)
	return t, nil
}
