package bindosim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
	"github.com/posbridge/posbridge/pan"
)

func TestFaults(t *testing.T) {
	h := newHarness(t)
	t.Run("http500 is not processed", func(t *testing.T) {
		h.sim.InjectFault(Fault{Op: OpSale, Kind: FaultHTTP500})
		r := h.post("transactions", saleBody(uuid1, "1.00", "swipe", nil))
		if r.status != 500 {
			t.Fatalf("status = %d, want 500", r.status)
		}
		if _, ok := h.sim.Transaction(uuid1); ok {
			t.Fatal("a sale answered with the 500 fault was processed")
		}
	})
	t.Run("http401 once", func(t *testing.T) {
		h.sim.InjectFault(Fault{Op: OpSale, Kind: FaultHTTP401})
		if r := h.post("transactions", saleBody(uuid1, "1.00", "swipe", nil)); r.status != 401 {
			t.Fatalf("status = %d, want 401", r.status)
		}
		if _, ok := h.sim.Transaction(uuid1); ok {
			t.Fatal("a sale answered 401 was processed")
		}
		if r := h.post("transactions", saleBody(uuid1, "1.00", "swipe", nil)); r.status != 200 {
			t.Fatalf("next sale = %d, want 200 (the token stays valid)", r.status)
		}
	})
	t.Run("op filter and count", func(t *testing.T) {
		h.sim.InjectFault(Fault{Op: OpQuery, Kind: FaultHTTP500, Count: 2})
		if r := h.post("transactions", saleBody(uuid2, "1.00", "swipe", nil)); r.status != 200 {
			t.Fatalf("sale hit by a query fault: %d", r.status)
		}
		for i := range 3 {
			want := 500
			if i == 2 {
				want = 200
			}
			if r := h.query(uuid2); r.status != want {
				t.Fatalf("query %d = %d, want %d", i, r.status, want)
			}
		}
		h.sim.InjectFault(Fault{Kind: "bogus"}) // ignored
		if r := h.query(uuid2); r.status != 200 {
			t.Fatalf("unknown fault kind applied: %d", r.status)
		}
	})
	t.Run("drop after process", func(t *testing.T) {
		h.sim.InjectFault(Fault{Op: OpSale, Kind: FaultDropAfterProcess})
		req, _ := http.NewRequest("POST", h.srv.URL+"/gateway/v3/stores/"+tStore+"/payment/transactions", strings.NewReader(saleBody(uuid3, "1.00", "swipe", nil)))
		req.Header.Set("X-USER-ACCESS-TOKEN", h.token)
		for k, v := range nativeHdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got HTTP %d, want a dropped connection", resp.StatusCode)
		}
		if _, ok := h.sim.Transaction(uuid3); !ok {
			t.Fatal("the dropped sale was not processed")
		}
	})
	t.Run("slow", func(t *testing.T) {
		h.sim.InjectFault(Fault{Op: OpSale, Kind: FaultSlow, Delay: 10 * time.Second})
		req, _ := http.NewRequest("POST", h.srv.URL+"/gateway/v3/stores/"+tStore+"/payment/transactions", strings.NewReader(saleBody(uuid4, "1.00", "swipe", nil)))
		req.Header.Set("X-USER-ACCESS-TOKEN", h.token)
		for k, v := range nativeHdr {
			req.Header.Set(k, v)
		}
		c := &http.Client{Timeout: 200 * time.Millisecond}
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("got HTTP %d before the delay", resp.StatusCode)
		}
		if _, ok := h.sim.Transaction(uuid4); !ok {
			t.Fatal("the slow sale was not processed")
		}
	})
	t.Run("login fault", func(t *testing.T) {
		h.sim.InjectFault(Fault{Op: OpLogin, Kind: FaultHTTP500})
		r := h.do("POST", "/api/v2/login", "", nil, `{}`)
		if r.status != 500 {
			t.Fatalf("login = %d, want 500", r.status)
		}
	})
	reqs := h.sim.Requests(OpSale, "")
	faults := map[FaultKind]int{}
	for _, r := range reqs {
		faults[r.Fault]++
	}
	if faults[FaultHTTP500] != 1 || faults[FaultHTTP401] != 1 || faults[FaultDropAfterProcess] != 1 || faults[FaultSlow] != 1 {
		t.Fatalf("recorded faults = %v", faults)
	}
}

func TestRequestLogRedaction(t *testing.T) {
	h := newHarness(t)
	body := saleBody(uuid1, "1.00", "contact", func(tx, cc map[string]any) {
		cc["card_track1"] = "%B4111111111111111^TEST/CARD^2812101?"
		cc["card_track3"] = "4111111111111111=999"
		cc["cvv"], cc["pin"], cc["card_holder_name"] = "987", "1234", "TEST CARD"
		cc["extra"] = map[string]any{"pan": visaPAN}
	})
	if r := h.post("transactions", body); r.status != 200 {
		t.Fatalf("sale = %d %v", r.status, r.body)
	}
	reqs := h.sim.Requests(OpSale, strings.ToUpper(uuid1))
	if len(reqs) != 1 || reqs[0].UUID != uuid1 || reqs[0].DeviceID != tSN || reqs[0].HTTPStatus != 200 {
		t.Fatalf("requests = %+v", reqs)
	}
	cc := reqs[0].Body["transaction"].(map[string]any)["credit_card"].(map[string]any)
	want := map[string]any{
		"card_reader_mode": "contact", "card_number": visaMask, "card_sn": "001",
		"card_exp_date": redacted, "card_track1": redacted, "card_track2": redacted, "card_track3": redacted,
		"icc_request": redacted, "cvv": redacted, "pin": redacted, "card_holder_name": redacted, "extra": redacted,
	}
	for k, v := range want {
		if cc[k] != v {
			t.Errorf("credit_card.%s = %v, want %v", k, cc[k], v)
		}
	}
	logins := h.sim.Requests(OpLogin, "")
	if len(logins) != 1 || logins[0].Body["password"] != redacted || logins[0].Body["client_secret"] != redacted {
		t.Fatalf("login record = %+v", logins)
	}
	all, _ := json.Marshal(h.sim.Requests("", ""))
	assertClean(t, "request log", string(all))
	for _, s := range []string{"987", "TEST CARD", "TEST/CARD"} {
		if strings.Contains(string(all), s) {
			t.Fatalf("request log contains %q", s)
		}
	}
	views, _ := json.Marshal(h.sim.Transactions())
	assertClean(t, "transactions", string(views))
	assertClean(t, "emulator log", h.logs.String())
	if n := h.sim.Count("/gateway/v3/stores/"+tStore+"/payment/transactions", ""); n != 1 {
		t.Fatalf("Count(path) = %d, want 1", n)
	}
	if n := h.sim.Count("", ""); n != 2 {
		t.Fatalf("Count(all) = %d, want 2", n)
	}
	// A body that is not JSON is not kept at all.
	h.post("transactions", "track "+visaT2)
	last := h.sim.Requests(OpSale, "")
	if b := last[len(last)-1].Body; b != nil {
		t.Fatalf("non-JSON body kept: %v", b)
	}
}

// webhook is one webhook a receiver got.
type webhook struct {
	body  map[string]any
	hdr   http.Header
	sigOK bool // X-SIGNATURE verified independently of the emulator's Sign
}

// receiver records webhooks and checks their signature independently of
// the emulator's Sign.
type receiver struct {
	simtest.Hits[webhook]
	srv    *httptest.Server
	enc    string
	notify chan struct{}

	mu     sync.Mutex
	status []int // answers to give, in order; then 200
}

func newReceiver(t *testing.T, enc string, status ...int) *receiver {
	rc := &receiver{status: status, enc: enc, notify: make(chan struct{}, 16)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(tWHSecret))
		mac.Write(body)
		want := hex.EncodeToString(mac.Sum(nil))
		if rc.enc == EncodingBase64 {
			want = base64.StdEncoding.EncodeToString(mac.Sum(nil))
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		rc.Add(webhook{body: m, hdr: r.Header.Clone(), sigOK: r.Header.Get("X-SIGNATURE") == want})
		w.WriteHeader(rc.next())
		rc.notify <- struct{}{}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// next is the status of the next answer.
func (rc *receiver) next() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.status) == 0 {
		return http.StatusOK
	}
	code := rc.status[0]
	rc.status = rc.status[1:]
	return code
}

func TestWebhookSender(t *testing.T) {
	for _, enc := range []string{EncodingHex, EncodingBase64} {
		t.Run(enc, func(t *testing.T) {
			rc := newReceiver(t, enc, 500, 503)
			h := newHarness(t, func(c *Config) { c.WebhookURL, c.WebhookEncoding, c.AppID = rc.srv.URL+"/hooks/bindo", enc, "APP-1" })
			ctx := context.Background()
			h.post("transactions", saleBody(uuid1, "1.00", "contact", nil))
			h.sim.RunDue(ctx)
			if rc.Count() != 0 {
				t.Fatal("webhook sent for a pending sale")
			}
			h.clock.Advance(2 * time.Second)
			h.sim.RunDue(ctx) // attempt 1: 500
			h.clock.Advance(9 * time.Second)
			h.sim.RunDue(ctx) // not due yet
			if rc.Count() != 1 {
				t.Fatalf("attempts = %d, want 1 before the 10 s retry", rc.Count())
			}
			h.clock.Advance(time.Second)
			h.sim.RunDue(ctx) // attempt 2: 503
			h.clock.Advance(30 * time.Second)
			h.sim.RunDue(ctx) // attempt 3: 200
			h.clock.Advance(time.Hour)
			h.sim.RunDue(ctx) // nothing more
			got := rc.All()
			if len(got) != 3 {
				t.Fatalf("attempts = %d, want 3", len(got))
			}
			for i, wh := range got {
				tx, _ := wh.body["transaction"].(map[string]any)
				if !wh.sigOK || tx["uuid"] != uuid1 || tx["transaction_state"] != "success" || tx["is_voided"] != false ||
					wh.hdr.Get("X-APP-ID") != "APP-1" {
					t.Fatalf("webhook %d: signature ok %v, body %v, headers %v", i, wh.sigOK, wh.body, wh.hdr)
				}
			}
			v, _ := h.sim.Transaction(uuid1)
			if v.Webhook == nil || !v.Webhook.Delivered || v.Webhook.Attempts != 3 {
				t.Fatalf("webhook view = %+v", v.Webhook)
			}
		})
	}
	t.Run("gives up", func(t *testing.T) {
		codes := make([]int, WebhookAttempts+2)
		for i := range codes {
			codes[i] = 500
		}
		rc := newReceiver(t, EncodingHex, codes...)
		h := newHarness(t, func(c *Config) { c.PendingDelay = -1 })
		body := saleBody(uuid1, "1.00", "swipe", func(tx, _ map[string]any) { tx["notify_url"] = rc.srv.URL })
		h.post("transactions", body)
		for range WebhookAttempts + 2 {
			h.sim.RunDue(context.Background())
			h.clock.Advance(2 * time.Hour)
		}
		v, _ := h.sim.Transaction(uuid1)
		if rc.Count() != WebhookAttempts || v.Webhook == nil || !v.Webhook.GaveUp || v.Webhook.URL != rc.srv.URL {
			t.Fatalf("attempts = %d, view %+v; want %d then give up", rc.Count(), v.Webhook, WebhookAttempts)
		}
	})
	t.Run("void and refund", func(t *testing.T) {
		rc := newReceiver(t, EncodingHex)
		h := newHarness(t, func(c *Config) { c.PendingDelay, c.WebhookURL = -1, rc.srv.URL })
		brn := h.post("transactions", saleBody(uuid1, "5.00", "swipe", nil)).str("brn")
		h.post("refund", childBody("refund", uuid2, brn, "1.00"))
		h.sim.RunDue(context.Background())
		if rc.Count() != 2 {
			t.Fatalf("webhooks = %d, want sale + refund", rc.Count())
		}
	})
}

func TestServeLoop(t *testing.T) {
	rc := newReceiver(t, EncodingHex)
	h := newHarness(t, func(c *Config) { c.WebhookURL = rc.srv.URL })
	stop := simtest.Serve(t, h.sim.Serve)
	h.post("transactions", saleBody(uuid1, "1.00", "swipe", nil))
	h.clock.Advance(2 * time.Second)
	simtest.Receive(t, rc.notify, "webhook from Serve")
	stop()
}

func TestAdminAPI(t *testing.T) {
	h := newHarness(t)
	get := func(path string) (int, string) {
		resp, err := http.Get(h.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path, body string) int {
		resp, err := http.Post(h.srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code, body := get("/sim/"); code != 200 || !strings.Contains(body, "/sim/faults") {
		t.Fatalf("GET /sim/ = %d %s", code, body)
	}
	if code := post("/sim/transactions/"+uuid1+"/outcome", `{"state":"failed","error_code":"110001"}`); code != 200 {
		t.Fatalf("outcome = %d", code)
	}
	if code := post("/sim/transactions/"+uuid1+"/outcome", `{"state":"maybe"}`); code != 400 {
		t.Fatalf("bad outcome = %d", code)
	}
	h.post("transactions", saleBody(uuid1, "1.00", "contact", nil))
	h.clock.Advance(2 * time.Second)
	if code, body := get("/sim/transactions/" + uuid1); code != 200 || !strings.Contains(body, `"error_code": "110001"`) {
		t.Fatalf("GET transaction = %d %s", code, body)
	}
	if code, _ := get("/sim/transactions/nope"); code != 404 {
		t.Fatalf("GET unknown = %d", code)
	}
	if code, body := get("/sim/requests?op=sale"); code != 200 || !strings.Contains(body, visaMask) {
		t.Fatalf("GET requests = %d %s", code, body)
	} else {
		assertClean(t, "admin requests", body)
	}
	if code, body := get("/sim/transactions"); code != 200 || !strings.Contains(body, uuid1) {
		t.Fatalf("GET transactions = %d %s", code, body)
	}
	if code, body := get("/sim/test-cards"); code != 200 || !strings.Contains(body, "6250947000000014") {
		t.Fatalf("GET test-cards = %d %s", code, body)
	}
	if code := post("/sim/faults", `{"op":"query","kind":"http500"}`); code != 200 {
		t.Fatalf("fault = %d", code)
	}
	if r := h.query(uuid1); r.status != 500 {
		t.Fatalf("query after admin fault = %d", r.status)
	}
	if code := post("/sim/faults", `{"kind":"nope"}`); code != 400 {
		t.Fatalf("bad fault = %d", code)
	}
	if code := post("/sim/faults", `{"kind":"http500","extra":1}`); code != 400 {
		t.Fatalf("unknown admin field = %d", code)
	}
	if code := post("/sim/settle", ``); code != 200 {
		t.Fatalf("settle = %d", code)
	}
}

func TestTestCards(t *testing.T) {
	cards := TestCards()
	if len(cards) != 5 {
		t.Fatalf("TestCards = %d cards, want the spec's 5", len(cards))
	}
	wantAcq := map[string]string{"Visa": "visa", "MasterCard": "mastercard", "Amex": "amex", "JCB": "jcb", "China UnionPay": "cup"}
	for _, c := range cards {
		if !pan.Luhn(c.Number) || acquirerType(c.Number) != wantAcq[c.Scheme] || !isTestCard(c.Number) {
			t.Errorf("test card %s (%s): luhn %v acquirer %q", c.Scheme, c.Number, pan.Luhn(c.Number), acquirerType(c.Number))
		}
	}
	cards[0].Number = "x"
	if TestCards()[0].Number == "x" {
		t.Fatal("TestCards returns shared state")
	}
	if len(New0(t).TestCards()) != 5 {
		t.Fatal("Sim.TestCards differs from TestCards")
	}
}

// New0 is a minimal emulator.
func New0(t *testing.T) *Sim {
	s, err := New(Config{StoreID: tStore, Username: tUser, Password: tPassword, ClientID: tClientID, ClientSecret: tSecret})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
