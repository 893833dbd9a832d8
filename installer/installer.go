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
	"path/filepath"
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
)

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
