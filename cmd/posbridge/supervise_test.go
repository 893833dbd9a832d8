package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/internal/logging"
)

// recorder notes the order in which parts stop.
type recorder struct {
	mu      sync.Mutex
	stopped []string
}

func (r *recorder) part(name string) part {
	return part{name: name, serve: func(ctx context.Context) error {
		<-ctx.Done()
		r.mu.Lock()
		r.stopped = append(r.stopped, name)
		r.mu.Unlock()
		return nil
	}}
}

func (r *recorder) order() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.stopped)
}

var quietLog = slog.New(slog.DiscardHandler)

// A part that fails ends the whole process: supervise returns its error
// (named), after stopping every other part, stage by stage.
func TestSuperviseFailingPartStopsEverything(t *testing.T) {
	var r recorder
	boom := errors.New("accept: too many open files")
	failing := part{name: "listener", serve: func(ctx context.Context) error {
		time.Sleep(10 * time.Millisecond)
		return boom
	}}
	err := supervise(context.Background(), quietLog, time.Minute,
		[]part{r.part("http"), failing}, []part{r.part("agent")}, []part{r.part("emulator")})
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "listener: ") {
		t.Fatalf("supervise() = %v, want the listener's error, named", err)
	}
	if got, want := r.order(), []string{"http", "agent", "emulator"}; !slices.Equal(got, want) {
		t.Errorf("stop order %v, want %v", got, want)
	}
}

// A part returning nil while nobody asked it to stop has died quietly: that
// is a failure too.
func TestSuperviseQuietReturnIsAFailure(t *testing.T) {
	var r recorder
	quiet := part{name: "ZVT listener", serve: func(context.Context) error { return nil }}
	err := supervise(context.Background(), quietLog, time.Minute, []part{quiet}, []part{r.part("agent")})
	if err == nil || err.Error() != "ZVT listener: stopped unexpectedly" {
		t.Fatalf("supervise() = %v, want \"ZVT listener: stopped unexpectedly\"", err)
	}
	if got := r.order(); !slices.Equal(got, []string{"agent"}) {
		t.Errorf("stopped %v, want the agent stopped too", got)
	}
}

// Cancelling ctx is a clean stop (nil), in stage order; an error a part
// returns while stopping is reported.
func TestSuperviseStopsInOrder(t *testing.T) {
	var r recorder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- supervise(ctx, quietLog, time.Minute, []part{r.part("http"), r.part("ecr")}, []part{r.part("agent")})
	}()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("supervise() = %v after cancel, want nil", err)
	}
	got := r.order()
	if len(got) != 3 || got[2] != "agent" {
		t.Errorf("stop order %v, want the front ends before the agent", got)
	}

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	stopErr := errors.New("journal close failed")
	err := supervise(ctx, quietLog, time.Minute, []part{{name: "agent", serve: func(ctx context.Context) error {
		<-ctx.Done()
		return stopErr
	}}})
	if !errors.Is(err, stopErr) {
		t.Fatalf("supervise() = %v, want the error returned while stopping", err)
	}
}

// A stop is bounded: a part that ignores its context is abandoned after the
// timeout, and supervise returns.
func TestSuperviseStopIsBounded(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	stuck := make(chan struct{})
	defer close(stuck)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err := supervise(ctx, log, 50*time.Millisecond, []part{{name: "agent", serve: func(context.Context) error {
		<-stuck
		return nil
	}}})
	if err != nil {
		t.Fatalf("supervise() = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("supervise took %v with a 50ms timeout", d)
	}
	if !strings.Contains(buf.String(), "did not stop in time") {
		t.Errorf("no warning about the abandoned part:\n%s", buf.String())
	}
}

// testApp is a real app (journal, agent, HTTP listener) against an
// in-process CodePay emulator, logging through posbridge's logger into logs.
func testApp(t *testing.T, logs io.Writer) *app {
	t.Helper()
	dir := t.TempDir()
	keys, err := codepaysim.EnsureKeys(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := codepaysim.New(codepaysim.Config{
		AppID: demoAppID, MerchantNo: demoMerchantNo, StoreNo: demoStoreNo,
		AppPublicKey: keys.AppPublic, GatewayKey: keys.GatewayPrivate,
		Terminals: []codepaysim.TerminalConfig{{SN: demoOnline, Online: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	simCtx, stopSim := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() { _ = sim.Serve(simCtx); close(simDone) }()
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); stopSim(); <-simDone })
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("test-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Path:  "(test)",
		Agent: config.Agent{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), TokenFile: tokenFile},
		CodePay: config.CodePay{
			GatewayURL: srv.URL, AppID: demoAppID, MerchantNo: demoMerchantNo, StoreNo: demoStoreNo,
			PrivateKeyFile:       filepath.Join(keys.Dir, "app_private_key.pem"),
			GatewayPublicKeyFile: filepath.Join(keys.Dir, "gateway_public_key.pem"),
			OrderExpires:         config.Duration{Duration: 180 * time.Second},
			PollInterval:         config.Duration{Duration: 200 * time.Millisecond},
		},
		Fallback:  config.Fallback{Mode: "never"},
		Terminals: []config.Terminal{{SN: demoOnline, Lane: "1", Currency: "USD"}},
	}
	log, _, err := logging.New(logging.Options{Level: slog.LevelDebug, Console: logs})
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, log, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The HTTP listener failing under a running agent ends serve with an error
// naming it (posbridge then exits 1 and the service manager restarts it),
// after stopping the agent and closing the journal; it does not die quietly.
func TestHTTPListenerFailureEndsTheProcess(t *testing.T) {
	a := testApp(t, io.Discard)
	done := make(chan error, 1)
	go func() { done <- a.serve(context.Background()) }()
	waitHTTP(t, a.httpURL()+"healthz")
	a.ln.Close() // the listening socket fails
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "HTTP server: serve HTTP on") || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("serve() = %v, want the HTTP server's failure", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve() did not return after its HTTP listener failed")
	}
	if err := a.db.Ping(context.Background()); err == nil {
		t.Error("the journal is still open after serve returned")
	}
}

// Every log line of a running agent carries at most one component, the
// callee's (agent, codepay, ...), never the caller's beside it.
func TestLogLinesCarryOneComponent(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	a := testApp(t, writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx) }()
	waitHTTP(t, a.httpURL()+"healthz")
	if _, err := a.agent.Create(ctx, agent.CreateRequest{MerchantOrderNo: "LOG1", Type: agent.TypeSale, TerminalSN: demoOnline,
		Amount: "1.00", Currency: "USD", Source: agent.SourceWS}); err != nil {
		t.Fatal(err)
	}
	if p, err := a.agent.Wait(ctx, "LOG1", 20*time.Second); err != nil || !p.Final() {
		t.Fatalf("payment %+v, %v", p, err)
	}
	resp, err := http.Get(a.httpURL() + "healthz")
	if err == nil {
		resp.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve() = %v", err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if n := strings.Count(line, " component="); n > 1 {
			t.Errorf("line with %d components: %s", n, line)
		}
		if _, rest, ok := strings.Cut(line, " component="); ok {
			comp, _, _ := strings.Cut(rest, " ")
			seen[comp] = true
		}
	}
	for _, want := range []string{"agent", "codepay"} {
		if !seen[want] {
			t.Errorf("no line from component %s; saw %v:\n%s", want, seen, out)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// `posbridge check` and `posbridge run` report every configuration problem
// of the file at once, one line each (one problem: the line as before).
func TestConfigProblemsOneLineEach(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "posbridge.toml")
	bad := `
[agent]
data_dir = "data"
token_file = "/etc/posbridge/token"

[codepay]
gateway_url = "https://codepay-open.codepay.me"
app_id = "wz6012822ca2f1as78"
merchant_no = "302300000926"
private_key_file = "/etc/posbridge/app_private_key.pem"
gateway_public_key_file = "/etc/posbridge/gateway_public_key.pem"
poll_interval = "2h"

[[terminal]]
sn = "T1"
currency = "usd"
`
	if err := os.WriteFile(cfgFile, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := cmdCheck(context.Background(), []string{"--config", cfgFile, "--offline"}, &stdout, &stderr); code != exitFailure {
		t.Fatalf("check exit %d, want %d\n%s%s", code, exitFailure, stdout.String(), stderr.String())
	}
	var fails []string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(line, "FAIL  config") {
			fails = append(fails, line)
		}
	}
	want := []string{"agent.data_dir", "codepay.poll_interval", "terminal[0].currency"}
	if len(fails) != len(want) {
		t.Fatalf("check printed %d config failures, want %d:\n%s", len(fails), len(want), stdout.String())
	}
	for i, w := range want {
		if !strings.Contains(fails[i], cfgFile+": "+w+": ") {
			t.Errorf("line %q, want it to name %s in %s", fails[i], w, cfgFile)
		}
	}
	if !strings.Contains(stdout.String(), "3 of 3 checks failed") {
		t.Errorf("summary missing:\n%s", stdout.String())
	}

	stdout.Reset()
	stderr.Reset()
	if code := cmdRun(context.Background(), []string{"--config", cfgFile}, &stdout, &stderr); code != exitFailure {
		t.Fatalf("run exit %d, want %d", code, exitFailure)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("run printed %d lines, want %d:\n%s", len(lines), len(want), stderr.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], "posbridge run: "+cfgFile+": "+w+": ") {
			t.Errorf("run line %q, want it to name %s", lines[i], w)
		}
	}
}

// Stopping the supervisor ends every request's context, a hijacked
// connection's (a WebSocket, which http.Server.Shutdown does not track)
// included: httpPart ties the server's base context to the part.
func TestHTTPPartStopEndsHijackedConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hijacked, ended := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		close(hijacked)
		<-r.Context().Done()
		close(ended)
	})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- supervise(ctx, quietLog, time.Minute, []part{httpPart("HTTP server", srv, ln, quietLog, nil)})
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hijacked:
	case <-time.After(10 * time.Second):
		t.Fatal("the request was not served")
	}
	cancel()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the hijacked connection's context did not end when the supervisor stopped")
	}
	if err := <-done; err != nil {
		t.Errorf("supervise() = %v", err)
	}
}
