// Package ecr runs posbridge's legacy ECR side: for each [[ecr]] entry of the
// configuration a ZVT payment terminal (package ecr/pt) bound to a CodePay
// terminal, reached over a serial port (reopened with back-off when it
// disappears) or a TCP listener. Every part is a Serve(ctx) component; a
// failing port or a panicking session never takes the agent down.
package ecr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/posbridge/posbridge/ecr/pt"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/internal/logging"
	"github.com/posbridge/posbridge/internal/secretfile"
)

// Sentinel errors.
var (
	// ErrInvalidConfig means an [[ecr]] entry cannot be served.
	ErrInvalidConfig = errors.New("invalid ECR configuration")
	// errPanic marks a session that ended in a recovered panic.
	errPanic = errors.New("panic in ECR session")
)

func panicText(r any) string {
	if re, ok := r.(runtime.Error); ok {
		return re.Error()
	}
	return fmt.Sprintf("%T", r)
}

// TCPListener serves ECRs connecting over TCP (bare APDUs, PA00P016 §4) to
// one PT. One ECR connection at a time: a new connection replaces the
// previous one (an ECR reconnecting after T3 leaves a dead socket behind).
//
// A listener that fails (Accept returns an error: the socket was closed
// under it, the process ran out of file descriptors …) is never left dead:
// it is closed, reported and bound again on the same address with the
// serial ports' back-off (1 s, 2 s … 30 s) until ctx ends; an ECR connection
// already open carries on meanwhile.
type TCPListener struct {
	Addr   string // host:port
	PT     *pt.PT
	TCP    zvt.TCPConfig
	Clock  zvt.Clock
	Logger *slog.Logger
	// After replaces time.After for the re-bind back-off (tests inject it).
	After func(time.Duration) <-chan time.Time

	mu sync.Mutex
	ln net.Listener
}

// Listen binds the address (once); Serve calls it if needed.
func (l *TCPListener) Listen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return fmt.Errorf("listen for ZVT on %s: %w", l.Addr, err)
	}
	l.ln = ln
	return nil
}

// BoundAddr returns the bound address, or nil before Listen.
func (l *TCPListener) BoundAddr() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return nil
	}
	return l.ln.Addr()
}

// Serve accepts ECR connections until ctx ends. It returns an error only
// when the first Listen fails; a listener that fails later is bound again
// (see TCPListener).
func (l *TCPListener) Serve(ctx context.Context) error {
	if err := l.Listen(); err != nil {
		return err
	}
	log := l.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	after := l.After
	if after == nil {
		after = time.After
	}
	l.mu.Lock()
	ln := l.ln
	l.mu.Unlock()
	// Rebinding uses the address first bound (a ":0" keeps its port).
	addr := ln.Addr().String()
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.ln != nil {
			_ = l.ln.Close()
		}
	})
	defer stop()

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		current net.Conn
	)
	defer func() {
		mu.Lock()
		if current != nil {
			_ = current.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	backoff, failures := FirstBackoff, 0
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if ln = l.rebind(ctx, log, ln, addr, err, &backoff, &failures, after); ln == nil {
				return nil // ctx ended
			}
			continue
		}
		backoff, failures = FirstBackoff, 0
		log.Info("ECR connected", "remote", conn.RemoteAddr().String(), "listen", ln.Addr().String())
		mu.Lock()
		if current != nil {
			log.Info("a new ECR connection replaces the previous one")
			_ = current.Close()
		}
		current = conn
		mu.Unlock()
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					log.Error("recovered from a panic in a ZVT connection", "panic", panicText(r))
				}
				_ = conn.Close()
				mu.Lock()
				if current == conn {
					current = nil
				}
				mu.Unlock()
			}()
			tc := zvt.NewTCPConn(conn, l.Clock, log, l.TCP)
			if err := l.PT.Session(ctx, tc, false); err != nil {
				log.Info("ECR connection ended", "remote", conn.RemoteAddr().String(), "err", err)
				return
			}
			log.Info("ECR disconnected", "remote", conn.RemoteAddr().String())
		})
	}
}

// rebind closes the failed listener old and binds addr again, waiting with
// back-off before each attempt, until it succeeds (the new listener) or ctx
// ends (nil). Every failure is logged: the first as an error.
func (l *TCPListener) rebind(ctx context.Context, log *slog.Logger, old net.Listener, addr string, cause error,
	backoff *time.Duration, failures *int, after func(time.Duration) <-chan time.Time) net.Listener {
	_ = old.Close()
	for {
		*failures++
		if *failures == 1 {
			log.Error("ZVT listener failed; binding it again with back-off", "listen", addr, "err", cause, "retry_in", *backoff)
		} else {
			log.Warn("ZVT listener still failing", "listen", addr, "err", cause, "attempts", *failures, "retry_in", *backoff)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-after(*backoff):
		}
		*backoff = min(*backoff*2, MaxBackoff)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			cause = err
			continue
		}
		l.mu.Lock()
		if ctx.Err() != nil {
			l.mu.Unlock()
			_ = ln.Close()
			return nil
		}
		l.ln = ln
		l.mu.Unlock()
		log.Warn("ZVT listener bound again", "listen", addr, "failed_attempts", *failures)
		return ln
	}
}

// Config configures the ECR side.
type Config struct {
	Agent  pt.Agent
	ECRs   []config.ECR
	Logger *slog.Logger
	// Clock drives the protocol timers; nil means the system clock.
	Clock zvt.Clock
	// After replaces time.After for the back-off of serial ports and of
	// failed TCP listeners.
	After func(time.Duration) <-chan time.Time
	// Link, TCP and PT tune the protocol (zero values: the specification's).
	Link zvt.LinkConfig
	TCP  zvt.TCPConfig
	PT   pt.Config // Name, TerminalSN, Agent, Logger and Clock are set per entry
	// Open replaces the serial opener (tests).
	Open OpenFunc
	// FrameError, when set, counts serial line errors per port (metrics):
	// kinds as zvt.LinkConfig.OnError.
	FrameError func(port, kind string)
}

// Service is every configured ECR: one PT per [[ecr]] entry (named "ecr0",
// "ecr1", … by position) with its serial port or TCP listener.
type Service struct {
	log       *slog.Logger
	pts       []*pt.PT
	serials   []*SerialPort
	listeners []*TCPListener
}

// New builds the service; it does no I/O.
func New(cfg Config) (*Service, error) {
	parent := cfg.Logger
	if parent == nil {
		parent = slog.New(slog.DiscardHandler)
	}
	// Each part names its own component on the logger it was given: the
	// service "ecr", the PT "ecr.pt", the ports and listeners below.
	log := parent.With(logging.ComponentKey, "ecr")
	s := &Service{log: log}
	for i, e := range cfg.ECRs {
		field := "ecr[" + strconv.Itoa(i) + "]"
		if e.Protocol != "" && e.Protocol != "zvt" {
			return nil, fmt.Errorf("%s.protocol: %w: only zvt is supported, got %q", field, ErrInvalidConfig, e.Protocol)
		}
		if (e.Serial == "") == (e.TCPListen == "") {
			return nil, fmt.Errorf("%s: %w: set exactly one of serial or tcp_listen", field, ErrInvalidConfig)
		}
		pc := cfg.PT
		pc.Name, pc.TerminalSN, pc.Agent, pc.Clock = "ecr"+strconv.Itoa(i), e.TerminalSN, cfg.Agent, cfg.Clock
		pc.PrintWidth = e.PrintWidth
		if e.PasswordFile != "" {
			b, err := secretfile.Read(e.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("%s.password_file: %w", field, err)
			}
			pc.Password = strings.TrimSpace(string(b))
		}
		pc.Logger = parent
		p, err := pt.New(pc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		s.pts = append(s.pts, p)
		if e.Serial != "" {
			lc := cfg.Link
			if cfg.FrameError != nil {
				port, count := e.Serial, cfg.FrameError
				lc.OnError = func(kind string) { count(port, kind) }
			}
			s.serials = append(s.serials, &SerialPort{
				Path: e.Serial, Mode: SerialMode{Baud: e.Baud, DataBits: e.DataBits, Parity: e.Parity, StopBits: e.StopBits},
				PT: p, Link: lc, Clock: cfg.Clock, Open: cfg.Open, After: cfg.After,
				Logger: parent.With(logging.ComponentKey, "ecr.zvt.serial", "ecr", pc.Name),
			})
			continue
		}
		s.listeners = append(s.listeners, &TCPListener{
			Addr: e.TCPListen, PT: p, TCP: cfg.TCP, Clock: cfg.Clock, After: cfg.After,
			Logger: parent.With(logging.ComponentKey, "ecr.zvt.tcp", "ecr", pc.Name),
		})
	}
	return s, nil
}

// Empty reports whether no ECR is configured.
func (s *Service) Empty() bool { return len(s.pts) == 0 }

// Prepare binds the TCP listeners (so a busy port fails the start) and finds
// the ECR payments left running by the last stop. Call it before the agent
// starts reconciling.
func (s *Service) Prepare(ctx context.Context) error {
	for _, l := range s.listeners {
		if err := l.Listen(); err != nil {
			s.Close()
			return err
		}
	}
	for _, p := range s.pts {
		if err := p.Recover(ctx); err != nil {
			s.log.Error("recovering ECR payments", "ecr", p.Name(), "err", err)
		}
	}
	return nil
}

// TCPAddrs returns the bound addresses of the TCP listeners.
func (s *Service) TCPAddrs() []net.Addr {
	var out []net.Addr
	for _, l := range s.listeners {
		if a := l.BoundAddr(); a != nil {
			out = append(out, a)
		}
	}
	return out
}

// Close releases listeners bound by Prepare when Serve will not run.
func (s *Service) Close() {
	for _, l := range s.listeners {
		l.mu.Lock()
		if l.ln != nil {
			_ = l.ln.Close()
		}
		l.mu.Unlock()
	}
}

// Serve runs every PT, port and listener until ctx ends. Serial ports and
// TCP listeners recover from failures on their own (back-off); a part that
// still returns an error ends Serve with it (the others are stopped), so the
// process supervisor can end posbridge instead of running without its ECRs.
func (s *Service) Serve(ctx context.Context) error {
	if s.Empty() {
		<-ctx.Done()
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range s.pts {
		g.Go(func() error {
			if err := p.Serve(gctx); err != nil {
				return fmt.Errorf("ECR %s: %w", p.Name(), err)
			}
			return nil
		})
	}
	for _, sp := range s.serials {
		g.Go(func() error {
			if err := sp.Serve(gctx); err != nil {
				return fmt.Errorf("ECR port %s: %w", sp.Path, err)
			}
			return nil
		})
	}
	for _, l := range s.listeners {
		g.Go(func() error {
			if err := l.Serve(gctx); err != nil {
				s.log.Error("ZVT listener stopped", "addr", l.Addr, "err", err)
				return fmt.Errorf("ZVT listener %s: %w", l.Addr, err)
			}
			return nil
		})
	}
	return g.Wait()
}
