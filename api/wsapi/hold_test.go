package wsapi

import (
	"fmt"
	"slices"
	"testing"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/device"
)

// recorder is a notifier that records "method order/seq" (or "method sn").
type recorder struct{ got []string }

func (r *recorder) Notify(method string, params any) error {
	switch p := params.(type) {
	case Payment:
		r.got = append(r.got, fmt.Sprintf("%s %s/%d", method, p.MerchantOrderNo, p.Seq))
	case Terminal:
		r.got = append(r.got, method+" "+p.SN)
	default:
		r.got = append(r.got, method)
	}
	return nil
}

// take returns what was delivered since the last take.
func (r *recorder) take() []string {
	got := r.got
	r.got = nil
	return got
}

func pay(no string, seq int64) agent.Event {
	return agent.Event{Payment: &agent.Payment{MerchantOrderNo: no, TerminalSN: "T1", Seq: seq}}
}

func newConnState(topics ...string) *connState {
	st := &connState{owned: map[string]bool{}, topics: map[string]bool{}, creating: map[string]int{}}
	for _, t := range topics {
		st.topics[t] = true
	}
	return st
}

func expect(t *testing.T, r *recorder, step string, want ...string) {
	t.Helper()
	if got := r.take(); !slices.Equal(got, want) {
		t.Errorf("%s: delivered %q, want %q", step, got, want)
	}
}

// TestHeldEventsKeepOrder: events of an order whose create answer is not
// queued wait, everything published after them waits behind them, and the
// release delivers them in publication order.
func TestHeldEventsKeepOrder(t *testing.T) {
	r := &recorder{}
	st := newConnState("payment", "terminal")

	st.offer(r, pay("Y", 1))
	expect(t, r, "nothing held", "payment.updated Y/1")

	st.owned["X"] = true
	st.beginCreate("X")
	st.offer(r, pay("X", 2))
	st.offer(r, pay("Y", 3))
	st.offer(r, agent.Event{Terminal: &device.Status{SN: "T1"}})
	st.offer(r, agent.Event{Batch: &agent.BatchReport{}}) // not subscribed: never held, never sent
	expect(t, r, "create in flight")
	st.endCreate(r, "X")
	expect(t, r, "answer queued", "payment.updated X/2", "payment.updated Y/3", "terminal.updated T1")
	st.offer(r, pay("X", 4))
	expect(t, r, "after the answer", "payment.updated X/4")
	if len(st.held) != 0 || len(st.creating) != 0 {
		t.Errorf("state left behind: held %d, creating %v", len(st.held), st.creating)
	}
}

// TestHeldEventsTwoCreates: with two creates in flight, the head of the
// queue waits for its own answer only, and nothing overtakes it.
func TestHeldEventsTwoCreates(t *testing.T) {
	r := &recorder{}
	st := newConnState("payment")
	st.owned["X"], st.owned["Z"] = true, true
	st.beginCreate("X")
	st.beginCreate("Z")
	st.offer(r, pay("X", 1))
	st.offer(r, pay("Z", 2))
	st.offer(r, pay("Y", 3))
	st.endCreate(r, "Z")
	expect(t, r, "Z answered, X not", nil...)
	st.endCreate(r, "X")
	expect(t, r, "both answered", "payment.updated X/1", "payment.updated Z/2", "payment.updated Y/3")

	// The same order created twice at once waits for both answers.
	st.beginCreate("X")
	st.beginCreate("X")
	st.offer(r, pay("X", 4))
	st.endCreate(r, "X")
	expect(t, r, "one of two answers")
	st.endCreate(r, "X")
	expect(t, r, "both answers", "payment.updated X/4")
}

// TestHeldEventOfFailedCreate: a create that failed gives up an order this
// connection did not own before; its held events are then dropped unless the
// connection subscribed to them.
func TestHeldEventOfFailedCreate(t *testing.T) {
	r := &recorder{}
	st := newConnState()
	st.owned["X"] = true
	st.beginCreate("X")
	st.offer(r, pay("X", 1))
	delete(st.owned, "X") // what create does when Create fails
	st.endCreate(r, "X")
	expect(t, r, "failed create, not subscribed")

	st.topics["payment"] = true
	st.owned["X"] = true
	st.beginCreate("X")
	st.offer(r, pay("X", 2))
	delete(st.owned, "X")
	st.endCreate(r, "X")
	expect(t, r, "failed create, subscribed", "payment.updated X/2")
}

// TestHeldDuringReplay: while an events.subscribe replay is being answered
// every event waits, so the replay reaches the client first.
func TestHeldDuringReplay(t *testing.T) {
	r := &recorder{}
	st := newConnState("payment", "batch")
	st.beginReplay()
	st.offer(r, pay("A", 7))
	st.offer(r, agent.Event{Batch: &agent.BatchReport{}})
	expect(t, r, "replay in flight")
	st.endReplay(r)
	expect(t, r, "replay answered", "payment.updated A/7", "batch.closed")
}
