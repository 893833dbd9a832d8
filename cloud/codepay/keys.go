package codepay

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"os"

	"github.com/posbridge/posbridge/internal/secretfile"
)

// LoadKeys reads the app private key and the gateway public key from files
// (PEM or bare Base64 DER; PKCS#8 or PKCS#1 private key; SPKI or PKCS#1
// public key). An empty path yields a nil key: no private key is needed in
// Basic Auth mode, and without a gateway key responses are not verified.
// Errors name the file and wrap ErrInvalidConfig plus the parse error
// (ErrKeyFormat, ErrKeyType or an *fs.PathError).
//
// LoadKeys does not check file permissions; callers that must refuse keys
// readable by others call CheckKeyFilePerm first.
func LoadKeys(privateKeyFile, gatewayPublicKeyFile string) (*rsa.PrivateKey, *rsa.PublicKey, error) {
	var (
		priv *rsa.PrivateKey
		pub  *rsa.PublicKey
	)
	if privateKeyFile != "" {
		text, err := os.ReadFile(privateKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read private key file %s: %w: %w", privateKeyFile, ErrInvalidConfig, err)
		}
		priv, err = ParsePrivateKey(text)
		if err != nil {
			return nil, nil, fmt.Errorf("parse private key file %s: %w: %w", privateKeyFile, ErrInvalidConfig, err)
		}
	}
	if gatewayPublicKeyFile != "" {
		text, err := os.ReadFile(gatewayPublicKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read gateway public key file %s: %w: %w", gatewayPublicKeyFile, ErrInvalidConfig, err)
		}
		pub, err = ParsePublicKey(text)
		if err != nil {
			return nil, nil, fmt.Errorf("parse gateway public key file %s: %w: %w", gatewayPublicKeyFile, ErrInvalidConfig, err)
		}
	}
	return priv, pub, nil
}

// CheckKeyFilePerm refuses a key or secret file that group or others may
// access, through secretfile.Read: on Unix mode&0o077 must be 0, on Windows
// access is governed by the file's ACL (set by the installer). A refusal
// matches both ErrKeyFilePerm and secretfile.ErrTooOpen and its text names
// the path, the mode and the fix; a file that cannot be read gives that
// error (errors.Is fs.ErrNotExist for a missing file).
func CheckKeyFilePerm(path string) error {
	_, err := secretfile.Read(path)
	switch {
	case errors.Is(err, secretfile.ErrTooOpen):
		return fmt.Errorf("check key file: %w: %w", ErrKeyFilePerm, err)
	case err != nil:
		return fmt.Errorf("check key file %s: %w", path, err)
	}
	return nil
}
