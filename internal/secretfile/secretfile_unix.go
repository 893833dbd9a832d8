//go:build !windows

package secretfile

import "io/fs"

// checkMode refuses a mode that lets group or others access the file.
func checkMode(path string, mode fs.FileMode) error {
	if mode.Perm()&0o077 != 0 {
		return &PermError{Path: path, Mode: mode.Perm(), Fix: "chmod 600 " + path}
	}
	return nil
}
