package codepay

// The "fastjson" verification variant: CodePay's Java SDK verifies a response
// over what fastjson 1.2.74 makes of it, not over the bytes received.
//
// codepay-us/gateway-api-sdk-java, src/main/java/com/codepay/openapi/
// OpenApiClient.java lines 143-148, parses the body with
// JSONObject.parseObject(resultStr) and hands the result to
// sign/SignHandler.java verifySign (lines 42-49), whose paraFilter and
// createLinkString (lines 82-122) turn every member into
// JSONObject.getString(key), i.e. value.toString(). For a nested object that
// is fastjson's JSON.toJSONString of the parsed JSONObject; pom.xml pins
// fastjson 1.2.74. What that string looks like:
//
//   - Object members come in java.util.HashMap iteration order: fastjson's
//     default parse builds JSONObject(16, ordered=false), a HashMap of initial
//     capacity 16 (Feature.OrderedField is off by default; fastjson
//     JSONObject.java lines 56-81, DefaultJSONParser.java line 1412).
//   - Members whose value is null are left out (SerializerFeature
//     WriteMapNullValue is off); null array elements stay as null.
//   - Compact: no whitespace.
//   - Numbers as parsed: integers as Integer/Long/BigInteger text (so -0 is
//     0); decimals as java.math.BigDecimal (Feature.UseBigDecimal is on by
//     default, JSON.java line 81) printed with BigDecimal.toString(), which
//     keeps the scale as written (10.50) and uses E notation for a negative
//     scale or a small adjusted exponent (1e3 → 1E+3, 0.0000001 → 1E-7).
//   - Strings escaped as SerializeWriter.writeStringWithDoubleQuote does by
//     default: \" \\ \b \f \n \r \t, \u00XX (upper-case hex) for the other
//     controls below 0x20 and for 0x7F-0x9F, \u2028 and \u2029; "/" and all
//     other characters as they are.
//
// The goldens in testdata/fastjson were printed by the real fastjson 1.2.74
// (testdata/fastjson/Gen.java and README.md).
//
// Cases fastjsonString refuses (errFastjson), so that the variant is simply
// not tried: a HashMap bin that fastjson would turn into a red-black tree
// (9 or more keys with one bucket in a table of 64 or more: its iteration
// order depends on the tree's balancing), the keys "@type" and "$ref" (which
// fastjson's parser interprets), lone UTF-16 surrogate escapes (Go's decoder
// replaces them, Java keeps them), numbers BigDecimal cannot hold, and
// nesting deeper than maxFastjsonDepth.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf16"
)

// errFastjson means a value cannot be re-serialised the fastjson way.
var errFastjson = errors.New("no fastjson rendering")

// maxFastjsonDepth bounds nesting (fastjson itself stops at a few hundred).
const maxFastjsonDepth = 256

// fjKind is the kind of a parsed JSON value.
type fjKind uint8

const (
	fjNull fjKind = iota
	fjBool
	fjNumber
	fjString
	fjObject
	fjArray
)

// fjValue is a parsed JSON value; members keep fastjson's (HashMap) order.
type fjValue struct {
	kind    fjKind
	text    string    // bool: "true"/"false"; number: its Java text; string: contents
	members []fjEntry // object, in HashMap iteration order
	elems   []*fjValue
}

type fjEntry struct {
	key string
	val *fjValue
}

// fastjsonString returns fastjson 1.2.74's toJSONString of the JSON object
// or array s after a default parse, or an error wrapping errFastjson.
func fastjsonString(s string) (string, error) {
	v, err := fastjsonParse([]byte(s))
	if err != nil {
		return "", err
	}
	if v.kind != fjObject && v.kind != fjArray {
		return "", fmt.Errorf("%w: not an object or array", errFastjson)
	}
	var b strings.Builder
	v.write(&b)
	return b.String(), nil
}

// fastjsonParams returns the members of a response or notification body as
// the SDK's paraFilter sees them (JSONObject.getString of each member):
// strings as their contents, numbers in Java's text, booleans as
// true/false, objects and arrays as fastjson JSON, null as absent.
func fastjsonParams(body []byte) (Params, error) {
	v, err := fastjsonParse(body)
	if err != nil {
		return nil, err
	}
	if v.kind != fjObject {
		return nil, fmt.Errorf("%w: body is not an object", errFastjson)
	}
	p := make(Params, len(v.members))
	for _, m := range v.members {
		if s := m.val.getString(); s != "" {
			p[m.key] = s
		}
	}
	return p, nil
}

// getString is JSONObject.getString: value.toString().
func (v *fjValue) getString() string {
	switch v.kind {
	case fjNull:
		return ""
	case fjObject, fjArray:
		var b strings.Builder
		v.write(&b)
		return b.String()
	default:
		return v.text
	}
}

// fastjsonParse parses one JSON value (and nothing after it).
func fastjsonParse(data []byte) (*fjValue, error) {
	if hasLoneSurrogateEscape(data) {
		return nil, fmt.Errorf("%w: lone UTF-16 surrogate escape", errFastjson)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := fjDecode(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON value", errFastjson)
	}
	return v, nil
}

func fjDecode(dec *json.Decoder, depth int) (*fjValue, error) {
	if depth > maxFastjsonDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", errFastjson, maxFastjsonDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errFastjson, err)
	}
	switch t := tok.(type) {
	case nil:
		return &fjValue{kind: fjNull}, nil
	case bool:
		return &fjValue{kind: fjBool, text: strconv.FormatBool(t)}, nil
	case json.Number:
		text, err := javaNumber(string(t))
		if err != nil {
			return nil, err
		}
		return &fjValue{kind: fjNumber, text: text}, nil
	case string:
		return &fjValue{kind: fjString, text: t}, nil
	case json.Delim:
		switch t {
		case '[':
			v := &fjValue{kind: fjArray}
			for dec.More() {
				e, err := fjDecode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.elems = append(v.elems, e)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("%w: %w", errFastjson, err)
			}
			return v, nil
		case '{':
			m := newJavaHashMap()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("%w: %w", errFastjson, err)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("%w: object key is not a string", errFastjson)
				}
				if key == "@type" || key == "$ref" {
					return nil, fmt.Errorf("%w: fastjson interprets the key %q", errFastjson, key)
				}
				val, err := fjDecode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if err := m.put(key, val); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("%w: %w", errFastjson, err)
			}
			return &fjValue{kind: fjObject, members: m.entries()}, nil
		}
	}
	return nil, fmt.Errorf("%w: unexpected token %v", errFastjson, tok)
}

// hasLoneSurrogateEscape reports whether data holds a \uD800-\uDFFF escape
// that is not half of a high+low pair.
func hasLoneSurrogateEscape(data []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if i+1 < len(data) && data[i+1] != 'u' {
			i++ // \\, \" and the like: skip the escaped character
			continue
		}
		r, ok := hex4(i)
		if !ok {
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if lo, ok := hex4(i + 6); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				i += 11
				continue
			}
			return true
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		}
		i += 5
	}
	return false
}

// javaNumber renders a JSON number as fastjson's parse leaves it: an
// integer as Integer/Long/BigInteger.toString(), anything with a fraction
// or exponent as BigDecimal.toString().
func javaNumber(s string) (string, error) {
	if !strings.ContainsAny(s, ".eE") {
		n, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return "", fmt.Errorf("%w: number %q", errFastjson, s)
		}
		return n.String(), nil
	}
	return javaBigDecimalString(s)
}

// javaBigDecimalString is new java.math.BigDecimal(s).toString() for a JSON
// number s: the unscaled value's digits, with a decimal point when the
// scale is positive and the adjusted exponent is at least -6, otherwise in
// E notation (java.math.BigDecimal#toString).
func javaBigDecimalString(s string) (string, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.ParseInt(s[i+1:], 10, 32)
		if err != nil {
			return "", fmt.Errorf("%w: exponent of %q", errFastjson, s)
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		digits = "0"
		neg = false // BigDecimal has no negative zero
	}
	scale := int64(len(frac)) - exp
	if scale > 1<<31-1 || scale < -(1<<31) {
		return "", fmt.Errorf("%w: scale of %q", errFastjson, s)
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	adjusted := -scale + int64(len(digits)-1)
	switch {
	case scale == 0:
		b.WriteString(digits)
	case scale > 0 && adjusted >= -6:
		if pad := scale - int64(len(digits)); pad >= 0 {
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", int(pad)))
			b.WriteString(digits)
		} else {
			b.WriteString(digits[:int64(len(digits))-scale])
			b.WriteByte('.')
			b.WriteString(digits[int64(len(digits))-scale:])
		}
	default:
		b.WriteString(digits[:1])
		if len(digits) > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('E')
		if adjusted >= 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.FormatInt(adjusted, 10))
	}
	return b.String(), nil
}

// write appends fastjson's compact serialisation of v.
func (v *fjValue) write(b *strings.Builder) {
	switch v.kind {
	case fjNull:
		b.WriteString("null")
	case fjBool, fjNumber:
		b.WriteString(v.text)
	case fjString:
		writeFastjsonString(b, v.text)
	case fjArray:
		b.WriteByte('[')
		for i, e := range v.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.write(b)
		}
		b.WriteByte(']')
	case fjObject:
		b.WriteByte('{')
		first := true
		for _, m := range v.members {
			if m.val.kind == fjNull {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			writeFastjsonString(b, m.key)
			b.WriteByte(':')
			m.val.write(b)
		}
		b.WriteByte('}')
	}
}

// writeFastjsonString quotes s as fastjson's SerializeWriter does with the
// default features (IOUtils.specicalFlags_doubleQuotes, DIGITS upper case).
func writeFastjsonString(b *strings.Builder, s string) {
	const hexDigits = "0123456789ABCDEF"
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20, r >= 0x7F && r < 0xA0, r == 0x2028, r == 0x2029:
			b.WriteString(`\u`)
			b.WriteByte(hexDigits[r>>12&15])
			b.WriteByte(hexDigits[r>>8&15])
			b.WriteByte(hexDigits[r>>4&15])
			b.WriteByte(hexDigits[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// javaHashMap reproduces the iteration order of java.util.HashMap<String,
// V> (OpenJDK 8 and later) built by successive put calls: table of
// power-of-two capacity, bucket (h ^ h>>>16) & (cap-1) with h =
// String.hashCode, new keys appended to their bucket, a put of an existing
// key keeping its place, resize (capacity doubled, buckets split keeping
// relative order) when size exceeds 0.75 × capacity, and, when a bucket
// grows to 9 entries in a table smaller than 64, a resize instead of a tree.
type javaHashMap struct {
	buckets   [][]int // indexes into keys
	keys      []string
	hashes    []uint32
	vals      []*fjValue
	index     map[string]int
	threshold int
}

// newJavaHashMap is new HashMap<>(16), as fastjson's JSONObject makes it:
// the table of 16 is created on the first put, with threshold 12.
func newJavaHashMap() *javaHashMap {
	return &javaHashMap{index: map[string]int{}}
}

// javaStringHash is java.lang.String.hashCode over UTF-16 code units.
func javaStringHash(s string) uint32 {
	var h uint32
	for _, r := range s {
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = 31*h + uint32(hi)
			h = 31*h + uint32(lo)
			continue
		}
		h = 31*h + uint32(r)
	}
	return h
}

func (m *javaHashMap) put(key string, val *fjValue) error {
	if i, ok := m.index[key]; ok {
		m.vals[i] = val
		return nil
	}
	if m.buckets == nil {
		m.buckets = make([][]int, 16)
		m.threshold = 12
	}
	h := javaStringHash(key)
	h ^= h >> 16
	i := len(m.keys)
	m.keys = append(m.keys, key)
	m.hashes = append(m.hashes, h)
	m.vals = append(m.vals, val)
	m.index[key] = i
	b := int(h & uint32(len(m.buckets)-1))
	m.buckets[b] = append(m.buckets[b], i)
	if len(m.buckets[b]) >= 9 { // HashMap.putVal: binCount >= TREEIFY_THRESHOLD - 1
		if len(m.buckets) >= 64 { // treeifyBin would build a red-black tree
			return fmt.Errorf("%w: %d keys share one HashMap bucket", errFastjson, len(m.buckets[b]))
		}
		m.resize()
	}
	if len(m.keys) > m.threshold {
		m.resize()
	}
	return nil
}

// resize doubles the table; each bucket splits into the same index and
// index+oldCap, keeping relative order (HashMap.resize).
func (m *javaHashMap) resize() {
	n := len(m.buckets) * 2
	nb := make([][]int, n)
	for _, bucket := range m.buckets {
		for _, i := range bucket {
			j := int(m.hashes[i] & uint32(n-1))
			nb[j] = append(nb[j], i)
		}
	}
	m.buckets = nb
	m.threshold *= 2
}

// entries lists the members in iteration order.
func (m *javaHashMap) entries() []fjEntry {
	out := make([]fjEntry, 0, len(m.keys))
	for _, bucket := range m.buckets {
		for _, i := range bucket {
			out = append(out, fjEntry{key: m.keys[i], val: m.vals[i]})
		}
	}
	return out
}
