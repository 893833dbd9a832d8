package codepay

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/money"
)

// testNow is the fixed clock of the tests: 2024-03-01 10:20:30.123 UTC.
var testNow = time.Date(2024, 3, 1, 10, 20, 30, 123_000_000, time.UTC)

const (
	testAppID      = "wz6012822ca2f1as78"
	testMerchantNo = "302300000926"
	testStoreNo    = "402300000001"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

func appKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := ParsePrivateKey(readTestdata(t, "app_private_pkcs8.pem"))
	if err != nil {
		t.Fatalf("ParsePrivateKey(pkcs8): %v", err)
	}
	return k
}

func gatewayKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := ParsePrivateKey(readTestdata(t, "gateway_private.pem"))
	if err != nil {
		t.Fatalf("ParsePrivateKey(gateway): %v", err)
	}
	return k
}

func gatewayPub(t testing.TB) *rsa.PublicKey {
	t.Helper()
	k, err := ParsePublicKey(readTestdata(t, "gateway_public.pem"))
	if err != nil {
		t.Fatalf("ParsePublicKey(gateway): %v", err)
	}
	return k
}

func usd(minor int64) money.Amount {
	return money.Amount{Minor: minor, Currency: money.MustCurrency("USD")}
}

func ptr[T any](v T) *T { return &v }

// received is one request as the fake gateway saw it.
type received struct {
	Params     map[string]string
	AllStrings bool // every JSON value was a string
	Header     http.Header
	Body       []byte
}

// fakeGateway is a small CodePay stand-in: it records requests and answers
// with whatever respond writes (by default a signed success with data {}).
type fakeGateway struct {
	t       testing.TB
	srv     *httptest.Server
	gwKey   *rsa.PrivateKey
	mu      sync.Mutex
	reqs    []received
	respond func(w http.ResponseWriter, r *http.Request, got received)
}

func newFakeGateway(t testing.TB) *fakeGateway {
	t.Helper()
	g := &fakeGateway{t: t, gwKey: gatewayKey(t)}
	g.respond = func(w http.ResponseWriter, _ *http.Request, _ received) {
		g.writeSigned(w, http.StatusOK, "0", "success", `{}`)
	}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	got := received{Header: r.Header.Clone(), Body: body, AllStrings: true, Params: map[string]string{}}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err == nil {
		for k, v := range raw {
			s, ok := v.(string)
			if !ok {
				got.AllStrings = false
			}
			got.Params[k] = s
		}
	}
	if r.URL.Path != "/api/entry" || r.Method != http.MethodPost {
		got.Params["_path"] = r.Method + " " + r.URL.Path
	}
	g.mu.Lock()
	g.reqs = append(g.reqs, got)
	respond := g.respond
	g.mu.Unlock()
	respond(w, r, got)
}

// setRespond replaces the responder.
func (g *fakeGateway) setRespond(f func(w http.ResponseWriter, r *http.Request, got received)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.respond = f
}

func (g *fakeGateway) requests() []received {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]received(nil), g.reqs...)
}

func (g *fakeGateway) count() int { return len(g.requests()) }

// last returns the last request, failing the test when there is none.
func (g *fakeGateway) last() received {
	g.t.Helper()
	reqs := g.requests()
	if len(reqs) == 0 {
		g.t.Fatalf("fake gateway received no request")
	}
	return reqs[len(reqs)-1]
}

// writeSigned answers with a signed envelope whose data member is the raw
// JSON text given (written byte for byte, pretty or not).
func (g *fakeGateway) writeSigned(w http.ResponseWriter, status int, code, msg, data string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(signedEnvelope(g.t, g.gwKey, code, msg, data))
}

// envelopeJSON assembles a response envelope by hand so that data keeps the
// exact bytes given; sign is appended when non-empty.
func envelopeJSON(code, msg, psn, data, sign string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"code":` + strconv.Quote(code) + `,"msg":` + strconv.Quote(msg) + `,"psn":` + strconv.Quote(psn))
	if data != "" {
		b.WriteString(`,"data":` + data)
	}
	if sign != "" {
		b.WriteString(`,"sign":` + strconv.Quote(sign))
	}
	b.WriteString("}")
	return b.Bytes()
}

const testPSN = "08290344008038160280"

// signedEnvelope signs the envelope the documented way: canonical string of
// ResponseParams over the unsigned body.
func signedEnvelope(t testing.TB, key *rsa.PrivateKey, code, msg, data string) []byte {
	t.Helper()
	unsigned := envelopeJSON(code, msg, testPSN, data, "")
	p, err := ResponseParams(unsigned)
	if err != nil {
		t.Fatalf("ResponseParams(%s): %v", unsigned, err)
	}
	sig, err := SignString(key, Canonical(p))
	if err != nil {
		t.Fatalf("SignString: %v", err)
	}
	return envelopeJSON(code, msg, testPSN, data, sig)
}

// testConfig returns a signing configuration pointed at g.
func testConfig(t testing.TB, g *fakeGateway) Config {
	t.Helper()
	return Config{
		GatewayURL:       g.srv.URL,
		AppID:            testAppID,
		MerchantNo:       testMerchantNo,
		StoreNo:          testStoreNo,
		PrivateKey:       appKey(t),
		GatewayPublicKey: gatewayPub(t),
		HTTPClient:       &http.Client{Timeout: 5 * time.Second},
		Now:              func() time.Time { return testNow },
		Logger:           slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
}

func newTestClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// saleRequest is a valid USD sale.
func saleRequest(orderNo string) CreateOrderRequest {
	return CreateOrderRequest{
		TerminalSN:      "WPYB002248000865",
		MerchantOrderNo: orderNo,
		TransType:       TransSale,
		Amount:          usd(14434),
		Description:     "ECRCloudPurchase",
		Expires:         180 * time.Second,
	}
}
