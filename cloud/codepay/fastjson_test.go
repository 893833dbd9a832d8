package codepay

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// fastjsonGolden is one line of testdata/fastjson/golden.jsonl, printed by
// the real fastjson 1.2.74 (testdata/fastjson/Gen.java, README.md there).
type fastjsonGolden struct {
	In       string `json:"in"`
	Fastjson string `json:"fastjson"`
	Link     string `json:"link"`
}

func readFastjsonGoldens(t *testing.T) []fastjsonGolden {
	t.Helper()
	f, err := os.Open("testdata/fastjson/golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []fastjsonGolden
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var g fastjsonGolden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("golden line %d: %v", len(out)+1, err)
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// Every input (comments aside) has its golden.
	in, err := os.ReadFile("testdata/fastjson/inputs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimRight(string(in), "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "//") {
			n++
		}
	}
	if n != len(out) || n < 20 {
		t.Fatalf("%d inputs, %d goldens: regenerate golden.jsonl (testdata/fastjson/README.md)", n, len(out))
	}
	return out
}

// TestFastjsonGoldens compares fastjson.go with what fastjson 1.2.74 and the
// SDK's SignHandler printed for the same inputs: spec samples, numbers
// (100, 100.50, 1.5, -0, 12345678901234567890, E forms), escapes, keys that
// share a bucket or a hash, 12 to 100 keys (resizes), nesting, duplicates.
func TestFastjsonGoldens(t *testing.T) {
	for i, g := range readFastjsonGoldens(t) {
		name := fmt.Sprintf("line%d", i+1)
		got, err := fastjsonString(g.In)
		if err != nil {
			t.Errorf("%s: fastjsonString(%.80q): %v", name, g.In, err)
			continue
		}
		if got != g.Fastjson {
			t.Errorf("%s: fastjsonString(%.80q)\n got %q\nwant %q", name, g.In, got, g.Fastjson)
		}
		p, err := fastjsonParams([]byte(g.In))
		if err != nil {
			t.Errorf("%s: fastjsonParams: %v", name, err)
			continue
		}
		// Canonical sorts by bytes, Java by UTF-16 units: the same for
		// every key here (and for all of CodePay's snake_case keys).
		if link := Canonical(p); link != g.Link {
			t.Errorf("%s: link string\n got %q\nwant %q", name, link, g.Link)
		}
		// Stable: re-serialising fastjson's own output changes nothing.
		again, err := fastjsonString(got)
		if err != nil || again != got {
			t.Errorf("%s: second pass %q, %v", name, again, err)
		}
	}
}

func TestFastjsonRefuses(t *testing.T) {
	// 11 keys with one String.hashCode: the bin reaches 9 at capacity 16
	// (resize to 32), 10 at 32 (resize to 64), and 11 would be a tree.
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 11; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		k := ""
		for bit := 3; bit >= 0; bit-- {
			if i>>bit&1 == 1 {
				k += "BB"
			} else {
				k += "Aa"
			}
		}
		fmt.Fprintf(&b, "%q:%d", k, i)
	}
	b.WriteString("}")
	for _, in := range []string{
		b.String(),
		`{"@type":"java.lang.Object"}`,
		`{"a":{"$ref":"$"}}`,
		`{"a":"\ud800"}`,
		`{"a":"x\udc00"}`,
		`{"a":1e99999999999}`,
		`"just a string"`,
		`{"a":1} {"b":2}`,
		`{"a":`,
	} {
		if got, err := fastjsonString(in); !errors.Is(err, errFastjson) {
			t.Errorf("fastjsonString(%.60q) = %q, %v; want errFastjson", in, got, err)
		}
	}
	// A surrogate pair is fine, and so is an escaped backslash before u.
	for _, in := range []string{`{"a":"\ud83d\ude00"}`, `{"a":"\\ud800"}`} {
		if _, err := fastjsonString(in); err != nil {
			t.Errorf("fastjsonString(%q): %v", in, err)
		}
	}
}

func TestJavaBigDecimalString(t *testing.T) {
	for in, want := range map[string]string{
		"100.50": "100.50", "1.5": "1.5", "-0.0": "0.0", "1e3": "1E+3", "1E+3": "1E+3",
		"0.000001": "0.000001", "0.0000001": "1E-7", "-12.3400": "-12.3400", "10.50e1": "105.0",
		"1e0": "1", "12e1": "1.2E+2", "0e5": "0E+5", "0E-10": "0E-10", "1234567.0e-2": "12345.670",
		"10e6": "1.0E+7", "0.0": "0.0", "007.5": "7.5",
	} {
		got, err := javaBigDecimalString(in)
		if err != nil || got != want {
			t.Errorf("javaBigDecimalString(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestJavaStringHash(t *testing.T) {
	// Values of "x".hashCode() printed by Java 17.
	for s, want := range map[string]int32{"": 0, "a": 97, "Aa": 2112, "BB": 2112, "trans_status": 636947817, "😀": 1772899} {
		if got := int32(javaStringHash(s)); got != want {
			t.Errorf("hash(%q) = %d, want %d", s, got, want)
		}
	}
}
