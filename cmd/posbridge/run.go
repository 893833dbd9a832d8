package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/kardianos/service"

	"github.com/posbridge/posbridge/installer"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/internal/logging"
)

// cmdRun runs the agent: in the foreground when started from a terminal, or
// under the service manager (Windows SCM, systemd) when installed.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "path to the TOML configuration file (required)")
	debug := fs.Bool("debug", false, "log at debug level")
	if code, done := parseCommand("run", fs, args, stdout, stderr, fs.Parse); done {
		return code
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "posbridge run: --config FILE is required")
		return exitUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		for _, p := range config.Problems(err) { // one line per problem
			fmt.Fprintf(stderr, "posbridge run: %v\n", p)
		}
		return exitFailure
	}
	interactive := service.Interactive()
	var console io.Writer
	if interactive {
		console = stderr
	}
	log, closeLog, err := configLogger(cfg, console, *debug)
	if err != nil {
		fmt.Fprintf(stderr, "posbridge run: %v\n", err)
		return exitFailure
	}
	defer closeLog.Close()

	serve := func(ctx context.Context) error {
		a, err := newApp(ctx, cfg, log, nil, false)
		if err != nil {
			return err
		}
		log.Info("posbridge running", "listen", a.ln.Addr().String(), "data_dir", cfg.Agent.DataDir, "terminals", len(cfg.Terminals), "version", version)
		fmt.Fprintf(stdout, "posbridge listening: websocket %s\n", a.wsURL())
		return a.serve(ctx)
	}
	if interactive {
		if err := serve(ctx); err != nil {
			fmt.Fprintf(stderr, "posbridge run: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	// Under the service manager: Start returns at once, Stop is bounded, a
	// fatal error exits non-zero so the manager's restart policy applies.
	exe, _ := os.Executable()
	abs, _ := filepath.Abs(*cfgPath)
	var sysLog service.Logger // Windows Event Log / journald: start, stop, fatal
	prg := &installer.Program{Serve: serve, Logger: log, Fatal: func(err error) {
		log.Error("posbridge failed", "err", err)
		if sysLog != nil {
			sysLog.Error("posbridge failed: " + err.Error())
		}
		closeLog.Close()
		os.Exit(exitFailure)
	}}
	s, err := installer.New(installer.Spec{Executable: exe, ConfigPath: abs}, prg)
	if err != nil {
		log.Error("create service", "err", err)
		return exitFailure
	}
	if sl, err := s.Logger(nil); err == nil {
		sysLog = sl
		sl.Info("posbridge starting, config " + abs)
		defer sl.Info("posbridge stopped")
	}
	if err := s.Run(); err != nil {
		log.Error("service run", "err", err)
		return exitFailure
	}
	return exitOK
}

// configLogger builds the logger of [log]: JSON to a rotating file, text to
// console (when non-nil), per-component levels, redaction in front of both.
func configLogger(cfg *config.Config, console io.Writer, debug bool) (*slog.Logger, io.Closer, error) {
	level, err := logging.ParseLevel(cfg.Log.Level)
	if err != nil {
		return nil, nil, fmt.Errorf("log.level: %w", err)
	}
	if debug || os.Getenv("POSBRIDGE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	levels := map[string]slog.Level{}
	for comp, l := range cfg.Log.Levels {
		if levels[comp], err = logging.ParseLevel(l); err != nil {
			return nil, nil, fmt.Errorf("log.levels.%s: %w", comp, err)
		}
	}
	dir := cfg.Log.Dir
	if dir == "-" {
		dir = ""
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("log.dir: %w", err)
	}
	return logging.New(logging.Options{Dir: dir, Level: level, Levels: levels, Console: console,
		MaxSize: int64(cfg.Log.MaxSizeMB) << 20, MaxFiles: cfg.Log.MaxFiles})
}

// newLogger is the console logger of the demo and the tools: text, redacted.
func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug || os.Getenv("POSBRIDGE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log, _, _ := logging.New(logging.Options{Level: level, Console: w})
	return log
}
