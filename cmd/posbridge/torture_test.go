package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
)

// The crash-torture test (docs/reliability.md): the real binary against the
// CodePay emulator in another process, killed with SIGKILL at random moments
// during bursts of payments, restarted on the same journal each time.
//
//	POSBRIDGE_TORTURE_ITERATIONS=100 go test ./cmd/posbridge -run Torture -timeout 60m -v
var (
	tortureIterations = flag.Int("torture.iterations", 0, "crash-torture iterations (default $POSBRIDGE_TORTURE_ITERATIONS, else 6)")
	tortureSeed       = flag.Uint64("torture.seed", 0, "crash-torture random seed (default $POSBRIDGE_TORTURE_SEED, else the time)")
)

// tortureFaults are the emulator faults a burst may meet, on the create or
// on the queries.
var tortureFaults = []codepaysim.FaultKind{
	codepaysim.FaultHTTP500, codepaysim.FaultHTTP500AfterProcess,
	codepaysim.FaultHTTP429, codepaysim.FaultHTTP429AfterProcess,
	codepaysim.FaultDrop, codepaysim.FaultDropAfterProcess,
	codepaysim.FaultSlow, codepaysim.FaultHang,
	codepaysim.FaultBadSignature, codepaysim.FaultUnsigned,
}

const (
	tortureExpires = 60 * time.Second
	// tortureSettleBound: after the last restart every answered payment is
	// final within this (the order's life, the lane deadline's margins and
	// the queue of each terminal).
	tortureSettleBound = tortureExpires + 60*time.Second
)

func tortureConfig(t *testing.T) (iterations int, seed uint64) {
	iterations = 6
	if *tortureIterations > 0 {
		iterations = *tortureIterations
	} else if v := os.Getenv("POSBRIDGE_TORTURE_ITERATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("POSBRIDGE_TORTURE_ITERATIONS=%q: want a positive number", v)
		}
		iterations = n
	}
	seed = uint64(time.Now().UnixNano())
	if *tortureSeed != 0 {
		seed = *tortureSeed
	} else if v := os.Getenv("POSBRIDGE_TORTURE_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("POSBRIDGE_TORTURE_SEED=%q: want a number", v)
		}
		seed = n
	}
	return iterations, seed
}

// tortureRig is the emulator, the agent's configuration and what was
// answered so far.
type tortureRig struct {
	t                  *testing.T
	rng                *rand.Rand
	dir, cfg, token    string
	simURL, agentAddr  string
	terminals          []string
	answered           map[string]string // merchant_order_no → amount, every create that got a result
	duplicates, cancel int
}

func TestTorture(t *testing.T) {
	if testing.Short() {
		t.Skip("crash torture runs processes for a minute")
	}
	iterations, seed := tortureConfig(t)
	t.Logf("crash torture: %d iterations, seed %d (replay with POSBRIDGE_TORTURE_SEED=%d)", iterations, seed, seed)
	r := newTortureRig(t, seed)
	for i := range iterations {
		r.iteration(i)
	}
	r.check()
}

func newTortureRig(t *testing.T, seed uint64) *tortureRig {
	r := &tortureRig{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), dir: t.TempDir(),
		token: "torture-token-0123456789", terminals: []string{"TORT000001", "TORT000002", "TORT000003"},
		answered: map[string]string{}}
	simAddr := freePort(t)
	r.agentAddr = freePort(t)
	r.simURL = "http://" + simAddr
	keyDir := filepath.Join(r.dir, "keys")
	args := []string{"sim", "codepay", "--listen", simAddr, "--dir", keyDir, "--pickup", "300ms", "--process", "800ms"}
	for _, sn := range r.terminals {
		args = append(args, "--terminal", sn)
	}
	start(t, "sim", args...)
	waitHTTP(t, r.simURL+"/sim/requests")

	if err := os.WriteFile(filepath.Join(r.dir, "token"), []byte(r.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg strings.Builder
	cfg.WriteString(simAgentTOML(r.dir, r.agentAddr, r.simURL, keyDir, tortureExpires.String()))
	cfg.WriteString("create_settle = \"1s\"\n")
	for i, sn := range r.terminals {
		fmt.Fprintf(&cfg, "\n[[terminal]]\nsn = %q\nlane = \"%d\"\nname = \"Lane %d\"\ncurrency = \"USD\"\n", sn, i+1, i+1)
	}
	r.cfg = filepath.Join(r.dir, "posbridge.toml")
	if err := os.WriteFile(r.cfg, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// iteration starts the agent, fires a burst of payments and kills the agent
// with SIGKILL at a random moment of it.
func (r *tortureRig) iteration(i int) {
	t := r.t
	agent := start(t, fmt.Sprintf("agent-%d", i), "run", "--config", r.cfg)
	waitHTTP(t, "http://"+r.agentAddr+"/healthz")
	conn := dialWS(t, r.agentAddr, r.token)

	killAfter := time.Duration(r.rng.Int64N(int64(2500 * time.Millisecond)))
	killed := make(chan struct{})
	go func() {
		time.Sleep(killAfter) // the random moment of the crash
		agent.cmd.Process.Kill()
		close(killed)
	}()
	id := 0
	for j := 0; ; j++ {
		select {
		case <-killed:
		default:
			if r.payment(conn, fmt.Sprintf("I%03dP%02d", i, j), &id) {
				time.Sleep(time.Duration(r.rng.Int64N(int64(250 * time.Millisecond))))
				continue
			}
		}
		break
	}
	<-killed
	agent.cmd.Wait()
	r.admin("DELETE", "/sim/faults", nil)
}

// payment offers one payment with a random twist; false when the agent is
// gone.
func (r *tortureRig) payment(ws *websocket.Conn, orderNo string, id *int) bool {
	rng := r.rng
	amount := fmt.Sprintf("%d.%02d", 1+rng.IntN(90), rng.IntN(100))
	switch x := rng.IntN(10); {
	case x < 3: // a fault at the emulator on the create or on the queries
		method := codepay.MethodPayOrder
		if rng.IntN(2) == 0 {
			method = codepay.MethodOrderQuery
		}
		r.admin("POST", "/sim/faults", map[string]any{"method": method,
			"kind": tortureFaults[rng.IntN(len(tortureFaults))], "count": 1 + rng.IntN(2), "delay_ms": 1500})
	case x < 4: // declined on the terminal
		r.admin("POST", "/sim/orders/"+orderNo+"/outcome", map[string]any{"status": 1, "error_code": "51", "error_msg": "Insufficient funds"})
	}
	params := map[string]any{"merchant_order_no": orderNo, "type": "sale", "terminal_sn": r.terminals[rng.IntN(len(r.terminals))],
		"amount": amount, "currency": "USD"}
	*id++
	if _, err := tryCall(ws, *id, "payment.create", params); err != nil {
		var re *rpcError
		if errors.As(err, &re) {
			r.t.Errorf("%s: payment.create refused: %v", orderNo, err)
			return true
		}
		return false // the agent is gone; an unanswered create may or may not be journaled
	}
	r.answered[orderNo] = amount
	if rng.IntN(6) == 0 { // the POS sends the same request again
		*id++
		res, err := tryCall(ws, *id, "payment.create", params)
		var re *rpcError
		switch {
		case errors.As(err, &re):
			r.t.Errorf("%s: the identical payment.create again was refused: %v", orderNo, err)
		case err != nil:
			return false
		default:
			var p struct {
				MerchantOrderNo string `json:"merchant_order_no"`
			}
			json.Unmarshal(res, &p)
			if p.MerchantOrderNo != orderNo {
				r.t.Errorf("%s: the identical payment.create again answered %s", orderNo, res)
			}
			r.duplicates++
		}
	}
	if rng.IntN(6) == 0 { // the cashier cancels; refused once the terminal started
		*id++
		_, err := tryCall(ws, *id, "payment.cancel", map[string]any{"merchant_order_no": orderNo})
		var re *rpcError
		if err != nil && !errors.As(err, &re) {
			return false
		}
		r.cancel++
	}
	return true
}

// check restarts the agent once more and holds every answered payment to
// the invariants.
func (r *tortureRig) check() {
	t := r.t
	start(t, "agent-final", "run", "--config", r.cfg)
	waitHTTP(t, "http://"+r.agentAddr+"/healthz")
	conn := dialWS(t, r.agentAddr, r.token)
	t.Logf("%d payments answered (%d sent twice, %d cancels tried); waiting for them to be final",
		len(r.answered), r.duplicates, r.cancel)

	deadline := time.Now().Add(tortureSettleBound)
	id := 0
	final := map[string]tortureLocal{}
	for no := range r.answered {
		for {
			id++
			left := time.Until(deadline).Milliseconds()
			res, err := tryCall(conn, id, "payment.wait", map[string]any{"merchant_order_no": no, "timeout_ms": max(min(left, 25000), 0)})
			if err != nil {
				t.Errorf("%s: answered, but the agent does not know it (lost): %v", no, err)
				break
			}
			var p tortureLocal
			if err := json.Unmarshal(res, &p); err != nil {
				t.Fatalf("payment.wait %s: %v", no, err)
			}
			final[no] = p
			if tortureIsFinal(p.State) || left <= 0 {
				break
			}
		}
	}
	violations, states, resent := 0, map[string]int{}, 0
	for no, p := range final {
		cloud := r.cloudOrder(no)
		accepted := r.acceptedCreates(no)
		states[p.State]++
		if len(simCreateRequests(t, r.simURL, no)) > 1 {
			resent++
		}
		var problems []string
		if !tortureIsFinal(p.State) {
			problems = append(problems, fmt.Sprintf("stuck: still %s %s after the last restart", p.State, tortureSettleBound))
		} else if m := tortureMismatch(p.State, cloud); m != "" {
			problems = append(problems, m)
		}
		if accepted > 1 {
			problems = append(problems, fmt.Sprintf("CodePay accepted %d creates", accepted))
		}
		if cloud != nil && cloud.OrderAmount != r.answered[no] {
			problems = append(problems, fmt.Sprintf("the cloud order is for %s, the payment for %s", cloud.OrderAmount, r.answered[no]))
		}
		if len(problems) > 0 {
			violations++
			t.Errorf("%s: %s\n  local: %+v\n  cloud: %+v\n  creates: %s", no, strings.Join(problems, "; "), p, cloud, r.creates(no))
		}
	}
	t.Logf("final states %v; %d orders had their create sent more than once", states, resent)
	if violations == 0 {
		t.Logf("all %d answered payments final and equal to the cloud", len(final))
	}
}

// tortureLocal is what payment.wait tells about a payment.
type tortureLocal struct {
	State string `json:"state"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// tortureCloud is the emulator's view of an order (GET /sim/orders/{no}).
type tortureCloud struct {
	Status      int    `json:"trans_status"`
	OrderAmount string `json:"order_amount"`
	ErrorCode   string `json:"trans_error_code"`
}

func tortureIsFinal(state string) bool {
	switch state {
	case "approved", "declined", "cancelled", "expired", "failed":
		return true
	}
	return false
}

// tortureMismatch is the one rule relating a final local state to the
// cloud's order (nil: CodePay has none): "" when they agree, else why not.
// Money moved only at status 2, so only "approved" may show it; a payment
// without a cloud order, or whose order the cloud closed, says nothing was
// charged.
func tortureMismatch(local string, cloud *tortureCloud) string {
	var want []string
	switch {
	case cloud == nil:
		want = []string{"failed", "expired", "cancelled"}
	case cloud.Status == int(codepay.StatusCompleted):
		want = []string{"approved"}
	case cloud.Status == int(codepay.StatusFailed) && strings.Contains(strings.ToUpper(cloud.ErrorCode), "EXPIRE"):
		want = []string{"expired"}
	case cloud.Status == int(codepay.StatusFailed):
		want = []string{"declined"}
	case cloud.Status == int(codepay.StatusCancelled):
		want = []string{"cancelled", "expired", "failed"}
	default:
		return fmt.Sprintf("local %s while the cloud order is still open (status %d)", local, cloud.Status)
	}
	for _, w := range want {
		if local == w {
			return ""
		}
	}
	if cloud == nil {
		return fmt.Sprintf("local %s, but CodePay has no such order (want one of %v)", local, want)
	}
	return fmt.Sprintf("local %s, the cloud order is at status %d %s (want one of %v)", local, cloud.Status, cloud.ErrorCode, want)
}

func TestTortureMismatch(t *testing.T) {
	paid := &tortureCloud{Status: 2}
	declined := &tortureCloud{Status: 1, ErrorCode: "51"}
	expired := &tortureCloud{Status: 1, ErrorCode: "ORDER_EXPIRED"}
	closed := &tortureCloud{Status: 3}
	open := &tortureCloud{Status: 0}
	for _, c := range []struct {
		local string
		cloud *tortureCloud
		ok    bool
	}{
		{"approved", paid, true},
		{"failed", paid, false}, // the "paid order reported nothing was charged"
		{"declined", paid, false},
		{"declined", declined, true},
		{"approved", declined, false},
		{"expired", expired, true},
		{"declined", expired, false},
		{"cancelled", closed, true},
		{"expired", closed, true},
		{"failed", closed, true},
		{"approved", closed, false},
		{"failed", nil, true},
		{"expired", nil, true},
		{"cancelled", nil, true},
		{"approved", nil, false},
		{"declined", nil, false},
		{"failed", open, false},
		{"approved", open, false},
	} {
		got := tortureMismatch(c.local, c.cloud)
		if (got == "") != c.ok {
			t.Errorf("tortureMismatch(%s, %+v) = %q, want agreement %v", c.local, c.cloud, got, c.ok)
		}
	}
}

func (r *tortureRig) admin(method, path string, body any) {
	var b bytes.Buffer
	if body != nil {
		json.NewEncoder(&b).Encode(body)
	}
	req, err := http.NewRequest(method, r.simURL+path, &b)
	if err != nil {
		r.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("emulator %s %s: %v", method, path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("emulator %s %s: HTTP %d", method, path, resp.StatusCode)
	}
}

func (r *tortureRig) cloudOrder(no string) *tortureCloud {
	resp, err := http.Get(r.simURL + "/sim/orders/" + no)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	var o tortureCloud
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		r.t.Fatalf("GET /sim/orders/%s: %v", no, err)
	}
	return &o
}

func (r *tortureRig) acceptedCreates(no string) int {
	n := 0
	for _, q := range simCreateRequests(r.t, r.simURL, no) {
		if q.Code == codepaysim.CodeOK {
			n++
		}
	}
	return n
}

func (r *tortureRig) creates(no string) string {
	var parts []string
	for _, q := range simCreateRequests(r.t, r.simURL, no) {
		parts = append(parts, fmt.Sprintf("%s code=%q fault=%q", q.Time.Format("15:04:05.000"), q.Code, q.Fault))
	}
	return strings.Join(parts, ", ")
}
