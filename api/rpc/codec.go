package rpc

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// version is the only accepted value of the "jsonrpc" member.
const version = "2.0"

// request is one well-formed JSON-RPC 2.0 request or notification.
type request struct {
	// id is the request id exactly as received (a JSON string, number or
	// null), or nil when the member is absent: the request is a notification.
	id json.RawMessage
	// method is the non-empty method name.
	method string
	// params is the raw object or array, or nil when absent.
	params json.RawMessage
}

// message is one decoded element of a WebSocket message: a request to
// execute, or an error to answer.
type message struct {
	// req is the request when err is nil. When err is not nil, req.id is the
	// id to answer with: the request's id if it could be read, else nil (null).
	req request
	// err, when not nil, is the error to send back instead of executing.
	err *Error
}

// decode splits one WebSocket text message into JSON-RPC messages. It never
// fails: every problem becomes a message carrying an *Error. batch reports
// whether data was a non-empty array, whose answers go back as an array.
// Whole-message problems (bad JSON, an empty array, a scalar) yield exactly
// one message and batch false.
func decode(data []byte) (msgs []message, batch bool) {
	if !utf8.Valid(data) {
		return []message{{err: parseError("message is not valid UTF-8")}}, false
	}
	if !json.Valid(data) {
		return []message{{err: parseError("invalid JSON")}}, false
	}
	switch firstByte(data) {
	case '{':
		return []message{decodeOne(data)}, false
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil {
			return []message{{err: parseError("invalid JSON")}}, false
		}
		if len(elems) == 0 {
			return []message{{err: invalidRequest("empty batch")}}, false
		}
		msgs = make([]message, 0, len(elems))
		for _, e := range elems {
			msgs = append(msgs, decodeOne(e))
		}
		return msgs, true
	default:
		return []message{{err: invalidRequest("message must be an object or an array")}}, false
	}
}

// decodeOne decodes one request object. raw is valid JSON.
func decodeOne(raw []byte) message {
	if firstByte(raw) != '{' {
		return message{err: invalidRequest("request must be an object")}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return message{err: invalidRequest("request must be an object")}
	}
	var m message
	if id, ok := fields["id"]; ok {
		if !validID(id) {
			m.err = invalidRequest("id must be a string, a number or null")
			return m
		}
		m.req.id = id
	}
	var v string
	if ver, ok := fields["jsonrpc"]; !ok || firstByte(ver) != '"' || json.Unmarshal(ver, &v) != nil || v != version {
		m.err = invalidRequest(`jsonrpc must be "2.0"`)
		return m
	}
	method, ok := fields["method"]
	if !ok || firstByte(method) != '"' || json.Unmarshal(method, &m.req.method) != nil || m.req.method == "" {
		m.err = invalidRequest("method must be a non-empty string")
		return m
	}
	if params, ok := fields["params"]; ok {
		if b := firstByte(params); b != '{' && b != '[' {
			m.err = invalidRequest("params must be an object or an array")
			return m
		}
		m.req.params = params
	}
	return m
}

// validID reports whether raw (valid JSON) is a string, a number or null.
func validID(raw json.RawMessage) bool {
	switch b := firstByte(raw); {
	case b == '"', b == '-', b >= '0' && b <= '9':
		return true
	default:
		return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	}
}

// firstByte returns the first non-whitespace byte of data, or 0.
func firstByte(data []byte) byte {
	for _, b := range data {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		default:
			return b
		}
	}
	return 0
}

type resultResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result"`
}

type errorResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   *Error          `json:"error"`
}

type notification struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  any    `json:"params,omitempty"`
}

// encodeResult encodes a success response; a nil id encodes as null.
func encodeResult(id json.RawMessage, result any) ([]byte, error) {
	return marshal(resultResponse{JSONRPC: version, ID: id, Result: result})
}

// encodeError encodes an error response. If e's Data cannot be encoded, the
// answer is a generic internal error instead.
func encodeError(id json.RawMessage, e *Error) []byte {
	b, err := marshal(errorResponse{JSONRPC: version, ID: id, Error: e})
	if err != nil {
		// Only Data can fail; the fallback has none and always encodes.
		b, _ = marshal(errorResponse{JSONRPC: version, ID: id, Error: internalError()})
	}
	return b
}

// encodeNotification encodes a server-to-client notification.
func encodeNotification(method string, params any) ([]byte, error) {
	return marshal(notification{JSONRPC: version, Method: method, Params: params})
}

// encodeBatch joins encoded responses into one JSON array.
func encodeBatch(parts [][]byte) []byte {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, p := range parts {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(p)
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

// marshal encodes v without HTML escaping, so ids are echoed byte for byte.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
