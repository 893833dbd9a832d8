package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/internal/netutil"
)

// Identities the standalone emulator accepts (docs/codepay-sim.md).
const (
	simAppID      = "wzsim0000000001"
	simMerchantNo = "302300000001"
	simStoreNo    = "402300000001"
)

const simUsage = `Usage: posbridge sim codepay [flags]

Runs the CodePay Cloud Open API emulator (POST /api/entry, admin API under /sim/)
until interrupted. See docs/codepay-sim.md.

Flags:
`

// simTerminals is the repeatable --terminal SN[:offline] flag.
type simTerminals []codepaysim.TerminalConfig

func (t *simTerminals) String() string {
	parts := make([]string, 0, len(*t))
	for _, tc := range *t {
		s := tc.SN
		if !tc.Online {
			s += ":offline"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

func (t *simTerminals) Set(v string) error {
	sn, state, hasState := strings.Cut(v, ":")
	online := true
	if hasState {
		switch state {
		case "offline":
			online = false
		case "online":
		default:
			return fmt.Errorf("terminal %q: state must be online or offline", v)
		}
	}
	if sn == "" || len(sn) > 32 {
		return fmt.Errorf("terminal %q: serial number must be 1-32 characters", v)
	}
	for _, tc := range *t {
		if tc.SN == sn {
			return fmt.Errorf("terminal %q given twice", sn)
		}
	}
	*t = append(*t, codepaysim.TerminalConfig{SN: sn, Online: online})
	return nil
}

// cmdSim implements `posbridge sim codepay`.
func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "codepay" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, "Usage: posbridge sim codepay [flags]   (see posbridge sim codepay --help)\n")
			return exitOK
		}
		fmt.Fprint(stderr, "posbridge sim: want the emulator name; only \"codepay\" exists\nUsage: posbridge sim codepay [flags]\n")
		return exitUsage
	}
	fs := flag.NewFlagSet("posbridge sim codepay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), simUsage)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (loopback only unless --allow-remote)")
	dir := fs.String("dir", "", "directory of the key files, created and filled on first use (default: a temporary directory removed on exit)")
	var terms simTerminals
	fs.Var(&terms, "terminal", "emulated terminal `SN[:offline]`, repeatable (default: DEMO000001 online and DEMO000002 offline)")
	pickup := fs.Duration("pickup", codepaysim.DefaultPickupDelay, "time an online terminal takes to pick up an order (9 → 0)")
	process := fs.Duration("process", codepaysim.DefaultProcessDelay, "time the terminal takes to finish an order (0 → 2 or 1)")
	shape := fs.String("shape", codepaysim.BatchShapeTotals, "batch.close answer: totals ({count, total_amount}: the spec's merchant Batch Close sample), sdk ({settle_list: \"<JSON text>\"}: the Java SDK's field) or empty (data {}: the spec's batch.close sample)")
	amounts := fs.String("amounts", codepaysim.AmountStyleString, "how amounts are written: string (\"12.34\") or number (12.34, as the Java SDK's Double fields)")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback --listen address (the admin API has no authentication)")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "posbridge sim codepay: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *pickup <= 0 || *process <= 0 {
		fmt.Fprintln(stderr, "posbridge sim codepay: --pickup and --process must be positive durations such as 500ms")
		return exitUsage
	}
	if !slices.Contains(codepaysim.BatchShapes(), *shape) {
		fmt.Fprintf(stderr, "posbridge sim codepay: --shape %q: want totals, sdk or empty\n", *shape)
		return exitUsage
	}
	if !slices.Contains(codepaysim.AmountStyles(), *amounts) {
		fmt.Fprintf(stderr, "posbridge sim codepay: --amounts %q: want string or number\n", *amounts)
		return exitUsage
	}
	if !*allowRemote && !simLoopback(*listen) {
		fmt.Fprintf(stderr, "posbridge sim codepay: refusing to listen on %q: the emulator's admin API has no authentication; use a loopback address such as 127.0.0.1:0 or pass --allow-remote\n", *listen)
		return exitUsage
	}
	if len(terms) == 0 {
		terms = simTerminals{{SN: "DEMO000001", Online: true}, {SN: "DEMO000002", Online: false}}
	}
	mode := codepaysim.Mode{BatchShape: *shape, AmountStyle: *amounts}
	if err := runSim(ctx, *listen, *dir, terms, *pickup, *process, mode, *debug, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "posbridge sim codepay: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// simLoopback reports whether addr's host is a loopback name or address.
// An empty host (":8080") means every interface, so it is not.
func simLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return host != "" && netutil.IsLoopbackHost(host)
}

func runSim(ctx context.Context, listen, dir string, terms simTerminals, pickup, process time.Duration, mode codepaysim.Mode, debug bool, stdout, stderr io.Writer) error {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	temporary := dir == ""
	if temporary {
		d, err := os.MkdirTemp("", "posbridge-codepay-sim-")
		if err != nil {
			return fmt.Errorf("create key directory: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("resolve key directory: %w", err)
	}
	keys, err := codepaysim.EnsureKeys(dir)
	if err != nil {
		return err
	}
	sim, err := codepaysim.New(codepaysim.Config{
		AppID: simAppID, MerchantNo: simMerchantNo, StoreNo: simStoreNo,
		AppPublicKey: keys.AppPublic, GatewayKey: keys.GatewayPrivate,
		Terminals:   terms,
		PickupDelay: pickup, ProcessDelay: process,
		BatchShape: mode.BatchShape, AmountStyle: mode.AmountStyle,
		Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	url := "http://" + ln.Addr().String()
	srv := &http.Server{
		Handler:           sim,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	keyNote := ""
	if temporary {
		keyNote = "  (temporary: removed on exit; use --dir to keep the keys)"
	}
	var tl strings.Builder
	for _, tc := range terms {
		state := "online"
		if !tc.Online {
			state = "offline"
		}
		fmt.Fprintf(&tl, "  %-20s %s\n", tc.SN, state)
	}
	fmt.Fprintf(stdout, `CodePay Cloud emulator listening on %s  (Ctrl-C stops it)

  API endpoint   %s/api/entry
  Admin API      %s/sim/  (no authentication; see docs/codepay-sim.md)
  Key directory  %s%s

Paste into posbridge.toml:

[codepay]
gateway_url = %s
app_id = %s
merchant_no = %s
store_no = %s
private_key_file = %s
gateway_public_key_file = %s

Terminals:
%s
Batch answers  %s   Amounts as %ss   (change with POST %s/sim/mode)

%s`, url, url, url, dir, keyNote,
		simTOMLString(url), simTOMLString(simAppID), simTOMLString(simMerchantNo), simTOMLString(simStoreNo),
		simTOMLString(keys.Path(codepaysim.AppPrivateKeyFile)), simTOMLString(keys.Path(codepaysim.GatewayPublicKeyFile)),
		tl.String(), mode.BatchShape, mode.AmountStyle, url, sandboxBanner())

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	simCtx, stopSim := context.WithCancel(ctx)
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Serve(simCtx) }()

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("serve: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && runErr == nil {
		runErr = fmt.Errorf("shut down: %w", err)
	}
	stopSim()
	if err := <-simDone; err != nil && runErr == nil {
		runErr = err
	}
	log.Info("codepay emulator stopped")
	return runErr
}

// simTOMLString renders s as a TOML basic string.
func simTOMLString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
