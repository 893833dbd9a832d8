package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// commandHelp is what `posbridge COMMAND --help` prints around the flags.
type commandHelp struct {
	usage   string // "posbridge run --config FILE"
	summary string // one line
	example string // one or more command lines
}

// helps are the commands' help texts, one place for all of them.
var helps = map[string]commandHelp{
	"run": {
		usage:   "posbridge run --config FILE [--debug]",
		summary: "Run the agent in the foreground (the service runs exactly this).",
		example: "posbridge run --config /etc/posbridge/posbridge.toml",
	},
	"check": {
		usage:   "posbridge check --config FILE [--offline]",
		summary: "Check a configuration and its surroundings: files, keys, ports, serial devices, CodePay; one line per check.",
		example: "posbridge check --config /etc/posbridge/posbridge.toml --offline",
	},
	"pay": {
		usage:   "posbridge pay --amount 12.34 [--currency USD] [--lane 1 | --terminal SN] [flags]",
		summary: "Make one payment through a running agent and follow it to its final state (exit 0 approved, 1 not approved, 3 outcome not known yet).",
		example: "POSBRIDGE_TOKEN=... posbridge pay --amount 10.00 --lane 1",
	},
	"batch show": {
		usage:   "posbridge batch show [--terminal SN] [agent flags]",
		summary: "Show the open batch of one terminal, or of every terminal.",
		example: "POSBRIDGE_URL=ws://127.0.0.1:8765/v1/ws POSBRIDGE_TOKEN=... posbridge batch show",
	},
	"batch close": {
		usage:   "posbridge batch close --terminal SN [agent flags]",
		summary: "Close a terminal's batch at CodePay and print the report: local and CodePay totals and their comparison.",
		example: "posbridge batch close --terminal DEMO000001 --config /etc/posbridge/posbridge.toml",
	},
	"payments list": {
		usage:   "posbridge payments list [--terminal SN] [--state S] [--limit N] [agent flags]",
		summary: "List the newest payments, optionally of one terminal or in one state.",
		example: "posbridge payments list --state unknown",
	},
	"payments show": {
		usage:   "posbridge payments show ORDER_NO [agent flags]",
		summary: "Show one payment as JSON (also from the archive when the agent no longer has it); its history: payments history.",
		example: "posbridge payments show SALE-1001",
	},
	"payments history": {
		usage:   "posbridge payments history ORDER_NO [--json] [agent flags]",
		summary: "Show what the journal holds about one payment, oldest first: each state change, CodePay's answers, notifications, errors and notes (also from the archive).",
		example: "posbridge payments history SALE-1001",
	},
	"payments cancel": {
		usage:   "posbridge payments cancel ORDER_NO [agent flags]",
		summary: "Cancel a payment that is queued or still waiting on the terminal.",
		example: "posbridge payments cancel SALE-1001",
	},
	"payments alerts": {
		usage:   "posbridge payments alerts [--limit N] [agent flags]",
		summary: "List the payments with an open alert: money a person must reconcile (paid after it expired, approved after posbridge gave up on it, paid twice, ...).",
		example: "posbridge payments alerts",
	},
	"payments handle-alert": {
		usage:   "posbridge payments handle-alert ORDER_NO [--note TEXT] [agent flags]",
		summary: "Mark a payment's alert handled, with a note journaled on the payment; the alert's text stays.",
		example: "posbridge payments handle-alert SALE-1001 --note \"refunded in the wallet portal\"",
	},
	"install": {
		usage:   "posbridge install --config FILE [--user NAME] [--name posbridge]",
		summary: "Install posbridge as a service (systemd on Linux, the Service Control Manager on Windows) running `posbridge run`.",
		example: "sudo posbridge install --config /etc/posbridge/posbridge.toml --user posbridge",
	},
	"uninstall": {
		usage:   "posbridge uninstall [--name posbridge]",
		summary: "Remove the service (the configuration and the journal stay).",
		example: "sudo posbridge uninstall",
	},
	"start":   {usage: "posbridge start [--name posbridge]", summary: "Start the installed service.", example: "sudo posbridge start"},
	"stop":    {usage: "posbridge stop [--name posbridge]", summary: "Stop the installed service (payments in flight are finished or reconciled at the next start).", example: "sudo posbridge stop"},
	"restart": {usage: "posbridge restart [--name posbridge]", summary: "Restart the installed service.", example: "sudo posbridge restart"},
	"status":  {usage: "posbridge status [--name posbridge]", summary: "Say whether the service is installed and running.", example: "posbridge status"},
}

// wantsHelp reports whether args ask for help (-h, -help, --help) before
// any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// printHelp writes a command's help: usage, summary, flags and example.
func printHelp(w io.Writer, name string, fs *flag.FlagSet) {
	h := helps[name]
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", h.usage, h.summary)
	if fs != nil {
		var flags strings.Builder
		fs.SetOutput(&flags)
		fs.PrintDefaults()
		if flags.Len() > 0 {
			fmt.Fprintf(w, "\nFlags:\n%s", flags.String())
		}
	}
	fmt.Fprintf(w, "\nExample:\n  %s\n", strings.ReplaceAll(h.example, "\n", "\n  "))
}

// printGroupHelp writes the help of every subcommand of a group ("batch").
func printGroupHelp(w io.Writer, group string) {
	var names []string
	for name := range helps {
		if strings.HasPrefix(name, group+" ") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for i, name := range names {
		if i > 0 {
			fmt.Fprintln(w)
		}
		h := helps[name]
		fmt.Fprintf(w, "Usage: %s\n  %s\n", h.usage, h.summary)
	}
	fmt.Fprintf(w, "\nRun `posbridge %s SUBCOMMAND --help` for its flags and an example.\n", group)
}

// parseCommand parses args with fs, whose flags are already defined. With
// --help it prints the command's help to stdout and returns exitOK, done; a
// bad flag is reported on stderr with a pointer to --help (exitUsage, done).
// parse is fs.Parse or a variant of it (parseInterleaved).
func parseCommand(name string, fs *flag.FlagSet, args []string, stdout, stderr io.Writer, parse func([]string) error) (code int, done bool) {
	if wantsHelp(args) {
		printHelp(stdout, name, fs)
		return exitOK, true
	}
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	if err := parse(args); err != nil {
		fmt.Fprintf(stderr, "Run `posbridge %s --help` for usage.\n", name)
		return exitUsage, true
	}
	return 0, false
}
