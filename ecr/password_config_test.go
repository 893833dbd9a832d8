package ecr

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/internal/secretfile"
)

// [[ecr]] password_file is read with the secret-file rules and reaches the
// PT; its content never appears in an error.
func TestPasswordFileFromConfig(t *testing.T) {
	env := agenttest.New(t, agenttest.Opts{})
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newWith := func(path string) error {
		_, err := New(Config{Agent: env.Agent, PT: ptTuning(env), Logger: testLogger(t, &syncBuffer{}),
			ECRs: []config.ECR{{Protocol: "zvt", TCPListen: "127.0.0.1:0", TerminalSN: agenttest.TermA, PasswordFile: path}}})
		return err
	}
	if err := newWith(write("good", "314159\n", 0o600)); err != nil {
		t.Fatalf("a good password file: %v", err)
	}
	err := newWith(write("short", "31415\n", 0o600))
	if err == nil || !strings.Contains(err.Error(), "6 digits") || strings.Contains(err.Error(), "31415") {
		t.Fatalf("a 5-digit password: %v", err)
	}
	if err := newWith(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "ecr[0].password_file") {
		t.Fatalf("a missing file: %v", err)
	}
	if runtime.GOOS != "windows" {
		if err := newWith(write("open", "314159", 0o644)); !errors.Is(err, secretfile.ErrTooOpen) {
			t.Fatalf("a world-readable file: %v", err)
		}
	}
}
