package installer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystemdUnit(t *testing.T) {
	unit, err := SystemdUnit(Spec{Executable: "/usr/local/bin/posbridge", ConfigPath: "/etc/posbridge/my config.toml", User: "posbridge"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ExecStart=/usr/local/bin/posbridge run --config "/etc/posbridge/my config.toml"`,
		"Restart=on-failure", "RestartSec=2", "User=posbridge", "SupplementaryGroups=dialout",
		"After=network-online.target", "WantedBy=multi-user.target", "StateDirectory=posbridge",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if !strings.Contains(unit, "Documentation="+DocsURL+"\n") || strings.Contains(unit, "file://") {
		t.Errorf("unit must point at the project's docs, not a file nothing installs:\n%s", unit)
	}
	noUser, _ := SystemdUnit(Spec{Executable: "/usr/local/bin/posbridge", ConfigPath: "/etc/posbridge/posbridge.toml"})
	if strings.Contains(noUser, "User=") {
		t.Errorf("unit without user has User=:\n%s", noUser)
	}
	if _, err := SystemdUnit(Spec{Executable: "/usr/local/bin/posbridge", ConfigPath: "posbridge.toml"}); !errors.Is(err, ErrNotAbsolute) {
		t.Errorf("relative config: error = %v, want ErrNotAbsolute", err)
	}
}

func TestInstallUninstallInTempRoot(t *testing.T) {
	root := t.TempDir()
	spec := Spec{Executable: "/usr/local/bin/posbridge", ConfigPath: "/etc/posbridge/posbridge.toml"}
	if err := Install(spec, root); err != nil {
		t.Fatal(err)
	}
	path := UnitPath(root, "posbridge")
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), "--config /etc/posbridge/posbridge.toml") {
		t.Fatalf("installed unit: %v\n%s", err, b)
	}
	if err := Install(spec, root); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second install: %v", err)
	}
	if err := Uninstall(spec, root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("unit still there: %v", err)
	}
	if err := Uninstall(spec, root); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("uninstall when not installed: %v", err)
	}
	// A refused install leaves nothing behind.
	bad := Spec{Executable: "posbridge", ConfigPath: "/etc/posbridge/posbridge.toml"}
	if err := Install(bad, root); !errors.Is(err, ErrNotAbsolute) {
		t.Fatalf("relative executable: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "etc", "systemd", "system")); len(entries) != 0 {
		t.Fatalf("refused install left %v", entries)
	}
}
