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
