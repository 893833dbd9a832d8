package idpaysim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const merchant = "M1"

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func readKey(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if strings.Contains(name, "private") {
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type testEnv struct {
	t        *testing.T
	sim      *Sim
	srv      *httptest.Server
	clock    *fakeClock
	merchant *rsa.PrivateKey
	platform *rsa.PublicKey
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	e := &testEnv{t: t, clock: &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}}
	e.merchant = readKey(t, "merchant_private.pem").(*rsa.PrivateKey)
	e.platform = readKey(t, "platform_public.pem").(*rsa.PublicKey)
	sim, err := New(Config{
		MerchantCode: merchant, MerchantPublicKey: &e.merchant.PublicKey,
		PlatformKey: readKey(t, "platform_private.pem").(*rsa.PrivateKey),
		Clock:       e.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.sim = sim
	e.srv = httptest.NewServer(sim)
	t.Cleanup(e.srv.Close)
	return e
}

// call sends a signed JSON request (amounts as JSON numbers) and returns
// the answer, after checking its platform signature.
func (e *testEnv) call(path string, p params, numbers ...string) params {
	e.t.Helper()
	p[fMerchantCode] = merchant
	sig, err := sign(e.merchant, canonical(p))
	if err != nil {
		e.t.Fatal(err)
	}
	p[fSign] = sig
	obj := map[string]any{}
	for k, v := range p {
		obj[k] = v
	}
	for _, k := range numbers {
		obj[k] = json.Number(p[k])
	}
	body, _ := json.Marshal(obj)
	resp, err := http.Post(e.srv.URL+path, "application/json; charset=utf-8", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	ans, err := decodeJSON(raw)
	if err != nil {
		e.t.Fatalf("answer %s: %v", raw, err)
	}
	if err := verifyWith(e.platform, ans); err != nil {
		e.t.Fatalf("answer not signed by the platform: %s", raw)
	}
	return ans
}

func verifyWith(key *rsa.PublicKey, p params) error {
	raw, err := base64.StdEncoding.DecodeString(p[fSign])
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(canonical(p)))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, h[:], raw)
}

func createParams(no, method, amount string) params {
	return params{fOrderNo: no, fMethod: method, fAmount: amount, fName: "Toko", fNotifyURL: "http://127.0.0.1:1/cb"}
}

func TestDocumentRules(t *testing.T) {
	e := newTestEnv(t)
	cases := []struct {
		name string
		edit func(params)
		code string
	}{
		{"ok", func(params) {}, ""},
		{"decimal rupiah (lines 35, 60)", func(p params) { p[fAmount] = "30000.5" }, CodeParamError},
		{"zero", func(p params) { p[fAmount] = "0" }, CodeParamError},
		{"method (lines 43-56)", func(p params) { p[fMethod] = "VA_XYZ" }, CodeParamError},
		{"chinese (line 77)", func(p params) { p[fName] = "商店" }, CodeParamError},
		{"long name (line 78)", func(p params) { p[fName] = strings.Repeat("a", 31) }, CodeParamError},
		{"email (line 79)", func(p params) { p[fEmail] = "x@y" }, CodeParamError},
		{"phone (line 79)", func(p params) { p[fPhone] = "+6281" }, CodeParamError},
		{"ovo phone (line 80)", func(p params) { p[fMethod] = "EWALLET_OVO" }, CodeParamError},
		{"expiry (line 81)", func(p params) { p[fExpiryPeriod] = "14" }, CodeParamError},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := createParams("O"+string(rune('A'+i)), "VA_BCA", "30000")
			tc.edit(p)
			ans := e.call(CreatePath, p, fAmount)
			if tc.code == "" {
				if ans[fRespCode] != respSuccess || ans[fStatus] != statusInitOrder || ans[fVANumber] == "" {
					t.Fatalf("answer %v", ans)
				}
				return
			}
			if ans[fRespCode] != respFail || ans[fErrorCode] != tc.code {
				t.Fatalf("answer %v, want FAIL %s", ans, tc.code)
			}
		})
	}
	// A forged request and another merchant's are refused.
	p := createParams("OX", "QRIS", "1000")
	p[fMerchantCode] = merchant
	p[fSign] = base64.StdEncoding.EncodeToString([]byte("forged"))
	body, _ := json.Marshal(p)
	resp, err := http.Post(e.srv.URL+CreatePath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ans, _ := decodeJSON(raw); ans[fErrorCode] != CodeSignError {
		t.Fatalf("forged request answered %s", raw)
	}
	if ans := e.call(QueryPath, params{fOrderNo: "nope"}); ans[fErrorCode] != CodeOrderNotFound {
		t.Fatalf("query of an unknown order = %v", ans)
	}
}

func TestMethodsAndAdmin(t *testing.T) {
	e := newTestEnv(t)
	for _, m := range Methods() {
		p := createParams("A-"+m, m, "50000")
		p[fPhone] = "082113086611"
		if ans := e.call(CreatePath, p, fAmount); ans[fRespCode] != respSuccess {
			t.Fatalf("%s: %v", m, ans)
		}
	}
	if len(Methods()) != 14 {
		t.Fatalf("methods = %d, want the 14 of spec lines 43-56", len(Methods()))
	}
	post := func(path string) int {
		resp, err := http.Post(e.srv.URL+path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post("/sim/orders/A-QRIS/pay"); s != http.StatusOK {
		t.Fatalf("pay = %d", s)
	}
	if s := post("/sim/orders/A-QRIS/pay"); s != http.StatusConflict {
		t.Fatalf("second pay = %d", s)
	}
	if s := post("/sim/orders/A-VA_BNI/expire"); s != http.StatusOK {
		t.Fatalf("expire = %d", s)
	}
	if s := post("/sim/orders/A-VA_BNI/pay"); s != http.StatusConflict {
		t.Fatalf("pay after expiry = %d", s)
	}
	if s := post("/sim/orders/nope/pay"); s != http.StatusNotFound {
		t.Fatalf("pay unknown = %d", s)
	}
	if s := post("/sim/orders/A-VA_BRI/cancel"); s != http.StatusOK {
		t.Fatalf("cancel = %d", s)
	}
	e.clock.Advance(31 * time.Second)
	if v, _ := e.sim.Order("A-EWALLET_OVO"); !v.Expired || v.PayURL != "" {
		t.Fatalf("OVO after 31 s = %+v, want expired (spec line 80)", v)
	}
	if ans := e.call(QueryPath, params{fOrderNo: "A-VA_BRI"}); ans[fStatus] != statusPayCancel {
		t.Fatalf("cancelled = %v", ans)
	}
	if ans := e.call(QueryPath, params{fOrderNo: "A-EWALLET_DANA"}); ans[fStatus] != statusOpenPayURL || ans[fPayURL] == "" {
		t.Fatalf("DANA = %v", ans)
	}
	resp, err := http.Get(e.srv.URL + "/sim/requests?op=create&order_no=A-EWALLET_OVO")
	if err != nil {
		t.Fatal(err)
	}
	var reqs []Request
	if err := json.NewDecoder(resp.Body).Decode(&reqs); err != nil || len(reqs) != 1 || reqs[0].Params[fPhone] != "[redacted]" {
		t.Fatalf("request log = %+v, %v", reqs, err)
	}
	resp.Body.Close()
	for body, want := range map[string]int{
		`{"kind":"nope"}`: http.StatusBadRequest, `{"op":"create","kind":"http500"}`: http.StatusOK,
	} {
		resp, err := http.Post(e.srv.URL+"/sim/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST /sim/faults %s = %d, want %d", body, resp.StatusCode, want)
		}
	}
	resp, err = http.Post(e.srv.URL+CreatePath, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("create with http500 fault = %d", resp.StatusCode)
	}
}

func TestCallbackScheduleUntilSUCCESS(t *testing.T) {
	e := newTestEnv(t)
	var (
		mu    sync.Mutex
		times []time.Time
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v, err := url.ParseQuery(string(body))
		p := params{}
		for k := range v {
			p[k] = v.Get(k)
		}
		if err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || verifyWith(e.platform, p) != nil || p[fStatus] != statusSuccess {
			t.Errorf("callback %q (%s) is not a signed form", body, r.Header.Get("Content-Type"))
		}
		mu.Lock()
		times = append(times, e.clock.Now())
		mu.Unlock()
		_, _ = io.WriteString(w, "success") // not the string SUCCESS: no acknowledgement
	}))
	defer hook.Close()
	p := createParams("CB1", "VA_BCA", "20000")
	p[fNotifyURL] = hook.URL
	e.call(CreatePath, p, fAmount)
	start := e.clock.Now()
	if _, err := e.sim.Pay("CB1"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 5 * 3600 {
		e.clock.Advance(time.Second)
		e.sim.RunDue(ctx)
	}
	var want []time.Time
	at := start.Add(time.Second)
	want = append(want, at)
	for _, d := range []time.Duration{30 * time.Second, 60 * time.Second, 90 * time.Second, time.Hour, 2 * time.Hour} {
		at = at.Add(d)
		want = append(want, at)
	}
	if len(times) != 6 {
		t.Fatalf("callbacks at %v, want 6 (spec line 112)", times)
	}
	for i := range want {
		if !times[i].Equal(want[i]) {
			t.Fatalf("callback %d at %v, want %v", i, times[i].Sub(start), want[i].Sub(start))
		}
	}
	if v, _ := e.sim.Order("CB1"); !v.Callbacks[0].GaveUp || v.Callbacks[0].Attempts != CallbackAttempts {
		t.Fatalf("delivery = %+v", v.Callbacks[0])
	}
}

func TestCRC16(t *testing.T) {
	if got := crc16("123456789"); got != 0x29B1 {
		t.Fatalf("crc16 check value = %04X, want 29B1", got)
	}
	q := qrisPayload("PL1", 30000)
	if !strings.Contains(q, "540530000") || crc16(q[:len(q)-4]) != mustHex(t, q[len(q)-4:]) {
		t.Fatalf("payload %q", q)
	}
}

func mustHex(t *testing.T, s string) uint16 {
	var v uint16
	for _, c := range s {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= uint16(c - '0')
		case c >= 'A' && c <= 'F':
			v |= uint16(c - 'A' + 10)
		default:
			t.Fatalf("not hex: %q", s)
		}
	}
	return v
}
