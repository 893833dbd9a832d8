package codepay

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/posbridge/posbridge/cloud/internal/rsakey"
)

// ErrBadSignature means a signature (on a response or a notification) did
// not verify. A response that fails verification is never treated as a
// success.
var ErrBadSignature = errors.New("invalid signature")

// Params is one request or notification as it travels on the wire: every value
// is the exact string that is sent and signed. Build it once, sign it, send it.
type Params map[string]string

// Canonical returns the string-to-sign of the CodePay RSA2 rule
// (reference/codepay.md §4.1): drop the key "sign" (any case) and every empty
// value, sort the keys in ascending byte order, join "k=v" pairs with "&".
// Values are raw: no escaping, spaces kept.
func Canonical(p Params) string {
	keys := make([]string, 0, len(p))
	for k, v := range p {
		if strings.EqualFold(k, "sign") || v == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(p[k])
	}
	return b.String()
}

// SignString signs s with SHA256withRSA (RSASSA-PKCS1-v1_5 over SHA-256) and
// returns the signature in standard Base64.
func SignString(key *rsa.PrivateKey, s string) (string, error) {
	h := sha256.Sum256([]byte(s))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		return "", fmt.Errorf("sign canonical string: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyString checks a standard-Base64 SHA256withRSA signature over s.
func VerifyString(key *rsa.PublicKey, s, sig string) error {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrBadSignature)
	}
	h := sha256.Sum256([]byte(s))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, h[:], raw); err != nil {
		return ErrBadSignature
	}
	return nil
}

// Sign computes the signature of p and stores it under "sign".
func Sign(key *rsa.PrivateKey, p Params) error {
	sig, err := SignString(key, Canonical(p))
	if err != nil {
		return err
	}
	p["sign"] = sig
	return nil
}

// Verify checks the "sign" value of p against the canonical string of the rest.
func Verify(key *rsa.PublicKey, p Params) error {
	sig := p["sign"]
	if sig == "" {
		return fmt.Errorf("%w: no sign field", ErrBadSignature)
	}
	return VerifyString(key, Canonical(p), sig)
}

// Key errors.
var (
	// ErrKeyFormat means the key text is neither PEM nor Base64 DER of a supported kind.
	ErrKeyFormat = rsakey.ErrFormat
	// ErrKeyType means the key is valid but not RSA, or too short.
	ErrKeyType = rsakey.ErrType
)

// ParsePrivateKey reads an RSA private key: PKCS#8 or PKCS#1, PEM-armoured
// or bare Base64 DER, at least 2048 bits (cloud/internal/rsakey).
func ParsePrivateKey(text []byte) (*rsa.PrivateKey, error) { return rsakey.ParsePrivate(text) }

// ParsePublicKey reads an RSA public key: X.509 SubjectPublicKeyInfo or
// PKCS#1, PEM-armoured or bare Base64 DER, at least 2048 bits.
func ParsePublicKey(text []byte) (*rsa.PublicKey, error) { return rsakey.ParsePublic(text) }

// ResponseParams turns a response envelope's top-level members into the
// string map that is signed: strings as their contents, "data" and any other
// object or array as the exact JSON bytes received (a "data" that arrives as a
// JSON string counts as its contents), numbers and booleans as their JSON text,
// null as absent. See docs/codepay.md for why raw bytes are used.
func ResponseParams(body []byte) (Params, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("decode response envelope: %w", err)
	}
	p := make(Params, len(top))
	for k, raw := range top {
		v, err := rawString(raw)
		if err != nil {
			return nil, fmt.Errorf("decode response field %q: %w", k, err)
		}
		if v != "" {
			p[k] = v
		}
	}
	return p, nil
}

// rawString renders one JSON value as the string that takes part in signing.
func rawString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	return string(raw), nil
}

// CompactJSON re-encodes a JSON value without insignificant whitespace; the
// verifier's fallback when the gateway signed a compact rendering of data that
// arrived pretty-printed.
func CompactJSON(s string) (string, bool) {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return "", false
	}
	return b.String(), b.String() != s
}
