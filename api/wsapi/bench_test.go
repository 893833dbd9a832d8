package wsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/api/server"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/money"
)

// BenchmarkFullPath measures the whole path: WebSocket payment.create →
// journal → signed create order → order.query polling → approved →
// payment.updated, against the in-process emulator over real HTTP, with one
// cashier connection per terminal. Reported: payments/s end to end, p50/p99
// acceptance latency (request → payment.create result, i.e. durably queued),
// and the process RSS.
func BenchmarkFullPath(b *testing.B) {
	for _, terms := range []int{1, 10, 50, 200} {
		b.Run(fmt.Sprintf("terminals=%d", terms), func(b *testing.B) { benchFullPath(b, terms, 0, 0) })
	}
}

// BenchmarkFullPathPaced is BenchmarkFullPath with every terminal starting a
// payment at a fixed interval (open loop) instead of as fast as the machine
// allows: 100 payments/s in all, about 40% of what two cores sustain, and
// still one payment every 0.5 s (50 terminals) or 2 s (200) per lane, far
// busier than a cashier. It shows the path's own acceptance latency, without
// the queueing for the CPU that a saturated closed loop adds.
func BenchmarkFullPathPaced(b *testing.B) {
	for _, terms := range []int{50, 200} {
		interval := time.Duration(terms) * 10 * time.Millisecond
		b.Run(fmt.Sprintf("terminals=%d/every=%s", terms, interval), func(b *testing.B) { benchFullPath(b, terms, 0, interval) })
	}
}

// BenchmarkFullPathHistory is BenchmarkFullPath on a journal that already
// holds 50,000 final payments per terminal (about a year of a busy lane;
// $POSBRIDGE_BENCH_HISTORY overrides the number). The journal is built once
// per size and cached in the temporary directory.
func BenchmarkFullPathHistory(b *testing.B) {
	history := 50000
	if v, err := strconv.Atoi(os.Getenv("POSBRIDGE_BENCH_HISTORY")); err == nil && v > 0 {
		history = v
	}
	for _, terms := range []int{1, 10, 50, 200} {
		b.Run(fmt.Sprintf("terminals=%d/history=%d", terms, history), func(b *testing.B) { benchFullPath(b, terms, history, 0) })
	}
}

func benchFullPath(b *testing.B, terms, history int, every time.Duration) {
	e := agenttest.New(b, agenttest.Opts{Terminals: terms, History: history, Pickup: time.Millisecond, Process: time.Millisecond, Poll: 5 * time.Millisecond})
	rs, err := rpc.NewServer(rpc.Config{Handler: wsapi.New(e.Agent, nil), Tokens: func() []string { return []string{token} }})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(server.Handler(server.Config{Agent: e.Agent, RPC: rs}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws"

	var next atomic.Int64
	var mu sync.Mutex
	var accept []time.Duration
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for ti := 0; ti < terms; ti++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + token}})
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			sn := agenttest.BenchSN(ti)
			var tick <-chan time.Time
			if every > 0 {
				// Spread the terminals' starts over one interval.
				time.Sleep(every * time.Duration(ti) / time.Duration(terms))
				t := time.NewTicker(every)
				defer t.Stop()
				tick = t.C
			}
			for {
				if tick != nil {
					<-tick
				}
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				no := "B" + strconv.FormatInt(n, 10)
				t0 := time.Now()
				conn.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": n, "method": "payment.create", "params": map[string]any{
					"merchant_order_no": no, "type": "sale", "terminal_sn": sn, "amount": "1.00", "currency": "USD"}})
				// The final payment.updated may come before or after the reply.
				accepted, approved := false, false
				for !accepted || !approved {
					var m struct {
						ID     *int64 `json:"id"`
						Method string `json:"method"`
						Params struct {
							No    string `json:"merchant_order_no"`
							State string `json:"state"`
						} `json:"params"`
						Error json.RawMessage `json:"error"`
					}
					if err := conn.ReadJSON(&m); err != nil {
						b.Error(err)
						return
					}
					if m.ID != nil && *m.ID == n {
						if m.Error != nil {
							b.Errorf("create %s: %s", no, m.Error)
							return
						}
						d := time.Since(t0)
						mu.Lock()
						accept = append(accept, d)
						mu.Unlock()
						accepted = true
					}
					if m.Method == "payment.updated" && m.Params.No == no && m.Params.State == "approved" {
						approved = true
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(accept, func(i, j int) bool { return accept[i] < accept[j] })
	if len(accept) > 0 {
		b.ReportMetric(float64(len(accept))/elapsed.Seconds(), "payments/s")
		b.ReportMetric(float64(accept[len(accept)/2].Microseconds())/1000, "p50-accept-ms")
		b.ReportMetric(float64(accept[len(accept)*99/100].Microseconds())/1000, "p99-accept-ms")
	}
	b.ReportMetric(rssMiB(), "RSS-MiB")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rs.Shutdown(ctx)
}

// BenchmarkBaselineSignSend is the same cloud work without posbridge: sign and
// send create order, then query until approved, directly against the emulator.
func BenchmarkBaselineSignSend(b *testing.B) {
	for _, terms := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("terminals=%d", terms), func(b *testing.B) {
			e := agenttest.New(b, agenttest.Opts{Terminals: terms, Pickup: time.Millisecond, Process: time.Millisecond})
			e.Stop() // only the emulator and the client are used
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for ti := 0; ti < terms; ti++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx := context.Background()
					for {
						n := next.Add(1)
						if n > int64(b.N) {
							return
						}
						no := "L" + strconv.FormatInt(n, 10)
						_, err := e.Client.CreateOrder(ctx, codepay.CreateOrderRequest{
							TerminalSN: agenttest.BenchSN(ti), MerchantOrderNo: no, TransType: codepay.TransSale,
							Amount: money.Amount{Minor: 100, Currency: money.MustCurrency("USD")}, Description: "bench", Expires: time.Minute,
						})
						if err != nil {
							b.Error(err)
							return
						}
						for {
							o, err := e.Client.QueryOrder(ctx, no, "")
							if err != nil {
								b.Error(err)
								return
							}
							if o.TransStatus == codepay.StatusCompleted {
								break
							}
							time.Sleep(5 * time.Millisecond) // same poll interval as the agent benchmark
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "payments/s")
			b.ReportMetric(rssMiB(), "RSS-MiB")
		})
	}
}

func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
