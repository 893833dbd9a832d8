package rsakey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestKeyFormats: every key form a source hands out parses to the same key —
// PEM PKCS#8 and PKCS#1 private keys, and the bare Base64 DER without armour
// that CodePay's dashboard and Java SDK use (sign/RSA.java:33 and :64-65);
// SubjectPublicKeyInfo and PKCS#1 public keys, armoured or bare.
func TestKeyFormats(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "codepay", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bare := func(pemText []byte) []byte {
		block, _ := pem.Decode(pemText)
		if block == nil {
			t.Fatal("not PEM")
		}
		return []byte(base64.StdEncoding.EncodeToString(block.Bytes))
	}
	want, err := ParsePrivate(read("app_private_pkcs8.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string][]byte{
		"PKCS#1 PEM":        read("app_private_pkcs1.pem"),
		"PKCS#8 bare DER":   bare(read("app_private_pkcs8.pem")),
		"PKCS#1 bare DER":   bare(read("app_private_pkcs1.pem")),
		"PKCS#8 bare, CRLF": append(append([]byte("\r\n"), bare(read("app_private_pkcs8.pem"))...), "\r\n"...),
	} {
		got, err := ParsePrivate(text)
		if err != nil || !got.Equal(want) {
			t.Errorf("private key %s: %v", name, err)
		}
	}
	wantPub, err := ParsePublic(read("gateway_public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(wantPub)})
	for name, text := range map[string][]byte{
		"SPKI bare DER":   bare(read("gateway_public.pem")),
		"PKCS#1 PEM":      pkcs1,
		"PKCS#1 bare DER": bare(pkcs1),
	} {
		got, err := ParsePublic(text)
		if err != nil || !got.Equal(wantPub) {
			t.Errorf("public key %s: %v", name, err)
		}
	}
}

// TestRefusals: no key, a key too short, a key of another type.
func TestRefusals(t *testing.T) {
	if _, err := ParsePrivate([]byte("not a key")); !errors.Is(err, ErrFormat) {
		t.Errorf("garbage: %v", err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(small)
	if _, err := ParsePrivate(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); !errors.Is(err, ErrType) {
		t.Errorf("1024-bit key: %v", err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ = x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if _, err := ParsePublic(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); !errors.Is(err, ErrType) {
		t.Errorf("EC public key: %v", err)
	}
}
