package qrsvg

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

var update = flag.Bool("update", false, "rewrite testdata/*.svg golden files")

// qrisPayload is an EMVCo merchant-presented (QRIS) dynamic payload with an
// amount, as an Indonesian acquirer returns it.
const qrisPayload = "00020101021226670016COM.NOBUBANK.WWW01189360050300000879140214520146378043640303UMI" +
	"51440014ID.CO.QRIS.WWW0215ID20232921512850303UMI5204541153033605405250005802ID" +
	"5910TOKO MAJU 6007JAKARTA61051234062290525POSBRIDGE-0001-ABCDEFGH6304B1A2"

// A static QRIS code with a mixed-case merchant name (byte segments).
const qrisStatic = "00020101021126570011ID.DANA.WWW011893600915302259148102090225914810303UMI" +
	"51440014ID.CO.QRIS.WWW0215ID10200176114730303UMI5204581253033605802ID" +
	"5922Warung Sederhana Bu Tin6012Kota Bandung61054011162070703A0163044C5B"

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name, payload string
		opt           Options
	}{
		{"qris", qrisPayload, Options{Title: "QRIS payment code, Rp 25.000"}},
		{"short_h", "posbridge", Options{Level: LevelH}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.payload, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.name+".svg")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Render(%q) differs from %s (run go test -update after checking the change):\ngot  %.300s\nwant %.300s", tc.payload, path, got, want)
			}
			again, _ := Render(tc.payload, tc.opt)
			if !bytes.Equal(got, again) {
				t.Error("Render is not deterministic")
			}
		})
	}
}

// TestShape checks the document's structure: one svg with a title, a
// background rect and exactly one path, the viewBox in modules with the
// quiet zone, crispEdges, and no payload text.
func TestShape(t *testing.T) {
	out, err := Render(qrisPayload, Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, out)
	if doc.XMLName.Space != "http://www.w3.org/2000/svg" || doc.XMLName.Local != "svg" {
		t.Errorf("root element %v", doc.XMLName)
	}
	if doc.ShapeRendering != "crispEdges" || doc.Role != "img" {
		t.Errorf("shape-rendering=%q role=%q", doc.ShapeRendering, doc.Role)
	}
	if doc.Title != DefaultTitle {
		t.Errorf("title %q, want %q", doc.Title, DefaultTitle)
	}
	if len(doc.Paths) != 1 || len(doc.Rects) != 1 || doc.Other != nil {
		t.Fatalf("want one rect and one path, got %d rects, %d paths, others %v", len(doc.Rects), len(doc.Paths), doc.Other)
	}
	if doc.Width != "" || doc.Height != "" {
		t.Errorf("svg has width/height %q/%q; the console sizes it with CSS", doc.Width, doc.Height)
	}
	n := viewBoxSize(t, doc.ViewBox)
	m, err := encode(qrisPayload, LevelM)
	if err != nil {
		t.Fatal(err)
	}
	if n != m.size+2*QuietZone {
		t.Errorf("viewBox %q, want %d modules (symbol %d + 2×%d quiet zone)", doc.ViewBox, m.size+2*QuietZone, m.size, QuietZone)
	}
	if r := doc.Rects[0]; r.Width != strconv.Itoa(n) || r.Height != strconv.Itoa(n) || r.Fill != "#fff" {
		t.Errorf("background rect %+v", r)
	}
	// The path reproduces the matrix exactly, shifted by the quiet zone.
	grid := rasterPath(t, doc.Paths[0].D, n)
	for y := range n {
		for x := range n {
			sx, sy := x-QuietZone, y-QuietZone
			want := sx >= 0 && sy >= 0 && sx < m.size && sy < m.size && m.at(sx, sy)
			if grid[y*n+x] != want {
				t.Fatalf("module (%d,%d): path %v, matrix %v", x, y, grid[y*n+x], want)
			}
		}
	}
	for _, s := range []string{"ID.CO.QRIS", "JAKARTA", "POSBRIDGE-0001"} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("payload text %q appears in the SVG", s)
		}
	}
	t.Logf("QRIS payload (%d bytes): %d modules + quiet zone, %d bytes of SVG", len(qrisPayload), m.size, len(out))
}

// TestRoundTrip decodes the SVG, rasterised through image/png, with an
// independent decoder (gozxing, a port of ZXing) and checks the payload and
// the error correction level come back.
func TestRoundTrip(t *testing.T) {
	payloads := map[string]string{
		"qris dynamic": qrisPayload,
		"qris static":  qrisStatic,
		"url":          "https://pay.example.com/c/3f9a1c2e-7b4d-4e8f-9a0b-1c2d3e4f5a6b?amount=25000&cur=IDR",
		"wallet token": "wx://pay/bizpayurl?pr=Xb9Ka2mQ7&sign=5F2C9A1B7E3D4C60A8B1F9E2D3C4B5A6",
		"numeric":      "286512345678901234",
		"alphanumeric": "HTTPS://EXAMPLE.COM/P/ABC-123",
		"single char":  "x",
		"unicode":      "Café Ünïcödé, Toko Ibu Sri — Rp 25.000 ✓",
		"xml-ish":      `</title><script>alert(1)</script>&amp;"'`,
		"controls":     "a\x00b\tc\r\nd\x1be",
		"long":         strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", 30),
	}
	for name, p := range payloads {
		for _, lv := range []Level{LevelM, LevelL, LevelQ, LevelH} {
			t.Run(fmt.Sprintf("%s/%v", name, lv), func(t *testing.T) {
				out, err := Render(p, Options{Level: lv})
				if err != nil {
					t.Fatal(err)
				}
				passes := []bool{true}
				if lv == LevelM {
					passes = append(passes, false)
				}
				for _, pure := range passes {
					text, ecl := decodeSVG(t, out, pure)
					if text != p {
						t.Errorf("pure=%v: decoded %q, want %q", pure, text, p)
					}
					if ecl != lv.String() {
						t.Errorf("pure=%v: decoded level %q, want %v", pure, ecl, lv)
					}
				}
			})
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		opt     Options
		want    error
	}{
		{"empty", "", Options{}, ErrEmpty},
		{"invalid utf-8", "abc\xff", Options{}, ErrInvalidUTF8},
		{"unknown level", "abc", Options{Level: 4}, ErrLevel},
		{"over any capacity", strings.Repeat("1", MaxPayload+1), Options{Level: LevelL}, ErrTooLong},
		{"bytes over M", strings.Repeat("a", 2332), Options{}, ErrTooLong},
		{"bytes over H", strings.Repeat("a", 1274), Options{Level: LevelH}, ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Render(tc.payload, tc.opt)
			if !errors.Is(err, tc.want) || out != nil {
				t.Errorf("Render = %d bytes, %v; want %v", len(out), err, tc.want)
			}
		})
	}
}

// TestLongPayloads checks payloads at and just over the version-40
// capacity of each level are answered quickly (go-qr's
// MakeSegmentsOptimally would spin on them; see the package doc) and that
// what fits still decodes.
func TestLongPayloads(t *testing.T) {
	for _, tc := range []struct {
		level    Level
		alphabet string
		capacity int // version 40 capacity in characters
	}{
		{LevelL, "0123456789", 7089},
		{LevelL, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", 4296},
		{LevelL, "abcdefghij", 2953},
		{LevelM, "abcdefghij", 2331},
		{LevelQ, "abcdefghij", 1663},
		{LevelH, "abcdefghij", 1273},
		{LevelM, "0123456789", 5596},
		{LevelM, "0A1b2C3d4E5f", 1200}, // mixed: fits version 27-40 only
	} {
		full := strings.Repeat(tc.alphabet, tc.capacity/len(tc.alphabet)+1)
		for _, n := range []int{tc.capacity, tc.capacity + 1} {
			p := full[:n]
			t.Run(fmt.Sprintf("%v/%.5s/%d", tc.level, tc.alphabet, n), func(t *testing.T) {
				var (
					out []byte
					err error
				)
				done := make(chan struct{})
				go func() {
					defer close(done)
					out, err = Render(p, Options{Level: tc.level})
				}()
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					t.Fatal("Render did not return")
				}
				if tc.alphabet == "0A1b2C3d4E5f" {
					if err != nil {
						t.Fatal(err)
					}
				} else if n > tc.capacity {
					if !errors.Is(err, ErrTooLong) {
						t.Fatalf("err = %v, want ErrTooLong", err)
					}
					return
				} else if err != nil {
					t.Fatal(err)
				}
				if text, _ := decodeSVG(t, out, true); text != p {
					t.Errorf("decoded %d bytes, want the %d-byte payload", len(text), len(p))
				}
			})
		}
	}
}

// TestTitle checks the title is escaped and any title yields a valid
// document whose accessible name is the title (with characters XML cannot
// carry replaced by U+FFFD).
func TestTitle(t *testing.T) {
	for title, want := range map[string]string{
		`Pay <b>Rp 25.000</b> & "go" 'now'`: `Pay <b>Rp 25.000</b> & "go" 'now'`,
		"</title><script>x()</script>":      "</title><script>x()</script>",
		"]]><!-- -->":                       "]]><!-- -->",
		"bad \xff utf8, nul \x00, bell \a":  "bad \uFFFD utf8, nul \uFFFD, bell \uFFFD",
		"line\nbreak\ttab":                  "line\nbreak\ttab",
	} {
		out, err := Render("abc", Options{Title: title})
		if err != nil {
			t.Fatal(err)
		}
		doc := parse(t, out)
		if doc.Title != want {
			t.Errorf("title %q came back as %q, want %q", title, doc.Title, want)
		}
		if bytes.Contains(out, []byte("<script")) || bytes.Contains(out, []byte("<b>")) {
			t.Errorf("title %q injected markup: %s", title, out)
		}
	}
}

func TestLevelString(t *testing.T) {
	for l, want := range map[Level]string{LevelL: "L", LevelM: "M", LevelQ: "Q", LevelH: "H", 9: "Level(9)"} {
		if got := l.String(); got != want {
			t.Errorf("Level(%d).String() = %q, want %q", l, got, want)
		}
	}
	var o Options
	if o.Level != LevelM {
		t.Error("the zero Options must mean level M")
	}
}

func FuzzRender(f *testing.F) {
	f.Add(qrisPayload, "", uint8(0))
	f.Add("https://example.com/?a=1&b=<2>", "QR <code> & \"more\"", uint8(1))
	f.Add("", "t", uint8(2))
	f.Add("\xff\xfe", "\x00\x01", uint8(3))
	f.Add("東京 Café 0123456789", "]]>", uint8(4))
	f.Fuzz(func(t *testing.T, payload, title string, level uint8) {
		out, err := Render(payload, Options{Level: Level(level), Title: title})
		if err != nil {
			if out != nil {
				t.Fatal("output with an error")
			}
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrTooLong) && !errors.Is(err, ErrInvalidUTF8) && !errors.Is(err, ErrLevel) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if payload == "" || !utf8.ValidString(payload) || level > uint8(LevelH) {
			t.Fatalf("accepted payload %q at level %d", payload, level)
		}
		d := xml.NewDecoder(bytes.NewReader(out))
		elems := 0
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("not well-formed XML: %v\n%s", err, out)
			}
			if se, ok := tok.(xml.StartElement); ok {
				elems++
				switch se.Name.Local {
				case "svg", "title", "rect", "path":
				default:
					t.Fatalf("unexpected element %v", se.Name)
				}
			}
		}
		if elems != 4 {
			t.Fatalf("%d elements, want 4", elems)
		}
	})
}

// BenchmarkRenderQRIS renders a typical dynamic QRIS payload at level M.
func BenchmarkRenderQRIS(b *testing.B) {
	var out []byte
	for b.Loop() {
		var err error
		out, err = Render(qrisPayload, Options{Title: "QRIS payment code"})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(out)), "svg-bytes")
}

// BenchmarkRenderURL renders a short payment URL at level M.
func BenchmarkRenderURL(b *testing.B) {
	for b.Loop() {
		if _, err := Render("https://pay.example.com/c/3f9a1c2e-7b4d-4e8f-9a0b-1c2d3e4f5a6b", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// svgDoc is the parsed shape of Render's output.
type svgDoc struct {
	XMLName        xml.Name
	ViewBox        string `xml:"viewBox,attr"`
	Width          string `xml:"width,attr"`
	Height         string `xml:"height,attr"`
	Role           string `xml:"role,attr"`
	ShapeRendering string `xml:"shape-rendering,attr"`
	Title          string `xml:"title"`
	Rects          []struct {
		Width  string `xml:"width,attr"`
		Height string `xml:"height,attr"`
		Fill   string `xml:"fill,attr"`
	} `xml:"rect"`
	Paths []struct {
		D    string `xml:"d,attr"`
		Fill string `xml:"fill,attr"`
	} `xml:"path"`
	Other []xml.Name `xml:",any"`
}

func parse(t testing.TB, out []byte) svgDoc {
	t.Helper()
	var doc svgDoc
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, out)
	}
	return doc
}

func viewBoxSize(t testing.TB, vb string) int {
	t.Helper()
	f := strings.Fields(vb)
	if len(f) != 4 || f[0] != "0" || f[1] != "0" || f[2] != f[3] {
		t.Fatalf("viewBox %q is not a square from the origin", vb)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil || n <= 2*QuietZone {
		t.Fatalf("viewBox %q", vb)
	}
	return n
}

// rasterPath fills an n×n module grid from a path made only of
// "M{x} {y}h{w}v1h-{w}z" rectangles, failing on anything else (overlaps
// included).
func rasterPath(t testing.TB, d string, n int) []bool {
	t.Helper()
	grid := make([]bool, n*n)
	for i, sub := range strings.Split(d, "z") {
		if sub == "" {
			continue
		}
		var x, y, w, w2 int
		if k, err := fmt.Sscanf(sub, "M%d %dh%dv1h-%d", &x, &y, &w, &w2); err != nil || k != 4 || w != w2 || w < 1 {
			t.Fatalf("path command %d %q is not a one-row rectangle", i, sub)
		}
		if sub != fmt.Sprintf("M%d %dh%dv1h-%d", x, y, w, w) {
			t.Fatalf("path command %d %q is not in canonical form", i, sub)
		}
		if x < QuietZone || y < QuietZone || x+w > n-QuietZone || y >= n-QuietZone {
			t.Fatalf("path command %q reaches into the quiet zone", sub)
		}
		for j := x; j < x+w; j++ {
			if grid[y*n+j] {
				t.Fatalf("module (%d,%d) drawn twice", j, y)
			}
			grid[y*n+j] = true
		}
	}
	return grid
}

// decodeSVG rasterises out at 4 px per module, round-trips the image
// through PNG and decodes it with gozxing. With pure, gozxing reads the
// module grid directly (PURE_BARCODE), which checks the encoding, the
// Reed-Solomon blocks and the format and version bits; without it, it first
// locates the finder patterns as it would in a camera frame. (gozxing's
// locator misreads a few large or level-H synthetic images that zbar reads
// fine, so the locating pass is only required for the console's level M.)
// It returns the text and the error correction level the decoder read.
func decodeSVG(t testing.TB, out []byte, pure bool) (text, level string) {
	t.Helper()
	doc := parse(t, out)
	n := viewBoxSize(t, doc.ViewBox)
	grid := rasterPath(t, doc.Paths[0].D, n)
	const scale = 4
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for y := range n * scale {
		for x := range n * scale {
			c := color.Gray{Y: 0xff}
			if grid[(y/scale)*n+x/scale] {
				c = color.Gray{}
			}
			img.SetGray(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	pngBytes := buf.Bytes()
	decoded, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(decoded)
	if err != nil {
		t.Fatal(err)
	}
	hints := map[gozxing.DecodeHintType]any{
		gozxing.DecodeHintType_CHARACTER_SET: "UTF-8",
	}
	if pure {
		hints[gozxing.DecodeHintType_PURE_BARCODE] = true
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		dump := filepath.Join(t.TempDir(), "failed.png")
		_ = os.WriteFile(dump, pngBytes, 0o644)
		t.Fatalf("gozxing could not decode the code: %v (image kept as %s)", err, dump)
	}
	lv, _ := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL].(string)
	return res.GetText(), lv
}
