package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/gorilla/websocket"

	"github.com/posbridge/posbridge/ecr/ecrsim"
	"github.com/posbridge/posbridge/ecr/zvt"
)

// TestDemoZVTSaleOverTCP runs the real binary's demo with a ZVT TCP listener;
// an ECR simulator pays over ZVT and the WebSocket API shows the payment as
// an approved ECR payment.
func TestDemoZVTSaleOverTCP(t *testing.T) {
	addr, zvtAddr := freePort(t), freePort(t)
	demo := start(t, "demo", "demo", "--listen", addr, "--zvt-tcp", zvtAddr, "--data", filepath.Join(t.TempDir(), "demo"))
	token, banner := demoBanner(t, demo, "ZVT (TCP)")
	if token == "" || !strings.Contains(banner, zvtAddr) {
		t.Fatalf("demo banner: token %q, ZVT line %q (want %s)", token, banner, zvtAddr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ecr, err := ecrsim.DialTCP(ctx, zvtAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer ecr.Close()
	ecrSaleShowsOnWebSocket(t, ctx, ecr, addr, token)
	stopDemo(t, demo)
}

// TestDemoZVTSaleOverSerialPTY: an ECR simulator on a real pseudo-terminal,
// the demo on the other end with --zvt-serial; the sale is approved on the
// WebSocket API.
func TestDemoZVTSaleOverSerialPTY(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close() // kept open so the line stays up until the demo opens it
	addr := freePort(t)
	demo := start(t, "demo", "demo", "--listen", addr, "--zvt-tcp", "off", "--zvt-serial", tty.Name(), "--data", filepath.Join(t.TempDir(), "demo"))
	token, banner := demoBanner(t, demo, "ZVT (serial)")
	if token == "" || !strings.Contains(banner, tty.Name()) {
		t.Fatalf("demo banner: token %q, ZVT line %q (want %s)", token, banner, tty.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ecr := ecrsim.NewSerial(ptmx)
	ecrSaleShowsOnWebSocket(t, ctx, ecr, addr, token)
	stopDemo(t, demo)
}

// demoBanner reads the demo's banner: the token and the line containing want.
func demoBanner(t *testing.T, demo *proc, want string) (token, banner string) {
	t.Helper()
	tokRE := regexp.MustCompile(`Token\s+(\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && demo.stdout.Scan() {
		line := demo.stdout.Text()
		if m := tokRE.FindStringSubmatch(line); m != nil {
			token = m[1]
		}
		if strings.Contains(line, want) {
			banner = line
		}
		if strings.HasPrefix(line, "Take a test payment") {
			break
		}
	}
	go func() {
		for demo.stdout.Scan() {
		}
	}()
	return token, banner
}

// ecrSaleShowsOnWebSocket registers, pays 42.50 over ZVT and finds the
// payment approved, with source ecr, through the WebSocket API.
func ecrSaleShowsOnWebSocket(t *testing.T, ctx context.Context, ecr ecrsim.Line, addr, token string) {
	t.Helper()
	reg, err := ecrsim.Do(ctx, ecr, ecrsim.Registration(0xBA, 840), ecrsim.Options{})
	if err != nil || !reg.Accepted() {
		t.Fatalf("registration: %s, %v", reg, err)
	}
	tr, err := ecrsim.Do(ctx, ecr, ecrsim.Sale(4250, 840), ecrsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	si, ok := tr.Status()
	if code, _ := tr.Result(); !ok || code != zvt.ResultOK || si.ResultCode != zvt.ResultOK || *si.Amount != 4250 || si.ReceiptNo == nil {
		t.Fatalf("ZVT sale: %s", tr)
	}

	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/v1/ws", http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res := wsCall(t, conn, 1, "payment.list", map[string]any{"terminal_sn": demoOnline})
	var list struct {
		Payments []struct {
			MerchantOrderNo string `json:"merchant_order_no"`
			State           string `json:"state"`
			Source          string `json:"source"`
			Amount          string `json:"amount"`
			Currency        string `json:"currency"`
		} `json:"payments"`
	}
	if err := json.Unmarshal(res, &list); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range list.Payments {
		if p.Source == "ecr" && strings.HasPrefix(p.MerchantOrderNo, "ZVT-ecr0-") {
			found = true
			if p.State != "approved" || p.Amount != "42.50" || p.Currency != "USD" {
				t.Fatalf("ECR payment on the WebSocket API: %+v", p)
			}
		}
	}
	if !found {
		t.Fatalf("payment.list has no ECR payment: %s", res)
	}
}

func TestDemoZVTFlags(t *testing.T) {
	tests := []struct {
		name string
		zvt  demoZVT
		want int
	}{
		{"off", demoZVT{tcp: "off"}, 0},
		{"empty", demoZVT{tcp: ""}, 0},
		{"explicit tcp", demoZVT{tcp: "127.0.0.1:0", tcpSet: true}, 1},
		{"tcp and serial", demoZVT{tcp: "127.0.0.1:0", tcpSet: true, serial: "/dev/ttyUSB0"}, 2},
		{"serial only", demoZVT{tcp: "off", serial: "COM3"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.zvt.ecrs(newLogger(os.Stderr, false))
			if len(got) != tc.want {
				t.Fatalf("ecrs() = %+v, want %d entries", got, tc.want)
			}
			for _, e := range got {
				if e.Protocol != "zvt" || e.TerminalSN != demoOnline || (e.Serial != "" && (e.Baud != 9600 || e.StopBits != 2)) {
					t.Fatalf("entry %+v", e)
				}
			}
		})
	}
}
