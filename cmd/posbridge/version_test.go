package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// TestReadVersion: a stamped version wins; without one the module version
// Go recorded is used ("(devel)" is no version); the commit comes from the
// VCS settings.
func TestReadVersion(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "4f3c2a1b"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-11-30T09:12:44Z"}}
	tests := []struct {
		name, stamped string
		bi            *debug.BuildInfo
		want          buildVersion
	}{
		{"no build info", "dev", nil, buildVersion{version: "dev", commit: "unknown"}},
		{"stamped", "v1.4.0", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.9"}, Settings: vcs},
			buildVersion{version: "v1.4.0", commit: "4f3c2a1b", modified: true, time: "2026-11-30T09:12:44Z"}},
		{"go install @version", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, buildVersion{version: "v1.4.0", commit: "unknown"}},
		{"go build in a checkout", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261130091244-4f3c2a1b5d6e+dirty"}, Settings: vcs[:1]},
			buildVersion{version: "v0.0.0-20261130091244-4f3c2a1b5d6e+dirty", commit: "4f3c2a1b"}},
		{"go run", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, buildVersion{version: "dev", commit: "unknown"}},
	}
	for _, tc := range tests {
		if got := readVersion(tc.stamped, tc.bi); got != tc.want {
			t.Errorf("%s: readVersion = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestVersionCommand: `posbridge version` of a binary stamped with
// -ldflags prints that version; an unstamped one prints the module version
// Go recorded in it (go version -m), or dev.
func TestVersionCommand(t *testing.T) {
	stamped := filepath.Join(t.TempDir(), "posbridge")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", stamped, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -ldflags: %v\n%s", err, out)
	}
	out, err := exec.Command(stamped, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "posbridge v9.8.7-test\ncommit ") || !strings.Contains(string(out), "\ngo1.") {
		t.Fatalf("stamped version: %v\n%s", err, out)
	}

	info, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "dev"
	if m := regexp.MustCompile(`(?m)^\s*mod\s+\S+\s+(\S+)`).FindSubmatch(info); m != nil && string(m[1]) != "(devel)" {
		want = string(m[1])
	}
	out, err = exec.Command(binary, "version").Output()
	if err != nil || !bytes.HasPrefix(out, []byte("posbridge "+want+"\n")) {
		t.Fatalf("unstamped version: %v\n%s\nwant posbridge %s (go version -m:\n%s)", err, out, want, info)
	}
}
