package wsapi

import (
	"context"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/api/rpc"
)

// maxHistoryEvents bounds payment.history's answer: the latest events are
// kept, and Omitted counts the earlier ones left out.
const maxHistoryEvents = 500

// PaymentEvent is one entry of a payment's history: what the agent
// journaled about it, in its own words. Details never hold card data.
type PaymentEvent struct {
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"`
	FromState string    `json:"from_state,omitempty"`
	ToState   string    `json:"to_state,omitempty"`
	Detail    string    `json:"detail"`
}

// PaymentHistory is payment.history's result.
type PaymentHistory struct {
	MerchantOrderNo string         `json:"merchant_order_no"`
	Events          []PaymentEvent `json:"events"`
	// Omitted counts the earliest events left out beyond maxHistoryEvents.
	Omitted int `json:"omitted"`
}

// HistoryFrom is the wire form of a payment's journaled events (oldest
// first), the latest maxHistoryEvents of them.
func HistoryFrom(orderNo string, evs []agent.HistoryEvent) PaymentHistory {
	out := PaymentHistory{MerchantOrderNo: orderNo, Events: []PaymentEvent{}}
	if n := len(evs); n > maxHistoryEvents {
		out.Omitted, evs = n-maxHistoryEvents, evs[n-maxHistoryEvents:]
	}
	for _, e := range evs {
		out.Events = append(out.Events, PaymentEvent{At: e.At, Kind: e.Kind, FromState: e.FromState, ToState: e.ToState, Detail: e.Detail})
	}
	return out
}

// history answers payment.history: every event the journal holds about a
// payment, for support (why is it unknown, was a notification seen, what
// did CodePay answer).
func (api *API) history(ctx context.Context, _ *rpc.Conn, p orderParams) (PaymentHistory, error) {
	if err := requireOrderNo(p.MerchantOrderNo); err != nil {
		return PaymentHistory{}, err
	}
	evs, err := api.a.History(ctx, p.MerchantOrderNo)
	if err != nil {
		return PaymentHistory{}, appError(err)
	}
	return HistoryFrom(p.MerchantOrderNo, evs), nil
}
