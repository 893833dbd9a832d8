package bindosim

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
	"github.com/posbridge/posbridge/pan"
)

// FuzzSale sends arbitrary bodies to the sale endpoint: no panic, only the
// documented statuses, JSON answers, and no card data in what is kept.
func FuzzSale(f *testing.F) {
	f.Add(saleBody(uuid1, "12.30", "contact", nil))
	f.Add(saleBody(uuid1, "12.30", "swipe", func(_, cc map[string]any) { cc["card_fallback"] = true }))
	f.Add(saleBody(uuid1, "10.51", "manual", nil))
	f.Add(saleBody(uuid1, "1", "contactless", func(tx, _ map[string]any) { tx["txn_exp_at"] = "2025-03-14T09:30:00Z" }))
	f.Add(`{"transaction":{"credit_card":{"card_number":"4111111111111111","card_track2":[1]}}}`)
	f.Add(`{"transaction":null}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		// A fresh emulator per input keeps every execution equally cheap.
		sim, token := fuzzSim(t)
		req := httptest.NewRequest("POST", "/gateway/v3/stores/"+tStore+"/payment/transactions", strings.NewReader(body))
		req.Header.Set("X-USER-ACCESS-TOKEN", token)
		for k, v := range nativeHdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusConflict:
		default:
			t.Fatalf("status %d for %q", w.Code, body)
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("answer is not JSON: %q", w.Body)
		}
		reqs := sim.Requests(OpSale, "")
		checkRedacted(t, reqs[len(reqs)-1].Body, false)
		for _, v := range sim.Transactions() {
			if !strings.Contains(v.MaskedPAN, "*") {
				t.Fatalf("stored PAN %q is not masked", v.MaskedPAN)
			}
		}
	})
}

func fuzzSim(t *testing.T) (*Sim, string) {
	sim, err := New(Config{
		StoreID: tStore, Username: tUser, Password: tPassword, ClientID: tClientID, ClientSecret: tSecret,
		Clock: simtest.NewClock(), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	login := httptest.NewRecorder()
	sim.ServeHTTP(login, httptest.NewRequest("POST", "/api/v2/login", strings.NewReader(mustJSON(map[string]any{
		"username": tUser, "password": tPassword, "grant_type": "password", "client_id": tClientID, "client_secret": tSecret,
	}))))
	var lr struct {
		User struct {
			AccessToken string `json:"access_token"`
		} `json:"user"`
	}
	if err := json.Unmarshal(login.Body.Bytes(), &lr); err != nil || lr.User.AccessToken == "" {
		t.Fatalf("login: %s", login.Body)
	}
	return sim, lr.User.AccessToken
}

// FuzzSummarise checks the request-log redaction on arbitrary JSON.
func FuzzSummarise(f *testing.F) {
	f.Add(saleBody(uuid1, "1.00", "contact", nil))
	f.Add(`{"password":"p","client_secret":"s","nested":[{"credit_card":{"x":[1],"card_sn":{"a":1}}}]}`)
	f.Add(`{"credit_card":"4111111111111111"}`)
	f.Fuzz(func(t *testing.T, body string) {
		m, _, _ := summarise([]byte(body))
		checkRedacted(t, m, false)
	})
}

// checkRedacted asserts the redaction invariants on a recorded body.
func checkRedacted(t *testing.T, v any, inCard bool) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			lk := strings.ToLower(k)
			switch {
			case lk == "credit_card":
				if _, ok := val.(map[string]any); !ok && val != redacted {
					t.Fatalf("credit_card kept as %v", val)
				}
				checkRedacted(t, val, true)
			case lk == "card_number":
				if s, _ := val.(string); s != redacted && !strings.Contains(s, "*") {
					t.Fatalf("card_number kept as %v", val)
				}
			case redactedKeys[lk]:
				if val != redacted {
					t.Fatalf("%s kept as %v", k, val)
				}
			case inCard:
				switch val.(type) {
				case map[string]any, []any:
					t.Fatalf("credit_card.%s kept as a structure", k)
				}
				if !cardKeptKeys[lk] && val != redacted {
					t.Fatalf("credit_card.%s kept as %v", k, val)
				}
			default:
				checkRedacted(t, val, false)
			}
		}
	case []any:
		for _, e := range x {
			if inCard && e != redacted {
				t.Fatalf("array element under credit_card kept: %v", e)
			}
			checkRedacted(t, e, inCard)
		}
	}
}

// FuzzTrack2 checks the track 2 parser.
func FuzzTrack2(f *testing.F) {
	f.Add(visaT2)
	f.Add(otherT2)
	f.Add("4111111111111111D2812101F")
	f.Add(";=?")
	f.Fuzz(func(t *testing.T, t2 string) {
		number, exp, ok := parseTrack2(t2)
		if !ok {
			return
		}
		if len(number) < 12 || len(number) > 19 || !pan.AllDigits(number) || len(exp) != 4 || !pan.AllDigits(exp) {
			t.Fatalf("parseTrack2(%q) = %q, %q", t2, number, exp)
		}
	})
}
