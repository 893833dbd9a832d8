package codepaysim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"unicode/utf8"

	"github.com/posbridge/posbridge/cloud/codepay"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// errDecode marks a body that is not a valid request.
var errDecode = errors.New("malformed request body")

// decodeRequest turns a request body into the string parameters the gateway
// signs. JSON objects: strings become their contents, numbers and booleans
// their JSON text, objects and arrays their compact JSON, null is absent.
// application/x-www-form-urlencoded: each key once. Duplicate keys, invalid
// UTF-8 and trailing data are refused.
func decodeRequest(contentType string, body []byte) (codepay.Params, error) {
	form := false
	if contentType != "" {
		mt, params, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, fmt.Errorf("%w: bad Content-Type %q", errDecode, contentType)
		}
		if cs, ok := params["charset"]; ok && !equalFoldASCII(cs, "utf-8") {
			return nil, fmt.Errorf("%w: charset %q, only UTF-8 is supported", errDecode, cs)
		}
		switch mt {
		case "application/x-www-form-urlencoded":
			form = true
		case "application/json", "text/json", "text/plain":
		default:
			return nil, fmt.Errorf("%w: unsupported Content-Type %q", errDecode, mt)
		}
	} else {
		form = len(bytes.TrimSpace(body)) > 0 && bytes.TrimSpace(body)[0] != '{'
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: body is not valid UTF-8", errDecode)
	}
	if form {
		return decodeForm(body)
	}
	return decodeJSON(body)
}

func decodeForm(body []byte) (codepay.Params, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: form: %v", errDecode, err)
	}
	p := make(codepay.Params, len(vals))
	for k, vs := range vals {
		if k == "" {
			return nil, fmt.Errorf("%w: form field with an empty name", errDecode)
		}
		if len(vs) != 1 {
			return nil, fmt.Errorf("%w: form field %q sent %d times", errDecode, k, len(vs))
		}
		if !utf8.ValidString(k) || !utf8.ValidString(vs[0]) {
			return nil, fmt.Errorf("%w: form field %q is not valid UTF-8", errDecode, k)
		}
		p[k] = vs[0]
	}
	return p, nil
}

func decodeJSON(body []byte) (codepay.Params, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errDecode, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: body must be a JSON object", errDecode)
	}
	p := make(codepay.Params)
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errDecode, err)
		}
		key, ok := tok.(string)
		if !ok || key == "" {
			return nil, fmt.Errorf("%w: bad object key", errDecode)
		}
		if seen[key] {
			return nil, fmt.Errorf("%w: key %q appears twice", errDecode, key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: value of %q: %v", errDecode, key, err)
		}
		v, err := jsonValueString(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: value of %q: %v", errDecode, key, err)
		}
		if v != nil {
			p[key] = *v
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("%w: %v", errDecode, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", errDecode)
	}
	return p, nil
}

// jsonValueString renders one JSON value as its signed string; nil for null.
func jsonValueString(raw json.RawMessage) (*string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty value")
	}
	var s string
	switch raw[0] {
	case 'n':
		return nil, nil
	case '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
	case '{', '[':
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, err
		}
		s = b.String()
	default: // number, true, false: their JSON text
		s = string(raw)
	}
	return &s, nil
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
