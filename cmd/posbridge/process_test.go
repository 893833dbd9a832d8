package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
)

// These tests run the real posbridge binary as separate processes: the
// CodePay emulator (`posbridge sim codepay`) and the agent (`posbridge run`),
// so the agent can be killed with SIGKILL mid-payment.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "posbridge-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "posbridge")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build posbridge: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t testing.TB) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	lo, hi := unassignedPorts()
	for range 1000 {
		port := lo + rand.IntN(hi-lo)
		if portsGiven[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // in use
		}
		ln.Close()
		portsGiven[port] = true
		return ln.Addr().String()
	}
	t.Fatalf("no free port in %d-%d", lo, hi)
	return ""
}

// A port freePort returns is closed again until the process under test
// binds it. It is taken below the kernel's ephemeral range, so that no
// outgoing connection (of this or a parallel test process) is given it
// meanwhile — a port from "127.0.0.1:0" was, once ("bind: address already
// in use") — and never twice by this test process.
var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// unassignedPorts is the range freePort draws from: from 10000 up to the
// start of the ephemeral range (Linux: net.ipv4.ip_local_port_range).
func unassignedPorts() (lo, hi int) {
	lo, hi = 10000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var first, last int
		if _, err := fmt.Sscan(string(b), &first, &last); err == nil && first > lo+1000 {
			hi = first
		}
	}
	return lo, hi
}

type proc struct {
	cmd    *exec.Cmd
	stdout *bufio.Scanner
	log    *os.File
}

// start runs the binary with its stderr in a log file kept for failures.
func start(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdout: bufio.NewScanner(out), log: logf}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log:\n%s", name, b)
		}
	})
	return p
}

func waitHTTP(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // polling a process that is starting up
	}
	t.Fatalf("%s did not answer in time", url)
}

func simCreates(t *testing.T, simURL, orderNo string) int {
	t.Helper()
	return len(simCreateRequests(t, simURL, orderNo))
}

// simCreateRequests is the emulator's record of the create orders for orderNo.
func simCreateRequests(t *testing.T, simURL, orderNo string) []codepaysim.Request {
	t.Helper()
	resp, err := http.Get(simURL + "/sim/requests?method=" + codepay.MethodPayOrder + "&merchant_order_no=" + orderNo)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reqs []codepaysim.Request
	if err := json.NewDecoder(resp.Body).Decode(&reqs); err != nil {
		t.Fatalf("decode /sim/requests: %v", err)
	}
	return reqs
}

func wsCall(t *testing.T, conn *websocket.Conn, id int, method string, params any) json.RawMessage {
	t.Helper()
	res, err := tryCall(conn, id, method, params)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tryCall sends one request and reads until its answer: an *rpcError (the
// CLI's, client.go) for an error answer, another error when the connection failed.
func tryCall(conn *websocket.Conn, id int, method string, params any) (json.RawMessage, error) {
	if err := conn.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params}); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	for {
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		var m struct {
			ID     *int            `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *rpcError       `json:"error"`
		}
		if err := conn.ReadJSON(&m); err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		if m.ID != nil && *m.ID == id {
			if m.Error != nil {
				return nil, fmt.Errorf("%s: %w", method, m.Error)
			}
			return m.Result, nil
		}
	}
}

func dialWS(t testing.TB, addr, token string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/v1/ws", http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestKillDuringPaymentThenRestart(t *testing.T) { stopDuringPayment(t, syscall.SIGKILL) }

// TestSigtermDuringPayment: a clean stop while a payment is on the terminal
// exits 0 promptly, and the next start reconciles the payment.
func TestSigtermDuringPayment(t *testing.T) { stopDuringPayment(t, syscall.SIGTERM) }

func stopDuringPayment(t *testing.T, sig syscall.Signal) {
	dir := t.TempDir()
	simAddr, agentAddr := freePort(t), freePort(t)
	simURL := "http://" + simAddr
	keyDir := filepath.Join(dir, "keys")
	start(t, "sim", "sim", "codepay", "--listen", simAddr, "--dir", keyDir, "--pickup", "1s", "--process", "1500ms")
	waitHTTP(t, simURL+"/sim/requests")

	token := "kill-test-token-0123456789"
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	cfgFile := filepath.Join(dir, "posbridge.toml")
	cfg := simAgentTOML(dir, agentAddr, simURL, keyDir, "60s") + `
[[terminal]]
sn = "DEMO000001"
lane = "1"
name = "Counter"
currency = "USD"
`
	os.WriteFile(cfgFile, []byte(cfg), 0o600)

	agent1 := start(t, "agent1", "run", "--config", cfgFile)
	waitHTTP(t, "http://"+agentAddr+"/healthz")
	conn := dialWS(t, agentAddr, token)
	wsCall(t, conn, 1, "payment.create", map[string]any{"merchant_order_no": "KILL1", "type": "sale", "lane": "1", "amount": "42.00", "currency": "USD"})
	// Wait until the payment is on the terminal, then kill the agent hard.
	for {
		var m struct {
			Method string `json:"method"`
			Params struct {
				State string `json:"state"`
			} `json:"params"`
		}
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		if err := conn.ReadJSON(&m); err != nil {
			t.Fatalf("waiting for on_terminal: %v", err)
		}
		if m.Method == "payment.updated" && m.Params.State == "on_terminal" {
			break
		}
	}
	if err := agent1.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- agent1.cmd.Wait() }()
	select {
	case err := <-exited:
		if sig == syscall.SIGTERM && err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("posbridge did not exit within 30s of %v", sig)
	}

	start(t, "agent2", "run", "--config", cfgFile)
	waitHTTP(t, "http://"+agentAddr+"/healthz")
	conn2 := dialWS(t, agentAddr, token)
	res := wsCall(t, conn2, 1, "payment.wait", map[string]any{"merchant_order_no": "KILL1", "timeout_ms": 20000})
	var p struct{ State string }
	json.Unmarshal(res, &p)
	if p.State != "approved" {
		t.Fatalf("after restart the payment is %s, want approved: %s", p.State, res)
	}
	if n := simCreates(t, simURL, "KILL1"); n != 1 {
		t.Fatalf("emulator saw %d creates for KILL1, want exactly 1", n)
	}
	// Operations surface: metrics and the JSON log file.
	resp, err := http.Get("http://" + agentAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `posbridge_payments{route="codepay",state="approved"} 1`) ||
		!strings.Contains(string(body), "posbridge_reconciliations_total 1") {
		t.Fatalf("/metrics:\n%s", body)
	}
	logBytes, err := os.ReadFile(filepath.Join(dir, "data", "logs", "posbridge.log"))
	if err != nil || !strings.Contains(string(logBytes), `"merchant_order_no":"KILL1"`) {
		t.Fatalf("log file: %v\n%.2000s", err, logBytes)
	}
}

func TestDemoPrintsWorkingURLAndToken(t *testing.T) {
	addr := freePort(t)
	demo := start(t, "demo", "demo", "--listen", addr, "--data", filepath.Join(t.TempDir(), "demo"))
	var wsURL, token, qrURL, idURL, linkURL, codepayURL string
	codepayRE := regexp.MustCompile(`CodePay cloud\s+(http://\S+)`)
	linkRE := regexp.MustCompile(`pay LINK1 as the customer: curl -X POST (http://\S+)/LINK1 `)
	tokRE := regexp.MustCompile(`Token\s+(\S+)`)
	urlRE := regexp.MustCompile(`WebSocket API\s+(ws://\S+)`)
	qrRE := regexp.MustCompile(`QR wallet\s+(http://\S+)`)
	idRE := regexp.MustCompile(`VA/QRIS gateway\s+(http://\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for (wsURL == "" || token == "" || qrURL == "" || idURL == "") && time.Now().Before(deadline) && demo.stdout.Scan() {
		line := demo.stdout.Text()
		if m := urlRE.FindStringSubmatch(line); m != nil {
			wsURL = m[1]
		}
		if m := tokRE.FindStringSubmatch(line); m != nil {
			token = m[1]
		}
		if m := qrRE.FindStringSubmatch(line); m != nil {
			qrURL = m[1]
		}
		if m := idRE.FindStringSubmatch(line); m != nil {
			idURL = m[1]
		}
		if m := linkRE.FindStringSubmatch(line); m != nil {
			linkURL = m[1]
		}
		if m := codepayRE.FindStringSubmatch(line); m != nil {
			codepayURL = m[1]
		}
	}
	go func() {
		for demo.stdout.Scan() {
		}
	}()
	if wsURL == "" || token == "" {
		t.Fatalf("demo did not print the WebSocket URL and token (url %q token %q)", wsURL, token)
	}
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatalf("dial printed URL: %v", err)
	}
	defer conn.Close()
	res := wsCall(t, conn, 1, "terminal.list", map[string]any{})
	if !strings.Contains(string(res), "DEMO000001") || !strings.Contains(string(res), "DEMO000002") {
		t.Fatalf("terminal.list = %s", res)
	}
	wsCall(t, conn, 2, "payment.create", map[string]any{"merchant_order_no": "DEMOSALE1", "type": "sale", "lane": "1", "amount": "12.34", "currency": "USD"})
	res = wsCall(t, conn, 3, "payment.wait", map[string]any{"merchant_order_no": "DEMOSALE1", "timeout_ms": 20000})
	if !strings.Contains(string(res), `"state":"approved"`) {
		t.Fatalf("demo sale = %s", res)
	}
	// The CodePay emulator posts its signed notification to the demo's
	// /hooks/codepay, which accepts it.
	demoNotificationDelivered(t, codepayURL, "DEMOSALE1")
	// Method qr against the QR wallet emulator the demo started: the
	// customer pays through its admin API.
	if qrURL == "" || idURL == "" {
		t.Fatalf("demo did not print the provider emulators (qr %q va %q)", qrURL, idURL)
	}
	res = wsCall(t, conn, 10, "payment.create", map[string]any{"merchant_order_no": "DEMOQR1", "method": "qr", "amount": "5.00", "currency": "USD"})
	var qr struct {
		QRPayload string `json:"qr_payload"`
	}
	if err := json.Unmarshal(res, &qr); err != nil || !strings.Contains(string(res), `"method":"qr"`) || qr.QRPayload == "" {
		t.Fatalf("qr payment.create = %s (%v)", res, err)
	}
	simAdmin(t, http.MethodPost, qrURL+"/sim/payments/DEMOQR1/scan", "")
	res = wsCall(t, conn, 11, "payment.wait", map[string]any{"merchant_order_no": "DEMOQR1", "timeout_ms": 20000})
	if !strings.Contains(string(res), `"state":"approved"`) {
		t.Fatalf("demo qr sale = %s", res)
	}
	// Method va: paid at the gateway emulator, whose callback reaches the
	// demo's /hooks/idpay.
	res = wsCall(t, conn, 12, "payment.create", map[string]any{"merchant_order_no": "DEMOVA1", "method": "va", "va_method": "VA_BCA", "amount": "30000", "currency": "IDR"})
	if !strings.Contains(string(res), `"va_number"`) {
		t.Fatalf("va payment.create = %s", res)
	}
	simAdmin(t, http.MethodPost, idURL+"/sim/orders/DEMOVA1/pay", "")
	res = wsCall(t, conn, 13, "payment.wait", map[string]any{"merchant_order_no": "DEMOVA1", "timeout_ms": 20000})
	if !strings.Contains(string(res), `"state":"approved"`) {
		t.Fatalf("demo va sale = %s", res)
	}
	// Method link: the printed example, paid at the CodePay emulator's
	// checkout admin endpoint the demo printed.
	if linkURL == "" {
		t.Fatal("demo did not print the pay-by-link example")
	}
	res = wsCall(t, conn, 14, "payment.create", map[string]any{"merchant_order_no": "DEMOLINK1", "method": "link", "amount": "25.00", "currency": "USD", "description": "phone order"})
	if !strings.Contains(string(res), `"pay_url":"http`) || !strings.Contains(string(res), `"method":"link"`) {
		t.Fatalf("link payment.create = %s", res)
	}
	simAdmin(t, http.MethodPost, linkURL+"/DEMOLINK1", `{"action":"pay"}`)
	res = wsCall(t, conn, 15, "payment.wait", map[string]any{"merchant_order_no": "DEMOLINK1", "timeout_ms": 20000})
	if !strings.Contains(string(res), `"state":"approved"`) {
		t.Fatalf("demo link sale = %s", res)
	}
	// The store manager's CLI against the running demo.
	cli := func(args ...string) string {
		t.Helper()
		args = append(args, "--url", wsURL, "--token", token)
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("posbridge %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := cli("payments", "list", "--state", "approved"); !strings.Contains(out, "DEMOSALE1") {
		t.Fatalf("payments list:\n%s", out)
	}
	if out := cli("batch", "show", "--terminal", "DEMO000001"); !strings.Contains(out, "12.34 USD") {
		t.Fatalf("batch show:\n%s", out)
	}
	if out := cli("batch", "close", "--terminal", "DEMO000001"); !strings.Contains(out, "closed") || !strings.Contains(out, "agree") {
		t.Fatalf("batch close:\n%s", out)
	}
	out, err := exec.Command(binary, "batch", "close", "--terminal", "NOPE", "--url", wsURL, "--token", token).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown terminal") {
		t.Fatalf("batch close of unknown terminal: %v\n%s", err, out)
	}
	// Ctrl-C stops it cleanly.
	demo.interrupt(t, "demo")
}

// demoNotificationDelivered waits until the CodePay emulator at simURL
// reports the order's notification delivered: posted to the demo's
// notify_url and acknowledged by the agent.
func demoNotificationDelivered(t *testing.T, simURL, orderNo string) {
	t.Helper()
	if simURL == "" {
		t.Fatal("demo did not print the CodePay emulator's URL")
	}
	var order struct {
		NotifyURL    string `json:"notify_url"`
		Notification *struct {
			Delivered bool   `json:"delivered"`
			Attempts  int    `json:"attempts"`
			LastError string `json:"last_error"`
		} `json:"notification"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(simURL + "/sim/orders/" + orderNo)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&order)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET /sim/orders/%s: %v", orderNo, err)
		}
		if !strings.HasSuffix(order.NotifyURL, "/hooks/codepay") {
			t.Fatalf("%s was created with notify_url %q, want the demo's /hooks/codepay", orderNo, order.NotifyURL)
		}
		if n := order.Notification; n != nil && n.Delivered {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's notification not delivered: %+v", orderNo, order.Notification)
		}
		time.Sleep(100 * time.Millisecond) // polling another process's state
	}
}

// interrupt sends SIGINT (Ctrl-C) and fails the test unless the process
// exits with status 0 within 15 s.
func (p *proc) interrupt(t testing.TB, name string) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s exit after SIGINT: %v", name, err)
		}
	case <-ctx.Done():
		t.Fatalf("%s did not stop within 15s of SIGINT", name)
	}
}

// TestDemoBindoLinks: `demo --link-provider bindo` takes pay-by-link
// through Bindo pre-create; the printed example works as printed.
func TestDemoBindoLinks(t *testing.T) {
	addr := freePort(t)
	demo := start(t, "demo", "demo", "--listen", addr, "--data", filepath.Join(t.TempDir(), "demo"), "--zvt-tcp", "off", "--link-provider", "bindo")
	var wsURL, token, payURL string
	tokRE := regexp.MustCompile(`Token\s+(\S+)`)
	urlRE := regexp.MustCompile(`WebSocket API\s+(ws://\S+)`)
	payRE := regexp.MustCompile(`pay LINK1 as the customer: curl -X POST (http://\S+/sim/links/\S+) `)
	deadline := time.Now().Add(30 * time.Second)
	for (wsURL == "" || token == "" || payURL == "") && time.Now().Before(deadline) && demo.stdout.Scan() {
		line := demo.stdout.Text()
		if m := urlRE.FindStringSubmatch(line); m != nil {
			wsURL = m[1]
		}
		if m := tokRE.FindStringSubmatch(line); m != nil {
			token = m[1]
		}
		if m := payRE.FindStringSubmatch(line); m != nil {
			payURL = m[1]
		}
	}
	go func() {
		for demo.stdout.Scan() {
		}
	}()
	if wsURL == "" || token == "" || payURL == "" {
		t.Fatalf("demo banner: url %q token %q Bindo link example %q", wsURL, token, payURL)
	}
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res := wsCall(t, conn, 1, "payment.create", map[string]any{"merchant_order_no": "LINK1", "method": "link", "amount": "25.00", "currency": "USD", "description": "phone order"})
	if !strings.Contains(string(res), `"pay_url":"http`) || !strings.Contains(string(res), `"route":"bindo_link"`) {
		t.Fatalf("link payment.create = %s", res)
	}
	simAdmin(t, http.MethodPost, payURL, `{"action":"pay"}`)
	res = wsCall(t, conn, 2, "payment.wait", map[string]any{"merchant_order_no": "LINK1", "timeout_ms": 30000})
	if !strings.Contains(string(res), `"state":"approved"`) {
		t.Fatalf("Bindo link = %s", res)
	}
	demo.interrupt(t, "demo")
}
