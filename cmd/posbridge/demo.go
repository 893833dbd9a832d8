package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/internal/config"
)

// Demo identities: the emulator accepts exactly these.
const (
	demoAppID      = "wzdemo0000000001"
	demoMerchantNo = "302300000001"
	demoStoreNo    = "402300000001"
	demoOnline     = "DEMO000001"
	demoOffline    = "DEMO000002"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8765", "address of the agent's HTTP and WebSocket listener")
	dataDir := fs.String("data", "", "data directory (default: a new temporary directory)")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "posbridge demo: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if err := runDemo(ctx, *listen, *dataDir, *debug, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "posbridge demo: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func runDemo(ctx context.Context, listen, dataDir string, debug bool, stdout, stderr io.Writer) error {
	if dataDir == "" {
		d, err := os.MkdirTemp("", "posbridge-demo-")
		if err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
		dataDir = d
	}
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("resolve data dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	log := newLogger(stderr, debug)

	// The embedded CodePay cloud, on its own loopback port, over real HTTP.
	keys, err := codepaysim.EnsureKeys(filepath.Join(dataDir, "codepay-sim"))
	if err != nil {
		return fmt.Errorf("emulator keys: %w", err)
	}
	sim, err := codepaysim.New(codepaysim.Config{
		AppID: demoAppID, MerchantNo: demoMerchantNo, StoreNo: demoStoreNo,
		AppPublicKey: keys.AppPublic, GatewayKey: keys.GatewayPrivate,
		Terminals: []codepaysim.TerminalConfig{{SN: demoOnline, Online: true}, {SN: demoOffline, Online: false}},
		Logger:    log.With("component", "codepaysim"),
	})
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("emulator listener: %w", err)
	}
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	simCtx, stopSim := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSim()
	go sim.Serve(simCtx)
	go simSrv.Serve(simLn)
	defer simSrv.Close()

	tokenFile := filepath.Join(dataDir, "token")
	token, err := ensureToken(tokenFile)
	if err != nil {
		return err
	}
	cfg := &config.Config{
		Path: "(demo)",
		Agent: config.Agent{
			Listen: listen, DataDir: dataDir, TokenFile: tokenFile,
		},
		CodePay: config.CodePay{
			GatewayURL: "http://" + simLn.Addr().String(),
			AppID:      demoAppID, MerchantNo: demoMerchantNo, StoreNo: demoStoreNo,
			PrivateKeyFile:       filepath.Join(keys.Dir, "app_private_key.pem"),
			GatewayPublicKeyFile: filepath.Join(keys.Dir, "gateway_public_key.pem"),
			OrderExpires:         config.Duration{Duration: 180 * time.Second},
			PollInterval:         config.Duration{Duration: 500 * time.Millisecond},
		},
		Fallback: config.Fallback{Mode: "never"},
		Terminals: []config.Terminal{
			{SN: demoOnline, Lane: "1", Name: "Demo counter (online)", Currency: "USD"},
			{SN: demoOffline, Lane: "2", Name: "Demo back office (offline)", Currency: "USD"},
		},
	}
	a, err := newApp(ctx, cfg, log, nil, true)
	if err != nil {
		var addrErr *net.OpError
		if errors.As(err, &addrErr) {
			return fmt.Errorf("%w; choose another address with --listen 127.0.0.1:PORT", err)
		}
		return err
	}
	fmt.Fprintf(stdout, `posbridge demo is running (Ctrl-C stops it)

  Console        %s
  WebSocket API  %s
  Token          %s
  Health         %shealthz
  CodePay cloud  http://%s  (emulator; terminals %s online, %s offline)
  Data           %s

Take a test payment from another terminal:
  go run ./cmd/posbridge pay --url %s --token %s --amount 12.34

Amounts ending in .51 are declined by the emulator. See docs/websocket-api.md for the API.
`, a.httpURL(), a.wsURL(), token, a.httpURL(), simLn.Addr(), demoOnline, demoOffline, dataDir, a.wsURL(), token)
	return a.serve(ctx)
}

// ensureToken reads the token file or creates it with a random token (0600).
func ensureToken(path string) (string, error) {
	if toks, err := config.ReadTokens(path); err == nil {
		return toks[0], nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	tok := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write token file: %w", err)
	}
	return tok, nil
}
