package codepaysim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/posbridge/posbridge/cloud/codepay"
)

// Key file names inside the directory given to EnsureKeys.
const (
	AppPrivateKeyFile     = "app_private_key.pem"     // PKCS#8, mode 0600
	AppPublicKeyFile      = "app_public_key.pem"      // X.509 SubjectPublicKeyInfo
	GatewayPrivateKeyFile = "gateway_private_key.pem" // PKCS#8, mode 0600
	GatewayPublicKeyFile  = "gateway_public_key.pem"  // X.509 SubjectPublicKeyInfo
)

// ErrKeyMismatch means a stored public key does not belong to its private key.
var ErrKeyMismatch = errors.New("public key does not match private key")

// Keys are the emulator's app and gateway key pairs.
type Keys struct {
	AppPrivate     *rsa.PrivateKey
	AppPublic      *rsa.PublicKey
	GatewayPrivate *rsa.PrivateKey
	GatewayPublic  *rsa.PublicKey
	Dir            string
}

// Path returns the path of one of the key files in k.Dir.
func (k *Keys) Path(name string) string { return filepath.Join(k.Dir, name) }

// EnsureKeys loads the four key files from dir, or, when none exists,
// generates two 2048-bit key pairs and writes them (private keys 0600). A
// directory holding only some of the files is an error, never overwritten.
func EnsureKeys(dir string) (*Keys, error) {
	names := []string{AppPrivateKeyFile, AppPublicKeyFile, GatewayPrivateKeyFile, GatewayPublicKeyFile}
	present := 0
	for _, n := range names {
		_, err := os.Stat(filepath.Join(dir, n))
		switch {
		case err == nil:
			present++
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("check key file: %w", err)
		}
	}
	switch present {
	case 0:
		return generateKeys(dir)
	case len(names):
		return loadKeys(dir)
	default:
		return nil, fmt.Errorf("load keys: %s holds only %d of the 4 key files; remove them or complete the set", dir, present)
	}
}

func generateKeys(dir string) (*Keys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	app, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate app key: %w", err)
	}
	gw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate gateway key: %w", err)
	}
	k := &Keys{AppPrivate: app, AppPublic: &app.PublicKey, GatewayPrivate: gw, GatewayPublic: &gw.PublicKey, Dir: dir}
	for _, f := range []struct {
		name string
		priv *rsa.PrivateKey
		pub  *rsa.PublicKey
	}{
		{AppPrivateKeyFile, app, nil}, {AppPublicKeyFile, nil, &app.PublicKey},
		{GatewayPrivateKeyFile, gw, nil}, {GatewayPublicKeyFile, nil, &gw.PublicKey},
	} {
		var (
			block *pem.Block
			mode  fs.FileMode = 0o644
		)
		if f.priv != nil {
			der, err := x509.MarshalPKCS8PrivateKey(f.priv)
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", f.name, err)
			}
			block, mode = &pem.Block{Type: "PRIVATE KEY", Bytes: der}, 0o600
		} else {
			der, err := x509.MarshalPKIXPublicKey(f.pub)
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", f.name, err)
			}
			block = &pem.Block{Type: "PUBLIC KEY", Bytes: der}
		}
		if err := writeFileAtomic(filepath.Join(dir, f.name), pem.EncodeToMemory(block), mode); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// writeFileAtomic writes data to a temporary file with mode and renames it.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func loadKeys(dir string) (*Keys, error) {
	k := &Keys{Dir: dir}
	var err error
	if k.AppPrivate, err = readPrivate(filepath.Join(dir, AppPrivateKeyFile)); err != nil {
		return nil, err
	}
	if k.AppPublic, err = readPublic(filepath.Join(dir, AppPublicKeyFile)); err != nil {
		return nil, err
	}
	if k.GatewayPrivate, err = readPrivate(filepath.Join(dir, GatewayPrivateKeyFile)); err != nil {
		return nil, err
	}
	if k.GatewayPublic, err = readPublic(filepath.Join(dir, GatewayPublicKeyFile)); err != nil {
		return nil, err
	}
	if !k.AppPrivate.PublicKey.Equal(k.AppPublic) {
		return nil, fmt.Errorf("load keys: %s: %w", AppPublicKeyFile, ErrKeyMismatch)
	}
	if !k.GatewayPrivate.PublicKey.Equal(k.GatewayPublic) {
		return nil, fmt.Errorf("load keys: %s: %w", GatewayPublicKeyFile, ErrKeyMismatch)
	}
	return k, nil
}

func readPrivate(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	key, err := codepay.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("parse private key %s: %w", path, err)
	}
	return key, nil
}

func readPublic(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	key, err := codepay.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("parse public key %s: %w", path, err)
	}
	return key, nil
}
