package codepaysim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
)

type hit struct {
	at     time.Time
	body   []byte
	ctype  string
	params codepay.Params
}

// receiver is a notify_url endpoint that answers attempt n with reply(n).
type receiver struct {
	simtest.Hits[hit]
	srv *httptest.Server
	got chan hit
}

func newReceiver(t *testing.T, clock *simtest.Clock, reply func(n int) (int, string)) *receiver {
	rc := &receiver{got: make(chan hit, 64)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p codepay.Params
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("notification is not a JSON object of strings: %s", b)
		}
		h := hit{at: clock.Now(), body: b, ctype: r.Header.Get("Content-Type"), params: p}
		status, body := reply(rc.Add(h))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		rc.got <- h
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func TestNotificationDeliveredAndRetried(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t, e.clock, func(n int) (int, string) {
		switch n {
		case 1:
			return http.StatusOK, "fail"
		case 2:
			return http.StatusInternalServerError, "success"
		}
		return http.StatusOK, " SUCCESS \n"
	})
	ctx := context.Background()
	e.mustCreate(with(createFields("N-1", "12.34"), "notify_url", rc.srv.URL+"/hooks/codepay", "attach", "lane=1"))
	e.sim.RunDue(ctx)
	if rc.Count() != 0 {
		t.Fatal("notified before the order was final")
	}
	e.clock.Advance(2 * time.Second)
	final := e.clock.Now()
	e.sim.RunDue(ctx)
	if rc.Count() != 1 {
		t.Fatalf("attempts after final = %d, want 1", rc.Count())
	}
	h := rc.Last()
	if err := codepay.Verify(e.keys.gwPub, h.params); err != nil {
		t.Fatalf("notification signature: %v\n%s", err, h.body)
	}
	want := map[string]string{
		"app_id": testAppID, "sign_type": "RSA2", "merchant_order_no": "N-1", "trans_status": "2",
		"trans_type": "1", "order_amount": "12.34", "trans_amount": "12.34", "paid_amount": "12.34",
		"price_currency": "USD", "attach": "lane=1", "pay_method_id": "Visa", "card_no": "476173******0119",
		"trans_end_time": final.UTC().Format("2006-01-02 15:04:05"),
	}
	for k, v := range want {
		if h.params[k] != v {
			t.Errorf("notification %s = %q, want %q", k, h.params[k], v)
		}
	}
	if len(h.params["timestamp"]) != 13 || h.params["trans_no"] == "" || h.params["auth_no"] == "" {
		t.Errorf("notification = %v", h.params)
	}
	if h.ctype != "application/json; charset=UTF-8" {
		t.Errorf("Content-Type = %q", h.ctype)
	}

	steps := []struct {
		advance time.Duration
		want    int
	}{
		{5*time.Second - time.Millisecond, 1},
		{time.Millisecond, 2}, // +5s after attempt 1
		{10*time.Second - time.Millisecond, 2},
		{time.Millisecond, 3}, // +10s after attempt 2: acknowledged
		{24 * time.Hour, 3},
	}
	for _, st := range steps {
		e.clock.Advance(st.advance)
		e.sim.RunDue(ctx)
		if got := rc.Count(); got != st.want {
			t.Fatalf("after +%v: %d attempts, want %d", st.advance, got, st.want)
		}
	}
	v, _ := e.sim.Order("N-1")
	if n := v.Notification; n == nil || !n.Delivered || n.Attempts != 3 || n.GaveUp {
		t.Fatalf("notification state = %+v", v.Notification)
	}
}

func TestNotificationGivesUpAfterSchedule(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t, e.clock, func(int) (int, string) { return http.StatusOK, "received" })
	ctx := context.Background()
	e.sim.ScriptOutcome("N-2", Outcome{Status: codepay.StatusFailed, ErrorCode: "05", ErrorMsg: "Do not honor"})
	e.mustCreate(with(createFields("N-2", "1.00"), "notify_url", rc.srv.URL))
	e.clock.Advance(2 * time.Second)
	start := e.clock.Now()
	var offsets []time.Duration
	for i := 0; i < NotifyAttempts; i++ {
		e.sim.RunDue(ctx)
		if got := rc.Count(); got != i+1 {
			t.Fatalf("attempt %d: receiver saw %d", i+1, got)
		}
		offsets = append(offsets, rc.Last().at.Sub(start))
		if i == NotifyAttempts-1 {
			break
		}
		e.clock.Advance(RetrySchedule()[i] - time.Millisecond)
		e.sim.RunDue(ctx)
		if got := rc.Count(); got != i+1 {
			t.Fatalf("retry %d came early", i+1)
		}
		e.clock.Advance(time.Millisecond)
	}
	e.clock.Advance(48 * time.Hour)
	e.sim.RunDue(ctx)
	if got := rc.Count(); got != 15 {
		t.Fatalf("attempts = %d, want 15", got)
	}
	wantOffsets := []time.Duration{0}
	var sum time.Duration
	for _, d := range RetrySchedule() {
		sum += d
		wantOffsets = append(wantOffsets, sum)
	}
	for i := range wantOffsets {
		if offsets[i] != wantOffsets[i] {
			t.Errorf("attempt %d at +%v, want +%v", i+1, offsets[i], wantOffsets[i])
		}
	}
	if sum < 11*time.Hour || sum > 13*time.Hour {
		t.Errorf("schedule spans %v, want about 12h", sum)
	}
	if h := rc.Last(); h.params["trans_status"] != "1" || h.params["trans_error_code"] != "05" {
		t.Errorf("declined notification = %v", h.params)
	}
	v, _ := e.sim.Order("N-2")
	if n := v.Notification; n == nil || !n.GaveUp || n.Delivered || n.Attempts != 15 || n.LastError == "" {
		t.Fatalf("notification state = %+v", v.Notification)
	}
}

func TestNotificationKinds(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t, e.clock, func(int) (int, string) { return http.StatusOK, "success" })
	ctx := context.Background()
	e.mustCreate(createFields("NN-0", "1.00")) // no notify_url: nothing sent
	e.mustCreate(with(createFields("NN-1", "1.00"), "notify_url", rc.srv.URL, "terminal_sn", snOffline, "expires", "30"))
	e.clock.Advance(time.Minute)
	e.sim.RunDue(ctx)
	if rc.Count() != 1 || rc.Last().params["trans_error_code"] != "ORDER_EXPIRED" {
		t.Fatalf("expiry notification: %d hits", rc.Count())
	}
	e.approve(createFields("NN-2", "4.00"))
	r := e.cl.do(codepay.MethodRefundSubmit, map[string]string{
		"orig_merchant_order_no": "NN-2", "merchant_order_no": "NN-R", "price_currency": "USD",
		"order_amount": "1.50", "description": "refund", "notify_url": rc.srv.URL,
	})
	wantCode(t, r, CodeOK)
	e.clock.Advance(2 * time.Second)
	e.sim.RunDue(ctx)
	if rc.Count() != 2 {
		t.Fatalf("refund notification: %d hits, want 2", rc.Count())
	}
	if p := rc.Last().params; p["trans_type"] != "3" || p["merchant_order_no"] != "NN-R" || p["orig_merchant_order_no"] != "NN-2" {
		t.Errorf("refund notification = %v", p)
	}
}

func TestServeDeliversAndStops(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t, e.clock, func(int) (int, string) { return http.StatusOK, "success" })
	stop := simtest.Serve(t, e.sim.Serve)

	e.mustCreate(with(createFields("SV-1", "3.00"), "notify_url", rc.srv.URL))
	e.clock.Advance(2 * time.Second)
	if h := simtest.Receive(t, rc.got, "notification from Serve"); h.params["merchant_order_no"] != "SV-1" || h.params["trans_status"] != "2" {
		t.Errorf("notification = %v", h.params)
	}
	stop()
}
