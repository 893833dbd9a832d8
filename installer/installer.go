// Package installer hosts posbridge as an operating-system service through
// kardianos/service (Windows SCM, systemd): the service definition, install and
// uninstall, start/stop/restart/status, and the adapter that runs the agent's
// Serve(ctx) under the service manager. The agent does not know how it is hosted.
package installer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/kardianos/service"
)

// Errors.
var (
	// ErrNotAbsolute means a path given to install is relative; the service
	// manager starts posbridge in another working directory.
	ErrNotAbsolute = errors.New("path must be absolute")
	// ErrNotInstalled means the service is not installed.
	ErrNotInstalled = service.ErrNotInstalled
	// ErrTemporaryExecutable means the executable lives in a temporary or
	// Go build directory (`go run`, `go test`): the service would point at a
	// file that is deleted soon.
	ErrTemporaryExecutable = errors.New("the executable is a temporary build")
)

// CheckExecutable refuses (ErrTemporaryExecutable) an executable in a
// temporary directory (os.TempDir, $GOTMPDIR) or a Go build directory
// ($GOCACHE, the user cache's go-build, any go-build* directory): what
// `go run ./cmd/posbridge install` would install. Install calls it.
func CheckExecutable(path string) error {
	for _, part := range strings.Split(filepath.ToSlash(path), "/") {
		if strings.HasPrefix(part, "go-build") {
			return fmt.Errorf("%s is in a Go build directory (%s): %w", path, part, ErrTemporaryExecutable)
		}
	}
	for _, dir := range temporaryDirs() {
		if within(path, dir) {
			return fmt.Errorf("%s is in the temporary directory %s: %w", path, dir, ErrTemporaryExecutable)
		}
	}
	return nil
}

// temporaryDirs are the directories whose files do not last: the system's
// temporary directory, Go's build directories and build cache.
func temporaryDirs() []string {
	dirs := []string{os.TempDir(), os.Getenv("GOTMPDIR"), os.Getenv("GOCACHE")}
	if c, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(c, "go-build"))
	}
	var out []string
	for _, d := range dirs {
		if !filepath.IsAbs(d) {
			continue // unset, or GOCACHE=off
		}
		out = append(out, d)
		if r, err := filepath.EvalSymlinks(d); err == nil && r != d {
			out = append(out, r) // macOS: /var/folders/… is /private/var/folders/…
		}
	}
	return out
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	if runtime.GOOS == "windows" {
		path, dir = strings.ToLower(path), strings.ToLower(dir)
	}
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// DocsURL is the operations guide the service definition points at (the
// unit's Documentation=): the project's, since nothing installs a local copy.
const DocsURL = "https://github.com/posbridge/posbridge/blob/main/docs/operations.md"

// Spec describes the service to install.
type Spec struct {
	// Name is the service name (default "posbridge").
	Name string
	// Executable is the absolute path of the posbridge binary.
	Executable string
	// ConfigPath is the absolute path of the configuration file; it is
	// stored in the service definition.
	ConfigPath string
	// User runs the service (Linux: a system user in the dialout group,
	// e.g. "posbridge"; Windows: "" for LocalSystem, or `NT AUTHORITY\LocalService`).
	User string
}

func (s *Spec) defaults() error {
	if s.Name == "" {
		s.Name = "posbridge"
	}
	if !filepath.IsAbs(s.ConfigPath) {
		return fmt.Errorf("config %q: %w", s.ConfigPath, ErrNotAbsolute)
	}
	if !filepath.IsAbs(s.Executable) {
		return fmt.Errorf("executable %q: %w", s.Executable, ErrNotAbsolute)
	}
	return nil
}

// Arguments are the command line the service manager starts.
func (s Spec) Arguments() []string { return []string{"run", "--config", s.ConfigPath} }

// ServiceConfig is the kardianos/service definition of posbridge.
func (s Spec) ServiceConfig() (*service.Config, error) {
	if err := s.defaults(); err != nil {
		return nil, err
	}
	c := &service.Config{
		Name:        s.Name,
		DisplayName: "posbridge",
		Description: "Bridges point-of-sale software to CodePay card terminals.",
		Executable:  s.Executable,
		Arguments:   s.Arguments(),
		UserName:    s.User,
		Option:      platformOptions(s),
	}
	if service.Platform() == "linux-systemd" {
		c.Dependencies = []string{"After=network-online.target", "Wants=network-online.target"}
	}
	return c, nil
}

// Program adapts a Serve(ctx) function to the service manager: Start returns
// at once, Stop cancels and waits for Serve to return, at most StopTimeout.
type Program struct {
	Serve       func(ctx context.Context) error
	StopTimeout time.Duration
	Logger      *slog.Logger
	// Fatal is called when Serve fails on its own (not because of Stop), so
	// the host can exit non-zero and the service manager restart it.
	Fatal func(err error)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

var _ service.Interface = (*Program)(nil)

// Start launches Serve in a goroutine; it never blocks.
func (p *Program) Start(service.Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		return errors.New("start posbridge: already running")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() {
		err := p.Serve(ctx)
		if ctx.Err() == nil && p.Fatal != nil {
			if err == nil {
				err = errors.New("stopped unexpectedly")
			}
			p.Fatal(err)
		}
		p.done <- err
	}()
	return nil
}

// Stop asks Serve to stop (in-flight steps reach a persisted state) and waits
// at most StopTimeout (default 15s); whatever is not final is reconciled at
// the next start.
func (p *Program) Stop(service.Service) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	timeout := p.StopTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	select {
	case err := <-done:
		if err != nil && p.Logger != nil {
			p.Logger.Error("posbridge stopped with an error", "err", err)
		}
		return nil
	case <-time.After(timeout):
		if p.Logger != nil {
			p.Logger.Warn("posbridge did not stop in time; unfinished payments are reconciled at the next start", "timeout", timeout)
		}
		return nil
	}
}

// New returns the kardianos service for spec running prg.
func New(spec Spec, prg service.Interface) (service.Service, error) {
	c, err := spec.ServiceConfig()
	if err != nil {
		return nil, err
	}
	s, err := service.New(prg, c)
	if err != nil {
		return nil, fmt.Errorf("create service definition: %w", err)
	}
	return s, nil
}

// ErrNoServiceManager means the machine runs no service manager posbridge
// can talk to (e.g. a container without systemd).
var ErrNoServiceManager = errors.New("no service manager is running on this machine")

// Control runs start, stop or restart on the installed service.
func Control(spec Spec, action string) error {
	if err := preflight(spec); err != nil {
		return fmt.Errorf("%s service %s: %w", action, spec.Name, err)
	}
	s, err := New(spec, &Program{})
	if err != nil {
		return err
	}
	if err := service.Control(s, action); err != nil {
		return fmt.Errorf("%s service %s: %w", action, spec.Name, err)
	}
	return nil
}

// Status reports the service status as a word: running, stopped, not installed, unknown.
func Status(spec Spec) (string, error) {
	switch err := preflight(spec); {
	case errors.Is(err, ErrNotInstalled):
		return "not installed", nil
	case err != nil:
		return "unknown", fmt.Errorf("read service status: %w", err)
	}
	s, err := New(spec, &Program{})
	if err != nil {
		return "", err
	}
	st, err := s.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return "not installed", nil
	case err != nil:
		return "unknown", fmt.Errorf("read service status: %w", err)
	}
	switch st {
	case service.StatusRunning:
		return "running", nil
	case service.StatusStopped:
		return "stopped", nil
	}
	return "unknown", nil
}
