package bindo

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/bindo/bindosim"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestPreCreateGolden pins the pre-create request: headers and body as sent.
func TestPreCreateGolden(t *testing.T) {
	e := newEnv(t)
	var got bytes.Buffer
	tap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.HasSuffix(r.URL.Path, "/payment/precreate") {
			got.WriteString(r.Method + " " + r.URL.Path + "\n")
			for _, h := range []string{"Content-Type", HeaderClientIP, HeaderDeviceID} {
				got.WriteString(h + ": " + r.Header.Get(h) + "\n")
			}
			got.Write(body)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(tap.Close)
	cc := e.clientConfig(&memTokens{})
	cc.GatewayURL, cc.LoginURL = tap.URL, tap.URL
	c := e.newClient(cc)
	req := linkReq("L-GOLDEN", 200, "https://pos.example.com/hooks/bindo")
	req.ExpiresAt = e.clock.Now().Add(10 * time.Minute)
	if _, err := c.PreCreate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	const path = "testdata/precreate.golden"
	if *updateGolden {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if got.String() != string(want) {
		t.Errorf("pre-create request:\n got: %s\nwant: %s", got.String(), want)
	}
}

func FuzzParseLinkWebhook(f *testing.F) {
	f.Add([]byte(sampleWebhook), "")
	f.Add([]byte(`{"transaction":{"uuid":"u","transaction_state":"pending","pay_redirect_url":"https://x/y?a=b"}}`), "app")
	f.Add([]byte(`{"transaction":{"uuid":"u","transaction_type":"refund","transaction_state":"success"}}`), "")
	c, err := New(Config{
		GatewayURL: "http://127.0.0.1:1", LoginURL: "http://127.0.0.1:1", StoreID: testStore, Username: testUser,
		Password: testPassword, ClientID: testClientID, ClientSecret: testSecret, WebhookSecret: testWebhookSecret,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, app string) {
		h := http.Header{}
		h.Set(HeaderSignature, bindosim.Sign([]byte(testWebhookSecret), body, bindosim.EncodingHex))
		h.Set(HeaderAppID, app)
		tx, err := c.ParseLinkWebhook(h, body)
		if err != nil {
			if !errors.Is(err, ErrBadWebhook) {
				t.Fatalf("error %v is not ErrBadWebhook", err)
			}
			return
		}
		if tx.UUID == "" || (tx.PayURL != "" && linkURL(tx.PayURL) != tx.PayURL) {
			t.Fatalf("accepted %+v", tx)
		}
	})
}
