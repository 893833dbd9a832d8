package zvt

import (
	"fmt"
	pkgpan "github.com/posbridge/posbridge/pan"
	"log/slog"
	"strings"
)

// cp437High lists the characters of code page 437 for bytes 0x80..0xFF, the
// 8-bit ZVT character set (PA00P015 §15.2).
const cp437High = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»" +
	"░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀" +
	"αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0"

// cp437Runes is a read-only lookup table: cp437Runes[b-0x80] is the rune of byte b.
var cp437Runes = [128]rune([]rune(cp437High))

// DecodeText converts bytes in the 8-bit ZVT character set (CP437; bytes below
// 0x80 are ASCII) to a Go string. Every byte maps to exactly one rune.
func DecodeText(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if c < 0x80 {
			sb.WriteByte(c)
		} else {
			sb.WriteRune(cp437Runes[c-0x80])
		}
	}
	return sb.String()
}

// EncodeText converts a Go string to the 8-bit ZVT character set. Runes that
// CP437 cannot represent become '?'.
func EncodeText(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x80 {
			out = append(out, byte(r))
			continue
		}
		b := byte('?')
		for i, c := range cp437Runes {
			if c == r {
				b = byte(0x80 + i)
				break
			}
		}
		out = append(out, b)
	}
	return out
}

// MaskPAN returns a card number safe to store and show. A bare number
// follows pan.Mask (13-19 digits keep the first six and last four, anything
// else is all '*'). An already masked value ("476173******0119") keeps at
// most its first six and last four characters' digits (ten characters or
// fewer: only the last four); anything that is not a digit becomes '*'.
func MaskPAN(p string) string {
	if pkgpan.AllDigits(p) {
		return pkgpan.Mask(p) // a bare number: the one masking rule
	}
	b := []byte(p)
	n := len(b)
	keepHead := 6
	if n <= 10 {
		keepHead = 0
	}
	for i := range b {
		if !isDigit(b[i]) || (i >= keepHead && i < n-4) {
			b[i] = '*'
		}
	}
	return string(b)
}

// Secret holds card data the ECR sent (track data, CVV) in memory only. Every
// formatting path (fmt verbs, slog, JSON, text marshalling) prints a redaction
// marker instead of the bytes; use the slice itself only where the data must
// go, never into logs, errors or storage.
type Secret []byte

const redacted = "[redacted]"

// String returns a redaction marker.
func (s Secret) String() string {
	if s == nil {
		return ""
	}
	return redacted
}

// Format makes every fmt verb print the redaction marker.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue makes slog print the redaction marker.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText returns the redaction marker (JSON, TOML and friends use it).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
