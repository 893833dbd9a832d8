package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	const secret = "s3cret\n"
	tests := []struct {
		name    string
		mode    fs.FileMode // a file with this mode; 0: see kind
		kind    string      // "missing" or "dir" when mode is 0
		tooOpen bool        // refused with a *PermError (on Unix; Windows checks ACLs, not modes)
		wantIs  error       // for the other errors, matched with errors.Is
		want    []string    // in the error text; "PATH" stands for the path
	}{
		{name: "0600 ok", mode: 0o600},
		{name: "0400 ok", mode: 0o400},
		{name: "0644 refused", mode: 0o644, tooOpen: true},
		{name: "0640 refused", mode: 0o640, tooOpen: true},
		{name: "0604 refused", mode: 0o604, tooOpen: true},
		{name: "missing file", kind: "missing", wantIs: fs.ErrNotExist, want: []string{"PATH"}},
		{name: "directory", kind: "dir", want: []string{"PATH", "is a directory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			switch {
			case tc.mode != 0:
				if err := os.WriteFile(path, []byte(secret), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.mode); err != nil { // not subject to the umask
					t.Fatal(err)
				}
			case tc.kind == "dir":
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			tooOpen := tc.tooOpen && runtime.GOOS != "windows"
			want := tc.want
			if tooOpen {
				want = []string{"PATH", fmt.Sprintf("mode %04o", uint32(tc.mode)), "fix with: chmod 600 PATH"}
			}

			got, err := Read(path)
			if len(want) == 0 {
				if err != nil || string(got) != secret {
					t.Fatalf("Read(%q) = %q, %v, want %q, nil", path, got, err, secret)
				}
				return
			}
			if err == nil {
				t.Fatalf("Read(%q) = %q, nil, want an error", path, got)
			}
			var pe *PermError
			if isPerm := errors.As(err, &pe); isPerm != tooOpen || errors.Is(err, ErrTooOpen) != tooOpen {
				t.Errorf("Read(%q) = %v (*PermError: %v), want *PermError %v", path, err, isPerm, tooOpen)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("Read(%q) = %v, want errors.Is %v", path, err, tc.wantIs)
			}
			for _, w := range want {
				if w = strings.ReplaceAll(w, "PATH", path); !strings.Contains(err.Error(), w) {
					t.Errorf("Read(%q) = %q, want it to contain %q", path, err, w)
				}
			}
		})
	}
}
