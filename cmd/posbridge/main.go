// Command posbridge bridges point-of-sale software to CodePay card terminals.
// See README.md and design/contract.md for the commands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes (design/contract.md).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	// exitPending is `posbridge pay`'s "outcome pending": it stopped waiting
	// before the payment was final, and the payment may still charge.
	exitPending = 3
)

const usage = `posbridge — bridges POS software to CodePay card terminals

Usage:
  posbridge demo [--listen ADDR] [--data DIR] [--zvt-tcp ADDR] [--zvt-serial PORT]
                                                  sandbox: CodePay and Bindo emulators, console, ZVT
  posbridge run --config FILE                     run the agent in the foreground
  posbridge check --config FILE [--offline]       validate config, keys, database, ports, credentials
  posbridge install --config FILE [--user NAME]   install as a service (Windows SCM, systemd)
  posbridge uninstall | start | stop | restart | status
  posbridge pay --amount 12.34 [flags]            take a test payment through a running agent
                                                  (exit 0 approved, 1 not approved, 3 still pending)
  posbridge batch show [--terminal SN]            the open batch of each terminal
  posbridge batch close --terminal SN             close a terminal's batch
  posbridge payments list [--terminal SN] [--state S] [--limit N]
  posbridge payments show ORDER_NO
  posbridge payments cancel ORDER_NO              cancel a payment not yet started on the terminal
  posbridge payments alerts                       payments with an open alert (a person must act)
  posbridge payments handle-alert ORDER_NO [--note TEXT]
  posbridge journal archive --before YYYY-MM-DD [--config FILE] [--out PATH] [--dry-run]
                                                  move old final payments into an archive file
                                                  (safe while the agent runs)
  posbridge sim codepay --listen ADDR             the CodePay cloud emulator on its own
  posbridge version                               version, commit and Go version

payments and batch find the agent through --url/--token, POSBRIDGE_URL/POSBRIDGE_TOKEN, a
running demo, or the configuration, in that order (docs/cli.md).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "demo":
		return cmdDemo(ctx, args[1:], stdout, stderr)
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "pay":
		return cmdPay(ctx, args[1:], stdout, stderr)
	case "check":
		return cmdCheck(ctx, args[1:], stdout, stderr)
	case "install", "uninstall", "start", "stop", "restart", "status":
		return cmdService(ctx, args[0], args[1:], stdout, stderr)
	case "batch":
		return cmdBatch(ctx, args[1:], stdout, stderr)
	case "payments":
		return cmdPayments(ctx, args[1:], stdout, stderr)
	case "journal":
		return cmdJournal(ctx, args[1:], stdout, stderr)
	case "sim":
		return cmdSim(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return cmdVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "posbridge: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
