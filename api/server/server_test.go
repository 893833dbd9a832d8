package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/api/server"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/device/card"
)

// hookServer starts a listener first so its URL can go into the agent's notify_url.
type swap struct{ p atomic.Pointer[http.Handler] }

func (s *swap) Store(h http.Handler) { s.p.Store(&h) }

func hookServer(t *testing.T) (*httptest.Server, *swap) {
	h := &swap{}
	h.Store(http.NotFoundHandler())
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*h.p.Load()).ServeHTTP(w, r)
	}))
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, h
}

func TestNotificationCompletesPayment(t *testing.T) {
	ts, h := hookServer(t)
	// Polling is slow on purpose: the result must arrive by notification.
	e := agenttest.New(t, agenttest.Opts{Poll: 30 * time.Second, NotifyURL: ts.URL + "/hooks/codepay"})
	rs, err := rpc.NewServer(rpc.Config{Handler: wsapi.New(e.Agent, nil), Tokens: func() []string { return []string{"tok-0123456789abcdef"} }})
	if err != nil {
		t.Fatal(err)
	}
	h.Store(server.Handler(server.Config{Agent: e.Agent, RPC: rs, Notifications: e.Client}))

	e.MustCreate(e.Sale("NOTE1", agenttest.TermA, "6.00"))
	p, err := e.Agent.Wait(context.Background(), "NOTE1", 10*time.Second)
	if err != nil || p.State != agent.StateApproved {
		t.Fatalf("payment after notification = %+v, %v (states %v)", p, err, e.States("NOTE1"))
	}
	if n := e.Sim.Count(codepay.MethodOrderQuery, "NOTE1"); n != 0 {
		t.Logf("note: %d queries were made", n)
	}

	// A forged notification is refused and changes nothing.
	body := `{"app_id":"wztest0000000001","merchant_order_no":"NOTE1","trans_status":"1","sign_type":"RSA2","sign":"AAAA"}`
	resp, err := http.Post(ts.URL+"/hooks/codepay", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged notification → HTTP %d, want 400", resp.StatusCode)
	}
	if p, _ := e.Agent.Get(context.Background(), "NOTE1"); p.State != agent.StateApproved {
		t.Fatalf("forged notification changed the payment to %s", p.State)
	}
}

func TestDuplicateAndLateNotificationsNeverRegress(t *testing.T) {
	ts, h := hookServer(t)
	e := agenttest.New(t, agenttest.Opts{NotifyURL: ts.URL + "/hooks/codepay"})
	rs, _ := rpc.NewServer(rpc.Config{Handler: wsapi.New(e.Agent, nil), Tokens: func() []string { return []string{"tok-0123456789abcdef"} }})
	delivered := make(chan []byte, 20)
	var ctype atomic.Value
	inner := server.Handler(server.Config{Agent: e.Agent, RPC: rs, Notifications: e.Client})
	h.Store(http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case delivered <- b:
		default:
		}
		ctype.Store(r.Header.Get("Content-Type"))
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		inner.ServeHTTP(w, r)
	})))
	e.MustCreate(e.Sale("NOTE2", agenttest.TermA, "2.00"))
	e.WaitFinal("NOTE2")
	// Wait for the emulator's notification to have been delivered once.
	var first []byte
	select {
	case first = <-delivered:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification delivered")
	}
	// Replay it twice: both acknowledged with "success", state unchanged.
	for i := 0; i < 2; i++ {
		resp, err := http.Post(ts.URL+"/hooks/codepay", ctype.Load().(string), strings.NewReader(string(first)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "success" {
			t.Fatalf("replayed notification → %d %q", resp.StatusCode, b)
		}
	}
	p, _ := e.Agent.Get(context.Background(), "NOTE2")
	if p.State != agent.StateApproved {
		t.Fatalf("state after replays = %s", p.State)
	}
	var m map[string]any
	json.Unmarshal(first, &m)
	if m["merchant_order_no"] != "NOTE2" {
		t.Fatalf("notification body = %s", first)
	}
}

func TestHealthAndReady(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	rs, _ := rpc.NewServer(rpc.Config{Handler: wsapi.New(e.Agent, nil), Tokens: func() []string { return []string{"tok-0123456789abcdef"} }})
	var fail atomic.Bool
	ts := httptest.NewServer(server.Handler(server.Config{Agent: e.Agent, RPC: rs, Ready: func(ctx context.Context) error {
		if fail.Load() {
			return errString("CodePay gateway not reachable")
		}
		return e.DB.Ping(ctx)
	}}))
	defer ts.Close()
	get := func(path, host string) (int, string) {
		resp, b := request(t, http.MethodGet, ts.URL+path, host, nil)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz", ""); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	if code, body := get("/readyz", ""); code != 200 {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	fail.Store(true)
	if code, body := get("/readyz", ""); code != 503 || !strings.Contains(body, "CodePay gateway not reachable") {
		t.Fatalf("/readyz when failing = %d %q", code, body)
	}
	if code, _ := get("/healthz", "evil.example"); code != 403 {
		t.Fatalf("/healthz with foreign Host = %d, want 403", code)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestBindoWebhook(t *testing.T) {
	ts, h := hookServer(t)
	const secret = "hook-secret-0123"
	e := agenttest.New(t, agenttest.Opts{Bindo: true, Poll: 30 * time.Second, BindoWebhookURL: ts.URL + "/hooks/bindo", BindoWebhookSecret: secret})
	rs, _ := rpc.NewServer(rpc.Config{Handler: wsapi.New(e.Agent, nil), Tokens: func() []string { return []string{"tok-0123456789abcdef"} }})
	delivered := make(chan []byte, 10)
	inner := server.Handler(server.Config{Agent: e.Agent, RPC: rs, BindoWebhookSecret: []byte(secret)})
	h.Store(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sig := r.Header.Get("X-SIGNATURE")
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		inner.ServeHTTP(w, r)
		select {
		case delivered <- append([]byte(sig+"\n"), b...):
		default:
		}
	}))
	c, err := card.Parse(card.Input{ReaderMode: "swipe", Track2: "4111111111111111=30122011758928889"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := e.Sale("BHOOK", agenttest.TermA, "8.00")
	r.Card, r.Options.Route = c, "native"
	e.MustCreate(r)
	// Polling is 30 s: only the webhook can settle it this fast.
	p, err := e.Agent.Wait(context.Background(), "BHOOK", 10*time.Second)
	if err != nil || p.State != agent.StateApproved {
		t.Fatalf("after webhook = %+v, %v", p, err)
	}
	var got []byte
	select {
	case got = <-delivered:
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook delivered")
	}
	sig, body, _ := strings.Cut(string(got), "\n")
	post := func(sig, body string) int {
		req, _ := http.NewRequest("POST", ts.URL+"/hooks/bindo", strings.NewReader(body))
		req.Header.Set("X-SIGNATURE", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(sig, body); code != 200 {
		t.Fatalf("replayed webhook → %d, want 200", code)
	}
	// Change the signature's first character (to one it is not).
	bad := "0" + sig[1:]
	if sig[0] == '0' {
		bad = "1" + sig[1:]
	}
	if code := post(bad, body); code != http.StatusUnauthorized {
		t.Fatalf("bad signature → %d, want 401", code)
	}
	if code := post(sig, strings.Replace(body, `"amount":"8"`, `"amount":"9"`, 1)); code != http.StatusUnauthorized {
		t.Fatalf("tampered body → %d, want 401", code)
	}
	// Correctly signed, but not about this payment as journaled (another
	// amount, another uuid): refused with 422, nothing changed.
	sign := func(b string) string {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(b))
		return hex.EncodeToString(mac.Sum(nil))
	}
	for name, other := range map[string]string{
		"another amount": strings.NewReplacer(`"amount":"8"`, `"amount":"0.01"`, `"total_amount":"8"`, `"total_amount":"0.01"`).Replace(body),
		"another uuid":   strings.Replace(body, p.TransNo, "00000000-0000-4000-8000-000000000000", 1),
	} {
		if other == body {
			t.Fatalf("%s: the webhook body has nothing to replace: %s", name, body)
		}
		if code := post(sign(other), other); code != http.StatusUnprocessableEntity {
			t.Errorf("signed webhook with %s → %d, want 422", name, code)
		}
	}
	if got, _ := e.Agent.Get(context.Background(), "BHOOK"); got.State != agent.StateApproved || got.Amount != "8.00" {
		t.Fatalf("refused webhooks changed the payment: %+v", got)
	}
}
