package zvt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// DefaultT3 is the default time-out T3 (PA00P016 §5.2.5).
const DefaultT3 = 5 * time.Second

// DefaultTCPPort is the PT's default ZVT port (PA00P016 §2.2).
const DefaultTCPPort = 20007

// TCPConfig tunes a TCPConn. Zero fields take the defaults.
type TCPConfig struct {
	// T3 bounds the reception of one APDU once its first byte has arrived
	// (time-out case c: the receiver closes the socket) and the write of one
	// APDU. Default DefaultT3.
	T3 time.Duration
	// MaxAPDU is the largest APDU accepted; a longer announced length closes
	// the connection. Default MaxAPDULen.
	MaxAPDU int
}

// TCPConn carries bare APDUs over one ECR connection (PA00P016 §4): no DLE
// framing, no CRC, no ACK/NAK; the application response 80 00 00 does that job.
// APDUs are reassembled from the length field however the stream splits them.
type TCPConn struct {
	c     net.Conn
	clock Clock
	log   *slog.Logger
	cfg   TCPConfig

	rmu, wmu sync.Mutex
}

// NewTCPConn wraps an accepted ECR connection. A nil logger discards output.
func NewTCPConn(c net.Conn, clock Clock, logger *slog.Logger, cfg TCPConfig) *TCPConn {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = SystemClock{}
	}
	if cfg.T3 <= 0 {
		cfg.T3 = DefaultT3
	}
	if cfg.MaxAPDU <= 0 || cfg.MaxAPDU > MaxAPDULen {
		cfg.MaxAPDU = MaxAPDULen
	}
	return &TCPConn{c: c, clock: clock, log: logger, cfg: cfg}
}

// ReadAPDU waits for the next APDU for as long as ctx allows. Once its first
// byte has arrived the rest must follow within T3; otherwise the connection is
// closed and the error wraps ErrTimeout. io.EOF means the ECR closed the
// connection between APDUs.
func (t *TCPConn) ReadAPDU(ctx context.Context) (APDU, error) {
	t.rmu.Lock()
	defer t.rmu.Unlock()
	if err := t.c.SetReadDeadline(time.Time{}); err != nil {
		return APDU{}, fmt.Errorf("reading APDU: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = t.c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	var hdr [5]byte
	if _, err := io.ReadFull(t.c, hdr[:1]); err != nil {
		return APDU{}, t.readErr(ctx, err)
	}
	if err := t.c.SetReadDeadline(t.clock.Now().Add(t.cfg.T3)); err != nil {
		return APDU{}, fmt.Errorf("reading APDU: %w", err)
	}
	if ctx.Err() != nil {
		return APDU{}, ctx.Err()
	}
	if _, err := io.ReadFull(t.c, hdr[1:3]); err != nil {
		return APDU{}, t.readErr(ctx, eofIsUnexpected(err))
	}
	hlen, n := 3, int(hdr[2])
	if hdr[2] == 0xFF {
		if _, err := io.ReadFull(t.c, hdr[3:5]); err != nil {
			return APDU{}, t.readErr(ctx, eofIsUnexpected(err))
		}
		hlen, n = 5, int(hdr[3])|int(hdr[4])<<8
	}
	if hlen+n > t.cfg.MaxAPDU {
		_ = t.c.Close()
		return APDU{}, fmt.Errorf("reading APDU %02X %02X: %w: %d bytes announced", hdr[0], hdr[1], ErrTooLong, hlen+n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(t.c, data); err != nil {
		return APDU{}, t.readErr(ctx, eofIsUnexpected(err))
	}
	a := APDU{Class: hdr[0], Instr: hdr[1], Data: data}
	t.log.Debug("received", "msg", ControlName(a.Control()), "apdu", a.String())
	return a, nil
}

func (t *TCPConn) readErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == io.EOF {
		return io.EOF
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.log.Warn("APDU incomplete after T3; closing ECR connection", "t3", t.cfg.T3)
		_ = t.c.Close()
		return fmt.Errorf("reading APDU: %w: incomplete after T3 (%v)", ErrTimeout, t.cfg.T3)
	}
	return fmt.Errorf("reading APDU: %w", err)
}

// WriteAPDU writes one APDU. The write must finish within T3 and before ctx ends.
func (t *TCPConn) WriteAPDU(ctx context.Context, a APDU) error {
	raw, err := a.Encode()
	if err != nil {
		return fmt.Errorf("writing APDU: %w", err)
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if err := t.c.SetWriteDeadline(t.clock.Now().Add(t.cfg.T3)); err != nil {
		return fmt.Errorf("writing APDU: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = t.c.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if _, err := t.c.Write(raw); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("writing %s: %w", ControlName(a.Control()), err)
	}
	t.log.Debug("sent", "msg", ControlName(a.Control()), "apdu", a.String())
	return nil
}

// Close closes the connection.
func (t *TCPConn) Close() error { return t.c.Close() }
