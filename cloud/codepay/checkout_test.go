package codepay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestCheckoutAnswer(t *testing.T) {
	tests := []struct {
		name string
		data string
		ok   bool
	}{
		{"https page", `{"pay_url":"https://checkout.codepay.us/p/abc?x=1"}`, true},
		{"loopback http page", `{"pay_url":"http://127.0.0.1:8080/checkout/abc"}`, true},
		{"no pay_url", `{}`, false},
		{"plain http page", `{"pay_url":"http://checkout.example.com/p"}`, false},
		{"relative", `{"pay_url":"/p/abc"}`, false},
		{"javascript", `{"pay_url":"javascript:alert(1)"}`, false},
		{"user info", `{"pay_url":"https://a:b@checkout.example.com/p"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
				g.writeSigned(w, http.StatusOK, "0", "success", tc.data)
			})
			c := newTestClient(t, testConfig(t, g))
			got, err := c.Checkout(context.Background(), CheckoutRequest{MerchantOrderNo: "CK-1", Amount: usd(100), Description: "d", Expires: time.Hour})
			if !tc.ok {
				if !errors.Is(err, ErrUnknownOutcome) {
					t.Fatalf("Checkout = %+v, %v; want ErrUnknownOutcome", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Checkout: %v", err)
			}
			if want := testNow.Add(time.Hour); !got.ExpiresAt.Equal(want) || got.PayURL == "" {
				t.Fatalf("Checkout = %+v, want expiry %v", got, want)
			}
		})
	}
}

func FuzzCheckoutFields(f *testing.F) {
	f.Add("https://checkout.codepay.us/p/abc?x=1", `{"type":"GENERAL"}`)
	f.Add("http://[::1]:80/x", `{"a": [1, 2, {"b": null}]}`)
	f.Add("https://h/\x00", `[1]`)
	f.Fuzz(func(t *testing.T, payURL, detail string) {
		if u := checkoutPageURL(payURL); u != "" && u != payURL {
			t.Fatalf("checkoutPageURL(%q) = %q", payURL, u)
		}
		text, err := jsonObjectText("order_detail", json.RawMessage(detail))
		if err != nil {
			return
		}
		var obj map[string]any
		if json.Unmarshal([]byte(text), &obj) != nil || obj == nil {
			t.Fatalf("jsonObjectText(%q) = %q, not a JSON object", detail, text)
		}
	})
}
