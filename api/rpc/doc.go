// Package rpc is the transport of posbridge's local WebSocket API: JSON-RPC
// 2.0 over WebSocket (github.com/gorilla/websocket), with the localhost
// security rules around it. It knows nothing about payments; the agent plugs
// a Handler into a Server and mounts Server.ServeHTTP at /v1/ws.
//
// # Admission
//
// Every request (the WebSocket upgrade, and through Server.Guard the other
// local endpoints) must have a loopback Host (localhost, 127.0.0.0/8 or
// [::1], any port) or one listed in Config.AllowedHosts, which defeats DNS
// rebinding; and an Origin, when present, listed in Config.AllowedOrigins or
// equal to the server's own loopback origin (the embedded console). Otherwise
// the answer is 403. The upgrade then needs a token from Config.Tokens, either
// as "Authorization: Bearer TOKEN" (native clients) or, for browsers, as the
// subprotocol pair "posbridge.v1, bearer.TOKEN"; the upgrade answers with the
// subprotocol "posbridge.v1" and never echoes the token. A missing or wrong
// token is answered 401. Tokens are compared in constant time.
//
// # Messages
//
// Each WebSocket text message holds one JSON-RPC 2.0 request object or a
// batch (a non-empty array of them):
//
//	{"jsonrpc":"2.0","id":1,"method":"payment.get","params":{"merchant_order_no":"A1"}}
//
// "jsonrpc" must be "2.0"; "method" a non-empty string; "params", if present,
// an object or an array; "id" a string, a number or null, and it is echoed
// back byte for byte. A request without "id" is a notification: it is
// executed and never answered. Answers are
//
//	{"jsonrpc":"2.0","id":1,"result":{...}}
//	{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"...","data":{"field":"amount"}}}
//
// and a batch is answered by one array holding the answers of its
// non-notification members (nothing at all when they are all notifications).
//
// Errors: -32700 for a message that is not UTF-8 JSON (id null; the
// connection stays usable); -32600 for an empty batch, a message that is not
// an object or array, a malformed request object, or a binary message;
// -32601 for an unknown method and -32602 for invalid params (data.field),
// both returned by the Handler through MethodNotFound and InvalidParams;
// -32603 for any other handler failure, whose detail is logged and never
// sent. Application codes (-32000..-32099, 1000 and up) are the Handler's.
//
// The server sends notifications (no "id") with Conn.Notify, e.g.
//
//	{"jsonrpc":"2.0","method":"payment.updated","params":{...}}
//
// A handler that must not let a notification overtake its answer registers
// the sending with AfterReply: it runs once the answer is queued.
//
// # Connection
//
// Calls from one connection run concurrently, up to 16 at a time; further
// messages are read only as calls finish, so a blocking call (payment.wait)
// never stalls another. Answers may therefore arrive out of order; match
// them by id. Every connection has one reader and one writer goroutine;
// answers, notifications and pings all pass through a bounded send queue
// (Config.SendQueue), and a client that does not drain it is closed with 1008
// (policy violation) rather than slow the agent down. A message larger than
// Config.ReadLimit (64 KiB) closes the connection with 1009 (message too
// big). The server pings every Config.PingInterval and drops a peer silent for
// Config.PongWait. Server.Shutdown closes every connection with 1001 (going
// away).
//
// # Lifetime
//
// The server makes no context of its own: a connection's calls run under a
// context with the values of the upgrade request's context, which ends when
// the connection ends. When the request's context ends (for an http.Server,
// its BaseContext, which the owner ties to the server's run), the connection
// is closed with 1001 and then its calls' contexts are cancelled, as
// Server.Shutdown does; closing first means a call that ends by the
// cancellation sends no answer, and the client looks its outcome up.
//
// Calls are logged at debug level with method, duration and error code, never
// with their params, which may carry card data. The server adds
// component=rpc to the logger it is given.
package rpc
