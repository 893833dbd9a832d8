package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runningAgent is `posbridge run` against `posbridge sim codepay`, both the
// real binary in their own processes.
type runningAgent struct {
	agent   *proc
	addr    string
	wsURL   string
	token   string
	cfgFile string
}

// startAgentAndSim starts the emulator with an online DEMO000001 (lane 1)
// and an offline DEMO000002 (lane 2), and the agent against it.
func startAgentAndSim(t *testing.T) *runningAgent {
	t.Helper()
	dir := t.TempDir()
	simAddr, agentAddr := freePort(t), freePort(t)
	simURL := "http://" + simAddr
	keyDir := filepath.Join(dir, "keys")
	start(t, "sim", "sim", "codepay", "--listen", simAddr, "--dir", keyDir, "--pickup", "100ms", "--process", "200ms",
		"--terminal", "DEMO000001", "--terminal", "DEMO000002:offline")
	waitHTTP(t, simURL+"/sim/requests")
	token := "pay-test-token-0123456789"
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "posbridge.toml")
	cfg := simAgentTOML(dir, agentAddr, simURL, keyDir, "120s") + `
[[terminal]]
sn = "DEMO000001"
lane = "1"
currency = "USD"

[[terminal]]
sn = "DEMO000002"
lane = "2"
currency = "USD"
`
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &runningAgent{addr: agentAddr, wsURL: "ws://" + agentAddr + "/v1/ws", token: token, cfgFile: cfgFile}
	a.agent = start(t, "agent", "run", "--config", cfgFile)
	waitHTTP(t, "http://"+agentAddr+"/healthz")
	return a
}

// simAgentTOML is the [agent] and [codepay] part of a configuration for
// `posbridge run` against `posbridge sim codepay` with its keys in keyDir;
// the journal goes to dir/data and the token file is dir/token.
func simAgentTOML(dir, agentAddr, simURL, keyDir, orderExpires string) string {
	return fmt.Sprintf(`
[agent]
listen = %q
data_dir = %q
token_file = %q

[codepay]
gateway_url = %q
app_id = "wzsim0000000001"
merchant_no = "302300000001"
store_no = "402300000001"
private_key_file = %q
gateway_public_key_file = %q
order_expires = %q
poll_interval = "200ms"
`, agentAddr, filepath.Join(dir, "data"), filepath.Join(dir, "token"), simURL,
		filepath.Join(keyDir, "app_private_key.pem"), filepath.Join(keyDir, "gateway_public_key.pem"), orderExpires)
}

// cli runs the binary and returns its exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "POSBRIDGE_URL=", "POSBRIDGE_TOKEN=")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("posbridge %v: %v", args, err)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("posbridge %v did not finish within 60s", args)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// TestPayExitCodes runs `posbridge pay` against a running agent: 0 for
// approved, 1 for declined, and 3 ("outcome pending") when it stops waiting
// before a final state, with the commands to check and cancel the payment,
// which work as printed.
func TestPayExitCodes(t *testing.T) {
	a := startAgentAndSim(t)
	pay := func(args ...string) (int, string, string) {
		return cli(t, append([]string{"pay", "--url", a.wsURL, "--token", a.token}, args...)...)
	}

	if code, out, errOut := pay("--order", "PAYOK", "--amount", "12.34"); code != 0 || !strings.Contains(out, "PAYOK  12.34 USD  approved") {
		t.Fatalf("approved sale: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := pay("--order", "PAYDECL", "--amount", "10.51"); code != 1 || !strings.Contains(out, "declined") || strings.Contains(errOut, "may still be charged") {
		t.Fatalf("declined sale: exit %d, want 1\n%s%s", code, out, errOut)
	}
	// The same order again: final already, pay says so at once.
	if code, out, _ := pay("--order", "PAYOK", "--amount", "12.34", "--timeout", "5s"); code != 0 || !strings.Contains(out, "approved") {
		t.Fatalf("repeated approved sale: exit %d\n%s", code, out)
	}

	// The offline terminal keeps the payment waiting past --timeout.
	code, out, errOut := pay("--order", "PAYWAIT", "--amount", "7.00", "--lane", "2", "--timeout", "1s")
	if code != 3 {
		t.Fatalf("payment still waiting: exit %d, want 3\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"no final state within --timeout 1s", "payment PAYWAIT is still in progress (state on_terminal)", "may still be charged",
		"posbridge payments show PAYWAIT --url " + a.wsURL + " --token " + a.token,
		"posbridge payments cancel PAYWAIT --url " + a.wsURL + " --token " + a.token,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("pay's stderr lacks %q:\n%s", want, errOut)
		}
	}
	// The printed commands work as printed.
	commands := regexp.MustCompile(`(?m)^\s+posbridge (payments \S+ .*)$`).FindAllStringSubmatch(errOut, -1)
	if len(commands) != 2 {
		t.Fatalf("want two commands in:\n%s", errOut)
	}
	show := func(args []string) map[string]any {
		t.Helper()
		code, out, errOut := cli(t, args...)
		var p map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &p) != nil {
			t.Fatalf("posbridge %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return p
	}
	if p := show(strings.Fields(commands[0][1])); p["state"] != "on_terminal" {
		t.Fatalf("payments show = %v", p)
	}
	if p := show(strings.Fields(commands[1][1])); p["state"] != "cancelled" {
		t.Fatalf("payments cancel = %v", p)
	}
	if code, _, errOut := cli(t, strings.Fields(commands[1][1])...); code != 1 || !strings.Contains(errOut, "already cancelled") {
		t.Fatalf("second cancel: exit %d %s", code, errOut)
	}

	// The operations surface reads the same reachability state.
	for path, want := range map[string]string{"/readyz": "ready\n", "/metrics": "posbridge_codepay_reachable 1\n"} {
		resp, err := http.Get("http://" + a.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s = %d, want %q in:\n%.1500s", path, resp.StatusCode, want, b)
		}
	}

	// The agent goes away while pay waits: pending too, not "failed".
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			out, err := exec.Command(binary, "payments", "show", "PAYLOST", "--url", a.wsURL, "--token", a.token).Output()
			if err == nil && strings.Contains(string(out), `"on_terminal"`) {
				a.agent.cmd.Process.Signal(syscall.SIGTERM)
				return
			}
			time.Sleep(50 * time.Millisecond) // polling for the payment to be on the terminal
		}
	}()
	code, out, errOut = pay("--order", "PAYLOST", "--amount", "8.00", "--lane", "2", "--timeout", "30s")
	<-stopped
	if code != 3 || !strings.Contains(errOut, "connection to the agent was lost") || !strings.Contains(errOut, "payment PAYLOST is still in progress") {
		t.Fatalf("agent stopped while pay waits: exit %d, want 3\n%s%s", code, out, errOut)
	}
}
