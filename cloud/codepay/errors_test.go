package codepay

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
)

// errClass is the expected classification of an error.
type errClass int

const (
	classNone errClass = iota
	classNotSent
	classUnknown
	classBadSignature // also unknown
	classGateway
)

func (c errClass) String() string {
	return [...]string{"success", "not sent", "unknown outcome", "bad signature", "gateway refusal"}[c]
}

// checkClass asserts err belongs to exactly the expected class.
func checkClass(t *testing.T, err error, want errClass) {
	t.Helper()
	var ge *GatewayError
	isGateway := errors.As(err, &ge)
	got := map[string]bool{
		"ErrNotSent":        errors.Is(err, ErrNotSent),
		"ErrUnknownOutcome": errors.Is(err, ErrUnknownOutcome),
		"ErrBadSignature":   errors.Is(err, ErrBadSignature),
		"*GatewayError":     isGateway,
		"ErrInvalidRequest": errors.Is(err, ErrInvalidRequest),
	}
	wantSet := map[string]bool{}
	switch want {
	case classNotSent:
		wantSet["ErrNotSent"] = true
	case classUnknown:
		wantSet["ErrUnknownOutcome"] = true
	case classBadSignature:
		wantSet["ErrUnknownOutcome"] = true
		wantSet["ErrBadSignature"] = true
	case classGateway:
		wantSet["*GatewayError"] = true
	}
	if want == classNone && err != nil {
		t.Fatalf("err = %v, want success", err)
	}
	if want != classNone && err == nil {
		t.Fatalf("err = nil, want %v", want)
	}
	for name, is := range got {
		if is != wantSet[name] {
			t.Errorf("errors.Is/As(err, %s) = %v, want %v (err: %v)", name, is, wantSet[name], err)
		}
	}
}

// TestCreateOrderUnreadableEcho: a signed success whose trans_amount cannot
// be read in the order's currency is still a success (the order exists); the
// echo is dropped, never made an unknown outcome.
func TestCreateOrderUnreadableEcho(t *testing.T) {
	g := newFakeGateway(t)
	g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
		g.writeSigned(w, http.StatusOK, "0", "success", `{"trans_no":"5021","trans_amount":"144.345"}`)
	})
	c := newTestClient(t, testConfig(t, g))
	resp, err := c.CreateOrder(context.Background(), saleRequest("ORDER-ECHO-1"))
	if err != nil || resp.TransNo != "5021" || resp.TransAmount != nil {
		t.Fatalf("CreateOrder = %+v, %v; want success without trans_amount", resp, err)
	}
}

func TestCreateOrderErrorClasses(t *testing.T) {
	tests := []struct {
		name      string
		respond   func(g *fakeGateway, w http.ResponseWriter, r *http.Request)
		want      errClass
		wantCode  string   // for gateway refusals
		wantInErr []string // substrings of the error text
	}{
		{
			name: "gateway refusal signed 40001",
			respond: func(g *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				g.writeSigned(w, http.StatusOK, "40001", "missing parameter terminal_sn", "")
			},
			want: classGateway, wantCode: "40001", wantInErr: []string{"40001", "missing parameter", testPSN},
		},
		{
			name: "HTTP 400 with signed envelope",
			respond: func(g *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				g.writeSigned(w, http.StatusBadRequest, "40002", "signature invalid", "")
			},
			want: classGateway, wantCode: "40002",
		},
		{
			// A proxy's error page is not the gateway's answer: the create
			// may have been processed behind it.
			name: "HTTP 404 without envelope",
			respond: func(_ *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "no such route", http.StatusNotFound)
			},
			want: classUnknown, wantInErr: []string{"404", "no such route"},
		},
		{
			name: "HTTP 429 without envelope",
			respond: func(_ *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "slow down", http.StatusTooManyRequests)
			},
			want: classUnknown, wantInErr: []string{"429", "slow down"},
		},
		{
			name: "HTTP 429 even with a signed refusal",
			respond: func(g *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				g.writeSigned(w, http.StatusTooManyRequests, "40029", "rate limited", "")
			},
			want: classUnknown, wantInErr: []string{"429"},
		},
		{
			name: "HTTP 408 with a signed refusal",
			respond: func(g *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				g.writeSigned(w, http.StatusRequestTimeout, "40001", "timeout", "")
			},
			want: classUnknown, wantInErr: []string{"408"},
		},
		{
			name: "HTTP 401 without envelope",
			respond: func(_ *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
			},
			want: classUnknown, wantInErr: []string{"401"},
		},
		{
			name: "HTTP 400 with a signed success is not a success",
			respond: func(g *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				g.writeSigned(w, http.StatusBadRequest, "0", "success", `{"trans_no":"1"}`)
			},
			want: classUnknown, wantInErr: []string{"400"},
		},
		{
			name: "HTTP 400 with an unsigned refusal",
			respond: func(_ *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write(envelopeJSON("40001", "bad", testPSN, "", ""))
			},
			want: classUnknown,
		},
		{
			name: "HTTP 500",
			respond: func(_ *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "internal", http.StatusInternalServerError)
			},
			want: classUnknown, wantInErr: []string{"500"},
		},
		{
			name: "HTTP 503 even with a signed success",
			respond: func(g *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				g.writeSigned(w, http.StatusServiceUnavailable, "0", "success", `{"trans_no":"1"}`)
			},
			want: classUnknown,
		},
		{
			name: "redirect is not followed",
			respond: func(_ *fakeGateway, w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			},
			want: classUnknown, wantInErr: []string{"302"},
		},
		{
			name: "server closes connection after reading body",
			respond: func(_ *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
			},
			want: classUnknown,
		},
		{
			name: "truncated body",
			respond: func(_ *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "500")
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte(`{"code":"0","data":{`))
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = buf.Flush()
					conn.Close()
				}
			},
			want: classUnknown,
		},
		{
			name: "invalid JSON",
			respond: func(_ *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`<html>gateway</html>`))
			},
			want: classUnknown,
		},
		{
			name: "JSON with trailing garbage",
			respond: func(g *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write(append(signedEnvelope(g.t, g.gwKey, "0", "success", `{}`), []byte(`{"x":1}`)...))
			},
			want: classUnknown,
		},
		{
			name: "envelope without code",
			respond: func(_ *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"msg":"success","data":{}}`))
			},
			want: classUnknown,
		},
		{
			name: "bad signature: tampered data",
			respond: func(g *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				body := signedEnvelope(g.t, g.gwKey, "0", "success", `{"trans_no":"5021","trans_amount":"144.34"}`)
				_, _ = w.Write([]byte(strings.Replace(string(body), "144.34", "1.00", 1)))
			},
			want: classBadSignature,
		},
		{
			name: "bad signature: signed by another key",
			respond: func(g *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write(signedEnvelope(g.t, appKey(g.t), "0", "success", `{"trans_no":"5021"}`))
			},
			want: classBadSignature,
		},
		{
			name: "bad signature: tampered refusal",
			respond: func(g *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				body := signedEnvelope(g.t, g.gwKey, "40004", "duplicate merchant_order_no", "")
				_, _ = w.Write([]byte(strings.Replace(string(body), "40004", "40005", 1)))
			},
			want: classBadSignature,
		},
		{
			name: "bad signature: not base64",
			respond: func(_ *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write(envelopeJSON("0", "success", testPSN, `{}`, "!!!"))
			},
			want: classBadSignature,
		},
		{
			name: "unsigned error response",
			respond: func(_ *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write(envelopeJSON("40003", "timestamp out of window", testPSN, "", ""))
			},
			want: classUnknown, wantInErr: []string{"40003", "timestamp out of window", "unsigned"},
		},
		{
			name: "unsigned success response",
			respond: func(_ *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write(envelopeJSON("0", "success", testPSN, `{"trans_no":"5021"}`, ""))
			},
			want: classBadSignature, wantInErr: []string{"unsigned"},
		},
		{
			name: "success whose data is not an object",
			respond: func(g *fakeGateway, w http.ResponseWriter, _ *http.Request) {
				g.writeSigned(w, http.StatusOK, "0", "success", `"not json"`)
			},
			want: classUnknown,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			g.setRespond(func(w http.ResponseWriter, r *http.Request, _ received) { tc.respond(g, w, r) })
			c := newTestClient(t, testConfig(t, g))
			resp, err := c.CreateOrder(context.Background(), saleRequest("ORDER-ERR-1"))
			t.Logf("error: %v", err)
			checkClass(t, err, tc.want)
			if resp != nil {
				t.Errorf("response = %+v alongside error", resp)
			}
			if n := g.count(); n != 1 {
				t.Errorf("gateway saw %d create requests, want exactly 1 (never retried)", n)
			}
			var ge *GatewayError
			if tc.wantCode != "" {
				if !errors.As(err, &ge) || ge.Code != tc.wantCode {
					t.Errorf("GatewayError code = %+v, want %s", ge, tc.wantCode)
				} else if ge.Method != MethodPayOrder {
					t.Errorf("GatewayError.Method = %q", ge.Method)
				}
			}
			for _, s := range tc.wantInErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestCreateOrderTimeoutIsUnknownAndNotRetried(t *testing.T) {
	g := newFakeGateway(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before g.srv.Close
	g.setRespond(func(w http.ResponseWriter, r *http.Request, _ received) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	cfg := testConfig(t, g)
	cfg.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond}
	c := newTestClient(t, cfg)
	_, err := c.CreateOrder(context.Background(), saleRequest("ORDER-SLOW"))
	checkClass(t, err, classUnknown)
	if n := g.count(); n != 1 {
		t.Errorf("gateway saw %d requests, want 1", n)
	}
}

func TestContextCancelledWhileWaitingIsUnknown(t *testing.T) {
	g := newFakeGateway(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithCancel(context.Background())
	g.setRespond(func(w http.ResponseWriter, r *http.Request, _ received) {
		cancel() // the caller gives up after the gateway has the request
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := newTestClient(t, testConfig(t, g))
	_, err := c.CreateOrder(ctx, saleRequest("ORDER-CANCEL"))
	checkClass(t, err, classUnknown)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
	if n := g.count(); n != 1 {
		t.Errorf("gateway saw %d requests, want 1", n)
	}
}

func TestNotSent(t *testing.T) {
	// A port with nothing listening: connection refused before any byte.
	// Port 1 is privileged and never a test server's: a port freed by
	// closing a listener was taken by a parallel test's server once.
	closedURL := "http://127.0.0.1:1"

	tests := []struct {
		name string
		url  string
		ctx  func() context.Context
	}{
		{"connection refused", closedURL, context.Background},
		{"context already cancelled", "", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			cfg := testConfig(t, g)
			if tc.url != "" {
				cfg.GatewayURL = tc.url
			}
			c := newTestClient(t, cfg)
			_, err := c.CreateOrder(tc.ctx(), saleRequest("ORDER-NS"))
			t.Logf("error: %v", err)
			checkClass(t, err, classNotSent)
			if n := g.count(); n != 0 {
				t.Errorf("gateway saw %d requests, want 0", n)
			}
			if !strings.Contains(err.Error(), "not sent") {
				t.Errorf("error %q does not say it was not sent", err)
			}
		})
	}
}

func TestUnsignedResponsesWithoutVerification(t *testing.T) {
	tests := []struct {
		name  string
		basic bool
	}{
		{"basic auth mode", true},
		{"no gateway key", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			g.setRespond(func(w http.ResponseWriter, _ *http.Request, got received) {
				if got.Params["merchant_order_no"] == "REFUSED" {
					_, _ = w.Write(envelopeJSON("40004", "duplicate", testPSN, "", ""))
					return
				}
				_, _ = w.Write(envelopeJSON("0", "success", testPSN, `{"trans_no":"T1","terminal_online_status":"online"}`, ""))
			})
			cfg := testConfig(t, g)
			cfg.GatewayPublicKey = nil
			logs := &simtest.LogBuffer{}
			cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
			if tc.basic {
				cfg.BasicAuth = &BasicAuth{Username: "merchant", Password: "s3cret"}
				cfg.PrivateKey = nil
			}
			c := newTestClient(t, cfg)
			resp, err := c.CreateOrder(context.Background(), saleRequest("ACCEPTED"))
			if err != nil {
				t.Fatalf("CreateOrder: %v", err)
			}
			if resp.TransNo != "T1" {
				t.Errorf("TransNo = %q", resp.TransNo)
			}
			_, err = c.CreateOrder(context.Background(), saleRequest("REFUSED"))
			checkClass(t, err, classGateway)

			got := g.requests()[0]
			user, pass, hasBasic := (&http.Request{Header: got.Header}).BasicAuth()
			if tc.basic {
				if got.Params["sign_type"] != "NONE" || got.Params["sign"] != "" {
					t.Errorf("basic mode sent sign_type %q sign %q", got.Params["sign_type"], got.Params["sign"])
				}
				if !hasBasic || user != "merchant" || pass != "s3cret" {
					t.Errorf("Authorization basic = %v %q %q", hasBasic, user, pass)
				}
			} else {
				if hasBasic || got.Params["sign_type"] != "RSA2" || got.Params["sign"] == "" {
					t.Errorf("RSA2 mode: basic %v sign_type %q", hasBasic, got.Params["sign_type"])
				}
				if n := strings.Count(logs.String(), "NOT verified"); n != 1 {
					t.Errorf("warning about unverified responses logged %d times, want once:\n%s", n, logs)
				}
			}
			if strings.Contains(logs.String(), "s3cret") {
				t.Errorf("password appears in logs")
			}
		})
	}
}

// TestQueryNotFoundClassification: only a signed refusal of order.query that
// names a configured code, or says the order does not exist, is "not found";
// everything else is either another refusal or no answer at all.
func TestQueryNotFoundClassification(t *testing.T) {
	tests := []struct {
		name         string
		codes        []string
		respond      func(g *fakeGateway, w http.ResponseWriter)
		wantNotFound bool
		wantClass    errClass
	}{
		{"default code 40005", nil, func(g *fakeGateway, w http.ResponseWriter) {
			g.writeSigned(w, http.StatusOK, "40005", "order not found: X", "")
		}, true, classGateway},
		{"configured code", []string{"E1001"}, func(g *fakeGateway, w http.ResponseWriter) {
			g.writeSigned(w, http.StatusOK, "E1001", "query failed", "")
		}, true, classGateway},
		{"configured codes replace the default", []string{"E1001"}, func(g *fakeGateway, w http.ResponseWriter) {
			g.writeSigned(w, http.StatusOK, "40005", "query failed", "")
		}, false, classGateway},
		{"message: order does not exist", nil, func(g *fakeGateway, w http.ResponseWriter) {
			g.writeSigned(w, http.StatusOK, "ORDER_NOT_EXIST", "The order does not exist", "")
		}, true, classGateway},
		{"message in Chinese", nil, func(g *fakeGateway, w http.ResponseWriter) {
			g.writeSigned(w, http.StatusOK, "20001", "订单不存在", "")
		}, true, classGateway},
		{"timestamp refusal is not 'not found'", nil, func(g *fakeGateway, w http.ResponseWriter) {
			g.writeSigned(w, http.StatusOK, "40003", "timestamp outside the 15 minute window", "")
		}, false, classGateway},
		{"merchant not found is not 'order not found'", nil, func(g *fakeGateway, w http.ResponseWriter) {
			g.writeSigned(w, http.StatusOK, "40010", "merchant not found", "")
		}, false, classGateway},
		{"unsigned not-found is no answer", nil, func(_ *fakeGateway, w http.ResponseWriter) {
			_, _ = w.Write(envelopeJSON("40005", "order not found", testPSN, "", ""))
		}, false, classUnknown},
		{"HTTP 404 page is no answer", nil, func(_ *fakeGateway, w http.ResponseWriter) {
			http.Error(w, "order not found", http.StatusNotFound)
		}, false, classUnknown},
		{"HTTP 404 with a signed not-found envelope", nil, func(g *fakeGateway, w http.ResponseWriter) {
			g.writeSigned(w, http.StatusNotFound, "40005", "order not found", "")
		}, true, classGateway},
		{"HTTP 429 is no answer", nil, func(g *fakeGateway, w http.ResponseWriter) {
			g.writeSigned(w, http.StatusTooManyRequests, "40005", "order not found", "")
		}, false, classUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) { tc.respond(g, w) })
			cfg := testConfig(t, g)
			cfg.OrderNotFoundCodes = tc.codes
			c := newTestClient(t, cfg)
			_, err := c.QueryOrder(context.Background(), "ORDER-NF", "")
			checkClass(t, err, tc.wantClass)
			if got := IsOrderNotFound(err); got != tc.wantNotFound {
				t.Errorf("IsOrderNotFound(%v) = %v, want %v", err, got, tc.wantNotFound)
			}
			var he *HTTPError
			if errors.As(err, &he) && !errors.Is(err, ErrUnknownOutcome) {
				t.Errorf("HTTPError %v does not match ErrUnknownOutcome", err)
			}
		})
	}
	// A refusal of a create is never "not found", whatever it says: only a
	// query can tell that CodePay has no order.
	g := newFakeGateway(t)
	g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
		g.writeSigned(w, http.StatusOK, "40005", "original order not found", "")
	})
	c := newTestClient(t, testConfig(t, g))
	_, err := c.CreateOrder(context.Background(), saleRequest("ORDER-NF2"))
	if IsOrderNotFound(err) {
		t.Errorf("create refusal %v classified as order not found", err)
	}
}
