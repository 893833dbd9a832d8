// Package metrics exposes posbridge's Prometheus metrics at /metrics:
// payments by state and route, per-terminal queue depth, online and busy
// state, whether CodePay can be reached, provider call latency by method,
// reconciliations, ECR frame errors and WebSocket connections.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/store"
)

// Source provides the values read at scrape time.
type Source struct {
	Terminals     func() []device.Status
	CountPayments func(ctx context.Context) ([]store.StateRouteCount, error)
	// CountOpenAlerts counts the payments whose alert no one has marked
	// handled yet.
	CountOpenAlerts func(ctx context.Context) (int, error)
	WSConns         func() int
	// CodePay is whether the agent's calls reach CodePay.
	CodePay func() device.CodePayLink
}

// Metrics holds posbridge's collectors in their own registry.
type Metrics struct {
	reg             *prometheus.Registry
	transitions     *prometheus.CounterVec
	reconciliations prometheus.Counter
	cloud           *prometheus.HistogramVec
	ecrFrameErrors  *prometheus.CounterVec
}

// New builds the registry with the Go and process collectors.
func New(src Source) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posbridge_payment_transitions_total", Help: "Committed payment state changes, by new state and route.",
		}, []string{"state", "route"}),
		reconciliations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "posbridge_reconciliations_total", Help: "Payments whose outcome had to be established by query.",
		}),
		cloud: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "posbridge_cloud_request_duration_seconds", Help: "Provider API call latency by provider, method and outcome.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20},
		}, []string{"provider", "method", "outcome"}),
		ecrFrameErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posbridge_ecr_frame_errors_total", Help: "ECR link errors (bad CRC, NAKs, transmission failures), by port and kind.",
		}, []string{"port", "kind"}),
	}
	m.reg.MustRegister(m.transitions, m.reconciliations, m.cloud, m.ecrFrameErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&scrape{src: src})
	return m
}

// PaymentState counts a committed transition (agent.Metrics).
func (m *Metrics) PaymentState(state, route string) {
	m.transitions.WithLabelValues(state, route).Inc()
}

// Reconciliation counts a reconciliation (agent.Metrics).
func (m *Metrics) Reconciliation() { m.reconciliations.Inc() }

// ObserveCloud returns a callback for a provider client's Observe hook.
func (m *Metrics) ObserveCloud(provider string) func(method string, d time.Duration, err error) {
	return func(method string, d time.Duration, err error) {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		m.cloud.WithLabelValues(provider, method, outcome).Observe(d.Seconds())
	}
}

// ECRFrameError counts one ECR link error.
func (m *Metrics) ECRFrameError(port, kind string) {
	m.ecrFrameErrors.WithLabelValues(port, kind).Inc()
}

// Handler serves the metrics in Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

var (
	descPayments = prometheus.NewDesc("posbridge_payments", "Payments in the journal by state and route.", []string{"state", "route"}, nil)
	descQueue    = prometheus.NewDesc("posbridge_terminal_queue_depth", "Payments waiting in a terminal's queue.", []string{"terminal"}, nil)
	descOnline   = prometheus.NewDesc("posbridge_terminal_online", "1 when CodePay last reported the terminal online.", []string{"terminal"}, nil)
	descBusy     = prometheus.NewDesc("posbridge_terminal_busy", "1 while a payment is on the terminal.", []string{"terminal"}, nil)
	descWS       = prometheus.NewDesc("posbridge_websocket_connections", "Open WebSocket API connections.", nil, nil)
	descAlerts   = prometheus.NewDesc("posbridge_payment_alerts_open", "Payments with an alert no one has marked handled (alert.list): a person must act on each.", nil, nil)

	descCPReachable   = prometheus.NewDesc("posbridge_codepay_reachable", "1 when the last CodePay call got a trusted answer, 0 when it failed; absent until the first call.", nil, nil)
	descCPFailures    = prometheus.NewDesc("posbridge_codepay_consecutive_failures", "CodePay calls failed in a row since the last trusted answer.", nil, nil)
	descCPLastSuccess = prometheus.NewDesc("posbridge_codepay_last_success_timestamp_seconds", "Unix time of the last trusted CodePay answer; 0 before the first.", nil, nil)
)

// scrape collects the values read at scrape time.
type scrape struct{ src Source }

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPayments, descAlerts, descQueue, descOnline, descBusy, descWS, descCPReachable, descCPFailures, descCPLastSuccess} {
		ch <- d
	}
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	if s.src.CountPayments != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		counts, err := s.src.CountPayments(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descPayments, errors.New("count payments: "+err.Error()))
		}
		for _, c := range counts {
			ch <- prometheus.MustNewConstMetric(descPayments, prometheus.GaugeValue, float64(c.Count), c.State, c.Route)
		}
	}
	if s.src.CountOpenAlerts != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := s.src.CountOpenAlerts(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descAlerts, errors.New("count open alerts: "+err.Error()))
		} else {
			ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.GaugeValue, float64(n))
		}
	}
	if s.src.Terminals != nil {
		for _, t := range s.src.Terminals() {
			ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(t.QueueDepth), t.SN)
			ch <- prometheus.MustNewConstMetric(descOnline, prometheus.GaugeValue, b2f(t.Online), t.SN)
			ch <- prometheus.MustNewConstMetric(descBusy, prometheus.GaugeValue, b2f(t.Busy), t.SN)
		}
	}
	if s.src.WSConns != nil {
		ch <- prometheus.MustNewConstMetric(descWS, prometheus.GaugeValue, float64(s.src.WSConns()))
	}
	if s.src.CodePay != nil {
		l := s.src.CodePay()
		if l.Known {
			ch <- prometheus.MustNewConstMetric(descCPReachable, prometheus.GaugeValue, b2f(l.Reachable))
		}
		ch <- prometheus.MustNewConstMetric(descCPFailures, prometheus.GaugeValue, float64(l.ConsecutiveFailures))
		last := 0.0
		if !l.LastSuccessAt.IsZero() {
			last = float64(l.LastSuccessAt.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(descCPLastSuccess, prometheus.GaugeValue, last)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
