package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
)

// TestOfflineNoticeSaysWhatHappensAndWhen: the notice of a payment waiting
// for an offline terminal names the deadline the agent then keeps, and the
// outcome it announced.
func TestOfflineNoticeSaysWhatHappensAndWhen(t *testing.T) {
	const expires = 2 * time.Second
	tests := []struct {
		name     string
		opts     agenttest.Opts
		deadline func(p agent.Payment) time.Time
		says     []string
		state    string
		code     string
	}{
		{
			name: "fallback possible: withdrawn after the offline grace",
			opts: agenttest.Opts{Bindo: true, OfflineGrace: 1500 * time.Millisecond, Expires: 30 * time.Second},
			deadline: func(p agent.Payment) time.Time {
				return p.ExpiresAt.Add(1500*time.Millisecond - 30*time.Second) // sent + offline grace
			},
			says:  []string{"withdrawn at CodePay", "fails with nothing charged", "Bindo fallback", "cancelled until then"},
			state: agent.StateFailed, code: agent.CodeCodePayUnavailable,
		},
		{
			name:     "no fallback: closed as expired",
			opts:     agenttest.Opts{Expires: expires},
			deadline: func(p agent.Payment) time.Time { return p.ExpiresAt.Add(5 * time.Second) },
			says:     []string{"waits for it", "closed at CodePay", "ends expired with nothing charged", "cancelled until then"},
			state:    agent.StateExpired, code: "expired",
		},
		{
			name:     "fallback possible but the order expires first",
			opts:     agenttest.Opts{Bindo: true, OfflineGrace: time.Minute, Expires: expires},
			deadline: func(p agent.Payment) time.Time { return p.ExpiresAt.Add(5 * time.Second) },
			says:     []string{"ends expired with nothing charged"},
			state:    agent.StateExpired, code: "expired",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.ProbeInterval = -1
			e := agenttest.New(t, tc.opts)
			e.MustCreate(e.Sale("OFFN", agenttest.TermOff, "9.00"))
			e.MustCreate(e.Sale("OFFQ", agenttest.TermOff, "1.00"))
			e.WaitState("OFFN", agent.StateOnTerminal)
			p, err := e.Agent.Get(context.Background(), "OFFN")
			if err != nil {
				t.Fatal(err)
			}
			deadline := tc.deadline(p)
			when := deadline.Local().Format("15:04:05 MST")
			for _, want := range append([]string{"Terminal " + agenttest.TermOff + " is offline", "by " + when}, tc.says...) {
				if !strings.Contains(p.Notice, want) {
					t.Errorf("notice %q lacks %q", p.Notice, want)
				}
			}
			if strings.Contains(p.Notice, "until it is back") {
				t.Errorf("notice %q promises to wait until the terminal is back", p.Notice)
			}
			if q, _ := e.Agent.Get(context.Background(), "OFFQ"); q.State != agent.StateQueued || !strings.Contains(q.Notice, "waits in the terminal's queue") {
				t.Errorf("queued payment behind it: %s %q", q.State, q.Notice)
			}
			got := e.WaitFinal("OFFN")
			if got.State != tc.state || got.Error == nil || got.Error.Code != tc.code || got.Notice != "" {
				t.Fatalf("final payment = %s %+v notice %q, want %s %s", got.State, got.Error, got.Notice, tc.state, tc.code)
			}
			if tc.code == agent.CodeCodePayUnavailable && got.Error.Fallback != "native" {
				t.Errorf("withdrawn payment has no fallback hint: %+v", got.Error)
			}
			// It ended when announced: not before the deadline (to the
			// second shown) — for expiry, CodePay may end it at expires_at.
			earliest := deadline.Truncate(time.Second)
			if tc.state == agent.StateExpired {
				earliest = got.ExpiresAt.Truncate(time.Second)
			}
			if got.UpdatedAt.Before(earliest) {
				t.Errorf("payment ended at %s, before the announced %s", got.UpdatedAt, when)
			}
		})
	}
}
