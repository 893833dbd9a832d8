package rpc

import (
	"context"
	"sync"
)

// replyHooks are the functions a call registered with AfterReply.
type replyHooks struct {
	mu  sync.Mutex
	fns []func()
	ran bool
}

type replyHooksKey struct{}

// withReplyHooks returns the context of one call, which carries its hooks.
func withReplyHooks(ctx context.Context) (context.Context, *replyHooks) {
	h := &replyHooks{}
	return context.WithValue(ctx, replyHooksKey{}, h), h
}

// AfterReply registers fn to run once the answer to the call whose context is
// ctx has been queued on the connection, behind everything queued before it —
// or, when no answer goes out (the call was a notification, or the
// connection closed), once the call has ended. A call in a batch is answered
// with the whole batch. Handlers use it to send their own notifications only
// after the answer: every message queued after fn starts reaches the client
// after the answer, as the connection has a single writer.
//
// fn runs on the call's goroutine and must not block. AfterReply reports
// false, and never calls fn, when ctx is not the context of a call that is
// still running (for example when a handler is called directly in a test);
// the caller must then do itself what fn would have done.
func AfterReply(ctx context.Context, fn func()) bool {
	h, ok := ctx.Value(replyHooksKey{}).(*replyHooks)
	if !ok {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ran {
		return false
	}
	h.fns = append(h.fns, fn)
	return true
}

// run calls the registered functions once, in registration order.
func (h *replyHooks) run() {
	h.mu.Lock()
	fns := h.fns
	h.fns, h.ran = nil, true
	h.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
