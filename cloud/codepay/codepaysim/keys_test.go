package codepaysim

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/posbridge/posbridge/cloud/codepay"
)

func TestEnsureKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k, err := EnsureKeys(dir)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	if k.AppPrivate.N.BitLen() != 2048 || k.GatewayPrivate.N.BitLen() != 2048 {
		t.Errorf("key sizes %d/%d, want 2048", k.AppPrivate.N.BitLen(), k.GatewayPrivate.N.BitLen())
	}
	if k.AppPrivate.Equal(k.GatewayPrivate) {
		t.Error("app and gateway keys are the same")
	}
	if runtime.GOOS != "windows" {
		for _, tc := range []struct {
			name string
			mode os.FileMode
		}{
			{AppPrivateKeyFile, 0o600}, {GatewayPrivateKeyFile, 0o600},
			{AppPublicKeyFile, 0o644}, {GatewayPublicKeyFile, 0o644},
		} {
			st, err := os.Stat(k.Path(tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != tc.mode {
				t.Errorf("%s mode = %v, want %v", tc.name, st.Mode().Perm(), tc.mode)
			}
		}
	}
	// The files parse with the client's parsers, and sign/verify across them.
	b, _ := os.ReadFile(k.Path(AppPrivateKeyFile))
	priv, err := codepay.ParsePrivateKey(b)
	if err != nil {
		t.Fatalf("parse app private key: %v", err)
	}
	b, _ = os.ReadFile(k.Path(AppPublicKeyFile))
	pub, err := codepay.ParsePublicKey(b)
	if err != nil {
		t.Fatalf("parse app public key: %v", err)
	}
	p := codepay.Params{"a": "1"}
	if err := codepay.Sign(priv, p); err != nil {
		t.Fatal(err)
	}
	if err := codepay.Verify(pub, p); err != nil {
		t.Fatalf("verify with written keys: %v", err)
	}

	// Second call loads the same keys.
	k2, err := EnsureKeys(dir)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !k2.AppPrivate.Equal(k.AppPrivate) || !k2.GatewayPublic.Equal(k.GatewayPublic) {
		t.Error("reloaded keys differ")
	}

	t.Run("partial set refused", func(t *testing.T) {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, AppPrivateKeyFile), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := EnsureKeys(d); err == nil {
			t.Fatal("partial key set accepted")
		}
		if b, _ := os.ReadFile(filepath.Join(d, AppPrivateKeyFile)); string(b) != "x" {
			t.Error("existing file overwritten")
		}
	})
	t.Run("mismatched pair refused", func(t *testing.T) {
		d := t.TempDir()
		for _, n := range []string{AppPrivateKeyFile, AppPublicKeyFile, GatewayPrivateKeyFile, GatewayPublicKeyFile} {
			src := n
			if n == AppPublicKeyFile {
				src = GatewayPublicKeyFile
			}
			b, _ := os.ReadFile(k.Path(src))
			if err := os.WriteFile(filepath.Join(d, n), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := EnsureKeys(d); !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("EnsureKeys = %v, want ErrKeyMismatch", err)
		}
	})
	t.Run("garbage refused", func(t *testing.T) {
		d := t.TempDir()
		for _, n := range []string{AppPrivateKeyFile, AppPublicKeyFile, GatewayPrivateKeyFile, GatewayPublicKeyFile} {
			if err := os.WriteFile(filepath.Join(d, n), []byte("not a key"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := EnsureKeys(d); err == nil {
			t.Fatal("garbage keys accepted")
		}
	})
}
