package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/api/server"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
)

// TestReadyFollowsCodePayReachability: /readyz says what the agent's own
// CodePay calls found, with since when and why, and probes once when the
// agent has not called CodePay yet.
func TestReadyFollowsCodePayReachability(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{ProbeInterval: -1})
	rs, _ := rpc.NewServer(rpc.Config{Handler: wsapi.New(e.Agent, nil), Tokens: func() []string { return []string{"tok-0123456789abcdef"} }})
	ts := httptest.NewServer(server.Handler(server.Config{Agent: e.Agent, RPC: rs, Ready: func(ctx context.Context) error {
		return server.CodePayReady(ctx, e.Agent)
	}}))
	defer ts.Close()
	readyz := func() (int, string) {
		t.Helper()
		resp, err := http.Get(ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	probes := func() int { return len(e.Sim.Requests(codepay.MethodOrderQuery, agent.ProbeOrderNo)) }

	// CodePay down from the start: the first /readyz probes and says so.
	e.Sim.InjectFault(codepaysim.Fault{Kind: codepaysim.FaultHTTP500, Count: 1000})
	code, body := readyz()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not ready: CodePay not reachable since ") ||
		!strings.Contains(body, "(1 failed call in a row, last answer never)") || !strings.Contains(body, "500") {
		t.Fatalf("/readyz with CodePay down = %d %q", code, body)
	}
	if n := probes(); n != 1 {
		t.Fatalf("/readyz probed %d times, want 1", n)
	}
	// Known now: /readyz reads the state and sends nothing more.
	if err := e.Agent.ProbeCodePay(context.Background()); err == nil {
		t.Fatal("probe succeeded against HTTP 500")
	}
	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, "(2 failed calls in a row") {
		t.Fatalf("/readyz after two failures = %d %q", code, body)
	}
	if n := probes(); n != 2 {
		t.Fatalf("after a second probe the emulator saw %d, want 2 (/readyz must not call CodePay once the state is known)", n)
	}

	// CodePay answers again: ready.
	e.Sim.ClearFaults()
	if err := e.Agent.ProbeCodePay(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, body := readyz(); code != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz after recovery = %d %q", code, body)
	}
}
