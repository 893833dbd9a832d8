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
		WSConns: func() int { return 2 },
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
