package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/posbridge/posbridge/installer"
)

// ownExecutable is the resolved path of the running binary (tests replace it).
var ownExecutable = func() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(exe)
}

// getBinary is what `posbridge install` says when it runs from a temporary
// build (`go run`): the service would point at a file about to be deleted.
const getBinary = `posbridge install: this posbridge is a temporary build (%s), deleted when ` + "`go run`" + ` ends; a service cannot run it. Nothing was installed.
Get a real binary, then install with it:
  go install github.com/posbridge/posbridge/cmd/posbridge@latest
      then: sudo "$(go env GOPATH)/bin/posbridge" install --config %s
  go build -o /usr/local/bin/posbridge ./cmd/posbridge      (in a checkout)
      then: sudo /usr/local/bin/posbridge install --config %s
  or a release binary (docs/installation.md).
`

// cmdService handles install, uninstall, start, stop, restart and status.
func cmdService(ctx context.Context, action string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(action, flag.ContinueOnError)
	var cfgPath, user, root *string
	if action == "install" {
		cfgPath = fs.String("config", "", "absolute path of the configuration file (required)")
		user = fs.String("user", "", "run the service as this user (Linux: e.g. posbridge, in the dialout group)")
		root = fs.String("root", "/", "install below this directory (packaging and tests; Linux only)")
	} else if action == "uninstall" {
		root = fs.String("root", "/", "uninstall below this directory (packaging and tests; Linux only)")
	}
	name := fs.String("name", "posbridge", "service name")
	if code, done := parseCommand(action, fs, args, stdout, stderr, fs.Parse); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "posbridge %s: unexpected argument %q\n", action, fs.Arg(0))
		return exitUsage
	}
	exe, err := ownExecutable()
	if err != nil {
		fmt.Fprintf(stderr, "posbridge %s: find own executable: %v\n", action, err)
		return exitFailure
	}
	spec := installer.Spec{Name: *name, Executable: exe, ConfigPath: "/"}
	switch action {
	case "install":
		if *cfgPath == "" {
			fmt.Fprintln(stderr, "posbridge install: --config FILE is required")
			return exitUsage
		}
		if !filepath.IsAbs(*cfgPath) {
			fmt.Fprintf(stderr, "posbridge install: --config %s is relative; give the absolute path (the service does not start in this directory)\n", *cfgPath)
			return exitFailure
		}
		if err := installer.CheckExecutable(exe); err != nil {
			fmt.Fprintf(stderr, getBinary, exe, *cfgPath, *cfgPath)
			return exitFailure
		}
		// Validate first: nothing is installed for a configuration that would not run.
		failed := 0
		for _, r := range runChecks(ctx, *cfgPath, true, false) {
			if r.err != nil {
				failed++
				fmt.Fprintf(stderr, "posbridge install: %s: %v\n", r.name, r.err)
			}
		}
		if failed > 0 {
			fmt.Fprintln(stderr, "posbridge install: nothing was installed; fix the configuration (posbridge check --config FILE) and try again")
			return exitFailure
		}
		spec.ConfigPath, spec.User = *cfgPath, *user
		if err := installer.Install(spec, *root); err != nil {
			fmt.Fprintf(stderr, "posbridge install: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "posbridge installed as service %q with --config %s; start it with: posbridge start\n", *name, *cfgPath)
	case "uninstall":
		if err := installer.Uninstall(spec, *root); err != nil {
			if errors.Is(err, installer.ErrNotInstalled) {
				fmt.Fprintf(stderr, "posbridge uninstall: service %q is not installed\n", *name)
				return exitFailure
			}
			fmt.Fprintf(stderr, "posbridge uninstall: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "service %q removed; the data directory and configuration are kept\n", *name)
	case "start", "stop", "restart":
		if err := installer.Control(spec, action); err != nil {
			if errors.Is(err, installer.ErrNotInstalled) {
				fmt.Fprintf(stderr, "posbridge %s: service %q is not installed; install it with: posbridge install --config FILE\n", action, *name)
				return exitFailure
			}
			fmt.Fprintf(stderr, "posbridge %s: %v\n", action, err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "service %q: %s done\n", *name, action)
	case "status":
		st, err := installer.Status(spec)
		if err != nil {
			fmt.Fprintf(stderr, "posbridge status: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "service %q is %s\n", *name, st)
		if st != "running" {
			return exitFailure
		}
	}
	return exitOK
}
