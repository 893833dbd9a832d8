package codepaysim

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
)

const (
	testAppID    = "wzsim0000000001"
	testMerchant = "302300000001"
	testStore    = "402300000001"
	snOnline     = "DEMO000001"
	snOffline    = "DEMO000002"
)

type testKeys struct {
	appPriv *rsa.PrivateKey
	appPub  *rsa.PublicKey
	gwPriv  *rsa.PrivateKey
	gwPub   *rsa.PublicKey
}

func loadTestKeys(t testing.TB) testKeys {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "testdata", name))
		if err != nil {
			t.Fatalf("read test key: %v", err)
		}
		return b
	}
	var k testKeys
	var err error
	if k.appPriv, err = codepay.ParsePrivateKey(read("app_private_pkcs8.pem")); err != nil {
		t.Fatal(err)
	}
	if k.appPub, err = codepay.ParsePublicKey(read("app_public.pem")); err != nil {
		t.Fatal(err)
	}
	if k.gwPriv, err = codepay.ParsePrivateKey(read("gateway_private.pem")); err != nil {
		t.Fatal(err)
	}
	if k.gwPub, err = codepay.ParsePublicKey(read("gateway_public.pem")); err != nil {
		t.Fatal(err)
	}
	return k
}

// testLogger discards below warnings to keep test output readable.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type env struct {
	t     *testing.T
	sim   *Sim
	clock *simtest.Clock
	srv   *httptest.Server
	keys  testKeys
	cl    *client
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	keys := loadTestKeys(t)
	clock := simtest.NewClock()
	cfg := Config{
		AppID: testAppID, MerchantNo: testMerchant, StoreNo: testStore,
		AppPublicKey: keys.appPub, GatewayKey: keys.gwPriv,
		Terminals: []TerminalConfig{{SN: snOnline, Online: true}, {SN: snOffline, Online: false}},
		Clock:     clock, Logger: testLogger(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	sim, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &env{t: t, sim: sim, clock: clock, srv: srv, keys: keys}
	e.cl = &client{t: t, url: srv.URL + "/api/entry", key: keys.appPriv, gwPub: keys.gwPub, clock: clock, http: srv.Client()}
	return e
}

// client is the minimal signed CodePay client of the tests: Params +
// codepay.Sign + POST, and response verification with the gateway key.
type client struct {
	t     *testing.T
	url   string
	key   *rsa.PrivateKey
	gwPub *rsa.PublicKey
	clock *simtest.Clock
	http  *http.Client
}

type envelope struct {
	Code string          `json:"code"`
	Msg  string          `json:"msg"`
	PSN  string          `json:"psn"`
	Data json.RawMessage `json:"data"`
	Sign string          `json:"sign"`
	raw  []byte
}

// data decodes Data (an object) with numbers kept as json.Number.
func (e *envelope) data(t testing.TB) map[string]any {
	t.Helper()
	m := map[string]any{}
	if len(e.Data) == 0 {
		return m
	}
	dec := json.NewDecoder(bytes.NewReader(e.Data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode data %s: %v", e.Data, err)
	}
	return m
}

// common returns the common request fields for method.
func (c *client) common(method string) codepay.Params { return commonParams(c.clock.Now(), method) }

func commonParams(now time.Time, method string) codepay.Params {
	return codepay.Params{
		"app_id":      testAppID,
		"format":      "JSON",
		"charset":     "UTF-8",
		"sign_type":   "RSA2",
		"version":     "1.0",
		"timestamp":   strconv.FormatInt(now.UnixMilli(), 10),
		"method":      method,
		"merchant_no": testMerchant,
		"store_no":    testStore,
	}
}

func (c *client) params(method string, extra map[string]string) codepay.Params {
	p := c.common(method)
	maps.Copy(p, extra)
	for k, v := range extra {
		if v == "\x00delete" {
			delete(p, k)
		}
	}
	return p
}

// signedBody signs p and renders it as a JSON object of strings.
func (c *client) signedBody(p codepay.Params) []byte {
	c.t.Helper()
	if err := codepay.Sign(c.key, p); err != nil {
		c.t.Fatalf("sign: %v", err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

func (c *client) postRaw(body []byte, contentType string, hdr http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// parseEnvelope decodes a response and verifies its signature with the
// gateway public key over codepay.ResponseParams.
func (c *client) parseEnvelope(b []byte, verify bool) *envelope {
	c.t.Helper()
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		c.t.Fatalf("decode response %s: %v", b, err)
	}
	e.raw = b
	if verify {
		p, err := codepay.ResponseParams(b)
		if err != nil {
			c.t.Fatalf("response params: %v", err)
		}
		if err := codepay.Verify(c.gwPub, p); err != nil {
			c.t.Fatalf("response signature does not verify: %v\n%s", err, b)
		}
	}
	return &e
}

// call signs and sends p as JSON and returns the verified response.
func (c *client) call(p codepay.Params) *envelope {
	c.t.Helper()
	resp, b, err := c.postRaw(c.signedBody(p), "application/json", nil)
	if err != nil {
		c.t.Fatalf("post %s: %v", p["method"], err)
	}
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("post %s: HTTP %d: %s", p["method"], resp.StatusCode, b)
	}
	return c.parseEnvelope(b, true)
}

func (c *client) do(method string, extra map[string]string) *envelope {
	c.t.Helper()
	return c.call(c.params(method, extra))
}

// createFields are the fields of a plain sale on the online terminal.
func createFields(no, amount string) map[string]string {
	return map[string]string{
		"terminal_sn":                   snOnline,
		"message_receiving_application": "CodePay Register",
		"merchant_order_no":             no,
		"trans_type":                    "1",
		"price_currency":                "USD",
		"order_amount":                  amount,
		"description":                   "Test purchase",
		"expires":                       "180",
		"api_version":                   "2.0",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func (e *env) create(fields map[string]string) *envelope {
	e.t.Helper()
	return e.cl.do(codepay.MethodPayOrder, fields)
}

func (e *env) mustCreate(fields map[string]string) map[string]any {
	e.t.Helper()
	r := e.create(fields)
	if r.Code != "0" {
		e.t.Fatalf("create %s: code %s msg %s", fields["merchant_order_no"], r.Code, r.Msg)
	}
	return r.data(e.t)
}

func (e *env) query(no string) map[string]any {
	e.t.Helper()
	r := e.cl.do(codepay.MethodOrderQuery, map[string]string{"merchant_order_no": no})
	if r.Code != "0" {
		e.t.Fatalf("query %s: code %s msg %s", no, r.Code, r.Msg)
	}
	return r.data(e.t)
}

func (e *env) status(no string) int {
	e.t.Helper()
	v, ok := e.sim.Order(no)
	if !ok {
		e.t.Fatalf("order %s not found", no)
	}
	return int(v.Status)
}

// approve creates a sale and runs it to approval.
func (e *env) approve(fields map[string]string) {
	e.t.Helper()
	e.mustCreate(fields)
	e.clock.Advance(DefaultPickupDelay + DefaultProcessDelay)
	if got := e.status(fields["merchant_order_no"]); got != 2 {
		e.t.Fatalf("order %s status = %d, want 2", fields["merchant_order_no"], got)
	}
}

func wantCode(t *testing.T, r *envelope, code string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("code = %q (msg %q), want %q", r.Code, r.Msg, code)
	}
	if code != "0" && r.Msg == "" {
		t.Fatalf("refusal %s has no msg", code)
	}
}
