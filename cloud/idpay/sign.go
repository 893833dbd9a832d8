package idpay

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
	"os"
	"sort"
	"strings"

	"github.com/posbridge/posbridge/cloud/internal/rsakey"
)

// The document requires RSA signatures on both directions ("both request
// and received data need to verify the signature", spec line 36) but its
// "Message Encryption Rules" section is not part of it. Until the real
// rules are known, posbridge uses the scheme common to gateways of this
// family, which the emulator (idpaysim) follows too:
//
//   - string to sign: every field except the signature field (Fields.Sign)
//     and empty values, keys sorted in ascending byte order, "key=value"
//     joined with "&", values raw (no escaping);
//   - SHA256withRSA (RSASSA-PKCS1-v1_5 over SHA-256), standard Base64,
//     carried in the signature field of the same JSON object or form;
//   - the merchant private key signs requests; the platform public key
//     verifies responses and callbacks.
//
// docs/providers.md lists this as an open point to confirm in the sandbox.

// Params is one request, response or callback as it travels on the wire:
// every value is the exact text that is signed.
type Params map[string]string

// Canonical returns the string to sign of p: every key except signField
// and every non-empty value, sorted by key, joined as k=v&k=v.
func Canonical(p Params, signField string) string {
	keys := make([]string, 0, len(p))
	for k, v := range p {
		if k == signField || v == "" {
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

// SignParams signs the canonical string of p with key (SHA256withRSA) and
// stores the standard-Base64 signature under signField.
func SignParams(key *rsa.PrivateKey, p Params, signField string) error {
	h := sha256.Sum256([]byte(Canonical(p, signField)))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	p[signField] = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// VerifyParams checks the signature under signField against the canonical
// string of the other fields. A missing or malformed signature is
// ErrBadSignature.
func VerifyParams(key *rsa.PublicKey, p Params, signField string) error {
	sig := p[signField]
	if sig == "" {
		return fmt.Errorf("%w: no %s field", ErrBadSignature, signField)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: %s is not base64", ErrBadSignature, signField)
	}
	h := sha256.Sum256([]byte(Canonical(p, signField)))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, h[:], raw); err != nil {
		return ErrBadSignature
	}
	return nil
}

// JSONParams turns a JSON object's top-level members into the strings that
// are signed: strings as their contents, numbers and booleans as their
// JSON text (an amount 30000 signs as "30000"), objects and arrays as the
// exact bytes received, null as absent.
func JSONParams(body []byte) (Params, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("decode JSON object: %w", err)
	}
	if top == nil {
		return nil, errors.New("decode JSON object: not an object")
	}
	if dec.More() {
		return nil, errors.New("decode JSON object: data after the object")
	}
	p := make(Params, len(top))
	for k, raw := range top {
		raw = bytes.TrimSpace(raw)
		switch {
		case len(raw) == 0 || string(raw) == "null":
		case raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("decode field %q: %w", k, err)
			}
			if s != "" {
				p[k] = s
			}
		default:
			p[k] = string(raw)
		}
	}
	return p, nil
}

// Key errors.
var (
	// ErrKeyFormat means the key text is neither PEM nor Base64 DER of a supported kind.
	ErrKeyFormat = rsakey.ErrFormat
	// ErrKeyType means the key is valid but not RSA, or shorter than 2048 bits.
	ErrKeyType = rsakey.ErrType
)

// ParsePrivateKey reads an RSA private key: PKCS#8 or PKCS#1, PEM-armoured
// or bare Base64 DER, at least 2048 bits (cloud/internal/rsakey).
func ParsePrivateKey(text []byte) (*rsa.PrivateKey, error) { return rsakey.ParsePrivate(text) }

// ParsePublicKey reads an RSA public key: X.509 SubjectPublicKeyInfo or
// PKCS#1, PEM-armoured or bare Base64 DER, at least 2048 bits.
func ParsePublicKey(text []byte) (*rsa.PublicKey, error) { return rsakey.ParsePublic(text) }

// loadKeys reads the merchant private key (its file must not be readable
// by group or others, checkKeyFilePerm) and the platform public key.
func loadKeys(privateKeyFile, platformKeyFile string) (*rsa.PrivateKey, *rsa.PublicKey, error) {
	if privateKeyFile == "" {
		return nil, nil, &ConfigError{Field: "private_key_file", Reason: "required: the merchant private key signs every request (spec line 36)"}
	}
	if platformKeyFile == "" {
		return nil, nil, &ConfigError{Field: "platform_public_key_file", Reason: "required: every response and callback is verified (spec line 36)"}
	}
	if err := checkKeyFilePerm(privateKeyFile); err != nil {
		return nil, nil, &ConfigError{Field: "private_key_file", Reason: err.Error()}
	}
	text, err := os.ReadFile(privateKeyFile)
	if err != nil {
		return nil, nil, &ConfigError{Field: "private_key_file", Reason: err.Error()}
	}
	priv, err := ParsePrivateKey(text)
	if err != nil {
		return nil, nil, &ConfigError{Field: "private_key_file", Reason: privateKeyFile + ": " + err.Error()}
	}
	text, err = os.ReadFile(platformKeyFile)
	if err != nil {
		return nil, nil, &ConfigError{Field: "platform_public_key_file", Reason: err.Error()}
	}
	pub, err := ParsePublicKey(text)
	if err != nil {
		return nil, nil, &ConfigError{Field: "platform_public_key_file", Reason: platformKeyFile + ": " + err.Error()}
	}
	return priv, pub, nil
}
