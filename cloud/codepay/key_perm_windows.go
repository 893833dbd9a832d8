//go:build windows

package codepay

// CheckKeyFilePerm is a no-op on Windows, where access is governed by the
// file's ACL (set by the installer), not by Unix mode bits.
func CheckKeyFilePerm(path string) error { return nil }
