package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkAgentProcessRSS runs the agent as its own process (`posbridge
// run`) against the emulator in another, with terminals busy terminals each
// driven by its own WebSocket client, and reports the agent process's peak
// RSS (VmHWM) and its RSS at the end — the agent alone, without emulator or
// clients. Linux only (/proc).
func BenchmarkAgentProcessRSS(b *testing.B) {
	for _, terms := range []int{50, 200} {
		b.Run(fmt.Sprintf("terminals=%d", terms), func(b *testing.B) { benchAgentRSS(b, terms) })
	}
}

func benchAgentRSS(b *testing.B, terms int) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("needs /proc")
	}
	dir := b.TempDir()
	simAddr, agentAddr := freePort(b), freePort(b)
	simURL := "http://" + simAddr
	keyDir := filepath.Join(dir, "keys")
	args := []string{"sim", "codepay", "--listen", simAddr, "--dir", keyDir, "--pickup", "1ms", "--process", "1ms"}
	var cfg strings.Builder
	for i := range terms {
		sn := fmt.Sprintf("RSS%05d", i)
		args = append(args, "--terminal", sn)
		fmt.Fprintf(&cfg, "\n[[terminal]]\nsn = %q\nlane = \"%d\"\ncurrency = \"USD\"\n", sn, i+1)
	}
	start(b, "sim", args...)
	waitHTTP(b, simURL+"/sim/requests")
	token := "rss-bench-token-0123456789"
	os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600)
	cfgFile := filepath.Join(dir, "posbridge.toml")
	os.WriteFile(cfgFile, []byte(simAgentTOML(dir, agentAddr, simURL, keyDir, "60s")+cfg.String()), 0o600)
	agent := start(b, "agent", "run", "--config", cfgFile)
	waitHTTP(b, "http://"+agentAddr+"/healthz")

	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for i := range terms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := dialWS(b, agentAddr, token)
			for id := 1; ; id++ {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				no := "R" + strconv.FormatInt(n, 10)
				if _, err := tryCall(conn, id, "payment.create", map[string]any{"merchant_order_no": no, "type": "sale",
					"terminal_sn": fmt.Sprintf("RSS%05d", i), "amount": "1.00", "currency": "USD"}); err != nil {
					b.Error(err)
					return
				}
				id++
				if _, err := tryCall(conn, id, "payment.wait", map[string]any{"merchant_order_no": no, "timeout_ms": 60000}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	hwm, rss := procMemKiB(b, agent.cmd.Process.Pid)
	b.ReportMetric(float64(hwm)/1024, "agent-peak-RSS-MiB")
	b.ReportMetric(float64(rss)/1024, "agent-RSS-MiB")
}

// procMemKiB reads VmHWM and VmRSS of a process from /proc.
func procMemKiB(b *testing.B, pid int) (hwm, rss int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			hwm = n
		case "VmRSS":
			rss = n
		}
	}
	return hwm, rss
}
