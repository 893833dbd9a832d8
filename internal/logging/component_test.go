package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A level set for a component covers its dot-separated sub-components
// ("ecr" → "ecr.zvt.serial"), the longest key wins, and a name that merely
// starts with the same letters ("ecrsim") is not covered.
func TestComponentLevelsByPrefix(t *testing.T) {
	levels := map[string]slog.Level{"ecr": slog.LevelDebug, "ecr.zvt.tcp": slog.LevelError, "agent": slog.LevelError}
	tests := []struct {
		comp  string
		debug bool // a debug line is written
		warn  bool // a warn line is written
	}{
		{"ecr", true, true},
		{"ecr.zvt.serial", true, true},
		{"ecr.pt", true, true},
		{"ecr.zvt.tcp", false, false},
		{"ecrsim", false, true},
		{"agent", false, false},
		{"codepay", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.comp, func(t *testing.T) {
			var buf bytes.Buffer
			log, _, err := New(Options{Level: slog.LevelInfo, Levels: levels, Console: &buf})
			if err != nil {
				t.Fatal(err)
			}
			l := log.With(ComponentKey, tc.comp)
			l.Debug("debug line")
			l.Warn("warn line")
			out := buf.String()
			if got := strings.Contains(out, "debug line"); got != tc.debug {
				t.Errorf("debug written = %v, want %v:\n%s", got, tc.debug, out)
			}
			if got := strings.Contains(out, "warn line"); got != tc.warn {
				t.Errorf("warn written = %v, want %v:\n%s", got, tc.warn, out)
			}
		})
	}
	if got := levelFor("ecr.zvt.serial", slog.LevelInfo, levels); got != slog.LevelDebug {
		t.Errorf("levelFor(ecr.zvt.serial) = %v, want DEBUG", got)
	}
}

// The callee's component replaces its caller's: one component key per line,
// in the file (JSON) and on the console (text), first after the message, with
// the other attributes of both loggers kept; the level is the callee's.
func TestOneComponentPerLine(t *testing.T) {
	dir := t.TempDir()
	var console bytes.Buffer
	log, closer, err := New(Options{Dir: dir, Level: slog.LevelInfo,
		Levels: map[string]slog.Level{"ecr.pt": slog.LevelDebug}, Console: &console})
	if err != nil {
		t.Fatal(err)
	}
	parent := log.With(ComponentKey, "ecr", "ecr", "ecr0")
	child := parent.With(ComponentKey, "ecr.pt", "terminal_sn", "T1")
	child.Debug("child line", "n", 1)
	parent.Info("parent line")
	log.With(ComponentKey, "agent").With(ComponentKey, "agent").Info("same component twice")
	log.WithGroup("g").With(ComponentKey, "inner").Info("grouped")
	closer.Close()

	text := strings.Split(strings.TrimSpace(console.String()), "\n")
	if len(text) != 4 {
		t.Fatalf("console has %d lines, want 4:\n%s", len(text), console.String())
	}
	for i, want := range []string{
		`msg="child line" component=ecr.pt ecr=ecr0 terminal_sn=T1 n=1`,
		`msg="parent line" component=ecr ecr=ecr0`,
		`msg="same component twice" component=agent`,
		`msg=grouped g.component=inner`,
	} {
		if !strings.HasSuffix(text[i], want) {
			t.Errorf("console line %d = %q, want it to end with %q", i, text[i], want)
		}
		if n := strings.Count(text[i], "component="); n != 1 {
			t.Errorf("console line %d has %d component keys: %q", i, n, text[i])
		}
	}

	file, err := os.ReadFile(filepath.Join(dir, "posbridge.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(file)), "\n")
	if len(lines) != 4 {
		t.Fatalf("file has %d lines, want 4:\n%s", len(lines), file)
	}
	for i, want := range []string{"ecr.pt", "ecr", "agent"} {
		if n := strings.Count(lines[i], `"component":`); n != 1 {
			t.Errorf("file line %d has %d component keys: %s", i, n, lines[i])
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil {
			t.Fatal(err)
		}
		if m["component"] != want {
			t.Errorf("file line %d component = %v, want %s", i, m["component"], want)
		}
	}
}

// Durations are strings with units in both outputs, also inside groups and
// on loggers' attributes.
func TestDurationsWithUnits(t *testing.T) {
	dir := t.TempDir()
	var console bytes.Buffer
	log, closer, err := New(Options{Dir: dir, Level: slog.LevelInfo, Console: &console})
	if err != nil {
		t.Fatal(err)
	}
	log.With("timeout", 10*time.Second).Info("waiting", "retry_in", 1500*time.Millisecond,
		slog.Group("poll", slog.Duration("every", 250*time.Millisecond)), "any", any(2*time.Minute))
	closer.Close()

	if want := `timeout=10s retry_in=1.5s poll.every=250ms any=2m0s`; !strings.Contains(console.String(), want) {
		t.Errorf("console = %q, want %q", console.String(), want)
	}
	file, err := os.ReadFile(filepath.Join(dir, "posbridge.log"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Timeout string            `json:"timeout"`
		RetryIn string            `json:"retry_in"`
		Poll    map[string]string `json:"poll"`
		Any     string            `json:"any"`
	}
	if err := json.Unmarshal(file, &m); err != nil {
		t.Fatalf("file line %s: %v (durations must be strings)", file, err)
	}
	if m.Timeout != "10s" || m.RetryIn != "1.5s" || m.Poll["every"] != "250ms" || m.Any != "2m0s" {
		t.Errorf("file durations = %+v, want 10s, 1.5s, 250ms, 2m0s", m)
	}
}
