package rpc

import (
	"context"
	"encoding/json"
	"testing"
)

// TestAfterReply: a hook registered with AfterReply runs once the answer is
// queued, so what it sends arrives after the answer — for a single call, for
// calls in a batch, and for a notification (no answer at all).
func TestAfterReply(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)

	for range 20 { // the order is a guarantee, not a likely outcome
		if got := cl.call(`{"jsonrpc":"2.0","id":1,"method":"after","params":["one"]}`); got != `{"jsonrpc":"2.0","id":1,"result":true}` {
			t.Fatalf("first message = %s, want the answer", got)
		}
		if got := cl.recv(); got != `{"jsonrpc":"2.0","method":"test.after","params":["one"]}` {
			t.Fatalf("second message = %s, want the hook's notification", got)
		}
	}

	got := cl.call(`[{"jsonrpc":"2.0","id":1,"method":"after","params":["a"]},{"jsonrpc":"2.0","id":2,"method":"after","params":["b"]}]`)
	var batch []json.RawMessage
	if err := json.Unmarshal([]byte(got), &batch); err != nil || len(batch) != 2 {
		t.Fatalf("first message after a batch = %s, want the batch answer", got)
	}
	notes := map[string]bool{}
	for range 2 {
		r := parseResponse(t, cl.recv())
		if r.Method != "test.after" {
			t.Fatalf("got %+v, want test.after", r)
		}
		notes[string(r.Params)] = true
	}
	if !notes[`["a"]`] || !notes[`["b"]`] {
		t.Errorf("hook notifications = %v", notes)
	}

	cl.send(`{"jsonrpc":"2.0","method":"after","params":["note"]}`)
	if got := cl.recv(); got != `{"jsonrpc":"2.0","method":"test.after","params":["note"]}` {
		t.Errorf("after a notification call = %s, want the hook's notification", got)
	}

	if AfterReply(context.Background(), func() { t.Error("hook outside a call ran") }) {
		t.Error("AfterReply outside a call = true")
	}
	ctx, hooks := withReplyHooks(context.Background())
	hooks.run()
	if AfterReply(ctx, func() { t.Error("hook registered after the answer ran") }) {
		t.Error("AfterReply after the answer = true")
	}
	hooks.run()
}
