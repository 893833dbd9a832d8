package idpaysim

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
	"net/url"
	"sort"
	"strings"
)

// The wire as the emulator speaks it. The document fixes JSON over POST
// (spec line 32), UTF-8 (line 33), integer rupiah (line 35), RSA
// signatures both ways (line 36) and form-encoded callbacks (line 112). It
// names no endpoint, leaves most field names open and does not include its
// "Message Encryption Rules". The emulator's choices for those open points
// are the constants below; they are the defaults posbridge documents in
// docs/providers.md (section "Indonesian VA/QRIS gateway").

// Endpoint paths (open in the document).
const (
	CreatePath = "/api/payment/create"
	QueryPath  = "/api/payment/query"
)

// Field names. Those the document gives are cited; the rest are open.
const (
	fMerchantCode = "merchantCode"    // open
	fOrderNo      = "orderNum"        // open
	fMethod       = "method"          // open
	fAmount       = "payMoney"        // open; the value is integer rupiah (line 35)
	fNotifyURL    = "notifyUrl"       // open
	fSign         = "sign"            // open
	fRespMessage  = "platRespMessage" // open
	fErrorCode    = "errorCode"       // open (the exception code list, line 13, is not included)
	fPlatOrderNo  = "platOrderNum"    // open
	fVANumber     = "vaNumber"        // open
	fQRContent    = "qrContent"       // open
	fPaymentCode  = "paymentCode"     // open
	fPayURL       = "payUrl"          // open
	fName         = "name"            // line 78
	fEmail        = "email"           // line 79
	fPhone        = "phone"           // lines 79-80
	fExpiryPeriod = "expiryPeriod"    // line 81
	fRespCode     = "platRespCode"    // line 100
	fStatus       = "status"          // line 101
)

// params are the signed strings of a request, response or callback.
type params map[string]string

// canonical is the string to sign (open in the document; see
// docs/providers.md): every field but the signature and empty values,
// sorted by key, "k=v" joined with "&".
func canonical(p params) string {
	keys := make([]string, 0, len(p))
	for k, v := range p {
		if k != fSign && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + p[k]
	}
	return strings.Join(parts, "&")
}

// sign returns the SHA256withRSA signature of s in standard Base64.
func sign(key *rsa.PrivateKey, s string) (string, error) {
	h := sha256.Sum256([]byte(s))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// errSignature is a request whose signature is missing or does not verify.
var errSignature = errors.New("signature verification failed")

// verify checks p's signature with the merchant's public key.
func verify(key *rsa.PublicKey, p params) error {
	raw, err := base64.StdEncoding.DecodeString(p[fSign])
	if p[fSign] == "" || err != nil {
		return errSignature
	}
	h := sha256.Sum256([]byte(canonical(p)))
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, h[:], raw) != nil {
		return errSignature
	}
	return nil
}

// decodeJSON reads a request body: one JSON object (spec line 32) whose
// values are strings or numbers; a number signs as its JSON text.
func decodeJSON(body []byte) (params, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil || top == nil {
		return nil, errors.New("body is not a JSON object")
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	p := make(params, len(top))
	for k, raw := range top {
		raw = bytes.TrimSpace(raw)
		switch {
		case string(raw) == "null":
		case len(raw) > 0 && raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("field %q: %w", k, err)
			}
			if s != "" {
				p[k] = s
			}
		case len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'):
			p[k] = string(raw)
		default:
			return nil, fmt.Errorf("field %q: want a string or a number", k)
		}
	}
	return p, nil
}

// numericFields are written as JSON numbers in answers.
var numericFields = map[string]bool{fAmount: true}

// encodeAnswer writes p as a JSON object signed with key; badSig signs
// other content, unsigned leaves the signature out.
func encodeAnswer(key *rsa.PrivateKey, p params, badSig, unsigned bool) ([]byte, error) {
	if !unsigned {
		canon := canonical(p)
		if badSig {
			canon += "&sim_fault=bad_signature"
		}
		sig, err := sign(key, canon)
		if err != nil {
			return nil, err
		}
		p[fSign] = sig
	}
	obj := make(map[string]any, len(p))
	for k, v := range p {
		if numericFields[k] {
			obj[k] = json.Number(v)
		} else {
			obj[k] = v
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// encodeForm writes a signed callback body: "submitted in the form of
// form" (spec line 112).
func encodeForm(key *rsa.PrivateKey, p params) ([]byte, error) {
	sig, err := sign(key, canonical(p))
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	for k, s := range p {
		if s != "" {
			v.Set(k, s)
		}
	}
	v.Set(fSign, sig)
	return []byte(v.Encode()), nil
}
