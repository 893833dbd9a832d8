// Package rsakey reads the RSA keys providers hand out: PEM-armoured or the
// bare Base64 DER that merchant dashboards and Java SDKs use, private keys in
// PKCS#8 or PKCS#1, public keys as X.509 SubjectPublicKeyInfo or PKCS#1, of
// at least 2048 bits. Every provider client that signs with RSA reads its keys
// here, so the rule is written once.
package rsakey

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrFormat means the text is neither a PEM block nor Base64 DER, or the
	// DER is not a key of a supported encoding.
	ErrFormat = errors.New("unsupported key format")
	// ErrType means the key is valid but not RSA, or too short.
	ErrType = errors.New("key is not an RSA key of at least 2048 bits")
)

// MinBits is the smallest key size accepted.
const MinBits = 2048

// der strips optional PEM armour; without armour the text must be Base64
// DER (whitespace and line breaks ignored).
func der(text []byte) ([]byte, error) {
	text = bytes.TrimSpace(text)
	if block, _ := pem.Decode(text); block != nil {
		return block.Bytes, nil
	}
	compact := strings.Join(strings.Fields(string(text)), "")
	d, err := base64.StdEncoding.DecodeString(compact)
	if err != nil || len(d) == 0 {
		return nil, fmt.Errorf("%w: neither PEM nor Base64 DER", ErrFormat)
	}
	return d, nil
}

// ParsePrivate reads an RSA private key.
func ParsePrivate(text []byte) (*rsa.PrivateKey, error) {
	d, err := der(text)
	if err != nil {
		return nil, err
	}
	var key *rsa.PrivateKey
	if k, err8 := x509.ParsePKCS8PrivateKey(d); err8 == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: PKCS#8 key of type %T", ErrType, k)
		}
		key = rk
	} else if k, err1 := x509.ParsePKCS1PrivateKey(d); err1 == nil {
		key = k
	} else {
		return nil, fmt.Errorf("%w: not a PKCS#8 or PKCS#1 private key", ErrFormat)
	}
	if key.N.BitLen() < MinBits {
		return nil, fmt.Errorf("%w: %d bits", ErrType, key.N.BitLen())
	}
	return key, nil
}

// ParsePublic reads an RSA public key.
func ParsePublic(text []byte) (*rsa.PublicKey, error) {
	d, err := der(text)
	if err != nil {
		return nil, err
	}
	var key *rsa.PublicKey
	if k, errX := x509.ParsePKIXPublicKey(d); errX == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: public key of type %T", ErrType, k)
		}
		key = rk
	} else if k, err1 := x509.ParsePKCS1PublicKey(d); err1 == nil {
		key = k
	} else {
		return nil, fmt.Errorf("%w: not an X.509 or PKCS#1 public key", ErrFormat)
	}
	if key.N.BitLen() < MinBits {
		return nil, fmt.Errorf("%w: %d bits", ErrType, key.N.BitLen())
	}
	return key, nil
}
