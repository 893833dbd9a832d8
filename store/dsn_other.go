//go:build !windows

package store

// isWindows selects the Windows form of file URIs (drive letters, UNC paths).
const isWindows = false
