package qrwallet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/posbridge/posbridge/money"
)

// Decoding errors of an answer body; they are wrapped into
// ErrUnknownOutcome (or *MismatchError) by the callers.
var (
	errNotObject = errors.New("not a JSON object")
	errDuplicate = errors.New("a key repeated with different values")
)

// parseObject decodes one JSON object into its members, keeping each value
// raw. A key may repeat only with the same value: the spec's own status
// answers repeat "out_trade_no" (lines 176 and 178), and a repetition with
// another value could make two readers see two different answers. Anything
// after the object is an error.
func parseObject(raw []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	out := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errNotObject
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if prev, dup := out[key]; dup && !sameJSON(prev, v) {
			return nil, fmt.Errorf("%w: %q", errDuplicate, key)
		}
		out[key] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// sameJSON reports whether two JSON values have the same compact text.
func sameJSON(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// envelope is the answer shape of every endpoint (lines 11-17, 45-53, ...):
// {"success": bool, "data": {...}}. The spec shows no failure answer; a
// failure's message is looked for at the top level ("message", "msg",
// "error") and then in data.message.
type envelope struct {
	success bool
	data    map[string]json.RawMessage // nil when absent, null or not an object
	message string
}

// parseEnvelope decodes an answer body. "success" must be a JSON boolean;
// a successful answer must carry a "data" object.
func parseEnvelope(raw []byte) (*envelope, error) {
	top, err := parseObject(raw)
	if err != nil {
		return nil, err
	}
	sv, ok := top["success"]
	if !ok {
		return nil, errors.New(`no "success" member`)
	}
	var env envelope
	switch string(bytes.TrimSpace(sv)) {
	case "true":
		env.success = true
	case "false":
	default:
		return nil, errors.New(`"success" is not a boolean`)
	}
	if d, ok := top["data"]; ok && !isNull(d) {
		data, err := parseObject(d)
		switch {
		case err == nil:
			env.data = data
		case env.success || errors.Is(err, errDuplicate):
			return nil, fmt.Errorf("data: %w", err)
		}
	}
	if env.success && env.data == nil {
		return nil, errors.New(`success without a "data" object`)
	}
	for _, k := range []string{"message", "msg", "error"} {
		if s, ok, _ := getString(top, k); ok && s != "" {
			env.message = s
			break
		}
	}
	if env.message == "" && env.data != nil {
		env.message, _, _ = getString(env.data, "message")
	}
	return &env, nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// getString returns a member as text: a JSON string, or the text of a JSON
// number (identifiers such as store_id and transaction_id appear both
// ways in the spec). null and absence are "not present".
func getString(m map[string]json.RawMessage, key string) (string, bool, error) {
	v, ok := m[key]
	if !ok || isNull(v) {
		return "", false, nil
	}
	v = bytes.TrimSpace(v)
	switch {
	case len(v) > 0 && v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false, fmt.Errorf("%s: %w", key, err)
		}
		return s, true, nil
	case isNumber(v):
		return string(v), true, nil
	}
	return "", false, fmt.Errorf("%s: not a string or number", key)
}

// isNumber reports whether v is one JSON number.
func isNumber(v []byte) bool {
	if len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		return false
	}
	var n json.Number
	return json.Unmarshal(v, &n) == nil
}

// getBool returns a JSON boolean member; anything else is an error.
func getBool(m map[string]json.RawMessage, key string) (bool, bool, error) {
	v, ok := m[key]
	if !ok || isNull(v) {
		return false, false, nil
	}
	switch string(bytes.TrimSpace(v)) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, fmt.Errorf("%s: not a boolean", key)
}

// getAmount returns an amount member (a JSON number such as 0.01, lines 37
// and 49, or a string holding one) in minor units of cur. Digits the
// currency cannot hold, a sign, an exponent or an empty value are errors.
func getAmount(m map[string]json.RawMessage, key string, cur money.Currency) (int64, bool, error) {
	s, ok, err := getString(m, key)
	if err != nil || !ok {
		return 0, ok, err
	}
	if strings.ContainsAny(s, "eE+-") {
		return 0, false, fmt.Errorf("%s: %q is not a plain non-negative decimal", key, s)
	}
	minor, err := money.ParseLenient(s, cur)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", key, err)
	}
	return minor, true, nil
}

// getInt returns an integer member (a number, or a string of digits).
func getInt(m map[string]json.RawMessage, key string) (int64, bool, error) {
	s, ok, err := getString(m, key)
	if err != nil || !ok {
		return 0, ok, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %q is not an integer", key, s)
	}
	return n, true, nil
}

// encodeBody writes a request body: compact JSON, no HTML escaping, keys
// sorted. Numbers are json.Number values written from minor units, never
// through a float.
func encodeBody(v map[string]any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// amountNumber is an amount as the JSON number the spec sends (line 37):
// exactly the currency's decimals, e.g. 12.30 or 500.
func amountNumber(minor int64, cur money.Currency) json.Number {
	return json.Number(money.Format(minor, cur))
}
