package rpc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecode(t *testing.T) {
	type want struct {
		id     string // raw id; "" for absent
		method string
		params string
		code   int // error code; 0 for a valid request
	}
	tests := []struct {
		name  string
		in    string
		batch bool
		want  []want
	}{
		{"request", `{"jsonrpc":"2.0","id":1,"method":"payment.get","params":{"a":1}}`, false,
			[]want{{id: "1", method: "payment.get", params: `{"a":1}`}}},
		{"string id", `{"jsonrpc":"2.0","id":"abc","method":"m"}`, false, []want{{id: `"abc"`, method: "m"}}},
		{"null id", `{"jsonrpc":"2.0","id":null,"method":"m"}`, false, []want{{id: "null", method: "m"}}},
		{"negative fractional id kept as sent", `{"jsonrpc":"2.0","id":-1.50e3,"method":"m"}`, false, []want{{id: "-1.50e3", method: "m"}}},
		{"escaped id kept as sent", `{"jsonrpc":"2.0","id":"\u00e9<","method":"m"}`, false, []want{{id: `"\u00e9<"`, method: "m"}}},
		{"notification", `{"jsonrpc":"2.0","method":"m","params":[1,2]}`, false, []want{{method: "m", params: "[1,2]"}}},
		{"whitespace around", " \n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"m\"}\t", false, []want{{id: "2", method: "m"}}},
		{"extra members ignored", `{"jsonrpc":"2.0","id":2,"method":"m","x":true}`, false, []want{{id: "2", method: "m"}}},
		{"empty params object", `{"jsonrpc":"2.0","id":2,"method":"m","params":{}}`, false, []want{{id: "2", method: "m", params: "{}"}}},

		{"invalid JSON", `{"jsonrpc":"2.0",`, false, []want{{code: CodeParseError}}},
		{"empty message", ``, false, []want{{code: CodeParseError}}},
		{"invalid UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":\"\xff\",\"method\":\"m\"}", false, []want{{code: CodeParseError}}},
		{"number", `42`, false, []want{{code: CodeInvalidRequest}}},
		{"string", `"x"`, false, []want{{code: CodeInvalidRequest}}},
		{"null", `null`, false, []want{{code: CodeInvalidRequest}}},
		{"empty batch", `[]`, false, []want{{code: CodeInvalidRequest}}},
		{"jsonrpc missing", `{"id":1,"method":"m"}`, false, []want{{id: "1", code: CodeInvalidRequest}}},
		{"jsonrpc 1.0", `{"jsonrpc":"1.0","id":1,"method":"m"}`, false, []want{{id: "1", code: CodeInvalidRequest}}},
		{"jsonrpc number", `{"jsonrpc":2.0,"id":1,"method":"m"}`, false, []want{{id: "1", code: CodeInvalidRequest}}},
		{"jsonrpc wrong case key", `{"JSONRPC":"2.0","id":1,"method":"m"}`, false, []want{{id: "1", code: CodeInvalidRequest}}},
		{"method missing", `{"jsonrpc":"2.0","id":1}`, false, []want{{id: "1", code: CodeInvalidRequest}}},
		{"method number", `{"jsonrpc":"2.0","id":1,"method":1}`, false, []want{{id: "1", code: CodeInvalidRequest}}},
		{"method null", `{"jsonrpc":"2.0","id":1,"method":null}`, false, []want{{id: "1", code: CodeInvalidRequest}}},
		{"method empty", `{"jsonrpc":"2.0","id":1,"method":""}`, false, []want{{id: "1", code: CodeInvalidRequest}}},
		{"params string", `{"jsonrpc":"2.0","id":1,"method":"m","params":"x"}`, false, []want{{id: "1", code: CodeInvalidRequest}}},
		{"params null", `{"jsonrpc":"2.0","id":1,"method":"m","params":null}`, false, []want{{id: "1", code: CodeInvalidRequest}}},
		{"params number", `{"jsonrpc":"2.0","id":1,"method":"m","params":3}`, false, []want{{id: "1", code: CodeInvalidRequest}}},
		{"id object", `{"jsonrpc":"2.0","id":{},"method":"m"}`, false, []want{{code: CodeInvalidRequest}}},
		{"id array", `{"jsonrpc":"2.0","id":[1],"method":"m"}`, false, []want{{code: CodeInvalidRequest}}},
		{"id bool", `{"jsonrpc":"2.0","id":true,"method":"m"}`, false, []want{{code: CodeInvalidRequest}}},
		{"invalid notification still answered", `{"jsonrpc":"2.0","method":1}`, false, []want{{code: CodeInvalidRequest}}},

		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"},1,{"jsonrpc":"2.0","id":"x","method":2},[]]`, true,
			[]want{{id: "1", method: "a"}, {method: "b"}, {code: CodeInvalidRequest}, {id: `"x"`, code: CodeInvalidRequest}, {code: CodeInvalidRequest}}},
		{"batch of one", `[{"jsonrpc":"2.0","id":1,"method":"a"}]`, true, []want{{id: "1", method: "a"}}},
		{"batch invalid JSON", `[{"jsonrpc":"2.0","id":1,"method":"a"},`, false, []want{{code: CodeParseError}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msgs, batch := decode([]byte(tc.in))
			if batch != tc.batch {
				t.Errorf("decode(%q) batch = %v, want %v", tc.in, batch, tc.batch)
			}
			if len(msgs) != len(tc.want) {
				t.Fatalf("decode(%q) = %d messages, want %d", tc.in, len(msgs), len(tc.want))
			}
			for i, w := range tc.want {
				m := msgs[i]
				if string(m.req.id) != w.id {
					t.Errorf("message %d id = %q, want %q", i, m.req.id, w.id)
				}
				if w.code != 0 {
					if m.err == nil || m.err.Code != w.code {
						t.Errorf("message %d error = %v, want code %d", i, m.err, w.code)
					}
					continue
				}
				if m.err != nil {
					t.Errorf("message %d error = %v, want none", i, m.err)
					continue
				}
				if m.req.method != w.method || string(m.req.params) != w.params {
					t.Errorf("message %d = %q %q, want %q %q", i, m.req.method, m.req.params, w.method, w.params)
				}
			}
		})
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		got  func() ([]byte, error)
		want string
	}{
		{"result", func() ([]byte, error) {
			return encodeResult(json.RawMessage(`"a<b&c"`), map[string]string{"amount": "12.34"})
		}, `{"jsonrpc":"2.0","id":"a<b&c","result":{"amount":"12.34"}}`},
		{"null result", func() ([]byte, error) { return encodeResult(json.RawMessage(`7`), nil) },
			`{"jsonrpc":"2.0","id":7,"result":null}`},
		{"null id", func() ([]byte, error) { return encodeResult(nil, []int{}) },
			`{"jsonrpc":"2.0","id":null,"result":[]}`},
		{"error", func() ([]byte, error) {
			return encodeError(json.RawMessage(`1`), InvalidParams("amount", "bad amount")), nil
		},
			`{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"amount: bad amount","data":{"field":"amount"}}}`},
		{"error without data", func() ([]byte, error) { return encodeError(nil, MethodNotFound("x.y")), nil },
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"method not found: x.y"}}`},
		{"unencodable error data", func() ([]byte, error) {
			return encodeError(json.RawMessage(`"q"`), &Error{Code: 1000, Message: "m", Data: make(chan int)}), nil
		}, `{"jsonrpc":"2.0","id":"q","error":{"code":-32603,"message":"internal error"}}`},
		{"notification", func() ([]byte, error) { return encodeNotification("payment.updated", map[string]int{"n": 1}) },
			`{"jsonrpc":"2.0","method":"payment.updated","params":{"n":1}}`},
		{"notification without params", func() ([]byte, error) { return encodeNotification("tick", nil) },
			`{"jsonrpc":"2.0","method":"tick"}`},
		{"batch", func() ([]byte, error) { return encodeBatch([][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)}), nil },
			`[{"a":1},{"b":2}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.got()
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("encode = %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := encodeResult(json.RawMessage(`1`), make(chan int)); err == nil {
		t.Error("encodeResult(chan) succeeded, want an error")
	}
}

func TestErrorConstructors(t *testing.T) {
	e := InvalidParams("terminal_sn", "")
	if e.Code != -32602 || e.Message != "terminal_sn: invalid params" {
		t.Errorf("InvalidParams = %+v", e)
	}
	if f, _ := e.Data.(map[string]string); f["field"] != "terminal_sn" {
		t.Errorf("InvalidParams data = %v, want field terminal_sn", e.Data)
	}
	if got := MethodNotFound("foo").Error(); got != "json-rpc error -32601: method not found: foo" {
		t.Errorf("MethodNotFound().Error() = %q", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":"12.34"}}`,
		`{"jsonrpc":"2.0","method":"n"}`,
		`{"jsonrpc":"2.0","id":null,"method":"m","params":[]}`,
		`{"jsonrpc":"2.0","id":"\u00e9","method":"m"}`,
		`[{"jsonrpc":"2.0","id":1,"method":"a"},1,{"jsonrpc":"2.0","method":"b"}]`,
		`[]`, `[[]]`, `{}`, `null`, `1e999`, `"s"`, ``, `{"jsonrpc":"2.0",`,
		"{\"jsonrpc\":\"2.0\",\"id\":\"\xff\",\"method\":\"m\"}",
		`{"jsonrpc":"2.0","id":{"a":1},"method":"m"}`,
		`{"jsonrpc":"2.0","id":1,"method":"m","params":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, batch := decode(data)
		if len(msgs) == 0 {
			t.Fatal("decode returned no message")
		}
		if !batch && len(msgs) != 1 {
			t.Fatalf("non-batch decode returned %d messages", len(msgs))
		}
		var parts [][]byte
		for _, m := range msgs {
			var out []byte
			if m.err != nil {
				switch m.err.Code {
				case CodeParseError:
					if batch {
						t.Fatal("parse error inside a batch")
					}
				case CodeInvalidRequest:
				default:
					t.Fatalf("decode error code %d", m.err.Code)
				}
				out = encodeError(m.req.id, m.err)
			} else {
				if m.req.method == "" || !utf8.ValidString(m.req.method) {
					t.Fatalf("request with method %q", m.req.method)
				}
				if p := m.req.params; p != nil && p[0] != '{' && p[0] != '[' {
					t.Fatalf("request with params %q", p)
				}
				var err error
				out, err = encodeResult(m.req.id, m.req.params)
				if err != nil {
					t.Fatalf("encode result: %v", err)
				}
			}
			if m.req.id != nil && !validID(m.req.id) {
				t.Fatalf("invalid id %q accepted", m.req.id)
			}
			if !json.Valid(out) || !utf8.Valid(out) {
				t.Fatalf("answer %q is not valid UTF-8 JSON", out)
			}
			var back map[string]json.RawMessage
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("answer %q: %v", out, err)
			}
			wantID := string(m.req.id)
			if m.req.id == nil {
				wantID = "null"
			}
			if string(back["id"]) != wantID {
				t.Fatalf("answer id %s, want %s echoed exactly", back["id"], wantID)
			}
			parts = append(parts, out)
		}
		if !json.Valid(encodeBatch(parts)) {
			t.Fatal("batch answer is not valid JSON")
		}
		if utf8.Valid(data) && json.Valid(data) && !batch && msgs[0].err != nil && msgs[0].err.Code == CodeParseError {
			t.Fatalf("valid JSON %q reported as a parse error", data)
		}
		if trimmed := bytes.TrimSpace(data); batch && !strings.HasPrefix(string(trimmed), "[") {
			t.Fatalf("%q decoded as a batch", data)
		}
	})
}
