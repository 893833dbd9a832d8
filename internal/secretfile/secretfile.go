// Package secretfile reads secrets (private keys, tokens, passwords) from
// files that only their owner may access. It is the one place that checks a
// secret file's permissions; it imports no posbridge package.
//
// On Unix a file whose mode lets group or others read, write or execute it
// (mode&0o077 != 0) is refused with a *PermError naming the path, the mode
// and the fix (chmod 600 PATH). On Windows access is governed by the file's
// ACL, set by the installer, and the mode bits are not checked.
package secretfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrTooOpen means a secret file's permissions let group or others access
// it. Every *PermError matches it with errors.Is.
var ErrTooOpen = errors.New("secret file permissions too open")

// PermError is a secret file refused for its permissions. It wraps
// ErrTooOpen.
type PermError struct {
	Path string      // the file as given to Read
	Mode fs.FileMode // its permission bits
	Fix  string      // the command that fixes it, e.g. "chmod 600 PATH"
}

func (e *PermError) Error() string {
	return fmt.Sprintf("secret file %s has mode %04o, which lets group or others access it; fix with: %s",
		e.Path, uint32(e.Mode.Perm()), e.Fix)
}

// Unwrap lets errors.Is(err, ErrTooOpen) match.
func (e *PermError) Unwrap() error { return ErrTooOpen }

// Read returns the contents of the secret file at path after checking, on
// the open file, that only its owner may access it (see the package doc).
// A file that cannot be opened gives its *fs.PathError (errors.Is
// fs.ErrNotExist for a missing file), a too open one a *PermError, and a
// directory an error saying so.
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("read secret file %s: is a directory, want a file", path)
	}
	if err := checkMode(path, info.Mode()); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read secret file %s: %w", path, err)
	}
	return b, nil
}
