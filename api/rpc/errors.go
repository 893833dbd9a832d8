package rpc

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrClosed is returned when a message is sent on a connection that has
	// ended or is ending, including one closed because its send queue was full.
	ErrClosed = errors.New("connection closed")
)

// JSON-RPC 2.0 error codes defined by the specification. Handlers choose their
// own application codes in -32000..-32099 and 1000 and up.
const (
	// CodeParseError means the message was not valid JSON (or not UTF-8).
	CodeParseError = -32700
	// CodeInvalidRequest means the JSON is not a valid JSON-RPC 2.0 request.
	CodeInvalidRequest = -32600
	// CodeMethodNotFound means the method does not exist.
	CodeMethodNotFound = -32601
	// CodeInvalidParams means the params are invalid; Data names the field.
	CodeInvalidParams = -32602
	// CodeInternalError means the server failed; the detail is only logged.
	CodeInternalError = -32603
)

// Error is a JSON-RPC error object. Codes: -32700 parse, -32600 invalid
// request, -32601 method not found, -32602 invalid params (Data
// {"field": "..."}), -32603 internal; application codes are chosen by the
// handler (range -32000..-32099 and 1000+).
//
// A Handler returns an *Error (possibly wrapped) to send it to the client as
// is; any other error becomes a generic -32603.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("json-rpc error %d: %s", e.Code, e.Message)
}

// InvalidParams returns a -32602 error whose Data is {"field": field} and
// whose message names the field too ("description: contains ..."), so that
// a client logging only the message still knows where the problem is.
func InvalidParams(field, msg string) *Error {
	if msg == "" {
		msg = "invalid params"
	}
	if field != "" {
		msg = field + ": " + msg
	}
	return &Error{Code: CodeInvalidParams, Message: msg, Data: map[string]string{"field": field}}
}

// MethodNotFound returns a -32601 error naming the method.
func MethodNotFound(method string) *Error {
	return &Error{Code: CodeMethodNotFound, Message: "method not found: " + method}
}

// internalError is the generic answer to a handler failure; the detail is
// logged, never sent.
func internalError() *Error {
	return &Error{Code: CodeInternalError, Message: "internal error"}
}

func parseError(detail string) *Error {
	return &Error{Code: CodeParseError, Message: "parse error: " + detail}
}

func invalidRequest(detail string) *Error {
	return &Error{Code: CodeInvalidRequest, Message: "invalid request: " + detail}
}
