package zvt

import (
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"
)

// hx parses spaced hex such as "06 01 07"; it fails the test on bad input.
func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// spaced formats bytes as upper-case spaced hex for failure messages.
func spaced(b []byte) string {
	var sb strings.Builder
	for i, x := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(strings.ToUpper(hex.EncodeToString([]byte{x})))
	}
	return sb.String()
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func mustEncode(t testing.TB, m Message) []byte {
	t.Helper()
	a, err := m.Encode()
	if err != nil {
		t.Fatalf("Encode(%T) error: %v", m, err)
	}
	b, err := a.Encode()
	if err != nil {
		t.Fatalf("APDU.Encode error: %v", err)
	}
	return b
}

func mustAPDU(t testing.TB, s string) APDU {
	t.Helper()
	a, err := DecodeAPDU(hx(t, s))
	if err != nil {
		t.Fatalf("DecodeAPDU(%s): %v", s, err)
	}
	return a
}
