// Package server assembles posbridge's HTTP listener: the WebSocket API at
// /v1/ws and its OpenRPC description at /v1/openrpc.json, /healthz, /readyz
// and the optional CodePay notification hook, all behind the loopback Host
// and Origin checks except the provider hook, which is authenticated by the
// provider's signature instead.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/idpay"
	"github.com/posbridge/posbridge/device"
)

// NotificationParser verifies and decodes a CodePay notification.
type NotificationParser interface {
	ParseNotification(body []byte, contentType string) (*codepay.Order, error)
}

// IDPayCallbacks verifies and decodes a VA/QRIS gateway callback
// (*idpay.Client).
type IDPayCallbacks interface {
	ParseCallback(body []byte, contentType string) (*idpay.Callback, error)
}

// BindoLinkWebhooks verifies and decodes the webhook of a Bindo
// pre-created order, a payment link (*bindo.Client).
type BindoLinkWebhooks interface {
	ParseLinkWebhook(header http.Header, body []byte) (*bindo.Transaction, error)
}

// Config holds what the listener serves.
type Config struct {
	Agent *agent.Agent
	RPC   *rpc.Server
	// Notifications, when non-nil, enables POST /hooks/codepay.
	Notifications NotificationParser
	// BindoWebhookSecret, when set, enables POST /hooks/bindo: Bindo webhooks
	// checked by their X-SIGNATURE HMAC-SHA256 over the raw body.
	BindoWebhookSecret []byte
	// BindoLinks, when non-nil, makes /hooks/bindo take the webhooks of the
	// journal's Bindo payment links too, verified again by ParseLinkWebhook
	// (signature, the store's X-APP-ID, a sale with its uuid).
	BindoLinks BindoLinkWebhooks
	// IDPay, when non-nil, enables POST /hooks/idpay: the VA/QRIS gateway's
	// form-encoded callbacks, verified with the platform key.
	IDPay IDPayCallbacks
	// Console, when non-nil, is the web console served at / (behind the
	// Host/Origin guard; it authenticates its API calls with the token).
	Console http.Handler
	// Metrics, when non-nil, is served at /metrics (behind the guard).
	Metrics http.Handler
	// Ready reports why the agent is not ready (nil when it is).
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
}

// Handler returns the HTTP handler for the agent's listener. Every request
// body is capped at MaxBodyBytes; serve it with NewHTTPServer for the time
// limits.
func Handler(cfg Config) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/ws", cfg.RPC)
	mux.Handle("GET /v1/openrpc.json", cfg.RPC.Guard(openRPC(wsapi.OpenRPC())))
	mux.Handle("GET /healthz", cfg.RPC.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})))
	mux.Handle("GET /readyz", cfg.RPC.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if cfg.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			defer cancel()
			if err := cfg.Ready(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, "not ready: "+err.Error()+"\n")
				return
			}
		}
		io.WriteString(w, "ready\n")
	})))
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.RPC.Guard(cfg.Metrics))
	}
	if cfg.Console != nil {
		mux.Handle("/", cfg.RPC.Guard(cfg.Console))
	}
	if cfg.Notifications != nil {
		mux.HandleFunc("POST /hooks/codepay", func(w http.ResponseWriter, r *http.Request) {
			body, ok := readBody(w, r, log)
			if !ok {
				return
			}
			o, err := cfg.Notifications.ParseNotification(body, r.Header.Get("Content-Type"))
			if err != nil {
				log.Warn("codepay notification refused", "err", err, "remote", r.RemoteAddr)
				http.Error(w, "invalid notification", http.StatusBadRequest)
				return
			}
			// Answer within CodePay's 5 s: apply with a bound, polling is the safety net.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 3*time.Second)
			defer cancel()
			if err := cfg.Agent.ApplyNotification(ctx, o); err != nil {
				if errors.Is(err, agent.ErrNotificationRejected) {
					log.Warn("codepay notification rejected", "err", err, "remote", r.RemoteAddr)
					http.Error(w, "notification rejected: not a matching payment of this installation", http.StatusUnprocessableEntity)
					return
				}
				log.Error("apply codepay notification", "merchant_order_no", o.MerchantOrderNo, "err", err)
				http.Error(w, "retry later", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "success")
		})
	}
	if len(cfg.BindoWebhookSecret) > 0 {
		mux.HandleFunc("POST /hooks/bindo", bindoHook(cfg, log))
	}
	if cfg.IDPay != nil {
		mux.HandleFunc("POST /hooks/idpay", idpayHook(cfg, log))
	}
	return limitBodies(mux)
}

// openRPC serves the OpenRPC description of the WebSocket API (doc). It
// describes the API only and carries nothing of the installation, so like
// /healthz it needs no token; the Host and Origin checks apply (Guard).
func openRPC(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(doc)
	})
}

// bindoHook serves Bindo's webhooks: verified (401 for a bad signature or
// another store's APP-ID, 400 for an unreadable body), bound to a payment of
// this journal with the same amount and currency (422 otherwise), then only a
// hint: the agent confirms by query. A webhook whose uuid is one of the
// journal's Bindo payment links (cfg.BindoLinks) is verified again as a
// link's and handed to ApplyBindoLinkWebhook; the others are card
// transactions (ApplyBindoWebhook).
func bindoHook(cfg Config, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, log)
		if !ok {
			return
		}
		if err := bindo.VerifyWebhook(cfg.BindoWebhookSecret, body, r.Header.Get("X-SIGNATURE")); err != nil {
			log.Warn("bindo webhook refused", "err", err, "remote", r.RemoteAddr)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		tx, err := bindo.ParseWebhook(body)
		if err != nil {
			log.Warn("bindo webhook unreadable", "err", err)
			http.Error(w, "invalid webhook", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 3*time.Second)
		defer cancel()
		apply, what := cfg.Agent.ApplyBindoWebhook, "bindo webhook"
		if cfg.BindoLinks != nil {
			link, err := cfg.Agent.IsBindoLink(ctx, tx.UUID)
			if err != nil {
				log.Error("look up bindo webhook", "err", err)
				http.Error(w, "retry later", http.StatusServiceUnavailable)
				return
			}
			if link {
				if tx, err = cfg.BindoLinks.ParseLinkWebhook(r.Header, body); err != nil {
					log.Warn("bindo link webhook refused", "err", err, "remote", r.RemoteAddr)
					code, msg := http.StatusBadRequest, "invalid webhook"
					if errors.Is(err, bindo.ErrBadSignature) {
						code, msg = http.StatusUnauthorized, "invalid signature"
					}
					http.Error(w, msg, code)
					return
				}
				apply, what = cfg.Agent.ApplyBindoLinkWebhook, "bindo link webhook"
			}
		}
		if err := apply(ctx, tx); err != nil {
			if errors.Is(err, agent.ErrNotificationRejected) {
				log.Warn(what+" rejected", "err", err, "remote", r.RemoteAddr)
				http.Error(w, "webhook rejected: not a matching payment of this installation", http.StatusUnprocessableEntity)
				return
			}
			log.Error("apply "+what, "err", err)
			http.Error(w, "retry later", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "success")
	}
}

// idpayHook serves the VA/QRIS gateway's callbacks: verified (400 when the
// signature, the body or the merchant is wrong), bound to a va payment of
// this journal with the same amount (422 otherwise), then only a hint: the
// agent confirms by query. Accepted and repeated callbacks are answered
// with the string SUCCESS (idpay.CallbackAck), as the gateway requires.
func idpayHook(cfg Config, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, log)
		if !ok {
			return
		}
		cb, err := cfg.IDPay.ParseCallback(body, r.Header.Get("Content-Type"))
		if err != nil {
			log.Warn("idpay callback refused", "err", err, "remote", r.RemoteAddr)
			http.Error(w, "invalid callback", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 3*time.Second)
		defer cancel()
		if err := cfg.Agent.ApplyIDPayCallback(ctx, cb); err != nil {
			if errors.Is(err, agent.ErrNotificationRejected) {
				log.Warn("idpay callback rejected", "err", err, "remote", r.RemoteAddr)
				http.Error(w, "callback rejected: not a matching payment of this installation", http.StatusUnprocessableEntity)
				return
			}
			log.Error("apply idpay callback", "merchant_order_no", cb.OrderNo, "err", err)
			http.Error(w, "retry later", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, idpay.CallbackAck)
	}
}

// CodePayReady is the CodePay part of /readyz, from the agent's own calls
// (every call records whether it reached CodePay, and the agent probes when
// idle, so the answer is never older than its probe interval): not ready
// while the last call failed, with since when and why. Before the agent's
// first call it probes once, bounded by ctx.
func CodePayReady(ctx context.Context, a *agent.Agent) error {
	l := a.CodePayStatus()
	if !l.Known {
		_ = a.ProbeCodePay(ctx) // recorded; the state below says how it went
		l = a.CodePayStatus()
	}
	return codePayReadiness(l)
}

// codePayReadiness turns the CodePay link state into /readyz's verdict.
func codePayReadiness(l device.CodePayLink) error {
	if !l.Known {
		return errors.New("CodePay not checked yet: no call has been answered since the start")
	}
	if l.Reachable || l.ConsecutiveFailures == 0 {
		return nil
	}
	last := "never"
	if !l.LastSuccessAt.IsZero() {
		last = l.LastSuccessAt.UTC().Format(time.RFC3339)
	}
	calls := "calls"
	if l.ConsecutiveFailures == 1 {
		calls = "call"
	}
	return fmt.Errorf("CodePay not reachable since %s (%d failed %s in a row, last answer %s): %s",
		l.UnreachableSince.UTC().Format(time.RFC3339), l.ConsecutiveFailures, calls, last, l.LastError)
}
