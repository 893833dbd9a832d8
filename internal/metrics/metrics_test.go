package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/store"
)

func TestScrape(t *testing.T) {
	m := New(Source{
		Terminals: func() []device.Status {
			return []device.Status{{SN: "T1", Online: true, Busy: true, QueueDepth: 3}, {SN: "T2"}}
		},
		CountPayments: func(context.Context) ([]store.StateRouteCount, error) {
			return []store.StateRouteCount{{State: "approved", Route: "codepay", Count: 7}}, nil
		},
		CountOpenAlerts: func(context.Context) (int, error) { return 3, nil },
		WSConns:         func() int { return 2 },
	})
	m.PaymentState("approved", "codepay")
	m.Reconciliation()
	obs := m.ObserveCloud("codepay")
	obs("order.query", 120*time.Millisecond, nil)
	obs("wisehub.cloud.pay.order", time.Second, errors.New("timeout"))
	m.ECRFrameError("/dev/ttyUSB0", "nak")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	out := string(body)
	for _, want := range []string{
		`posbridge_payments{route="codepay",state="approved"} 7`,
		`posbridge_terminal_queue_depth{terminal="T1"} 3`,
		`posbridge_terminal_online{terminal="T1"} 1`,
		`posbridge_terminal_busy{terminal="T2"} 0`,
		`posbridge_websocket_connections 2`,
		`posbridge_payment_alerts_open 3`,
		`posbridge_payment_transitions_total{route="codepay",state="approved"} 1`,
		`posbridge_reconciliations_total 1`,
		`posbridge_cloud_request_duration_seconds_count{method="order.query",outcome="ok",provider="codepay"} 1`,
		`posbridge_cloud_request_duration_seconds_count{method="wisehub.cloud.pay.order",outcome="error",provider="codepay"} 1`,
		`posbridge_ecr_frame_errors_total{kind="nak",port="/dev/ttyUSB0"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestCodePayGauges(t *testing.T) {
	scrape := func(l device.CodePayLink) string {
		m := New(Source{CodePay: func() device.CodePayLink { return l }})
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	tests := []struct {
		name      string
		link      device.CodePayLink
		want, not []string
	}{
		{"before the first call", device.CodePayLink{},
			[]string{"posbridge_codepay_consecutive_failures 0", "posbridge_codepay_last_success_timestamp_seconds 0"},
			[]string{"posbridge_codepay_reachable "}},
		{"reachable", device.CodePayLink{Known: true, Reachable: true, LastSuccessAt: time.Unix(1700000000, 500e6)},
			[]string{"posbridge_codepay_reachable 1", "posbridge_codepay_consecutive_failures 0", "posbridge_codepay_last_success_timestamp_seconds 1.7000000005e+09"}, nil},
		{"unreachable", device.CodePayLink{Known: true, LastSuccessAt: time.Unix(1700000000, 0), ConsecutiveFailures: 4},
			[]string{"posbridge_codepay_reachable 0", "posbridge_codepay_consecutive_failures 4", "posbridge_codepay_last_success_timestamp_seconds 1.7e+09"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := scrape(tc.link)
			for _, w := range tc.want {
				if !strings.Contains(out, w+"\n") {
					t.Errorf("metrics lack %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("metrics have %q", n)
				}
			}
			if t.Failed() {
				t.Log(out)
			}
		})
	}
}
