package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/internal/logging"
	"github.com/posbridge/posbridge/store"
)

const journalUsage = `usage: posbridge journal archive --before YYYY-MM-DD [--config FILE] [--out PATH] [--dry-run]

Moves old payments out of the journal into an archive file: every payment that is final
(approved, declined, cancelled, expired, failed), was last changed before the start of
--before (local time), is in a closed batch (or never entered one) and is not the original of
a void, refund or completion still in progress, with all its events; then the closed batches
closed before that day whose payments have all left. The journal's newest payment and each
terminal's newest batch always stay.

The archive is an SQLite file with the journal's payments, payment_events and batches tables
(default: DATA/archive/posbridge-archive-YYYY.db, YYYY the year of the day before --before).
It is safe to run while the agent runs: the journal is written in short transactions (the
agent waits for each, at most a few hundred milliseconds), and a crash or Ctrl-C at any moment
loses and duplicates nothing; run it again to finish. Stopping the agent is not needed.

Flags:
`

// cmdJournal is `posbridge journal archive`.
func cmdJournal(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "archive" {
		fmt.Fprint(stderr, journalUsage)
		fmt.Fprintln(stderr, "  (see posbridge journal archive --help)")
		return exitUsage
	}
	const cmd = "posbridge journal archive"
	fs := flag.NewFlagSet("journal archive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, journalUsage); fs.PrintDefaults() }
	before := fs.String("before", "", "archive payments last changed before this day, YYYY-MM-DD (required)")
	cfgPath := fs.String("config", envOr("POSBRIDGE_CONFIG", defaultConfigPath()), "configuration file (for agent.data_dir)")
	out := fs.String("out", "", "archive file (default DATA/archive/posbridge-archive-YYYY.db); created when missing")
	dryRun := fs.Bool("dry-run", false, "only count what would move; change nothing")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, cmd+": "+format+"\n", a...)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *before == "" {
		return usageErr("--before YYYY-MM-DD is required")
	}
	cutoff, err := time.ParseInLocation(time.DateOnly, *before, time.Local)
	if err != nil {
		return usageErr("--before: want a date YYYY-MM-DD, got %q", *before)
	}
	if cutoff.After(time.Now()) {
		return usageErr("--before %s is in the future; give today or an earlier day", *before)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		// A configuration to fix, not a usage error (contract: exit 1).
		fmt.Fprintf(stderr, "%s: --config: %v\n", cmd, err)
		return exitFailure
	}
	journal := filepath.Join(cfg.Agent.DataDir, "posbridge.db")
	target := defaultArchivePath(cfg.Agent.DataDir, cutoff)
	if *out != "" {
		if target, err = filepath.Abs(*out); err != nil {
			return usageErr("--out %q: %v", *out, err)
		}
		if fi, err := os.Stat(target); err == nil && fi.IsDir() {
			return usageErr("--out %s is a directory; name the archive file", target)
		}
		if fi, err := os.Stat(filepath.Dir(target)); err != nil || !fi.IsDir() {
			return usageErr("--out %s: directory %s does not exist", target, filepath.Dir(target))
		}
		if j, err := os.Stat(journal); err == nil {
			if o, err := os.Stat(target); err == nil && os.SameFile(j, o) {
				return usageErr("--out %s is the journal itself", target)
			}
		}
	}
	if _, err := os.Stat(journal); err != nil {
		fmt.Fprintf(stderr, "%s: no journal at %s (agent.data_dir of %s): %v\n", cmd, journal, cfg.Path, err)
		return exitFailure
	}
	log, _, _ := logging.New(logging.Options{Level: slog.LevelWarn, Console: stderr})
	db, err := store.Open(ctx, journal, store.WithLogger(log))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return exitFailure
	}
	defer db.Close()
	if !*dryRun && *out == "" {
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			fmt.Fprintf(stderr, "%s: create the archive directory: %v\n", cmd, err)
			return exitFailure
		}
	}
	res, err := db.Archive(ctx, cutoff, target, store.ArchiveOptions{DryRun: *dryRun})
	day := cutoff.Format(time.DateOnly)
	switch {
	case err != nil && errors.Is(err, store.ErrInvalid):
		return usageErr("%v", err)
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		if res.Payments > 0 || res.Batches > 0 {
			fmt.Fprintf(stderr, "%s: moved %d payments (%d events) and %d batches into %s before it stopped; nothing is lost, run it again to finish\n",
				cmd, res.Payments, res.Events, res.Batches, res.Path)
		}
		return exitFailure
	case *dryRun:
		fmt.Fprintf(stdout, "would archive %d payments (%d events) and %d batches last changed before %s into %s (dry run: nothing changed)\n",
			res.Payments, res.Events, res.Batches, day, res.Path)
	case res.Payments == 0 && res.Batches == 0:
		fmt.Fprintf(stdout, "nothing to archive before %s (journal %s)\n", day, journal)
	default:
		fmt.Fprintf(stdout, "archived %d payments (%d events) and %d batches last changed before %s into %s\n",
			res.Payments, res.Events, res.Batches, day, res.Path)
		if res.Resumed > 0 {
			fmt.Fprintf(stdout, "  %d of the payments finish the moves of an earlier run that was interrupted\n", res.Resumed)
		}
	}
	if res.Conflicts > 0 {
		fmt.Fprintf(stderr, "%s: warning: %d payments or batches are both in the journal and in an archive with different contents and were left in both (see the warnings above)\n", cmd, res.Conflicts)
	}
	return exitOK
}

// defaultArchivePath is DATA/archive/posbridge-archive-YYYY.db, YYYY the
// year of the last day before cutoff: the year the moved payments (mostly)
// belong to.
func defaultArchivePath(dataDir string, cutoff time.Time) string {
	year := cutoff.Add(-time.Millisecond).Year()
	return filepath.Join(dataDir, "archive", fmt.Sprintf("posbridge-archive-%d.db", year))
}

// archiveFiles returns the archive files in DATA/archive, newest name first.
func archiveFiles(dataDir string) []string {
	files, _ := filepath.Glob(filepath.Join(dataDir, "archive", "*.db"))
	sort.Sort(sort.Reverse(sort.StringSlice(files)))
	return files
}

// Timing of the daily archive ([journal] keep).
const (
	archiveFirstDelay = 2 * time.Minute // after start: the agent's own recovery goes first
	archiveEvery      = 24 * time.Hour
	archiveRetry      = time.Hour // after a failed run
	archiveChunk      = 500       // payments per move: the agent's writes wait for at most one
)

// journalArchiver moves payments older than keep out of the journal once a
// day, into DATA/archive/posbridge-archive-YYYY.db. A failed run is logged
// and retried an hour later; it never stops the agent.
type journalArchiver struct {
	db      *store.DB
	dataDir string
	keep    time.Duration
	log     *slog.Logger
	now     func() time.Time
	// wait returns after d, or with ctx's error when ctx ends first.
	wait func(ctx context.Context, d time.Duration) error
}

func newJournalArchiver(db *store.DB, dataDir string, keep time.Duration, log *slog.Logger) *journalArchiver {
	return &journalArchiver{db: db, dataDir: dataDir, keep: keep, log: log.With(logging.ComponentKey, "archive"), now: time.Now, wait: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Serve archives a little after start and then once a day until ctx ends.
func (a *journalArchiver) Serve(ctx context.Context) error {
	delay := archiveFirstDelay
	for {
		if a.wait(ctx, delay) != nil {
			return nil
		}
		delay = archiveEvery
		if err := a.runOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.log.Error("journal archive failed; trying again in an hour (nothing is lost)", "err", err)
			delay = archiveRetry
		}
	}
}

func (a *journalArchiver) runOnce(ctx context.Context) error {
	cutoff := a.now().Add(-a.keep)
	path := defaultArchivePath(a.dataDir, cutoff)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create archive directory: %w", err)
	}
	res, err := a.db.Archive(ctx, cutoff, path, store.ArchiveOptions{ChunkSize: archiveChunk})
	if err != nil {
		return err
	}
	a.log.Info("journal archived", "archive", res.Path, "before", cutoff.Format(time.RFC3339),
		"payments", res.Payments, "events", res.Events, "batches", res.Batches, "resumed", res.Resumed, "conflicts", res.Conflicts)
	return nil
}
