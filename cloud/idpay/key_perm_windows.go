//go:build windows

package idpay

// checkKeyFilePerm is a no-op on Windows, where access is governed by the
// file's ACL (set by the installer), not by Unix mode bits.
func checkKeyFilePerm(string) error { return nil }
