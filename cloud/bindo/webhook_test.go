package bindo

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/bindo/bindosim"
)

const sampleWebhook = `{
    "transaction": {
        "uuid": "8ec9cd52-a1ab-41cb-be85-89b933fff6f3",
        "brn": "2351687111989594113",
        "total_amount": "2.1",
        "amount": "2.1",
        "currency": "HKD",
        "dcc_amount": "0",
        "transaction_type": "sale",
        "payment_method": "credit_card_token",
        "transaction_state": "success",
        "date_time": "2021-10-09T08:33:32.137Z",
        "merchant_id": "987654321",
        "rrn": "2351689413873893376",
        "acquirer_type": "visa",
        "credit_card": {
            "card_reader_mode": "credit_card_token",
            "card_exp_date": "202412",
            "card_number": "438437******0049",
            "card_holder_name": "ABCDEFGHTID",
            "auth_code": "2351689413873893379",
            "response_code": "00"
        }
    }
}`

func hmacOf(secret, body string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return m.Sum(nil)
}

func TestVerifyWebhook(t *testing.T) {
	secret := []byte(testWebhookSecret)
	sum := hmacOf(testWebhookSecret, sampleWebhook)
	tests := []struct {
		name     string
		secret   []byte
		body     string
		sig      string
		ok       bool
		encoding string
	}{
		{"hex lower", secret, sampleWebhook, hex.EncodeToString(sum), true, "hex"},
		{"hex upper", secret, sampleWebhook, strings.ToUpper(hex.EncodeToString(sum)), true, "hex"},
		{"hex with prefix and spaces", secret, sampleWebhook, " sha256=" + hex.EncodeToString(sum) + " ", true, "hex"},
		{"base64", secret, sampleWebhook, base64.StdEncoding.EncodeToString(sum), true, "base64"},
		{"base64 raw", secret, sampleWebhook, base64.RawStdEncoding.EncodeToString(sum), true, "base64"},
		{"base64 url", secret, sampleWebhook, base64.URLEncoding.EncodeToString(sum), true, "base64"},
		{"wrong signature", secret, sampleWebhook, hex.EncodeToString(hmacOf("other", sampleWebhook)), false, ""},
		{"wrong secret", []byte("other"), sampleWebhook, hex.EncodeToString(sum), false, ""},
		{"body re-serialised", secret, strings.Join(strings.Fields(sampleWebhook), ""), hex.EncodeToString(sum), false, ""},
		{"tampered body", secret, strings.Replace(sampleWebhook, "2.1", "9.1", 1), hex.EncodeToString(sum), false, ""},
		{"truncated digest", secret, sampleWebhook, hex.EncodeToString(sum[:16]), false, ""},
		{"empty signature", secret, sampleWebhook, "", false, ""},
		{"garbage", secret, sampleWebhook, "not a signature!", false, ""},
		{"no secret configured", nil, sampleWebhook, hex.EncodeToString(hmacOf("", sampleWebhook)), false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhook(tc.secret, []byte(tc.body), tc.sig)
			if tc.ok && err != nil {
				t.Fatalf("VerifyWebhook = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("VerifyWebhook = %v, want ErrBadSignature", err)
			}
			if got := WebhookEncoding(tc.secret, []byte(tc.body), tc.sig); got != tc.encoding {
				t.Fatalf("WebhookEncoding = %q, want %q", got, tc.encoding)
			}
		})
	}
}

func TestParseWebhook(t *testing.T) {
	tx, err := ParseWebhook([]byte(sampleWebhook))
	if err != nil {
		t.Fatalf("ParseWebhook(sample): %v", err)
	}
	if tx.UUID != "8ec9cd52-a1ab-41cb-be85-89b933fff6f3" || tx.BRN != "2351687111989594113" || tx.Status != StatusApproved ||
		*tx.Amount != 210 || *tx.Total != 210 || tx.MaskedPAN != "438437******0049" || tx.Brand != "Visa" ||
		tx.RefNo != "2351689413873893376" || tx.Time.IsZero() {
		t.Fatalf("ParseWebhook(sample) = %+v", tx)
	}
	tests := []struct {
		name   string
		body   string
		status Status
		ok     bool
	}{
		{"failed decline", `{"transaction":{"uuid":"u-1","transaction_state":"failed","error_code":"110004","error_desc":"Insufficient Funds"}}`, StatusDeclined, true},
		{"failed other", `{"transaction":{"uuid":"u-1","transaction_state":"failed","error_code":"199997"}}`, StatusFailed, true},
		{"pending", `{"transaction":{"brn":"1","transaction_state":"pending"}}`, StatusPending, true},
		{"unknown state", `{"transaction":{"brn":"1","transaction_state":"closing"}}`, StatusPending, true},
		{"voided", `{"transaction":{"brn":"1","transaction_state":"success","is_voided":true}}`, StatusVoided, true},
		{"numbers", `{"transaction":{"brn":1,"transaction_state":"success","amount":12.5,"currency":"HKD"}}`, StatusApproved, true},
		{"empty", ``, "", false},
		{"not json", `transaction=1`, "", false},
		{"no transaction", `{"uuid":"x"}`, "", false},
		{"no ids", `{"transaction":{"transaction_state":"success"}}`, "", false},
		{"no state", `{"transaction":{"uuid":"u-1"}}`, "", false},
		{"amount without currency", `{"transaction":{"uuid":"u-1","transaction_state":"success","amount":"1"}}`, "", false},
		{"amount too precise", `{"transaction":{"uuid":"u-1","transaction_state":"success","amount":"1.001","currency":"HKD"}}`, "", false},
		{"object as string", `{"transaction":{"uuid":{"a":1},"transaction_state":"success"}}`, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := ParseWebhook([]byte(tc.body))
			if !tc.ok {
				if !errors.Is(err, ErrBadWebhook) {
					t.Fatalf("ParseWebhook = %+v, %v; want ErrBadWebhook", tx, err)
				}
				return
			}
			if err != nil || tx.Status != tc.status {
				t.Fatalf("ParseWebhook = %+v, %v; want status %s", tx, err, tc.status)
			}
		})
	}
	if _, err := ParseWebhook(make([]byte, MaxWebhookBytes+1)); !errors.Is(err, ErrBadWebhook) {
		t.Fatalf("oversized webhook error = %v", err)
	}
}

// TestWebhookEndToEnd runs the emulator's webhook sender against a receiver
// built from VerifyWebhook and ParseWebhook, in both encodings.
func TestWebhookEndToEnd(t *testing.T) {
	for _, enc := range []string{bindosim.EncodingHex, bindosim.EncodingBase64} {
		t.Run(enc, func(t *testing.T) {
			var (
				mu       sync.Mutex
				received []*Transaction
				appIDs   []string
				failNext = true
			)
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBytes))
				if err := VerifyWebhook([]byte(testWebhookSecret), body, r.Header.Get(HeaderSignature)); err != nil {
					http.Error(w, "bad signature", http.StatusUnauthorized)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if failNext { // first delivery fails: the emulator retries
					failNext = false
					http.Error(w, "busy", http.StatusServiceUnavailable)
					return
				}
				tx, err := ParseWebhook(body)
				if err != nil {
					http.Error(w, "bad body", http.StatusBadRequest)
					return
				}
				received = append(received, tx)
				appIDs = append(appIDs, r.Header.Get(HeaderAppID))
			}))
			defer recv.Close()
			e := newEnv(t, withWebhook(recv.URL+"/hooks/bindo", enc))
			ctx := context.Background()
			req := saleReq("W1", 1000, visaCard(ModeContact))
			if _, err := e.client.Sale(ctx, req); err != nil {
				t.Fatal(err)
			}
			e.sim.RunDue(ctx)
			mu.Lock()
			if len(received) != 0 {
				t.Fatalf("webhook before the sale is final")
			}
			mu.Unlock()
			e.clock.Advance(2 * time.Second)
			e.sim.RunDue(ctx) // first attempt: 503
			e.clock.Advance(10 * time.Second)
			e.sim.RunDue(ctx) // retry: delivered
			mu.Lock()
			defer mu.Unlock()
			if len(received) != 1 || received[0].UUID != req.UUID || received[0].Status != StatusApproved || appIDs[0] != bindosim.DefaultAppID {
				t.Fatalf("received %+v (app ids %v), want one approved webhook for %s", received, appIDs, req.UUID)
			}
			v, _ := e.sim.Transaction(req.UUID)
			if v.Webhook == nil || !v.Webhook.Delivered || v.Webhook.Attempts != 2 {
				t.Fatalf("webhook state = %+v, want delivered on attempt 2", v.Webhook)
			}
		})
	}
}
