package wsapi

import "github.com/posbridge/posbridge/agent"

// connState is what one connection asked for, and the notifications it
// holds back. Its fields and methods are guarded by API.mu.
type connState struct {
	owned    map[string]bool
	topics   map[string]bool
	terminal string
	// creating counts, per order number, the payment.create calls of this
	// connection whose answer is not queued yet. An event of such an order
	// is held, and every later event with it so that the connection's
	// notifications stay in the order they were published (ascending seq),
	// until the answers are queued: a client always reads the answer to its
	// payment.create before any payment.updated of that order.
	creating map[string]int
	// replaying counts the events.subscribe calls with since whose answer
	// (the replay) is not queued yet; meanwhile every event is held, so the
	// replay reaches the client before the live notifications that follow it.
	replaying int
	held      []agent.Event
}

// notifier is the part of *rpc.Conn that delivers notifications.
type notifier interface {
	Notify(method string, params any) error
}

// notification returns the notification e makes on this connection (its
// params as wire types), and whether the connection wants it. Callers hold
// API.mu.
func (st *connState) notification(e agent.Event) (method string, params any, ok bool) {
	switch {
	case e.Payment != nil:
		p := e.Payment
		if st.owned[p.MerchantOrderNo] || (st.topics["payment"] && (st.terminal == "" || st.terminal == p.TerminalSN)) {
			return notifyPaymentMethod, PaymentFrom(*p), true
		}
	case e.Terminal != nil:
		if st.topics["terminal"] && (st.terminal == "" || st.terminal == e.Terminal.SN) {
			return notifyTermMethod, TerminalFrom(*e.Terminal), true
		}
	case e.Batch != nil:
		if st.topics["batch"] {
			return notifyBatchMethod, BatchReportFrom(*e.Batch), true
		}
	}
	return "", nil, false
}

// mustHold reports whether e has to wait for an answer (see creating and
// replaying).
func (st *connState) mustHold(e agent.Event) bool {
	return st.replaying > 0 || (e.Payment != nil && st.creating[e.Payment.MerchantOrderNo] > 0)
}

// offer delivers e to the connection if it wants it, or holds it behind an
// answer not yet queued (see creating and replaying). Callers hold API.mu.
func (st *connState) offer(c notifier, e agent.Event) {
	method, params, ok := st.notification(e)
	if !ok {
		return
	}
	if len(st.held) > 0 || st.mustHold(e) {
		st.held = append(st.held, e)
		return
	}
	_ = c.Notify(method, params)
}

// beginCreate holds the events of orderNo until endCreate. Callers hold API.mu.
func (st *connState) beginCreate(orderNo string) { st.creating[orderNo]++ }

// endCreate is called once a payment.create answer for orderNo is queued, or
// the call ended without one. Callers hold API.mu.
func (st *connState) endCreate(c notifier, orderNo string) {
	if st.creating[orderNo]--; st.creating[orderNo] <= 0 {
		delete(st.creating, orderNo)
	}
	st.flush(c)
}

// beginReplay holds every event until endReplay. Callers hold API.mu.
func (st *connState) beginReplay() { st.replaying++ }

// endReplay is called once an events.subscribe answer with a replay is
// queued, or the call ended without one. Callers hold API.mu.
func (st *connState) endReplay(c notifier) {
	st.replaying--
	st.flush(c)
}

// flush delivers the held events, in order, up to the first one that still
// waits for an answer. An event is delivered only if the connection still
// wants it (a failed create of an order owned by nobody here gives up the
// order). Callers hold API.mu.
func (st *connState) flush(c notifier) {
	for len(st.held) > 0 && !st.mustHold(st.held[0]) {
		e := st.held[0]
		st.held[0] = agent.Event{}
		st.held = st.held[1:]
		if method, params, ok := st.notification(e); ok {
			_ = c.Notify(method, params)
		}
	}
	if len(st.held) == 0 {
		st.held = nil
	}
}
