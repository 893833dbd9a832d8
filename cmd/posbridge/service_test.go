package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestInstallCommand(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the unit-file install is Linux's")
	}
	e := newCheckEnv(t)
	root := t.TempDir()
	fakeExecutable(t, "/usr/local/bin/posbridge") // the test binary lives in a go-build directory
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := cmdService(context.Background(), args[0], args[1:], &out, &errb)
		return code, out.String() + errb.String()
	}
	unit := filepath.Join(root, "etc", "systemd", "system", "posbridge.service")

	if code, out := run("install", "--root", root, "--config", "posbridge.toml"); code != exitFailure || !strings.Contains(out, "absolute") {
		t.Fatalf("relative config: %d %s", code, out)
	}
	os.Chmod(filepath.Join(e.keys.Dir, "app_private_key.pem"), 0o644)
	if code, out := run("install", "--root", root, "--config", e.cfg); code != exitFailure || !strings.Contains(out, "nothing was installed") {
		t.Fatalf("broken config: %d %s", code, out)
	}
	if _, err := os.Stat(unit); !os.IsNotExist(err) {
		t.Fatalf("a refused install left %s", unit)
	}
	os.Chmod(filepath.Join(e.keys.Dir, "app_private_key.pem"), 0o600)
	if code, out := run("install", "--root", root, "--config", e.cfg, "--user", "posbridge"); code != exitOK {
		t.Fatalf("install: %d %s", code, out)
	}
	b, err := os.ReadFile(unit)
	if err != nil || !strings.Contains(string(b), "run --config "+e.cfg) || !strings.Contains(string(b), "User=posbridge") {
		t.Fatalf("unit: %v\n%s", err, b)
	}
	if code, out := run("uninstall", "--root", root); code != exitOK {
		t.Fatalf("uninstall: %d %s", code, out)
	}
	if code, out := run("uninstall", "--root", root); code != exitFailure || !strings.Contains(out, "not installed") {
		t.Fatalf("second uninstall: %d %s", code, out)
	}
}

// fakeExecutable makes install see the binary at path.
func fakeExecutable(t *testing.T, path string) {
	t.Helper()
	orig := ownExecutable
	ownExecutable = func() (string, error) { return path, nil }
	t.Cleanup(func() { ownExecutable = orig })
}

// TestInstallRefusesGoRunBinary: `go run ./cmd/posbridge install` (a binary
// in a temporary Go build directory) installs nothing, exits 1 and says how
// to get a real binary.
func TestInstallRefusesGoRunBinary(t *testing.T) {
	e := newCheckEnv(t)
	root := t.TempDir()
	for _, exe := range []string{
		"", // this test binary itself: go test builds it in a go-build directory
		filepath.Join(os.TempDir(), "go-build4242", "b001", "exe", "posbridge"),
	} {
		if exe != "" {
			fakeExecutable(t, exe)
		}
		var out, errb bytes.Buffer
		code := cmdService(context.Background(), "install", []string{"--root", root, "--config", e.cfg}, &out, &errb)
		msg := errb.String()
		if code != exitFailure {
			t.Fatalf("install from %q: exit %d, want 1\n%s%s", exe, code, out.String(), msg)
		}
		for _, want := range []string{"temporary build", "Nothing was installed",
			"go install github.com/posbridge/posbridge/cmd/posbridge@latest",
			"go build -o /usr/local/bin/posbridge ./cmd/posbridge", "release binary", "install --config " + e.cfg} {
			if !strings.Contains(msg, want) {
				t.Errorf("install from %q: stderr lacks %q:\n%s", exe, want, msg)
			}
		}
		if entries, _ := os.ReadDir(root); len(entries) != 0 {
			t.Fatalf("a refused install wrote %v", entries)
		}
	}
}
