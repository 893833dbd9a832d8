package config

import (
	"os"
	"path/filepath"
)

// DefaultDataDir is %ProgramData%\posbridge.
func DefaultDataDir() string {
	pd := os.Getenv("ProgramData")
	if pd == "" {
		pd = `C:\ProgramData`
	}
	return filepath.Join(pd, "posbridge")
}
