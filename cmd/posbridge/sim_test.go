package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/posbridge/posbridge/cloud/codepay"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestCmdSimUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no emulator", nil, 2, "codepay"},
		{"unknown emulator", []string{"bindo"}, 2, "codepay"},
		{"unknown flag", []string{"codepay", "--nope"}, 2, "nope"},
		{"remote listen", []string{"codepay", "--listen", "0.0.0.0:0"}, 2, "--allow-remote"},
		{"all interfaces", []string{"codepay", "--listen", ":0"}, 2, "--allow-remote"},
		{"bad terminal", []string{"codepay", "--terminal", "A:broken"}, 2, "online or offline"},
		{"dup terminal", []string{"codepay", "--terminal", "A", "--terminal", "A:offline"}, 2, "twice"},
		{"zero pickup", []string{"codepay", "--pickup", "0s"}, 2, "positive"},
		{"bad shape", []string{"codepay", "--shape", "bogus"}, 2, `--shape "bogus": want totals, sdk or empty`},
		{"spec is not a shape", []string{"codepay", "--shape", "spec"}, 2, `--shape "spec": want totals, sdk or empty`},
		{"bad amounts", []string{"codepay", "--amounts", "float"}, 2, `--amounts "float": want string or number`},
		{"help names the shapes", []string{"codepay", "--help"}, 0, "batch.close sample"},
		{"extra arg", []string{"codepay", "extra"}, 2, "extra"},
		{"help", []string{"codepay", "-h"}, 0, "--listen"},
		{"bad port", []string{"codepay", "--listen", "127.0.0.1:99999"}, 1, "listen"},
		{"partial key dir", []string{"codepay", "--dir", "PARTIAL"}, 1, "key files"},
	}
	partial := t.TempDir()
	os.WriteFile(filepath.Join(partial, "app_private_key.pem"), []byte("x"), 0o600)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, a := range tc.args {
				if a == "PARTIAL" {
					tc.args[i] = partial
				}
			}
			var out, errb syncBuf
			code := cmdSim(context.Background(), tc.args, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, errb.String())
			}
			if !strings.Contains(errb.String()+out.String(), tc.msg) {
				t.Errorf("output lacks %q: %s%s", tc.msg, out.String(), errb.String())
			}
		})
	}
}

func TestCmdSimRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb syncBuf
	done := make(chan int, 1)
	go func() {
		done <- cmdSim(ctx, []string{"codepay", "--dir", dir, "--terminal", "T1", "--terminal", "T2:offline", "--pickup", "10ms", "--process", "20ms"}, pw, &errb)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "Magic amounts") {
			break // the sandbox table (docs/sandbox.md) ends the banner
		}
	}
	go io.Copy(io.Discard, pr)
	text := strings.Join(lines, "\n")
	// The TOML block parses and names the right files.
	i := strings.Index(text, "[codepay]")
	j := strings.Index(text, "Terminals:")
	var conf struct {
		CodePay struct {
			GatewayURL           string `toml:"gateway_url"`
			AppID                string `toml:"app_id"`
			MerchantNo           string `toml:"merchant_no"`
			StoreNo              string `toml:"store_no"`
			PrivateKeyFile       string `toml:"private_key_file"`
			GatewayPublicKeyFile string `toml:"gateway_public_key_file"`
		} `toml:"codepay"`
	}
	md, err := toml.Decode(text[i:j], &conf)
	if err != nil || len(md.Undecoded()) != 0 {
		t.Fatalf("TOML block: %v %v\n%s", err, md.Undecoded(), text[i:j])
	}
	c := conf.CodePay
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(c.GatewayURL) || c.AppID != "wzsim0000000001" ||
		c.MerchantNo != "302300000001" || c.StoreNo != "402300000001" ||
		c.PrivateKeyFile != filepath.Join(dir, "app_private_key.pem") || c.GatewayPublicKeyFile != filepath.Join(dir, "gateway_public_key.pem") {
		t.Fatalf("config = %+v", c)
	}
	if !strings.Contains(text, "T1 ") || !regexp.MustCompile(`T2\s+offline`).MatchString(text) {
		t.Errorf("terminals not listed:\n%s", text)
	}
	// A signed create with the printed keys and identities is accepted.
	kb, _ := os.ReadFile(c.PrivateKeyFile)
	priv, err := codepay.ParsePrivateKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	gb, _ := os.ReadFile(c.GatewayPublicKeyFile)
	gw, err := codepay.ParsePublicKey(gb)
	if err != nil {
		t.Fatal(err)
	}
	p := codepay.Params{
		"app_id": c.AppID, "format": "JSON", "charset": "UTF-8", "sign_type": "RSA2", "version": "1.0",
		"timestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "method": "wisehub.cloud.pay.order",
		"merchant_no": c.MerchantNo, "store_no": c.StoreNo, "terminal_sn": "T1",
		"message_receiving_application": "CodePay Register", "merchant_order_no": "CLI-1", "trans_type": "1",
		"price_currency": "USD", "order_amount": "1.00", "description": "cli", "expires": "60", "api_version": "2.0",
	}
	codepay.Sign(priv, p)
	body, _ := json.Marshal(p)
	resp, err := http.Post(c.GatewayURL+"/api/entry", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rp, err := codepay.ResponseParams(rb)
	if err != nil || codepay.Verify(gw, rp) != nil || rp["code"] != "0" {
		t.Fatalf("create via CLI emulator: %v %s", err, rb)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d, stderr %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cmdSim did not stop")
	}
	// Keys stay in --dir and are reused.
	if _, err := os.Stat(c.PrivateKeyFile); err != nil {
		t.Errorf("key file gone: %v", err)
	}
}

func TestCmdSimTempDirRemoved(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() { done <- cmdSim(ctx, []string{"codepay"}, pw, io.Discard); pw.Close() }()
	sc := bufio.NewScanner(pr)
	var keyDir string
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "Key" {
			keyDir = f[2]
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if _, err := os.Stat(keyDir); err != nil {
		t.Fatalf("key dir %q: %v", keyDir, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(keyDir); !os.IsNotExist(err) {
		t.Errorf("temporary key dir %s not removed: %v", keyDir, err)
	}
}

func TestSimTOMLString(t *testing.T) {
	for in, want := range map[string]string{`C:\keys\a.pem`: `"C:\\keys\\a.pem"`, `a"b`: `"a\"b"`, "x\ny": `"x\u000Ay"`} {
		if got := simTOMLString(in); got != want {
			t.Errorf("simTOMLString(%q) = %s, want %s", in, got, want)
		}
		var v struct{ K string }
		if _, err := toml.Decode("K = "+simTOMLString(in), &v); err != nil || v.K != in {
			t.Errorf("round trip %q: %v %q", in, err, v.K)
		}
	}
}

// TestCmdSimModes: --shape and --amounts reach the emulator, which answers
// batch.close and amounts in that mode, and POST /sim/mode switches it.
func TestCmdSimModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- cmdSim(ctx, []string{"codepay", "--dir", dir, "--terminal", "T1", "--pickup", "10ms", "--process", "20ms",
			"--shape", "empty", "--amounts", "number"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var url, banner string
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "gateway_url" {
			url = strings.Trim(f[2], `"`)
		}
		if strings.HasPrefix(sc.Text(), "Batch answers") {
			banner = sc.Text()
		}
		if strings.HasPrefix(sc.Text(), "Magic amounts") {
			break // the sandbox table (docs/sandbox.md) ends the banner
		}
	}
	go io.Copy(io.Discard, pr)
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit %d", code)
		}
	}()
	if !strings.Contains(banner, "empty") || !strings.Contains(banner, "numbers") {
		t.Errorf("banner line = %q, want the mode", banner)
	}
	kb, _ := os.ReadFile(filepath.Join(dir, "app_private_key.pem"))
	priv, err := codepay.ParsePrivateKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method string, extra map[string]string) map[string]any {
		t.Helper()
		p := codepay.Params{
			"app_id": "wzsim0000000001", "format": "JSON", "charset": "UTF-8", "sign_type": "RSA2", "version": "1.0",
			"timestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "method": method,
			"merchant_no": "302300000001", "store_no": "402300000001",
		}
		for k, v := range extra {
			p[k] = v
		}
		codepay.Sign(priv, p)
		body, _ := json.Marshal(p)
		resp, err := http.Post(url+"/api/entry", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env struct {
			Code string
			Data map[string]any
		}
		dec := json.NewDecoder(resp.Body)
		dec.UseNumber()
		if err := dec.Decode(&env); err != nil || env.Code != "0" {
			t.Fatalf("%s: %v code %q", method, err, env.Code)
		}
		return env.Data
	}
	d := call("wisehub.cloud.pay.order", map[string]string{"terminal_sn": "T1", "message_receiving_application": "CodePay Register",
		"merchant_order_no": "MODE-1", "trans_type": "1", "price_currency": "USD", "order_amount": "1.50", "description": "cli",
		"expires": "60", "api_version": "2.0"})
	if n, ok := d["trans_amount"].(json.Number); !ok || n != "1.50" {
		t.Errorf("trans_amount = %#v, want the JSON number 1.50", d["trans_amount"])
	}
	if d := call("batch.close", map[string]string{"terminal_sn": "T1"}); len(d) != 0 {
		t.Errorf("batch.close data = %v, want {} (--shape empty)", d)
	}
	simAdmin(t, "POST", url+"/sim/mode", `{"batch_shape":"sdk"}`)
	if d := call("batch.close", map[string]string{"terminal_sn": "T1"}); d["settle_list"] == nil {
		t.Errorf("batch.close data = %v, want settle_list after POST /sim/mode", d)
	}
}
