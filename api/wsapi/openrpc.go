package wsapi

import (
	"bytes"
	_ "embed"
)

// openRPC is the OpenRPC 1.3 description of the API, written by hand next
// to the code it describes; openrpc_test.go holds it to the implementation
// (methods, params, results, error codes, notifications and examples).
//
//go:embed openrpc.json
var openRPC []byte

// OpenRPC returns the OpenRPC document of the WebSocket API (served at
// /v1/openrpc.json): every method of the API with its params, result and
// errors, and the server's notifications under the extension member
// x-notifications (OpenRPC 1.x has no notifications). The caller owns the
// returned slice.
func OpenRPC() []byte { return bytes.Clone(openRPC) }
