package bindo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/bindo/bindosim"
	"github.com/posbridge/posbridge/money"
)

const testClientIP = "27.38.213.255"

// hookBox records the webhooks a test receiver got, verbatim.
type hookBox struct {
	mu    sync.Mutex
	hooks []hook
	srv   *httptest.Server
}

type hook struct {
	header http.Header
	body   []byte
}

func newHookBox(t *testing.T) *hookBox {
	b := &hookBox{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBytes))
		b.mu.Lock()
		b.hooks = append(b.hooks, hook{header: r.Header.Clone(), body: body})
		b.mu.Unlock()
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *hookBox) all() []hook {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]hook(nil), b.hooks...)
}

// withLinkHooks configures the client's webhook secret and app id.
func withLinkHooks() envOption {
	return func(_ *bindosim.Config, cc *Config) {
		cc.WebhookSecret, cc.WebhookAppID = testWebhookSecret, bindosim.DefaultAppID
	}
}

func linkReq(order string, minor int64, notify string) PreCreateRequest {
	return PreCreateRequest{UUID: DeriveUUID("link/" + order), MerchantOrderNo: order, Amount: hkd(minor), ClientIP: testClientIP, NotifyURL: notify}
}

// createLink pre-creates an order and checks the link.
func (e *env) createLink(req PreCreateRequest) *PaymentLink {
	e.t.Helper()
	l, err := e.client.PreCreate(context.Background(), req)
	if err != nil {
		e.t.Fatalf("PreCreate: %v", err)
	}
	if l.UUID != req.UUID || l.BRN == "" || !strings.HasPrefix(l.URL, e.srv.URL+"/gateway/v3/payment/precreate/link?X-CLIENT-SECRET=") ||
		l.Transaction.Status != StatusPending || l.Amount != req.Amount {
		e.t.Fatalf("PreCreate = %+v", l)
	}
	return l
}

func (e *env) queryLink(uuid string) *Transaction {
	e.t.Helper()
	tx, err := e.client.QueryPreCreate(context.Background(), uuid)
	if err != nil {
		e.t.Fatalf("QueryPreCreate: %v", err)
	}
	return tx
}

// oneHook runs the emulator's loop and returns the single webhook received,
// authenticated and parsed by the client.
func (e *env) oneHook(box *hookBox) *Transaction {
	e.t.Helper()
	e.sim.RunDue(context.Background())
	hooks := box.all()
	if len(hooks) != 1 {
		e.t.Fatalf("%d webhooks, want 1", len(hooks))
	}
	tx, err := e.client.ParseLinkWebhook(hooks[0].header, hooks[0].body)
	if err != nil {
		e.t.Fatalf("ParseLinkWebhook: %v", err)
	}
	return tx
}

func TestPreCreatePaid(t *testing.T) {
	e := newEnv(t, withLinkHooks())
	box := newHookBox(t)
	start := e.clock.Now()
	l := e.createLink(linkReq("L-PAY", 200, box.srv.URL+"/hooks/bindo"))
	if !l.ExpiresAt.Equal(start.Add(MaxLinkLifetime)) {
		t.Errorf("ExpiresAt = %v, want the default 15 minutes after %v", l.ExpiresAt, start)
	}
	// The hosted page stand-in serves the order behind the link.
	resp, err := e.srv.Client().Get(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte(l.UUID)) {
		t.Fatalf("payment page: HTTP %d %s", resp.StatusCode, page)
	}
	if q := e.queryLink(l.UUID); q.Status != StatusPending || q.PayURL != l.URL {
		t.Fatalf("query before payment = %+v", q)
	}
	if err := e.sim.ActOnLink(l.UUID, bindosim.LinkPay, ""); err != nil {
		t.Fatal(err)
	}
	q := e.queryLink(l.UUID)
	if q.Status != StatusApproved || !q.Final || *q.Amount != 200 || q.MaskedPAN != "411111******1111" || l.Check(q) != nil {
		t.Fatalf("query after payment = %+v", q)
	}
	hk := e.oneHook(box)
	if hk.Status != StatusApproved || l.Check(hk) != nil || hk.PayURL != l.URL {
		t.Fatalf("webhook = %+v", hk)
	}
	if err := e.sim.ActOnLink(l.UUID, bindosim.LinkPay, ""); !errors.Is(err, bindosim.ErrLinkFinal) {
		t.Fatalf("second payment = %v, want ErrLinkFinal (a pre-created order is paid once)", err)
	}
}

func TestPreCreateDeclined(t *testing.T) {
	e := newEnv(t, withLinkHooks())
	box := newHookBox(t)
	l := e.createLink(linkReq("L-DECL", 300, box.srv.URL+"/hooks/bindo"))
	if err := e.sim.ActOnLink(l.UUID, bindosim.LinkDecline, CodeInsufficientFunds); err != nil {
		t.Fatal(err)
	}
	if q := e.queryLink(l.UUID); q.Status != StatusDeclined || q.ErrorCode != CodeInsufficientFunds {
		t.Fatalf("query = %+v", q)
	}
	if hk := e.oneHook(box); hk.Status != StatusDeclined {
		t.Fatalf("webhook = %+v", hk)
	}
}

func TestPreCreateAbandonedThenExpires(t *testing.T) {
	e := newEnv(t, withLinkHooks())
	box := newHookBox(t)
	l := e.createLink(linkReq("L-ABANDON", 400, box.srv.URL+"/hooks/bindo"))
	if err := e.sim.ActOnLink(l.UUID, bindosim.LinkAbandon, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(MaxLinkLifetime - time.Second)
	e.sim.RunDue(context.Background())
	if q := e.queryLink(l.UUID); q.Status != StatusPending || len(box.all()) != 0 {
		t.Fatalf("abandoned link before expiry = %+v (%d webhooks); want pending, no webhook", q, len(box.all()))
	}
	if v, _ := e.sim.Transaction(l.UUID); !v.Abandoned {
		t.Errorf("emulator view does not record the abandonment: %+v", v)
	}
	e.clock.Advance(time.Second)
	q := e.queryLink(l.UUID)
	if q.Status != StatusFailed || !q.Final || q.ErrorCode != CodeTimeoutPayFailed {
		t.Fatalf("abandoned link after expiry = %+v, want failed 110010", q)
	}
	if hk := e.oneHook(box); hk.ErrorCode != CodeTimeoutPayFailed {
		t.Fatalf("webhook = %+v", hk)
	}
}

func TestPreCreateExpired(t *testing.T) {
	e := newEnv(t, withLinkHooks())
	box := newHookBox(t)
	req := linkReq("L-EXP", 500, box.srv.URL+"/hooks/bindo")
	req.ExpiresAt = e.clock.Now().Add(5*time.Minute + 700*time.Millisecond)
	l := e.createLink(req)
	if want := req.ExpiresAt.Truncate(time.Second); !l.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", l.ExpiresAt, want)
	}
	e.clock.Advance(5 * time.Minute)
	if q := e.queryLink(l.UUID); q.Status != StatusFailed || q.ErrorCode != CodeTimeoutPayFailed {
		t.Fatalf("query after txn_exp_at = %+v", q)
	}
	if err := e.sim.ActOnLink(l.UUID, bindosim.LinkPay, ""); !errors.Is(err, bindosim.ErrLinkFinal) {
		t.Fatalf("payment after expiry = %v, want ErrLinkFinal", err)
	}
	if hk := e.oneHook(box); hk.Status != StatusFailed {
		t.Fatalf("webhook = %+v", hk)
	}

	// The admin "link expires" action ends a link early.
	l2 := e.createLink(linkReq("L-EXP2", 600, ""))
	if err := e.sim.ActOnLink(l2.UUID, bindosim.LinkExpire, ""); err != nil {
		t.Fatal(err)
	}
	if q := e.queryLink(l2.UUID); q.ErrorCode != CodeTimeoutPayFailed {
		t.Fatalf("query after expire action = %+v", q)
	}
}

func TestPreCreateUnknownOutcome(t *testing.T) {
	e := newEnv(t)
	req := linkReq("L-LOST", 700, "")
	e.sim.InjectFault(bindosim.Fault{Op: bindosim.OpPreCreate, Kind: bindosim.FaultDropAfterProcess})
	_, err := e.client.PreCreate(context.Background(), req)
	if !errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrNotSent) {
		t.Fatalf("PreCreate with the answer lost = %v, want ErrUnknownOutcome", err)
	}
	q := e.queryLink(req.UUID)
	if q.Status != StatusPending || q.PayURL == "" {
		t.Fatalf("query finds %+v, want the pending order with its link", q)
	}
	// Sending the same request again gives the same order, not a second one.
	l, err := e.client.PreCreate(context.Background(), req)
	if err != nil || l.URL != q.PayURL || l.BRN != q.BRN {
		t.Fatalf("resend = %+v, %v; want the same order", l, err)
	}
	if n := len(e.sim.Transactions()); n != 1 {
		t.Fatalf("%d transactions, want 1", n)
	}
}

func TestPreCreateForgedWebhook(t *testing.T) {
	e := newEnv(t, withLinkHooks())
	box := newHookBox(t)
	l := e.createLink(linkReq("L-FORGE", 800, box.srv.URL+"/hooks/bindo"))
	if err := e.sim.ActOnLink(l.UUID, bindosim.LinkPay, ""); err != nil {
		t.Fatal(err)
	}
	e.sim.RunDue(context.Background())
	good := box.all()[0]
	header := func(sig, app string) http.Header {
		h := http.Header{}
		h.Set(HeaderSignature, sig)
		h.Set(HeaderAppID, app)
		return h
	}
	tampered := bytes.Replace(good.body, []byte(`"8"`), []byte(`"0.08"`), 1)
	other := newEnv(t) // a client without a webhook secret
	tests := []struct {
		name   string
		client *Client
		h      http.Header
		body   []byte
	}{
		{"signed with another secret", e.client, header(bindosim.Sign([]byte("attacker"), good.body, bindosim.EncodingHex), bindosim.DefaultAppID), good.body},
		{"tampered body", e.client, good.header, tampered},
		{"no signature", e.client, header("", bindosim.DefaultAppID), good.body},
		{"another store's app id", e.client, header(good.header.Get(HeaderSignature), "other-app"), good.body},
		{"no secret configured", other.client, good.header, good.body},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tx, err := tc.client.ParseLinkWebhook(tc.h, tc.body); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("ParseLinkWebhook = %+v, %v; want ErrBadSignature", tx, err)
			}
		})
	}
	if _, err := e.client.ParseLinkWebhook(good.header, good.body); err != nil {
		t.Fatalf("genuine webhook refused: %v", err)
	}
	// A genuine webhook of another order does not pass for this link.
	l2 := e.createLink(linkReq("L-FORGE2", 900, ""))
	tx, _ := e.client.ParseLinkWebhook(good.header, good.body)
	if err := l2.Check(tx); !errors.Is(err, ErrLinkMismatch) {
		t.Fatalf("Check(other order's webhook) = %v, want ErrLinkMismatch", err)
	}
}

func TestPreCreateBadInput(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	tests := []struct {
		name  string
		edit  func(*PreCreateRequest)
		field string
	}{
		{"amount with too many decimals", func(r *PreCreateRequest) { r.Amount.Currency.Exponent = 3 }, "currency"},
		{"zero amount", func(r *PreCreateRequest) { r.Amount.Minor = 0 }, "amount"},
		{"unknown currency", func(r *PreCreateRequest) { r.Amount.Currency = money.Currency{Code: "XXY", Exponent: 2} }, "currency"},
		{"uuid not a uuid", func(r *PreCreateRequest) { r.UUID = "order-1" }, "uuid"},
		{"no client ip", func(r *PreCreateRequest) { r.ClientIP = "" }, "client_ip"},
		{"client ip a host name", func(r *PreCreateRequest) { r.ClientIP = "pos.example.com" }, "client_ip"},
		{"notify_url relative", func(r *PreCreateRequest) { r.NotifyURL = "/hooks/bindo" }, "notify_url"},
		{"notify_url ftp", func(r *PreCreateRequest) { r.NotifyURL = "ftp://pos.example.com/hooks" }, "notify_url"},
		{"notify_url with user info", func(r *PreCreateRequest) { r.NotifyURL = "https://u:p@pos.example.com/hooks" }, "notify_url"},
		{"notify_url with a space", func(r *PreCreateRequest) { r.NotifyURL = "https://pos.example.com/a b" }, "notify_url"},
		{"expiry beyond 15 minutes", func(r *PreCreateRequest) { r.ExpiresAt = now.Add(MaxLinkLifetime + time.Second) }, "txn_exp_at"},
		{"expiry in the past", func(r *PreCreateRequest) { r.ExpiresAt = now.Add(-time.Minute) }, "txn_exp_at"},
		{"expiry now", func(r *PreCreateRequest) { r.ExpiresAt = now.Add(500 * time.Millisecond) }, "txn_exp_at"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := linkReq("L-BAD", 100, "https://pos.example.com/hooks/bindo")
			tc.edit(&req)
			_, err := e.client.PreCreate(context.Background(), req)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field || !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("PreCreate = %v, want a ValidationError on %s", err, tc.field)
			}
		})
	}
	if n := e.sim.Count("", ""); n != 0 {
		t.Fatalf("emulator saw %d requests, want none", n)
	}
	// Exactly 15 minutes is allowed.
	req := linkReq("L-MAX", 100, "")
	req.ExpiresAt = now.Add(MaxLinkLifetime)
	if _, err := e.client.PreCreate(context.Background(), req); err != nil {
		t.Fatalf("PreCreate with a 15-minute expiry: %v", err)
	}
}
