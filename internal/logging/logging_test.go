package logging

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
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
		{"pan 4761 7390 0101 0119", "pan 4761 73** **** 0119"},
		{"pan 4761-7390-0101-0119.", "pan 4761-73**-****-0119."},
		{"order 1234567890123", "order 1234567890123"}, // fails Luhn: not a PAN
		{"ids 1234567890123 4444", "ids 1234567890123 4444"},
		// A PAN glued to other digits is still masked (found by FuzzRedactString).
		// Other windows of the run may be Luhn-valid too, and are masked as well.
		{"1 4761739001010119", "1 47617*******0119"},
		{"lane 7-4761739001010119", "lane 7-476173******0119"},
		{"14761739001010119", "147617*******0119"},
		{"47617390010101190", "476173*******1190"},
		{"ORD4761739001010119x", "ORD476173******0119x"},
		// A long number without a Luhn-valid window of 13-19 digits is kept;
		// one that contains such a window (most do) is partly masked.
		{"trans_no 5026112200101300100000", "trans_no 5026112200101300100000"},
		{"trans_no 5026112200101300000001", "trans_no 502611220*********0001"},
		{"amount 12.34 USD", "amount 12.34 USD"},
		{"%B4761739001010119^DOE/JOHN^2512201?", "[track1 redacted]"},
	}
	for _, tc := range tests {
		if got := RedactString(tc.in); !strings.Contains(got, tc.want) {
			t.Errorf("RedactString(%q) = %q, want it to contain %q", tc.in, got, tc.want)
		}
		if got, want := maskPANs(tc.in), naiveMask(tc.in); got != want {
			t.Errorf("maskPANs(%q) = %q, want %q", tc.in, got, want)
		}
		if pan := survivingPAN(RedactString(tc.in)); pan != "" {
			t.Errorf("RedactString(%q) keeps the Luhn-valid digits %s", tc.in, pan)
		}
	}
}

// digitRun is a run of digits separated by at most one space or dash, as
// maskPANs reads them.
var digitRun = regexp.MustCompile(`[0-9](?:[ -]?[0-9])*`)

// luhnWindows calls fn with the byte offsets of the digits of every
// Luhn-valid window of 13-19 digits in s, checking every window the slow way,
// independently of maskPANs.
func luhnWindows(s string, fn func(offsets []int)) {
	for _, run := range digitRun.FindAllStringIndex(s, -1) {
		var offs []int
		for i := run[0]; i < run[1]; i++ {
			if s[i] >= '0' && s[i] <= '9' {
				offs = append(offs, i)
			}
		}
		for b := range offs {
			for l := 13; l <= 19 && b+l <= len(offs); l++ {
				w := offs[b : b+l]
				d := make([]byte, l)
				for k, o := range w {
					d[k] = s[o]
				}
				if luhnValid(string(d)) {
					fn(w)
				}
			}
		}
	}
}

// survivingPAN returns the first Luhn-valid window of 13-19 digits in s, or "".
func survivingPAN(s string) string {
	found := ""
	luhnWindows(s, func(w []int) {
		if found == "" {
			found = s[w[0] : w[len(w)-1]+1]
		}
	})
	return found
}

// naiveMask is what maskPANs must return: each window's digits but the first
// 6 and the last 4 turned into '*'.
func naiveMask(s string) string {
	b := []byte(s)
	luhnWindows(s, func(w []int) {
		for _, o := range w[6 : len(w)-4] {
			b[o] = '*'
		}
	})
	return string(b)
}

func luhnValid(d string) bool {
	sum := 0
	for i := 0; i < len(d); i++ {
		n := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			if n *= 2; n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
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
	f.Add("1 " + testPAN)
	f.Add("lane 7-" + testPAN)
	f.Fuzz(func(t *testing.T, s string) {
		out := RedactString(s)
		// No Luhn-valid window of 13-19 digits survives, wherever it sits
		// in a run of digits.
		if pan := survivingPAN(out); pan != "" {
			t.Fatalf("Luhn-valid %s survived: %q → %q", pan, s, out)
		}
		if got, want := maskPANs(s), naiveMask(s); got != want {
			t.Fatalf("maskPANs(%q) = %q, want %q", s, got, want)
		}
	})
}

func BenchmarkRedactString(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		fill := func(unit string) string { return strings.Repeat(unit, size/len(unit)+1)[:size] }
		for name, in := range map[string]string{
			"digits":  fill(testPAN + "0"),          // one run of Luhn-valid windows
			"spaced":  fill("4761 7390 0101 0119 "), // a run with separators
			"logline": fill("payment A1 approved amount 12.34 USD trans_no 5026112200101300000001 "),
		} {
			b.Run(fmt.Sprintf("%s/%dKiB", name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					RedactString(in)
				}
			})
		}
	}
}
