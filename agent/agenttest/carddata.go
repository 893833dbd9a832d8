package agenttest

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
)

// JournalFiles stops the environment (so the journal is closed; its WAL
// may still hold pages) and adds every file of the journal's directory —
// database, WAL, shared memory — to hay, named "file NAME".
func (e *Env) JournalFiles(hay map[string][]byte) {
	e.Stop()
	dir := filepath.Dir(e.DBPath())
	entries, _ := os.ReadDir(dir)
	for _, ent := range entries {
		if b, err := os.ReadFile(filepath.Join(dir, ent.Name())); err == nil {
			hay["file "+ent.Name()] = b
		}
	}
}

// CardDataFound lists where card data turns up: each secret (a PAN, track
// or ICC data) found in a haystack as text, or, when it is hex of more than
// 8 bytes, as those bytes. PCI tests fail on any.
func CardDataFound(hay map[string][]byte, secrets []string) []string {
	var found []string
	for name, h := range hay {
		for _, s := range secrets {
			if bytes.Contains(h, []byte(s)) {
				found = append(found, name+" contains card data "+s)
			}
			if raw, err := hex.DecodeString(s); err == nil && len(raw) > 8 && bytes.Contains(h, raw) {
				found = append(found, name+" contains card data "+s+" in binary")
			}
		}
	}
	return found
}
