//go:build !windows

package codepay

import (
	"fmt"
	"os"
)

// CheckKeyFilePerm refuses a key or secret file that group or others may
// access (mode & 0o077 != 0). The error names the path and the fix.
// On Windows it is a no-op (file ACLs are the installer's job).
func CheckKeyFilePerm(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("check key file %s: %w", path, err)
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Errorf("check key file %s: %w: mode %04o lets group or others access it; fix with: chmod 600 %s",
			path, ErrKeyFilePerm, mode, path)
	}
	return nil
}
