package agent

import (
	"fmt"
	"time"

	"github.com/posbridge/posbridge/store"
)

// offlineNotice tells the cashier what will happen to a CodePay payment
// while its terminal is known to be offline, and when. It states the rules
// the worker applies (poll): with the Bindo fallback possible, an order the
// terminal has not taken OfflineGrace after it was sent is withdrawn and the
// payment fails with codepay_unavailable; otherwise the order waits for the
// terminal and is closed as expired closeGrace after expires_at.
func (a *Agent) offlineNotice(p *store.Payment) string {
	if IsFinal(p.State) || p.Route == RouteBindo || isCloudRefund(p) {
		return "" // a cloud refund involves no terminal
	}
	st, err := a.reg.Status(p.TerminalSN)
	if err != nil || !st.OnlineKnown || st.Online {
		return ""
	}
	term := "Terminal " + p.TerminalSN + " is offline"
	switch p.State {
	case StateQueued:
		return term + ". This payment waits in the terminal's queue; when its turn comes it is sent to CodePay to wait for the terminal."
	case StateSending:
		return term + ". The payment is being sent to CodePay, where it waits for the terminal."
	case StateUnknown:
		return term + ". posbridge is confirming with CodePay that the order arrived; it then waits there for the terminal."
	case StateOnTerminal:
	default:
		return term + "."
	}
	if p.TransStatus != "" && p.TransStatus != "9" {
		return "" // the terminal has taken it
	}
	now := a.clock.Now()
	closeAt := p.ExpiresAt.Add(closeGrace)
	if a.fallbackAllowed(optionsOf(p)) {
		if withdrawAt := p.ExpiresAt.Add(a.cfg.OfflineGrace - a.cfg.OrderExpires); withdrawAt.Before(closeAt) {
			if !now.Before(withdrawAt) {
				return fmt.Sprintf("Terminal %s stayed offline past %s: the order is being withdrawn at CodePay, then the payment fails with nothing charged and can be sent again with card data through the Bindo fallback.",
					p.TerminalSN, clockTime(withdrawAt))
			}
			return fmt.Sprintf("%s. If the terminal has not taken the payment by %s, the order is withdrawn at CodePay and the payment fails with nothing charged; it can then be sent again with card data through the Bindo fallback. It can be cancelled until then.",
				term, clockTime(withdrawAt))
		}
	}
	if !now.Before(closeAt) {
		return fmt.Sprintf("Terminal %s did not take the payment by %s: the order is being closed at CodePay and the payment ends expired with nothing charged.",
			p.TerminalSN, clockTime(closeAt))
	}
	return fmt.Sprintf("%s: the payment waits for it. If the terminal has not taken it by %s, the order is closed at CodePay and the payment ends expired with nothing charged. It can be cancelled until then.",
		term, clockTime(closeAt))
}

// clockTime is a deadline as a cashier reads it: the time of day on the
// store PC's clock, with its zone.
func clockTime(t time.Time) string { return t.Local().Format("15:04:05 MST") }
