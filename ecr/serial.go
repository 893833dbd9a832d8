package ecr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"go.bug.st/serial"

	"github.com/posbridge/posbridge/ecr/pt"
	"github.com/posbridge/posbridge/ecr/zvt"
)

// Back-off between reopen attempts of a lost serial port.
const (
	FirstBackoff = time.Second
	MaxBackoff   = 30 * time.Second
)

// SerialMode is the line setting of one port ([[ecr]] baud, data_bits,
// parity, stop_bits). Zero fields take ZVT's 9600 8N2 (PA00P016 §2.1).
type SerialMode struct {
	Baud     int
	DataBits int
	Parity   string // "none", "even" or "odd"
	StopBits int
}

// OpenFunc opens a serial device; tests substitute one.
type OpenFunc func(path string, m SerialMode) (io.ReadWriteCloser, error)

// OpenSerial opens a serial device with go.bug.st/serial. Its reads poll
// every 100 ms and report the library's silent time-out as zvt.ErrReadTimeout.
func OpenSerial(path string, m SerialMode) (io.ReadWriteCloser, error) {
	mode := &serial.Mode{BaudRate: m.Baud, DataBits: m.DataBits, Parity: serial.NoParity, StopBits: serial.TwoStopBits}
	if mode.BaudRate <= 0 {
		mode.BaudRate = 9600
	}
	if mode.DataBits == 0 {
		mode.DataBits = 8
	}
	switch m.Parity {
	case "", "none":
	case "even":
		mode.Parity = serial.EvenParity
	case "odd":
		mode.Parity = serial.OddParity
	default:
		return nil, fmt.Errorf("open serial port %s: %w: parity %q", path, ErrInvalidConfig, m.Parity)
	}
	switch m.StopBits {
	case 0, 2:
	case 1:
		mode.StopBits = serial.OneStopBit
	default:
		return nil, fmt.Errorf("open serial port %s: %w: %d stop bits", path, ErrInvalidConfig, m.StopBits)
	}
	p, err := serial.Open(path, mode)
	if err != nil {
		return nil, fmt.Errorf("open serial port %s: %w", path, err)
	}
	if err := p.SetReadTimeout(100 * time.Millisecond); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("set read time-out on %s: %w", path, err)
	}
	return &serialPort{p: p}, nil
}

// serialPort adapts serial.Port to the io.ReadWriteCloser a zvt.Link reads.
type serialPort struct{ p serial.Port }

// Read reads from the port; a read time-out gives (0, zvt.ErrReadTimeout).
func (s *serialPort) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, err := s.p.Read(b)
	if n == 0 && err == nil {
		return 0, zvt.ErrReadTimeout
	}
	return n, err
}

// Write writes all of b.
func (s *serialPort) Write(b []byte) (int, error) {
	total := 0
	for total < len(b) {
		n, err := s.p.Write(b[total:])
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

// Close closes the port; a pending Read returns.
func (s *serialPort) Close() error { return s.p.Close() }

// PortStatus reports a serial port opening or failing.
type PortStatus struct {
	Path string
	Open bool
	Err  error // why it is not open
}

// SerialPort serves one ECR on a serial port: one goroutine per port. A port
// that fails (USB adapter unplugged) is closed, reported and reopened with
// back-off (1 s, 2 s, 4 s … 30 s); the PT's running payment carries on when
// the port is back.
type SerialPort struct {
	Path string
	Mode SerialMode
	PT   *pt.PT
	// Link tunes the serial link layer (T1, T2, repeats); zero is the spec.
	Link   zvt.LinkConfig
	Clock  zvt.Clock
	Logger *slog.Logger
	// Open opens the device; nil means OpenSerial.
	Open OpenFunc
	// After replaces time.After for the back-off (tests inject it).
	After func(time.Duration) <-chan time.Time
	// Notify, if set, is told every time the port opens or fails; it must
	// not block.
	Notify func(PortStatus)
}

// Serve opens the port and serves the ECR until ctx ends. A port that cannot
// be opened or fails is reported and reopened with back-off; Serve never
// gives up on it and returns nil when ctx ends.
func (s *SerialPort) Serve(ctx context.Context) error {
	log := s.logger()
	open := s.Open
	if open == nil {
		open = OpenSerial
	}
	after := s.After
	if after == nil {
		after = time.After
	}
	notify := func(st PortStatus) {
		if s.Notify != nil {
			s.Notify(st)
		}
	}
	backoff := FirstBackoff
	wait := func() bool {
		d := backoff
		backoff = min(backoff*2, MaxBackoff)
		select {
		case <-ctx.Done():
			return false
		case <-after(d):
			return true
		}
	}
	failures, wasOpen := 0, false
	for ctx.Err() == nil {
		port, err := open(s.Path, s.Mode)
		if err != nil {
			failures++
			if failures == 1 {
				log.Warn("ECR port unavailable; retrying with back-off", "port", s.Path, "err", err, "retry_in", backoff)
			} else {
				log.Info("ECR port still unavailable", "port", s.Path, "err", err, "attempts", failures, "retry_in", backoff)
			}
			notify(PortStatus{Path: s.Path, Err: err})
			if !wait() {
				return nil
			}
			continue
		}
		if wasOpen || failures > 0 {
			log.Warn("ECR port reopened", "port", s.Path, "failed_attempts", failures)
		} else {
			log.Info("ECR port open", "port", s.Path, "baud", s.Mode.Baud, "data_bits", s.Mode.DataBits, "parity", s.Mode.Parity, "stop_bits", s.Mode.StopBits)
		}
		failures, wasOpen, backoff = 0, true, FirstBackoff
		notify(PortStatus{Path: s.Path, Open: true})
		err = s.run(ctx, port)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn(fmt.Sprintf("ECR port %s lost: %v; reopening", s.Path, err), "port", s.Path, "retry_in", backoff)
		notify(PortStatus{Path: s.Path, Err: err})
		if !wait() {
			return nil
		}
	}
	return nil
}

// run serves one opened port until it fails; a panic is recovered.
func (s *SerialPort) run(ctx context.Context, port io.ReadWriteCloser) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s", errPanic, panicText(r))
			s.logger().Error("recovered from a panic on the ECR port", "port", s.Path, "panic", panicText(r))
		}
	}()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	link := zvt.NewLink(port, s.Clock, s.logger().With("port", s.Path), s.Link)
	var wg sync.WaitGroup
	linkErr := make(chan error, 1)
	wg.Go(func() {
		linkErr <- link.Serve(sctx) // closes the port when it returns
	})
	serr := s.PT.Session(sctx, link, true)
	cancel()
	wg.Wait()
	lerr := <-linkErr
	switch {
	case lerr != nil:
		return lerr
	case serr != nil:
		return serr
	}
	return errors.New("link stopped")
}

func (s *SerialPort) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}
