package bindosim

import (
	"net/http"
	"testing"
	"time"
)

func preCreateBody(uuid, amount string, mutate func(tx, top map[string]any)) string {
	tx := map[string]any{"uuid": uuid, "amount": amount, "currency": "HKD", "transaction_type": "sale"}
	top := map[string]any{"transaction": tx}
	if mutate != nil {
		mutate(tx, top)
	}
	return mustJSON(top)
}

func (h *harness) preCreate(body string, clientIP string) response {
	h.t.Helper()
	hdr := map[string]string{}
	if clientIP != "" {
		hdr["X-CLIENT-IP"] = clientIP
	}
	return h.do("POST", "/gateway/v3/stores/"+tStore+"/payment/precreate", h.token, hdr, body)
}

func TestPreCreateRules(t *testing.T) {
	h := newHarness(t)
	expAt := func(d time.Duration) func(tx, _ map[string]any) {
		return func(tx, _ map[string]any) { tx["txn_exp_at"] = h.clock.Now().Add(d).Format(time.RFC3339) }
	}
	tests := []struct {
		name   string
		body   string
		ip     string
		status int
	}{
		{"no X-CLIENT-IP", preCreateBody(uuid1, "2.00", nil), "", http.StatusBadRequest},
		{"X-CLIENT-IP not an address", preCreateBody(uuid1, "2.00", nil), "localhost", http.StatusBadRequest},
		{"card data", preCreateBody(uuid1, "2.00", func(tx, _ map[string]any) { tx["credit_card"] = map[string]any{"card_number": visaPAN} }), "1.2.3.4", http.StatusBadRequest},
		{"three decimals", preCreateBody(uuid1, "2.001", nil), "1.2.3.4", http.StatusBadRequest},
		{"refund type", preCreateBody(uuid1, "2.00", func(tx, _ map[string]any) { tx["transaction_type"] = "refund" }), "1.2.3.4", http.StatusBadRequest},
		{"expiry past 15 minutes", preCreateBody(uuid1, "2.00", expAt(16*time.Minute)), "1.2.3.4", http.StatusBadRequest},
		{"relative notify_url", preCreateBody(uuid1, "2.00", func(_, top map[string]any) { top["notify_url"] = "/x" }), "1.2.3.4", http.StatusBadRequest},
		{"accepted", preCreateBody(uuid1, "2.00", expAt(15*time.Minute)), "1.2.3.4", http.StatusOK},
		{"same uuid, other amount", preCreateBody(uuid1, "3.00", nil), "1.2.3.4", http.StatusConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.preCreate(tc.body, tc.ip)
			if r.status != tc.status {
				t.Fatalf("HTTP %d %v, want %d", r.status, r.body, tc.status)
			}
		})
	}
	v, ok := h.sim.Transaction(uuid1)
	if !ok || v.State != statePending || v.PayURL == "" || !v.ExpiresAt.Equal(h.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("view = %+v", v)
	}
	assertClean(t, "request log", mustJSON(h.sim.Requests("", "")))
}

func TestLinkAdminAndPage(t *testing.T) {
	h := newHarness(t)
	r := h.preCreate(preCreateBody(uuid2, "2.00", nil), "1.2.3.4")
	url := r.str("pay_redirect_url")
	if r.status != http.StatusOK || r.str("transaction_state") != statePending || url == "" || r.str("payment_method") != linkPayMethod {
		t.Fatalf("pre-create = %d %v", r.status, r.body)
	}
	page := h.do("GET", url[len(h.srv.URL):], "", nil, "")
	if page.status != http.StatusOK || page.str("uuid") != uuid2 {
		t.Fatalf("page = %d %v", page.status, page.body)
	}
	if bad := h.do("GET", linkPath+"?X-CLIENT-SECRET=nope", "", nil, ""); bad.status != http.StatusNotFound {
		t.Fatalf("page with a wrong secret = %d", bad.status)
	}
	for _, tc := range []struct {
		id, body string
		status   int
	}{
		{uuid2, `{"action":"dance"}`, http.StatusBadRequest},
		{uuid3, `{"action":"pay"}`, http.StatusNotFound},
		{uuid2, `{"action":"abandon"}`, http.StatusOK},
		{uuid2, `{"action":"pay"}`, http.StatusOK},
		{uuid2, `{"action":"expire"}`, http.StatusConflict},
	} {
		if got := h.do("POST", "/sim/links/"+tc.id, "", nil, tc.body); got.status != tc.status {
			t.Fatalf("POST /sim/links/%s %s = %d %v, want %d", tc.id, tc.body, got.status, got.body, tc.status)
		}
	}
	q := h.query(uuid2)
	cc, _ := q.txn()["credit_card"].(map[string]any)
	if q.str("transaction_state") != stateSuccess || q.str("pay_redirect_url") != url || cc["card_number"] != visaMask {
		t.Fatalf("query = %v", q.body)
	}
}
