//go:build !windows

package config

// DefaultDataDir is /var/lib/posbridge.
func DefaultDataDir() string { return "/var/lib/posbridge" }
