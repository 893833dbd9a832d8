package bindosim

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
)

const (
	tStore    = "8527"
	tUser     = "abcdtest@bindo.com"
	tPassword = "pw-123456-secret"
	tClientID = "hy89x4gh7b82y9ymhl7s75ucog6j9b"
	tSecret   = "acp02fndjef4ablir1ug1imy6ao6cgm"
	tSN       = "L8188VCA8V6249"
	tWHSecret = "whsec-sim-test"

	visaPAN  = "4111111111111111"
	visaT2   = "4111111111111111=28121010000012300000"
	visaICC  = "5A0841111111111111115F24032812315F3401019F0206000000001234"
	otherPAN = "4761739001010119"
	otherT2  = ";4761739001010119D2812201?"
	visaMask = "411111******1111"
	uuid1    = "fde16844-5db4-4e62-b5ce-f848814b5d4b"
	uuid2    = "d676903f-70b4-4d75-9b76-7c15811faf41"
	uuid3    = "91998d63-400b-4b86-809c-d88f90557815"
	uuid4    = "2d852f27-c5a4-4f64-9ab7-5c5e42493589"
)

var cardSecrets = []string{visaPAN, visaT2, visaICC, otherPAN, "4761739001010119D2812201", tPassword, tSecret}

type harness struct {
	t     *testing.T
	sim   *Sim
	srv   *httptest.Server
	clock *simtest.Clock
	logs  *simtest.LogBuffer
	token string
}

func newHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, clock: simtest.NewClock(), logs: &simtest.LogBuffer{}}
	cfg := Config{
		StoreID: tStore, Username: tUser, Password: tPassword, ClientID: tClientID, ClientSecret: tSecret,
		WebhookSecret: tWHSecret, Clock: h.clock, Logger: slog.New(slog.NewTextHandler(h.logs, nil)),
		PendingDelay: 2 * time.Second,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	sim, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.sim = sim
	h.srv = httptest.NewServer(sim)
	t.Cleanup(h.srv.Close)
	h.token = h.login()
	return h
}

// response is a decoded answer.
type response struct {
	status int
	body   map[string]any
}

func (r response) txn() map[string]any {
	t, _ := r.body["transaction"].(map[string]any)
	return t
}

func (r response) str(key string) string {
	v, _ := r.txn()[key].(string)
	return v
}

func (h *harness) do(method, path, token string, hdr map[string]string, body string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	if token != "" {
		req.Header.Set("X-USER-ACCESS-TOKEN", token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func (h *harness) login() string {
	h.t.Helper()
	r := h.do("POST", "/api/v2/login", "", nil, mustJSON(map[string]any{
		"username": tUser, "password": tPassword, "grant_type": "password", "client_id": tClientID, "client_secret": tSecret,
	}))
	user, _ := r.body["user"].(map[string]any)
	tok, _ := user["access_token"].(string)
	if r.status != 200 || tok == "" {
		h.t.Fatalf("login = %d %v", r.status, r.body)
	}
	return tok
}

var nativeHdr = map[string]string{
	"X-USER-APP-TYPE": "Payment APP Terminal", "X-USER-APP-VERSION": "v1.0.0", "X-USER-DEVICE-TYPE": "PAYMENT_POS",
	"X-USER-DEVICE-ID": tSN, "X-USER-DEVICE-MODEL": "APOS A8",
}

func (h *harness) post(op string, body string) response {
	h.t.Helper()
	return h.do("POST", "/gateway/v3/stores/"+tStore+"/payment/"+op, h.token, nativeHdr, body)
}

func (h *harness) query(id string) response {
	h.t.Helper()
	return h.do("GET", "/gateway/v3/stores/"+tStore+"/query/transactions/"+id, h.token, nil, "")
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// saleBody builds a native sale; mutate edits the transaction and card maps.
func saleBody(uuid, amount, mode string, mutate func(tx, cc map[string]any)) string {
	cc := map[string]any{"card_reader_mode": mode, "card_number": visaPAN, "card_exp_date": "2812", "card_track2": visaT2}
	if mode == "contact" || mode == "contactless" {
		cc["card_sn"], cc["icc_request"] = "001", visaICC
	}
	if mode == "manual" {
		delete(cc, "card_track2")
		cc["cvv"] = "123"
	}
	tx := map[string]any{
		"uuid": uuid, "transaction_type": "sale", "payment_method": "credit_card", "sn": tSN,
		"amount": amount, "currency": "HKD", "credit_card": cc,
	}
	if mutate != nil {
		mutate(tx, cc)
	}
	return mustJSON(map[string]any{"transaction": tx})
}

func childBody(typ, uuid, brn, amount string) string {
	tx := map[string]any{"uuid": uuid, "transaction_type": typ, "origin_brn": brn, "currency": "HKD"}
	if amount != "" {
		if typ == "tips" {
			tx["tips_amount"] = amount
		} else {
			tx["amount"] = amount
		}
	}
	return mustJSON(map[string]any{"transaction": tx})
}

// approved creates an approved sale and returns its brn.
func (h *harness) approved(uuid, amount string) string {
	h.t.Helper()
	r := h.post("transactions", saleBody(uuid, amount, "contact", nil))
	if r.status != 200 {
		h.t.Fatalf("sale = %d %v", r.status, r.body)
	}
	h.clock.Advance(2 * time.Second)
	q := h.query(uuid)
	if q.str("transaction_state") != "success" {
		h.t.Fatalf("sale state = %v", q.body)
	}
	return q.str("brn")
}

func assertClean(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range cardSecrets {
		if strings.Contains(s, sec) {
			t.Fatalf("%s contains card data or a secret (%.4s..., %d chars)", what, sec, len(sec))
		}
	}
}
