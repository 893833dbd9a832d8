package codepaysim

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
)

func TestResponseEnvelope(t *testing.T) {
	e := newEnv(t, nil)
	p := e.cl.params(codepay.MethodPayOrder, createFields("ENV-1", "1.00"))
	resp, b, err := e.cl.postRaw(e.cl.signedBody(p), "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"code", "msg", "psn", "data", "sign"} {
		if _, ok := top[k]; !ok {
			t.Errorf("response lacks %q: %s", k, b)
		}
	}
	env := e.cl.parseEnvelope(b, true) // verifies with testdata/gateway_public.pem
	if !regexp.MustCompile(`^\d{20}$`).MatchString(env.PSN) {
		t.Errorf("psn = %q, want 20 digits", env.PSN)
	}
	// The signature covers exactly the canonical string of the top-level
	// members, data as its raw compact JSON.
	params, _ := codepay.ResponseParams(b)
	if !strings.HasPrefix(codepay.Canonical(params), `code=0&data={"message_id":`) {
		t.Errorf("canonical = %s", codepay.Canonical(params))
	}
	// Refusals are signed too, and carry no data.
	r := e.create(createFields("ENV-1", "1.00"))
	wantCode(t, r, CodeDuplicateOrder)
	if r.Sign == "" || len(r.Data) != 0 {
		t.Errorf("refusal envelope = %s", r.raw)
	}
	// Wrong HTTP method / path.
	resp, err = e.srv.Client().Get(e.srv.URL + "/api/entry")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/entry = %d, want 405", resp.StatusCode)
	}
}

// TestHTTPFaultsProcessedOrNot: each HTTP-level fault either processed the
// request (the order exists behind the error) or did not, as documented.
func TestHTTPFaultsProcessedOrNot(t *testing.T) {
	tests := []struct {
		kind       FaultKind
		wantStatus int // 0: no response at all
		processed  bool
	}{
		{FaultHTTP500, http.StatusInternalServerError, false},
		{FaultHTTP500AfterProcess, http.StatusInternalServerError, true},
		{FaultHTTP429, http.StatusTooManyRequests, false},
		{FaultHTTP429AfterProcess, http.StatusTooManyRequests, true},
		{FaultDrop, 0, false},
		{FaultDropAfterProcess, 0, true},
		{FaultHang, 0, false},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			e := newEnv(t, nil)
			e.sim.InjectFault(Fault{Method: codepay.MethodPayOrder, Kind: tc.kind, Delay: 50 * time.Millisecond})
			no := "HF-" + strings.ReplaceAll(string(tc.kind), "_", "-")
			p := e.cl.params(codepay.MethodPayOrder, createFields(no, "1.00"))
			resp, body, err := e.cl.postRaw(e.cl.signedBody(p), "application/json", nil)
			switch {
			case tc.wantStatus == 0 && err == nil:
				t.Fatalf("got HTTP %d %s, want the connection closed without a response", resp.StatusCode, body)
			case tc.wantStatus != 0 && err != nil:
				t.Fatalf("error %v, want HTTP %d", err, tc.wantStatus)
			case tc.wantStatus != 0 && resp.StatusCode != tc.wantStatus:
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if _, ok := e.sim.Order(no); ok != tc.processed {
				t.Fatalf("order exists = %v, want %v", ok, tc.processed)
			}
			reqs := e.sim.Requests(codepay.MethodPayOrder, no)
			if len(reqs) != 1 || reqs[0].Fault != tc.kind || (reqs[0].Code == CodeOK) != tc.processed {
				t.Fatalf("recorded = %+v", reqs)
			}
			// The fault is used up: the same create again is processed (or,
			// if the first was, refused as a duplicate — never a second order).
			want := CodeOK
			if tc.processed {
				want = CodeDuplicateOrder
			}
			wantCode(t, e.create(createFields(no, "1.00")), want)
		})
	}
}

// TestProcessLate: a held create is answered 502 unprocessed, then
// processed after its delay and recorded again as late, with the code it
// got; a create sent again in between wins and the held one is refused as
// a duplicate — never a second order.
func TestProcessLate(t *testing.T) {
	for _, resend := range []bool{false, true} {
		t.Run(map[bool]string{false: "arrives", true: "after a re-send"}[resend], func(t *testing.T) {
			e := newEnv(t, nil)
			e.sim.InjectFault(Fault{Method: codepay.MethodPayOrder, Kind: FaultProcessLate, Delay: time.Hour})
			p := e.cl.params(codepay.MethodPayOrder, createFields("PL-1", "1.00"))
			resp, _, err := e.cl.postRaw(e.cl.signedBody(p), "application/json", nil)
			if err != nil || resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("held create = %v, %v; want HTTP 502", resp, err)
			}
			if _, ok := e.sim.Order("PL-1"); ok {
				t.Fatal("order exists before the held create arrived")
			}
			want := CodeOK
			if resend {
				wantCode(t, e.create(createFields("PL-1", "1.00")), CodeOK)
				want = CodeDuplicateOrder
			}
			if n := e.sim.ReleaseHeld(); n != 1 {
				t.Fatalf("released %d, want 1", n)
			}
			reqs := e.sim.Requests(codepay.MethodPayOrder, "PL-1")
			if last := reqs[len(reqs)-1]; !last.Late || last.Code != want || reqs[0].Fault != FaultProcessLate {
				t.Fatalf("recorded = %+v", reqs)
			}
			if _, ok := e.sim.Order("PL-1"); !ok {
				t.Fatal("no order after the held create arrived")
			}
		})
	}
}

func TestFaults(t *testing.T) {
	t.Run("http500 does not process", func(t *testing.T) {
		e := newEnv(t, nil)
		e.sim.InjectFault(Fault{Method: codepay.MethodPayOrder, Kind: FaultHTTP500})
		p := e.cl.params(codepay.MethodPayOrder, createFields("F-1", "1.00"))
		resp, _, err := e.cl.postRaw(e.cl.signedBody(p), "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("HTTP %d, want 500", resp.StatusCode)
		}
		if _, ok := e.sim.Order("F-1"); ok {
			t.Fatal("order created despite HTTP 500 fault")
		}
		reqs := e.sim.Requests(codepay.MethodPayOrder, "F-1")
		if len(reqs) != 1 || reqs[0].Fault != FaultHTTP500 || reqs[0].Code != "" {
			t.Fatalf("recorded = %+v", reqs)
		}
		wantCode(t, e.create(createFields("F-1", "1.00")), CodeOK) // fault used up
		if n := e.sim.Count(codepay.MethodPayOrder, "F-1"); n != 2 {
			t.Errorf("Count = %d, want 2", n)
		}
	})
	t.Run("drop after process", func(t *testing.T) {
		e := newEnv(t, nil)
		e.sim.InjectFault(Fault{Kind: FaultDropAfterProcess})
		p := e.cl.params(codepay.MethodPayOrder, createFields("F-2", "1.00"))
		_, _, err := e.cl.postRaw(e.cl.signedBody(p), "application/json", nil)
		if err == nil {
			t.Fatal("client got a response, want a connection error")
		}
		if v, ok := e.sim.Order("F-2"); !ok || v.Status != codepay.StatusCreated {
			t.Fatalf("order after drop = %+v, %v; want it created", v, ok)
		}
		if n := e.sim.Count(codepay.MethodPayOrder, "F-2"); n != 1 {
			t.Errorf("Count = %d, want exactly 1 create", n)
		}
		if reqs := e.sim.Requests("", "F-2"); reqs[0].Fault != FaultDropAfterProcess || reqs[0].Code != CodeOK {
			t.Errorf("recorded = %+v", reqs[0])
		}
		// The order can be recovered with a query.
		if d := e.query("F-2"); d["trans_status"] != json.Number("9") {
			t.Errorf("query = %v", d)
		}
	})
	t.Run("slow past the client timeout", func(t *testing.T) {
		e := newEnv(t, nil)
		e.sim.InjectFault(Fault{Method: codepay.MethodPayOrder, Kind: FaultSlow, Delay: time.Minute})
		e.cl.http = &http.Client{Timeout: 200 * time.Millisecond}
		p := e.cl.params(codepay.MethodPayOrder, createFields("F-3", "1.00"))
		_, _, err := e.cl.postRaw(e.cl.signedBody(p), "application/json", nil)
		if err == nil {
			t.Fatal("want a client timeout")
		}
		if _, ok := e.sim.Order("F-3"); !ok {
			t.Fatal("slow request was not processed")
		}
		if n := e.sim.Count(codepay.MethodPayOrder, "F-3"); n != 1 {
			t.Errorf("Count = %d, want 1", n)
		}
	})
	t.Run("slow within the client timeout", func(t *testing.T) {
		e := newEnv(t, nil)
		e.sim.InjectFault(Fault{Kind: FaultSlow, Delay: 20 * time.Millisecond})
		wantCode(t, e.create(createFields("F-4", "1.00")), CodeOK)
	})
	t.Run("bad signature", func(t *testing.T) {
		e := newEnv(t, nil)
		e.sim.InjectFault(Fault{Kind: FaultBadSignature})
		p := e.cl.params(codepay.MethodPayOrder, createFields("F-5", "1.00"))
		_, b, err := e.cl.postRaw(e.cl.signedBody(p), "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		env := e.cl.parseEnvelope(b, false)
		params, _ := codepay.ResponseParams(b)
		if err := codepay.Verify(e.keys.gwPub, params); !errors.Is(err, codepay.ErrBadSignature) {
			t.Fatalf("Verify = %v, want ErrBadSignature", err)
		}
		if env.Code != CodeOK || env.Sign == "" {
			t.Errorf("envelope = %s", b)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		e := newEnv(t, nil)
		e.sim.InjectFault(Fault{Kind: FaultUnsigned})
		p := e.cl.params(codepay.MethodPayOrder, createFields("F-6", "1.00"))
		_, b, _ := e.cl.postRaw(e.cl.signedBody(p), "application/json", nil)
		var top map[string]json.RawMessage
		_ = json.Unmarshal(b, &top)
		if _, ok := top["sign"]; ok || string(top["code"]) != `"0"` {
			t.Fatalf("unsigned fault response = %s", b)
		}
	})
	t.Run("data as string", func(t *testing.T) {
		e := newEnv(t, nil)
		e.sim.InjectFault(Fault{Kind: FaultDataAsString})
		p := e.cl.params(codepay.MethodPayOrder, createFields("F-7", "1.00"))
		_, b, _ := e.cl.postRaw(e.cl.signedBody(p), "application/json", nil)
		env := e.cl.parseEnvelope(b, true) // still verifies: signed over the string's contents
		var s string
		if err := json.Unmarshal(env.Data, &s); err != nil {
			t.Fatalf("data is not a JSON string: %s", env.Data)
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(s), &d); err != nil || d["trans_no"] == nil {
			t.Fatalf("data string does not hold the object: %q", s)
		}
	})
	t.Run("method filter and count", func(t *testing.T) {
		e := newEnv(t, nil)
		e.sim.InjectFault(Fault{Method: codepay.MethodOrderQuery, Kind: FaultUnsigned, Count: 2})
		e.sim.InjectFault(Fault{Kind: "no_such_kind"}) // ignored
		wantCode(t, e.create(createFields("F-8", "1.00")), CodeOK)
		for i := 0; i < 3; i++ {
			p := e.cl.params(codepay.MethodOrderQuery, map[string]string{"merchant_order_no": "F-8"})
			_, b, _ := e.cl.postRaw(e.cl.signedBody(p), "application/json", nil)
			env := e.cl.parseEnvelope(b, false)
			if signed := env.Sign != ""; signed != (i == 2) {
				t.Errorf("query %d signed = %v", i, signed)
			}
		}
		faulted := 0
		for _, r := range e.sim.Requests(codepay.MethodOrderQuery, "") {
			if r.Fault == FaultUnsigned {
				faulted++
			}
		}
		if faulted != 2 {
			t.Errorf("faulted queries = %d, want 2", faulted)
		}
	})
}

func TestRequestLog(t *testing.T) {
	e := newEnv(t, nil)
	p := e.cl.params(codepay.MethodPayOrder, createFields("LOG-1", "1.00"))
	hdr := http.Header{"Http-Request-Psn": {"03141234560000000042"}}
	if _, _, err := e.cl.postRaw(e.cl.signedBody(p), "application/json", hdr); err != nil {
		t.Fatal(err)
	}
	e.query("LOG-1")
	e.query("LOG-1")
	tests := []struct {
		method, no string
		want       int
	}{
		{codepay.MethodPayOrder, "LOG-1", 1},
		{codepay.MethodOrderQuery, "LOG-1", 2},
		{"", "LOG-1", 3},
		{"", "", 3},
		{codepay.MethodPayOrder, "OTHER", 0},
	}
	for _, tc := range tests {
		if got := e.sim.Count(tc.method, tc.no); got != tc.want {
			t.Errorf("Count(%q, %q) = %d, want %d", tc.method, tc.no, got, tc.want)
		}
		if got := len(e.sim.Requests(tc.method, tc.no)); got != tc.want {
			t.Errorf("len(Requests(%q, %q)) = %d, want %d", tc.method, tc.no, got, tc.want)
		}
	}
	r := e.sim.Requests(codepay.MethodPayOrder, "LOG-1")[0]
	if r.RequestPSN != "03141234560000000042" || r.Params["order_amount"] != "1.00" || r.Code != "0" || r.PSN == "" || !r.Time.Equal(e.clock.Now()) {
		t.Errorf("recorded request = %+v", r)
	}
	// The returned slice is a copy.
	r.Params["order_amount"] = "999"
	if e.sim.Requests(codepay.MethodPayOrder, "LOG-1")[0].Params["order_amount"] != "1.00" {
		t.Error("Requests exposes internal state")
	}
}
