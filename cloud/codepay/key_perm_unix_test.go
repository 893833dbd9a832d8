//go:build !windows

package codepay

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckKeyFilePerm(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		mode    os.FileMode
		wantErr bool
	}{
		{0o600, false},
		{0o400, false},
		{0o700, false},
		{0o640, true},
		{0o644, true},
		{0o604, true},
		{0o620, true},
		{0o666, true},
	}
	for _, tc := range tests {
		t.Run(tc.mode.String(), func(t *testing.T) {
			path := filepath.Join(dir, "key-"+tc.mode.String()+".pem")
			if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			err := CheckKeyFilePerm(path)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("CheckKeyFilePerm = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrKeyFilePerm) {
				t.Fatalf("CheckKeyFilePerm = %v, want ErrKeyFilePerm", err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Errorf("error %q does not name the path and the fix", err)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		missing := filepath.Join(dir, "nope.pem")
		err := CheckKeyFilePerm(missing)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
			t.Errorf("CheckKeyFilePerm(missing) = %v", err)
		}
	})
}
