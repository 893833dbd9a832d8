package ecr

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/ecr/ecrsim"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/internal/logging"
)

// A ZVT TCP listener whose socket fails under it is not left dead: it is
// bound again on the same address with back-off (1 s, then 2 s after a
// failed attempt while another program holds the port), and ECRs pay again.
func TestTCPListenerBindsAgainAfterFailure(t *testing.T) {
	env := agenttest.New(t, agenttest.Opts{})
	logs := &syncBuffer{}
	waits := make(chan time.Duration, 8)
	fire := make(chan time.Time)
	svc, err := New(Config{
		Agent:  env.Agent,
		ECRs:   []config.ECR{{Protocol: "zvt", TCPListen: "127.0.0.1:0", TerminalSN: agenttest.TermA}},
		Logger: testLogger(t, logs),
		PT:     ptTuning(env),
		TCP:    zvt.TCPConfig{T3: 500 * time.Millisecond},
		After: func(d time.Duration) <-chan time.Time {
			waits <- d
			return fire
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := svc.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve() = %v after cancel, want nil", err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	addr := svc.TCPAddrs()[0].String()

	// The socket fails under the listener.
	l := svc.listeners[0]
	l.mu.Lock()
	_ = l.ln.Close()
	l.mu.Unlock()
	if d := <-waits; d != FirstBackoff {
		t.Fatalf("first back-off %v, want %v", d, FirstBackoff)
	}
	waitLog(t, logs, "ZVT listener failed; binding it again with back-off")
	if !strings.Contains(logs.String(), "component=ecr.zvt.tcp") {
		t.Errorf("listener log lines lack component=ecr.zvt.tcp:\n%s", logs)
	}

	// Another program holds the port for the first attempt.
	hog, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("hold %s: %v", addr, err)
	}
	fire <- time.Now()
	if d := <-waits; d != 2*FirstBackoff {
		t.Fatalf("second back-off %v, want %v", d, 2*FirstBackoff)
	}
	waitLog(t, logs, "ZVT listener still failing")
	hog.Close()
	fire <- time.Now()
	waitLog(t, logs, "ZVT listener bound again")

	c := dial(t, addr)
	tctx, tcancel := context.WithTimeout(t.Context(), waitLimit)
	defer tcancel()
	tr, err := ecrsim.Do(tctx, c, ecrsim.Sale(1234, 840), ecrsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if si, ok := tr.Status(); !ok || si.ResultCode != 0 {
		t.Fatalf("sale after the listener was bound again: %s", tr)
	}
	if sales := ecrPayments(t, env, agenttest.TermA, agent.TypeSale); len(sales) != 1 || sales[0].State != agent.StateApproved {
		t.Fatalf("payments %+v", sales)
	}
}

// A listener that cannot serve at all (its port is taken when Serve starts)
// ends Service.Serve with an error naming it, instead of a log line while the
// rest runs on: the supervisor then ends posbridge with exit status 1.
func TestServiceServeReturnsListenerError(t *testing.T) {
	env := agenttest.New(t, agenttest.Opts{})
	hog, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hog.Close()
	logs := &syncBuffer{}
	svc, err := New(Config{
		Agent:  env.Agent,
		ECRs:   []config.ECR{{Protocol: "zvt", TCPListen: hog.Addr().String(), TerminalSN: agenttest.TermA}},
		Logger: testLogger(t, logs),
		PT:     ptTuning(env),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	err = svc.Serve(ctx) // no Prepare: Serve binds, and fails
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Serve() = %v (ctx %v), want the listener's error at once", err, ctx.Err())
	}
	if !strings.Contains(err.Error(), "ZVT listener "+hog.Addr().String()) {
		t.Errorf("Serve() = %q, want it to name the listener", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Errorf("Serve() = %v, want it to wrap the listen error", err)
	}
}

// With no [[ecr]] entry the service still serves until ctx ends (it does not
// return at once, which the supervisor would take for a failure).
func TestEmptyServiceServesUntilCancelled(t *testing.T) {
	svc, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	done := make(chan error, 1)
	wg.Go(func() { done <- svc.Serve(ctx) })
	select {
	case err := <-done:
		t.Fatalf("empty Serve returned %v before cancel", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatalf("Serve() = %v, want nil", err)
	}
}

// [log] levels = { ecr = "debug" } reaches every logger of the ECR side:
// the ZVT TCP listener and its link-level messages (component ecr.zvt.tcp)
// and the PT (ecr.pt), with the default level at warn; each line carries
// one component.
func TestECRLevelReachesZVTLoggers(t *testing.T) {
	env := agenttest.New(t, agenttest.Opts{})
	logs := &syncBuffer{}
	log, _, err := logging.New(logging.Options{Level: slog.LevelWarn, Levels: map[string]slog.Level{"ecr": slog.LevelDebug}, Console: logs})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{
		Agent:  env.Agent,
		ECRs:   []config.ECR{{Protocol: "zvt", TCPListen: "127.0.0.1:0", TerminalSN: agenttest.TermA}},
		Logger: log,
		PT:     ptTuning(env),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := svc.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	c := dial(t, svc.TCPAddrs()[0].String())
	tctx, tcancel := context.WithTimeout(t.Context(), waitLimit)
	defer tcancel()
	if _, err := ecrsim.Do(tctx, c, ecrsim.Registration(0x86, 978), ecrsim.Options{}); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logs, "level=DEBUG msg=received component=ecr.zvt.tcp")
	waitLog(t, logs, "component=ecr.pt")
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Count(line, "component=") != 1 {
			t.Errorf("line without exactly one component: %s", line)
		}
	}
}
