package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/posbridge/posbridge/internal/config"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "path to the TOML configuration file (required)")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "posbridge run: --config FILE is required")
		return exitUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "posbridge run: %v\n", err)
		return exitFailure
	}
	log := newLogger(stderr, *debug)
	a, err := newApp(ctx, cfg, log, nil, false)
	if err != nil {
		fmt.Fprintf(stderr, "posbridge run: %v\n", err)
		return exitFailure
	}
	log.Info("posbridge running", "listen", a.ln.Addr().String(), "data_dir", cfg.Agent.DataDir, "terminals", len(cfg.Terminals))
	fmt.Fprintf(stdout, "posbridge listening: websocket %s\n", a.wsURL())
	if err := a.serve(ctx); err != nil {
		fmt.Fprintf(stderr, "posbridge run: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug || os.Getenv("POSBRIDGE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
