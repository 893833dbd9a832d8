package installer

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestCheckExecutable: binaries of `go run` and `go test`, and anything in a
// temporary directory or a Go build cache, are refused; real install
// locations are not.
func TestCheckExecutable(t *testing.T) {
	gocache, gotmp := filepath.Join(t.TempDir(), "gocache"), filepath.Join(t.TempDir(), "gotmp")
	t.Setenv("GOCACHE", gocache)
	t.Setenv("GOTMPDIR", gotmp)
	tmp := os.TempDir()
	root := "/"
	if runtime.GOOS == "windows" {
		root = `C:\`
	}
	tests := []struct {
		path    string
		refused bool
	}{
		{filepath.Join(tmp, "go-build2868/b001/exe/posbridge"), true}, // go run ./cmd/posbridge
		{filepath.Join(root, "home/me/.cache/go-build/3f/posbridge"), true},
		{filepath.Join(root, "var/build/go-build123/b001/posbridge.test"), true},
		{filepath.Join(tmp, "posbridge"), true},
		{filepath.Join(gocache, "ab", "posbridge"), true},
		{filepath.Join(gotmp, "posbridge"), true},
		{filepath.Join(root, "usr/local/bin/posbridge"), false},
		{filepath.Join(root, "opt/posbridge/bin/posbridge"), false},
		{filepath.Join(root, "home/me/go/bin/posbridge"), false},
		{filepath.Join(filepath.Dir(tmp), filepath.Base(tmp)+"x", "posbridge"), false}, // /tmpx is not /tmp
	}
	for _, tc := range tests {
		err := CheckExecutable(tc.path)
		if got := errors.Is(err, ErrTemporaryExecutable); got != tc.refused {
			t.Errorf("CheckExecutable(%q) = %v, want refused %v", tc.path, err, tc.refused)
		}
	}
}

// TestInstallRefusesTemporaryExecutable: Install itself refuses such a
// binary, before anything is written.
func TestInstallRefusesTemporaryExecutable(t *testing.T) {
	root := t.TempDir()
	spec := Spec{Executable: filepath.Join(os.TempDir(), "go-build1/b001/exe/posbridge"), ConfigPath: filepath.Join(root, "posbridge.toml")}
	if err := Install(spec, root); !errors.Is(err, ErrTemporaryExecutable) {
		t.Fatalf("Install = %v, want ErrTemporaryExecutable", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("a refused install wrote %v", entries)
	}
}
