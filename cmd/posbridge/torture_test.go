package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/store"
)

// The crash-torture test (docs/reliability.md): the real binary against the
// CodePay emulator in another process, killed with SIGKILL at random moments
// during bursts of payments, restarted on the same journal each time; at the
// end every payment is held to the money invariants.
//
//	POSBRIDGE_TORTURE_ITERATIONS=100 go test ./cmd/posbridge -run Torture -timeout 60m -v
var (
	tortureIterations = flag.Int("torture.iterations", 0, "crash-torture iterations (default $POSBRIDGE_TORTURE_ITERATIONS, else 6)")
	tortureSeed       = flag.Uint64("torture.seed", 0, "crash-torture random seed (default $POSBRIDGE_TORTURE_SEED, else the time)")
)

// The agent's configuration in the torture, and the emulated terminals' speed.
const (
	tortureExpires = 60 * time.Second       // codepay.order_expires
	torturePoll    = 200 * time.Millisecond // codepay.poll_interval
	tortureSettle  = time.Second            // codepay.create_settle
	torturePickup  = 300 * time.Millisecond
	tortureProcess = 800 * time.Millisecond
	// tortureFinalBound: after the last restart (faults cleared) every
	// payment on the terminal or being reconciled is final within its
	// order's life plus margins; tortureLaneTurn is added for each payment
	// still queued behind others on the same terminal.
	tortureFinalBound = tortureExpires + 30*time.Second
	tortureLaneTurn   = torturePickup + tortureProcess + 4*torturePoll + tortureSettle
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

// tortureOrder is one payment the POS sent, and what the test did to it.
type tortureOrder struct {
	no, amount string
	params     map[string]any
	answered   bool   // some payment.create for it got a result
	createdAt  string // created_at of the first result
	cancelled  bool   // a payment.cancel answered with the payment cancelled
	history    []string
}

// tortureRig is the emulator, the agent's configuration and what the POS
// sent so far.
type tortureRig struct {
	t                 *testing.T
	rng               *rand.Rand
	dir, cfg, token   string
	simURL, agentAddr string
	terminals         []string
	orders            map[string]*tortureOrder
	sent              []string // order numbers in the order they were first sent
	id                int      // JSON-RPC request id
	iter              int
	began             time.Time // of the current iteration's burst
	lost              string    // the call that got no answer
	counts            map[string]int
}

func TestTorture(t *testing.T) {
	if testing.Short() {
		t.Skip("crash torture runs processes for a minute")
	}
	iterations, seed := tortureConfig(t)
	t.Logf("crash torture: %d iterations, seed %d (replay the same choices with POSBRIDGE_TORTURE_SEED=%d; process timing differs)", iterations, seed, seed)
	r := newTortureRig(t, seed)
	for i := range iterations {
		r.iteration(i)
	}
	r.check()
}

func newTortureRig(t *testing.T, seed uint64) *tortureRig {
	r := &tortureRig{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), dir: t.TempDir(),
		token: "torture-token-0123456789", terminals: []string{"TORT000001", "TORT000002", "TORT000003"},
		orders: map[string]*tortureOrder{}, counts: map[string]int{}}
	simAddr := freePort(t)
	r.agentAddr = freePort(t)
	r.simURL = "http://" + simAddr
	keyDir := filepath.Join(r.dir, "keys")
	args := []string{"sim", "codepay", "--listen", simAddr, "--dir", keyDir,
		"--pickup", torturePickup.String(), "--process", tortureProcess.String()}
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
	cfg.WriteString(`create_settle = "` + tortureSettle.String() + "\"\n")
	for i, sn := range r.terminals {
		fmt.Fprintf(&cfg, "\n[[terminal]]\nsn = %q\nlane = \"%d\"\nname = \"Lane %d\"\ncurrency = \"USD\"\n", sn, i+1, i+1)
	}
	if !strings.Contains(cfg.String(), `poll_interval = "`+torturePoll.String()+`"`) {
		t.Fatalf("simAgentTOML no longer sets poll_interval %s; adjust torturePoll:\n%s", torturePoll, cfg.String())
	}
	r.cfg = filepath.Join(r.dir, "posbridge.toml")
	if err := os.WriteFile(r.cfg, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *tortureRig) note(o *tortureOrder, format string, args ...any) {
	o.history = append(o.history, fmt.Sprintf("%s it%d +%dms ", time.Now().Format("15:04:05.000"), r.iter, time.Since(r.began).Milliseconds())+
		fmt.Sprintf(format, args...))
}

// iteration starts the agent, fires a burst of payments and kills the agent
// with SIGKILL at a random moment: during the burst, or after it while the
// payments are on their way.
func (r *tortureRig) iteration(i int) {
	t := r.t
	agent := start(t, fmt.Sprintf("agent-%d", i), "run", "--config", r.cfg)
	waitHTTP(t, "http://"+r.agentAddr+"/healthz")
	ws, ws2 := dialWS(t, r.agentAddr, r.token), dialWS(t, r.agentAddr, r.token)
	r.iter, r.began = i, time.Now()

	killAfter := time.Duration(r.rng.Int64N(int64(2 * time.Second)))
	afterBurst := r.rng.IntN(2) == 0
	// The POS rings up 3-14 payments, fewer while the terminals are behind
	// (each takes pickup + process), so the queues stay bounded however
	// many iterations run.
	burst := 3 + r.rng.IntN(12)
	if r.queueDepth(ws) > 10 {
		burst = 1 + r.rng.IntN(2)
	}
	var killAt time.Time
	burstDone, killed := make(chan struct{}), make(chan struct{})
	go func() {
		if afterBurst {
			<-burstDone
		}
		time.Sleep(killAfter) // the random moment of the crash
		killAt = time.Now()
		agent.cmd.Process.Kill()
		close(killed)
	}()
	isKilled := func() bool {
		select {
		case <-killed:
			return true
		default:
			return false
		}
	}

	// The POS sends again some creates whose answer it never got.
	alive, sent := true, 0
	for _, no := range r.sent {
		if o := r.orders[no]; !o.answered && alive && !isKilled() && r.rng.IntN(2) == 0 {
			alive = r.create(ws, o, "create sent again by the POS after the restart")
			r.counts["creates retried after a restart"]++
		}
	}
	for j := 0; j < burst && alive && !isKilled(); j++ {
		alive = r.payment(ws, ws2, fmt.Sprintf("T%03dP%02d", i, j))
		sent++
		if alive {
			time.Sleep(time.Duration(r.rng.Int64N(int64(250 * time.Millisecond)))) // the next customer
		}
	}
	ended := time.Now()
	close(burstDone)
	<-killed
	agent.cmd.Wait()
	if !alive && ended.Before(killAt) {
		t.Errorf("iteration %d: no answer from the agent at +%s, before it was killed at +%s: %s",
			i, ended.Sub(r.began).Round(time.Millisecond), killAt.Sub(r.began).Round(time.Millisecond), r.lost)
	}
	if code := agent.cmd.ProcessState.ExitCode(); code != -1 && runtime.GOOS != "windows" {
		t.Errorf("iteration %d: the agent exited by itself (%v) before it was killed", i, agent.cmd.ProcessState)
	}
	r.admin("DELETE", "/sim/faults", nil)
	when := "during the burst"
	if !killAt.Before(ended) {
		when = "after the burst"
	}
	t.Logf("iteration %d: %d new payments, killed %s at +%s", i, sent, when, killAt.Sub(r.began).Round(time.Millisecond))
}

// payment offers one new payment with a random twist; false when the
// agent is gone.
func (r *tortureRig) payment(ws, ws2 *websocket.Conn, no string) bool {
	rng := r.rng
	o := &tortureOrder{no: no, amount: fmt.Sprintf("%d.%02d", 1+rng.IntN(99), rng.IntN(100))}
	o.params = map[string]any{"merchant_order_no": no, "type": "sale", "amount": o.amount, "currency": "USD"}
	if k := rng.IntN(len(r.terminals)); rng.IntN(2) == 0 {
		o.params["terminal_sn"] = r.terminals[k]
	} else {
		o.params["lane"] = strconv.Itoa(k + 1)
	}
	r.orders[no] = o
	r.sent = append(r.sent, no)

	twist := rng.IntN(100)
	if twist < 30 { // a fault at the emulator on the next create, query or close
		r.fault(o)
	}
	var alive bool
	if rng.IntN(8) == 0 { // the POS sends it on two connections at once
		alive = r.createTwice(ws, ws2, o)
	} else {
		alive = r.create(ws, o, "create")
	}
	if !alive || !o.answered {
		return alive
	}
	switch {
	case twist >= 30 && twist < 42:
		r.script(o, 1, "51", "Insufficient funds") // declined on the terminal
	case twist >= 42 && twist < 45:
		r.script(o, 3, "", "") // cancelled on the terminal
	}
	if rng.IntN(6) == 0 { // the POS sends the identical request again
		alive = r.create(ws, o, "identical create sent again")
		r.counts["creates sent twice"]++
	}
	if alive && rng.IntN(6) == 0 { // the cashier cancels shortly after
		time.Sleep(time.Duration(rng.Int64N(int64(600 * time.Millisecond))))
		alive = r.cancel(ws, o)
	}
	return alive
}

// fault makes the emulator misbehave on the next one or two calls of a
// method, with any of its fault kinds.
func (r *tortureRig) fault(o *tortureOrder) {
	rng := r.rng
	kinds := codepaysim.FaultKinds()
	kind := kinds[rng.IntN(len(kinds))]
	method := codepay.MethodPayOrder
	switch x := rng.IntN(10); {
	case x >= 5 && x < 9:
		method = codepay.MethodOrderQuery
	case x == 9:
		method = codepay.MethodPayClose
	}
	count, delay := 1+rng.IntN(2), 100+rng.IntN(1900)
	r.admin("POST", "/sim/faults", map[string]any{"method": method, "kind": kind, "count": count, "delay_ms": delay})
	r.note(o, "fault %s ×%d injected on the next %s (delay %dms)", kind, count, method, delay)
	r.counts["faults "+method]++
}

// script fixes how the terminal finishes the order (right after its create
// was answered; the emulator applies it when the terminal is done).
func (r *tortureRig) script(o *tortureOrder, status int, code, msg string) {
	st := r.admin("POST", "/sim/orders/"+o.no+"/outcome", map[string]any{"status": status, "error_code": code, "error_msg": msg})
	r.note(o, "outcome %d scripted at the terminal (HTTP %d)", status, st)
	r.counts[fmt.Sprintf("outcomes %d scripted", status)]++
}

// create sends payment.create; false when the agent is gone.
func (r *tortureRig) create(ws *websocket.Conn, o *tortureOrder, what string) bool {
	r.id++
	res, err := tryCall(ws, r.id, "payment.create", o.params)
	return r.created(o, what, res, err)
}

// createTwice sends the same payment.create on two connections at once:
// both must answer the one payment.
func (r *tortureRig) createTwice(ws, ws2 *websocket.Conn, o *tortureOrder) bool {
	r.id += 2
	id1, id2 := r.id-1, r.id
	var (
		res2 json.RawMessage
		err2 error
		wg   sync.WaitGroup
	)
	wg.Go(func() { res2, err2 = tryCall(ws2, id2, "payment.create", o.params) })
	res1, err1 := tryCall(ws, id1, "payment.create", o.params)
	wg.Wait()
	r.counts["creates sent on two connections at once"]++
	alive1 := r.created(o, "create (connection 1 of 2 at once)", res1, err1)
	alive2 := r.created(o, "create (connection 2 of 2 at once)", res2, err2)
	return alive1 && alive2
}

// created takes the answer to a payment.create.
func (r *tortureRig) created(o *tortureOrder, what string, res json.RawMessage, err error) bool {
	var re *rpcError
	switch {
	case errors.As(err, &re):
		r.note(o, "%s refused: %d %v", what, re.Code, err)
		r.t.Errorf("%s: %s was refused: %d %v\n  history: %s", o.no, what, re.Code, err, strings.Join(o.history, "; "))
		return true
	case err != nil:
		r.note(o, "%s: no answer (%v)", what, err)
		r.lost = fmt.Sprintf("%s %s: %v", o.no, what, err)
		return false
	}
	var p tortureLocal
	if err := json.Unmarshal(res, &p); err != nil {
		r.t.Fatalf("%s: %s answered %s: %v", o.no, what, res, err)
	}
	r.note(o, "%s answered %s", what, p.State)
	switch {
	case p.MerchantOrderNo != o.no || p.Amount != o.amount:
		r.t.Errorf("%s: %s answered another payment: %s", o.no, what, res)
	case o.createdAt != "" && p.CreatedAt != o.createdAt:
		r.t.Errorf("%s: %s answered a second payment (created_at %s, first answer %s): %s", o.no, what, p.CreatedAt, o.createdAt, res)
	}
	if o.createdAt == "" {
		o.createdAt = p.CreatedAt
	}
	o.answered = true
	return true
}

// cancel sends payment.cancel; false when the agent is gone.
func (r *tortureRig) cancel(ws *websocket.Conn, o *tortureOrder) bool {
	r.id++
	res, err := tryCall(ws, r.id, "payment.cancel", map[string]any{"merchant_order_no": o.no})
	r.counts["cancels tried"]++
	var re *rpcError
	switch {
	case errors.As(err, &re):
		r.note(o, "cancel refused: %d %v", re.Code, err)
		if re.Code == wsapi.CodeNotFound {
			r.t.Errorf("%s: payment.cancel of an answered payment: %v", o.no, err)
		}
		return true
	case err != nil:
		r.note(o, "cancel: no answer (%v)", err)
		r.lost = fmt.Sprintf("%s cancel: %v", o.no, err)
		return false
	}
	var p tortureLocal
	if err := json.Unmarshal(res, &p); err != nil {
		r.t.Fatalf("%s: payment.cancel answered %s: %v", o.no, res, err)
	}
	r.note(o, "cancel answered %s", p.State)
	if p.State != "cancelled" {
		r.t.Errorf("%s: payment.cancel succeeded with the payment %s: %s", o.no, p.State, res)
	}
	o.cancelled = true
	r.counts["cancels answered cancelled"]++
	return true
}

// check restarts the agent once more, waits for every payment to be final
// and holds each one the POS sent, and each order CodePay has, to the
// invariants. All violations are reported, each with its evidence.
func (r *tortureRig) check() {
	t := r.t
	r.admin("DELETE", "/sim/faults", nil)
	agent := start(t, "agent-final", "run", "--config", r.cfg)
	restarted := time.Now()
	waitHTTP(t, "http://"+r.agentAddr+"/healthz")
	ws := dialWS(t, r.agentAddr, r.token)

	// The bound: one order's life, plus a lane turn for every payment queued
	// behind others on the busiest terminal.
	depth := r.queueDepth(ws)
	bound := tortureFinalBound + time.Duration(depth)*tortureLaneTurn
	deadline := restarted.Add(bound)
	answered := 0
	for _, o := range r.orders {
		if o.answered {
			answered++
		}
	}
	t.Logf("%d payments sent, %d answered; %v; up to %d queued on a terminal: all must be final within %s of the last restart",
		len(r.sent), answered, r.counts, depth, bound)

	// Every order CodePay has is checked too: its create may have left
	// before the agent was killed, its answer never reaching the POS.
	nos := slices.Clone(r.sent)
	for no := range r.cloudOrders() {
		if r.orders[no] == nil {
			nos = append(nos, no)
		}
	}
	local := map[string]*tortureLocal{}
	slowest := "none waited for"
	for _, no := range nos {
		began := time.Now()
		if p := r.waitFinal(ws, no, deadline); p != nil {
			local[no] = p
			if time.Since(began) > 100*time.Millisecond {
				slowest = fmt.Sprintf("%s (%s)", no, p.State)
			}
		}
	}
	finalAfter := time.Since(restarted)

	cloud := r.cloudOrders()
	creates := map[string][]codepaysim.Request{}
	for _, q := range simCreateRequests(t, r.simURL, "") {
		creates[q.MerchantOrderNo] = append(creates[q.MerchantOrderNo], q)
	}
	type violation struct {
		no       string
		problems []string
	}
	var violations []violation
	states, resent := map[string]int{}, 0
	for _, no := range nos {
		o, p, c := r.orders[no], local[no], cloud[no]
		var problems []string
		accepted := 0
		for _, q := range creates[no] {
			if q.Code == codepaysim.CodeOK {
				accepted++
			}
		}
		if len(creates[no]) > 1 {
			resent++
		}
		switch {
		case p == nil && o != nil && o.answered:
			problems = append(problems, "lost: payment.create was answered, but the agent does not know the payment")
		case p == nil && c != nil:
			problems = append(problems, "CodePay has the order, but the agent does not know the payment (its intent was not journaled before the create left)")
		case p != nil:
			states[p.State]++
			if m := tortureMismatch(p.State, c); m != "" {
				if !tortureIsFinal(p.State) {
					m = fmt.Sprintf("stuck %s after the last restart: %s", bound, m)
				}
				problems = append(problems, m)
			}
		}
		if o == nil {
			problems = append(problems, "CodePay has an order the POS never sent")
		}
		if accepted > 1 {
			problems = append(problems, fmt.Sprintf("CodePay accepted %d creates for the order", accepted))
		}
		if c != nil && o != nil && c.OrderAmount != o.amount {
			problems = append(problems, fmt.Sprintf("the cloud order is for %s, the payment for %s", c.OrderAmount, o.amount))
		}
		if c != nil && len(creates[no]) == 0 {
			t.Logf("%s: the emulator's request log no longer holds its creates (log full); at most one accepted create is not checked", no)
		}
		if o != nil && o.cancelled && (p == nil || p.State != "cancelled") {
			problems = append(problems, "payment.cancel answered cancelled, but the payment ended otherwise")
		}
		if len(problems) > 0 {
			violations = append(violations, violation{no, problems})
		}
	}
	t.Logf("waited %s for the payments to be final, the last %s; final states %v; %d cloud orders; %d orders had their create sent more than once",
		finalAfter.Round(time.Second), slowest, states, len(cloud), resent)
	if len(violations) == 0 {
		return
	}

	// The evidence: the journal's history of each, read after the agent stops.
	agent.cmd.Process.Kill()
	agent.cmd.Wait()
	events := map[string]string{}
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(r.dir, "data", "posbridge.db"))
	if err != nil {
		t.Errorf("open the journal for the evidence: %v", err)
	} else {
		defer db.Close()
		for _, v := range violations {
			evs, err := db.Events(ctx, v.no)
			var b strings.Builder
			if err != nil {
				fmt.Fprintf(&b, "\n    %v", err)
			}
			for _, e := range evs {
				fmt.Fprintf(&b, "\n    %s %s %s→%s %s", e.At.Format("15:04:05.000"), e.Kind, e.FromState, e.ToState, e.Detail)
			}
			events[v.no] = b.String()
		}
	}
	for _, v := range violations {
		var lj, cj []byte
		if p := local[v.no]; p != nil {
			lj = p.raw
		}
		if c := cloud[v.no]; c != nil {
			cj = c.raw
		}
		var cr []string
		for _, q := range creates[v.no] {
			cr = append(cr, fmt.Sprintf("%s code=%q msg=%q fault=%q", q.Time.Format("15:04:05.000"), q.Code, q.Msg, q.Fault))
		}
		var hist []string
		if o := r.orders[v.no]; o != nil {
			hist = o.history
		}
		t.Errorf("%s: %s\n  local: %s\n  cloud: %s\n  creates at the emulator: %s\n  test's history:\n    %s\n  journal:%s",
			v.no, strings.Join(v.problems, "; "), lj, cj, strings.Join(cr, "; "), strings.Join(hist, "\n    "), events[v.no])
	}
	t.Errorf("%d of %d payments violate the invariants (seed above)", len(violations), len(nos))
}

// queueDepth is the longest queue of payments waiting for a terminal, read
// from the journal (payment.list), not from the terminals' state, which
// the agent refreshes only after it started.
func (r *tortureRig) queueDepth(ws *websocket.Conn) int {
	r.id++
	var list struct {
		Payments []struct {
			TerminalSN string `json:"terminal_sn"`
		} `json:"payments"`
	}
	if err := json.Unmarshal(wsCall(r.t, ws, r.id, "payment.list", map[string]any{"state": "queued", "limit": 500}), &list); err != nil {
		r.t.Fatal(err)
	}
	per := map[string]int{}
	depth := 0
	for _, p := range list.Payments {
		per[p.TerminalSN]++
		depth = max(depth, per[p.TerminalSN])
	}
	return depth
}

// waitFinal waits until the payment is final or the deadline passed; nil
// when the agent has no such payment.
func (r *tortureRig) waitFinal(ws *websocket.Conn, no string, deadline time.Time) *tortureLocal {
	for {
		r.id++
		left := time.Until(deadline)
		res, err := tryCall(ws, r.id, "payment.wait", map[string]any{"merchant_order_no": no,
			"timeout_ms": max(min(left, 25*time.Second), 0).Milliseconds()})
		var re *rpcError
		switch {
		case errors.As(err, &re) && re.Code == wsapi.CodeNotFound:
			return nil
		case err != nil:
			r.t.Fatalf("payment.wait %s after the last restart: %v", no, err)
		}
		p := &tortureLocal{raw: res}
		if err := json.Unmarshal(res, p); err != nil {
			r.t.Fatalf("payment.wait %s: %v", no, err)
		}
		if tortureIsFinal(p.State) || left <= 0 {
			return p
		}
	}
}

// tortureLocal is what the agent tells about a payment.
type tortureLocal struct {
	MerchantOrderNo string `json:"merchant_order_no"`
	State           string `json:"state"`
	Amount          string `json:"amount"`
	CreatedAt       string `json:"created_at"`
	raw             json.RawMessage
}

// tortureCloud is the emulator's view of an order (GET /sim/orders).
type tortureCloud struct {
	MerchantOrderNo string              `json:"merchant_order_no"`
	Status          codepay.TransStatus `json:"trans_status"`
	OrderAmount     string              `json:"order_amount"`
	ErrorCode       string              `json:"trans_error_code"`
	ExpiresAt       time.Time           `json:"expires_at"`
	FinalAt         time.Time           `json:"final_at"`
	raw             json.RawMessage
}

func tortureIsFinal(state string) bool {
	switch state {
	case "approved", "declined", "cancelled", "expired", "failed":
		return true
	}
	return false
}

// tortureMismatch is the one rule relating a payment's local state to its
// order at CodePay (nil: CodePay has none): "" when they agree, else why
// not. Money moved only at status 2, so only "approved" may show it, and a
// payment without a cloud order must say nothing was charged.
func tortureMismatch(local string, cloud *tortureCloud) string {
	if !tortureIsFinal(local) {
		if cloud == nil {
			return fmt.Sprintf("local %s, not final; CodePay has no such order", local)
		}
		return fmt.Sprintf("local %s, not final; the cloud order is at status %d", local, cloud.Status)
	}
	var want []string
	switch {
	case cloud == nil:
		want = []string{"failed", "expired", "cancelled"}
	case cloud.Status == codepay.StatusCompleted:
		want = []string{"approved"}
	case cloud.Status == codepay.StatusFailed && strings.Contains(strings.ToUpper(cloud.ErrorCode), "EXPIRE"):
		want = []string{"expired"}
	case cloud.Status == codepay.StatusFailed:
		want = []string{"declined"}
	case cloud.Status == codepay.StatusCancelled && !cloud.ExpiresAt.IsZero() && !cloud.FinalAt.Before(cloud.ExpiresAt):
		// Closed after it ran past expires unpaid: the agent takes back
		// an order the terminal never took.
		want = []string{"cancelled", "expired"}
	case cloud.Status == codepay.StatusCancelled:
		want = []string{"cancelled"}
	default:
		return fmt.Sprintf("local %s while the cloud order is still open (status %d)", local, cloud.Status)
	}
	if slices.Contains(want, local) {
		return ""
	}
	if cloud == nil {
		return fmt.Sprintf("local %s, but CodePay has no such order (want one of %v)", local, want)
	}
	return fmt.Sprintf("local %s, the cloud order is at status %d%s (want %s)", local, cloud.Status,
		strings.TrimRight(" "+cloud.ErrorCode, " "), strings.Join(want, " or "))
}

func TestTortureMismatch(t *testing.T) {
	expires := time.Date(2026, 11, 22, 10, 1, 0, 0, time.UTC)
	paid := &tortureCloud{Status: codepay.StatusCompleted}
	declined := &tortureCloud{Status: codepay.StatusFailed, ErrorCode: "51"}
	expired := &tortureCloud{Status: codepay.StatusFailed, ErrorCode: "ORDER_EXPIRED"}
	cancelled := &tortureCloud{Status: codepay.StatusCancelled, ExpiresAt: expires, FinalAt: expires.Add(-time.Minute)}
	closedLate := &tortureCloud{Status: codepay.StatusCancelled, ExpiresAt: expires, FinalAt: expires.Add(5 * time.Second)}
	waiting := &tortureCloud{Status: codepay.StatusCreated}
	onTerminal := &tortureCloud{Status: codepay.StatusProcessing}
	for _, c := range []struct {
		local string
		cloud *tortureCloud
		ok    bool
	}{
		{"approved", paid, true},
		{"failed", paid, false}, // paid, reported as nothing charged
		{"declined", paid, false},
		{"cancelled", paid, false},
		{"expired", paid, false},
		{"declined", declined, true},
		{"approved", declined, false},
		{"expired", declined, false},
		{"failed", declined, false},
		{"expired", expired, true},
		{"declined", expired, false},
		{"approved", expired, false},
		{"cancelled", cancelled, true},
		{"expired", cancelled, false},
		{"failed", cancelled, false},
		{"approved", cancelled, false},
		{"cancelled", closedLate, true},
		{"expired", closedLate, true},
		{"approved", closedLate, false},
		{"failed", nil, true},
		{"expired", nil, true},
		{"cancelled", nil, true},
		{"approved", nil, false}, // approved without any order at CodePay
		{"declined", nil, false},
		{"failed", waiting, false},
		{"cancelled", onTerminal, false},
		{"approved", onTerminal, false},
		{"unknown", paid, false}, // never final
		{"unknown", nil, false},
		{"on_terminal", onTerminal, false},
		{"queued", nil, false},
		{"sending", waiting, false},
	} {
		got := tortureMismatch(c.local, c.cloud)
		if (got == "") != c.ok {
			t.Errorf("tortureMismatch(%s, %+v) = %q, want agreement %v", c.local, c.cloud, got, c.ok)
		}
	}
}

// admin calls the emulator's admin API and returns the HTTP status: 200,
// or 409 for an outcome of an order already final; anything else is fatal.
func (r *tortureRig) admin(method, path string, body any) int {
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
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusConflict {
		r.t.Fatalf("emulator %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	return resp.StatusCode
}

// cloudOrders is every order at the emulator by merchant_order_no.
func (r *tortureRig) cloudOrders() map[string]*tortureCloud {
	resp, err := http.Get(r.simURL + "/sim/orders")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		r.t.Fatalf("GET /sim/orders: HTTP %d %v", resp.StatusCode, err)
	}
	out := make(map[string]*tortureCloud, len(list))
	for _, raw := range list {
		c := &tortureCloud{raw: raw}
		if err := json.Unmarshal(raw, c); err != nil {
			r.t.Fatalf("GET /sim/orders: %v in %s", err, raw)
		}
		out[c.MerchantOrderNo] = c
	}
	return out
}
