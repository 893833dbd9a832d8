package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testPAN    = "4761739001010119"
	testTrack2 = ";4761739001010119=25122011758928889?"
	testICC    = "5A0847617390010101195F24032512319F2608C2A1E2B3D4F5A6B7"
)

func TestRedactionNeverWritesCardData(t *testing.T) {
	dir := t.TempDir()
	var console bytes.Buffer
	log, closer, err := New(Options{Dir: dir, Level: slog.LevelDebug, Console: &console})
	if err != nil {
		t.Fatal(err)
	}
	l := log.With("component", "test", "track2", testTrack2)
	l.Info("card "+testPAN+" read with track "+testTrack2, "pan", testPAN, "detail", "icc="+testICC)
	l.Warn("failed", "err", errors.New("bad card "+testPAN), slog.Group("card", "number", testPAN, "masked_pan", "476173******0119"))
	l.Error("auth", "Authorization", "Bearer abcdefghijklmnop", "note", "sent Authorization: Bearer abcdefghijklmnop")
	l.Info("key", "text", "-----BEGIN PRIVATE KEY-----\nMIIEv...\n-----END PRIVATE KEY-----")
	closer.Close()
	file, err := os.ReadFile(filepath.Join(dir, "posbridge.log"))
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"file": string(file), "console": console.String()} {
		for _, secret := range []string{testPAN, "4761739001010119=2512", testICC, "abcdefghijklmnop", "MIIEv"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output contains %q:\n%s", name, secret, out)
			}
		}
		if !strings.Contains(out, "476173******0119") {
			t.Errorf("%s output lost the masked PAN:\n%s", name, out)
		}
	}
}

func TestRedactString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"pan 4761739001010119 end", "pan 476173******0119 end"},
		{"pan 4761 7390 0101 0119", "476173******0119"},
		{"order 1234567890123", "order 1234567890123"}, // fails Luhn: not a PAN
		{"trans_no 5026112200101300000001", "trans_no 5026112200101300000001"},
		{"amount 12.34 USD", "amount 12.34 USD"},
		{"%B4761739001010119^DOE/JOHN^2512201?", "[track1 redacted]"},
	}
	for _, tc := range tests {
		if got := RedactString(tc.in); !strings.Contains(got, tc.want) {
			t.Errorf("RedactString(%q) = %q, want it to contain %q", tc.in, got, tc.want)
		}
	}
}

func TestComponentLevels(t *testing.T) {
	var buf bytes.Buffer
	log, _, err := New(Options{Level: slog.LevelWarn, Levels: map[string]slog.Level{"agent": slog.LevelDebug}, Console: &buf})
	if err != nil {
		t.Fatal(err)
	}
	log.With("component", "agent").Debug("agent debug")
	log.With("component", "codepay").Info("codepay info")
	log.Info("root info")
	log.Warn("root warn")
	out := buf.String()
	if !strings.Contains(out, "agent debug") || strings.Contains(out, "codepay info") || strings.Contains(out, "root info") || !strings.Contains(out, "root warn") {
		t.Fatalf("levels not applied:\n%s", out)
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Fatal("ParseLevel(loud) accepted")
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "posbridge.log")
	r, err := OpenRotating(p, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 60) + "\n")
	for i := 0; i < 7; i++ {
		if _, err := r.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	for _, name := range []string{"posbridge.log", "posbridge.log.1", "posbridge.log.2"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Size() > 100 {
			t.Fatalf("%s: %v size %v", name, err, st)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "posbridge.log.3")); !os.IsNotExist(err) {
		t.Fatalf("kept more than 2 rotations: %v", err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("log file mode %v, want 0600", st.Mode().Perm())
	}
}

func FuzzRedactString(f *testing.F) {
	f.Add("pan " + testPAN)
	f.Add(testTrack2)
	f.Add(testICC)
	f.Fuzz(func(t *testing.T, s string) {
		out := RedactString(s)
		if strings.Contains(out, testPAN) && !strings.Contains(s, testPAN+"0") && !strings.Contains(s, "0"+testPAN) {
			// A standalone Luhn-valid PAN must never survive.
			if strings.Contains(" "+s+" ", " "+testPAN+" ") {
				t.Fatalf("PAN survived: %q → %q", s, out)
			}
		}
	})
}
