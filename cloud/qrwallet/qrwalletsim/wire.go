package qrwalletsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/posbridge/posbridge/money"
)

// body is a decoded request: each member's raw JSON.
type body map[string]json.RawMessage

// refusal is an answer with "success": false. status 0 means the mode's
// ErrorStatus.
type refusal struct {
	status int
	msg    string
}

func refuse(format string, args ...any) *refusal {
	return &refusal{msg: fmt.Sprintf(format, args...)}
}

// decodeJSON decodes a JSON object body.
func decodeJSON(raw []byte) (body, error) {
	var b body
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&b); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errors.New("not a JSON object")
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	return b, nil
}

// decodeForm decodes a form body into the same shape: every value a string.
func decodeForm(raw []byte) (body, error) {
	vals, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, err
	}
	b := body{}
	for k, v := range vals {
		enc, _ := json.Marshal(v[0])
		b[k] = enc
	}
	return b, nil
}

// decodeBody decodes a request body. The API's endpoints take JSON (line
// 26); the token endpoint's content type is not given, so it also takes a
// form.
func decodeBody(r *http.Request, raw []byte, formOK bool) (body, *refusal) {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	switch {
	case strings.HasPrefix(ct, "application/json"):
		b, err := decodeJSON(raw)
		if err != nil {
			return nil, refuse("Malformed JSON body: %v", err)
		}
		return b, nil
	case formOK && strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		b, err := decodeForm(raw)
		if err != nil {
			return nil, refuse("Malformed form body: %v", err)
		}
		return b, nil
	}
	return nil, &refusal{status: http.StatusUnsupportedMediaType, msg: "Content-Type must be application/json"}
}

// text returns a member as text: a string, or a number's digits (the spec
// writes store_id, sub_store_id and auth_code both ways). null and absence
// are "not present" (sub_store_id and sub_store_name are nullable, lines
// 22-23).
func (b body) text(key string) (string, bool, *refusal) {
	v, ok := b[key]
	if !ok {
		return "", false, nil
	}
	v = bytes.TrimSpace(v)
	switch {
	case string(v) == "null":
		return "", false, nil
	case len(v) > 0 && v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false, refuse("The %s field is malformed.", key)
		}
		return s, true, nil
	case len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9'):
		var n json.Number
		if json.Unmarshal(v, &n) != nil {
			return "", false, refuse("The %s field is malformed.", key)
		}
		return string(v), true, nil
	}
	return "", false, refuse("The %s field must be a string or a number.", key)
}

// required returns a required, non-empty member.
func (b body) required(key string) (string, *refusal) {
	s, ok, e := b.text(key)
	if e != nil {
		return "", e
	}
	if !ok || strings.TrimSpace(s) == "" {
		return "", refuse("The %s field is required.", key)
	}
	return s, nil
}

var digitsPattern = regexp.MustCompile(`^[0-9]+$`)

// integer returns an integer member (number or string of digits).
func (b body) integer(key string, required bool) (int64, bool, *refusal) {
	s, ok, e := b.text(key)
	if e != nil {
		return 0, false, e
	}
	if !ok {
		if required {
			return 0, false, refuse("The %s field is required.", key)
		}
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || !digitsPattern.MatchString(s) {
		return 0, false, refuse("The %s field must be an integer.", key)
	}
	return n, true, nil
}

// amount returns a positive amount member in minor units: a JSON number
// (lines 37, 134) or a string holding one, with no more significant
// decimals than the currency has.
func (b body) amount(key string, cur money.Currency) (int64, *refusal) {
	s, e := b.required(key)
	if e != nil {
		return 0, e
	}
	if strings.ContainsAny(s, "eE+-") {
		return 0, refuse("The %s field must be a positive decimal number.", key)
	}
	minor, err := money.ParseLenient(s, cur)
	switch {
	case errors.Is(err, money.ErrTooManyDecimals):
		return 0, refuse("The %s field has more decimals than %s allows.", key, cur.Code)
	case err != nil || minor <= 0:
		return 0, refuse("The %s field must be a positive decimal number.", key)
	}
	return minor, nil
}

// kv is one answer member; the answer keeps their order (and repeats).
type kv struct {
	k string
	v any
}

// amt is an amount in minor units, written by the mode's AmountStyle.
type amt int64

// reply is an answer before encoding.
type reply struct {
	ok     bool
	status int // 0: 200 for a success, the mode's ErrorStatus for a refusal
	data   []kv
	msg    string // refusal message
}

func success(data ...kv) reply { return reply{ok: true, data: data} }

func (r *refusal) reply() reply { return reply{status: r.status, msg: r.msg} }

// sparseKeys are left out in Mode.Sparse.
var sparseKeys = map[string]bool{
	"currency": true, "transaction_id": true, "service_id": true, "store_id": true,
	"result_code": true, "message": true,
}

// httpStatus is the answer's HTTP status.
func (rep reply) httpStatus(m Mode) int {
	switch {
	case rep.status != 0:
		return rep.status
	case rep.ok:
		return http.StatusOK
	}
	return m.ErrorStatus
}

// encode writes the answer: {"success": true, "data": {...}} as in every
// sample, or a refusal in the mode's ErrorShape.
func (rep reply) encode(m Mode, cur money.Currency) []byte {
	var b bytes.Buffer
	if !rep.ok {
		msg, _ := json.Marshal(rep.msg)
		if m.ErrorShape == "data" {
			fmt.Fprintf(&b, `{"success":false,"data":{"message":%s}}`, msg)
		} else {
			fmt.Fprintf(&b, `{"success":false,"message":%s}`, msg)
		}
		return m.slashes(b.Bytes())
	}
	b.WriteString(`{"success":true,"data":{`)
	seen := map[string]bool{}
	n := 0
	for _, f := range rep.data {
		if (m.Sparse && sparseKeys[f.k]) || (m.SingleKeys && seen[f.k]) {
			continue
		}
		seen[f.k] = true
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		k, _ := json.Marshal(f.k)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.value(f.v, cur))
	}
	b.WriteString("}}")
	return m.slashes(b.Bytes())
}

// value encodes one member value.
func (m Mode) value(v any, cur money.Currency) []byte {
	if a, ok := v.(amt); ok {
		s := money.Format(int64(a), cur)
		if m.AmountStyle == "string" {
			return []byte(strconv.Quote(s))
		}
		return []byte(s)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(b.Bytes(), "\n")
}

// slashes escapes "/" as "\/" (as the sample at line 48 does) unless the
// mode says not to. A "/" can only occur inside a JSON string.
func (m Mode) slashes(b []byte) []byte {
	if m.PlainSlashes {
		return b
	}
	return bytes.ReplaceAll(b, []byte("/"), []byte(`\/`))
}
