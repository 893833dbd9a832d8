// Package qrsvg renders a QR code server-side as a small, deterministic SVG
// for the web console (issue 14: the console shows a wallet or QRIS code large
// enough to scan from a tablet at arm's length, next to the amount, the expiry
// and the live status, which the console draws as HTML beside the image).
// It is a bottom-layer helper and imports no posbridge package.
//
// # Output
//
// Render returns one <svg> element, without an XML declaration so that it can
// be inlined into HTML as well as served as image/svg+xml:
//
//   - viewBox in modules (the symbol plus a 4-module quiet zone on every
//     side), with no width or height, so the console sizes it with CSS to any
//     size without blurring;
//   - shape-rendering="crispEdges", so module edges stay sharp when a module
//     falls between device pixels;
//   - a white background <rect> covering the quiet zone, so the code still
//     scans on a dark console theme;
//   - exactly one <path> holding every dark module, one closed rectangle per
//     horizontal run of dark modules ("M{x} {y}h{n}v1h-{n}z");
//   - role="img" and a <title> giving the image its accessible name.
//
// The payload is never written into the SVG, not even escaped: the only text
// in the document is Options.Title, which the caller chooses (for example
// "QRIS payment code") and which is XML-escaped. A payload can therefore
// never inject markup, and a token carried by the code does not leak into
// logs or screen readers through the markup. The output depends only on the
// payload and the options: the same input always gives the same bytes.
//
// # Sizing for scanning
//
// A typical QRIS payload (200–250 characters) gives a 49-module symbol
// (version 8) at level M, 57 modules with the quiet zone. The usual rule of
// thumb is a code at least a tenth of the scanning distance across, so about
// 5 cm at arm's length (50 cm); the console should show it well above that
// (e.g. the smaller of 70% of the viewport's short side and 480 CSS px),
// which also keeps every module several device pixels wide. Level M (15% of
// codewords recoverable) is the default, as usual for codes shown on a
// screen; higher levels make the symbol larger for the same payload.
//
// # Library choice
//
// The encoder is github.com/piglig/go-qr (MIT): pure Go with no third-party
// dependencies, tagged semantic-version releases with a changelog, CI, golden
// and fuzz tests upstream, and it exposes the finished module matrix
// (QrCode.Size and QrCode.Module), so this package writes the SVG itself and
// never rasterises. It also offers optimal mixed-mode segmentation
// (numeric / alphanumeric / byte runs), which matters for EMVCo/QRIS
// payloads: they are mostly digits and upper-case tags, and a typical one
// fits in a 49-module symbol instead of 57 with single-mode byte encoding,
// i.e. modules 16% larger at the same on-screen size. The alternatives were
// rejected: github.com/skip2/go-qrcode has no tagged release and no change
// since 2020; rsc.io/qr has had no release since 2018 and encodes a payload
// in a single mode; github.com/boombuler/barcode exposes the matrix only
// through image.Image colours and also encodes in a single mode;
// github.com/yeqown/go-qrcode/v2 hands out the matrix only through a Writer
// callback, pulls in golang.org/x/text and logs through the log package.
//
// go-qr v1.1.0's MakeSegmentsOptimally never returns (it spins) when the
// payload does not fit a version-27 symbol and maxVersion is above 27: it
// checks the fit only at versions 1, 10 and 27. Render therefore calls it
// with maxVersion 26, which stops after the version-27 check, and falls back
// to single-mode segmentation (still up to version 40) for such long
// payloads; TestLongPayloads guards this.
package qrsvg

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	goqr "github.com/piglig/go-qr"
)

// Level is the QR error correction level. The zero value is LevelM.
type Level uint8

// The error correction levels, by the share of codewords that can be
// recovered.
const (
	LevelM Level = iota // 15%: the default, as usual for codes on a screen
	LevelL              // 7%
	LevelQ              // 25%
	LevelH              // 30%
)

// String returns "L", "M", "Q" or "H".
func (l Level) String() string {
	switch l {
	case LevelL:
		return "L"
	case LevelM:
		return "M"
	case LevelQ:
		return "Q"
	case LevelH:
		return "H"
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

func (l Level) ecc() (goqr.Ecc, bool) {
	switch l {
	case LevelL:
		return goqr.Low, true
	case LevelM:
		return goqr.Medium, true
	case LevelQ:
		return goqr.Quartile, true
	case LevelH:
		return goqr.High, true
	}
	return 0, false
}

// QuietZone is the width, in modules, of the light border around the symbol
// (the minimum ISO/IEC 18004 requires).
const QuietZone = 4

// DefaultTitle is the accessible name used when Options.Title is empty.
const DefaultTitle = "QR code"

// MaxPayload is the most bytes any QR code can hold (7089 digits, version
// 40, level L); a longer payload is refused before any encoding work.
const MaxPayload = 7089

// Options tunes Render. The zero value is valid: level M, title "QR code".
type Options struct {
	// Level is the error correction level; the zero value is LevelM. The
	// symbol uses exactly this level (it is not raised when a higher one
	// would fit in the same size), so the output is predictable.
	Level Level
	// Title is the image's accessible name, written XML-escaped into the
	// SVG's <title>; empty means DefaultTitle. Never put the payload here:
	// describe the code ("QRIS payment code, Rp 25.000") instead.
	Title string
}

// Errors returned by Render; match them with errors.Is.
var (
	ErrEmpty       = errors.New("qrsvg: empty payload")
	ErrTooLong     = errors.New("qrsvg: payload too long for a QR code")
	ErrInvalidUTF8 = errors.New("qrsvg: payload is not valid UTF-8")
	ErrLevel       = errors.New("qrsvg: unknown error correction level")
)

// Render encodes payload as a QR code and returns it as an SVG document (see
// the package documentation for its shape). The payload must be non-empty,
// valid UTF-8 text; it is encoded in the smallest symbol (version 1 to 40)
// that holds it at opt.Level, or refused with an error wrapping ErrTooLong.
func Render(payload string, opt Options) ([]byte, error) {
	m, err := encode(payload, opt.Level)
	if err != nil {
		return nil, err
	}
	title := opt.Title
	if title == "" {
		title = DefaultTitle
	}
	return writeSVG(m, title), nil
}

// matrix is a square module matrix, row-major, true for dark.
type matrix struct {
	size int
	dark []bool
}

func (m *matrix) at(x, y int) bool { return m.dark[y*m.size+x] }

// encode validates payload and returns its module matrix (no quiet zone).
func encode(payload string, level Level) (*matrix, error) {
	ecc, ok := level.ecc()
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrLevel, level)
	}
	switch {
	case payload == "":
		return nil, ErrEmpty
	case len(payload) > MaxPayload:
		return nil, fmt.Errorf("%w: %d bytes, at most %d fit in any QR code", ErrTooLong, len(payload), MaxPayload)
	case !utf8.ValidString(payload):
		return nil, ErrInvalidUTF8
	}

	// maxVersion 26, not 40: see the package doc on go-qr's
	// MakeSegmentsOptimally. The segments it returns fit some version <= 27.
	segs, err := goqr.MakeSegmentsOptimally(payload, ecc, goqr.MinVersion, 26)
	if errors.Is(err, goqr.ErrDataTooLong) {
		// Longer than a version-27 symbol holds even optimally segmented:
		// single-mode segmentation, which EncodeSegments fits up to 40.
		segs, err = goqr.MakeSegments(payload)
	}
	if err != nil {
		return nil, fmt.Errorf("qrsvg: segmenting payload: %w", err)
	}
	code, err := goqr.EncodeSegments(segs, ecc, goqr.MinVersion, goqr.MaxVersion, -1, false)
	if errors.Is(err, goqr.ErrDataTooLong) {
		return nil, fmt.Errorf("%w at level %v: %d bytes (%v)", ErrTooLong, level, len(payload), err)
	}
	if err != nil {
		return nil, fmt.Errorf("qrsvg: encoding payload: %w", err)
	}

	n := code.Size()
	m := &matrix{size: n, dark: make([]bool, n*n)}
	for y := range n {
		for x := range n {
			m.dark[y*n+x] = code.Module(x, y)
		}
	}
	return m, nil
}

// writeSVG writes the document for m with the given (unescaped) title.
func writeSVG(m *matrix, title string) []byte {
	full := strconv.Itoa(m.size + 2*QuietZone)
	// A run costs at most len("M180 180h177v1h-177z") = 20 bytes, and
	// about a quarter of the modules start one.
	b := make([]byte, 0, 256+len(title)*2+m.size*m.size*5)
	b = append(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `...)
	b = append(b, full...)
	b = append(b, ' ')
	b = append(b, full...)
	b = append(b, `" role="img" shape-rendering="crispEdges"><title>`...)
	b = appendEscaped(b, title)
	b = append(b, `</title><rect width="`...)
	b = append(b, full...)
	b = append(b, `" height="`...)
	b = append(b, full...)
	b = append(b, `" fill="#fff"/><path fill="#000" d="`...)
	for y := range m.size {
		for x := 0; x < m.size; {
			if !m.at(x, y) {
				x++
				continue
			}
			start := x
			for x < m.size && m.at(x, y) {
				x++
			}
			run := strconv.Itoa(x - start)
			b = append(b, 'M')
			b = strconv.AppendInt(b, int64(start+QuietZone), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(y+QuietZone), 10)
			b = append(b, 'h')
			b = append(b, run...)
			b = append(b, "v1h-"...)
			b = append(b, run...)
			b = append(b, 'z')
		}
	}
	b = append(b, "\"/></svg>\n"...)
	return b
}

// appendEscaped appends s XML-escaped as character data. encoding/xml's
// EscapeText also replaces invalid UTF-8 and characters XML 1.0 forbids
// (control characters, U+FFFE, ...) with U+FFFD, so any title is safe.
func appendEscaped(b []byte, s string) []byte {
	var w sliceWriter
	w.b = b
	_ = xml.EscapeText(&w, []byte(s)) // sliceWriter never fails
	return w.b
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
