//go:build !windows

package idpay

import (
	"fmt"
	"os"
)

// checkKeyFilePerm refuses a private key file that group or others may
// access (mode & 0o077 != 0), naming the fix.
func checkKeyFilePerm(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Errorf("%s: mode %04o lets group or others access it; fix with: chmod 600 %s", path, mode, path)
	}
	return nil
}
