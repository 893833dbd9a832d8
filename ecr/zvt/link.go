package zvt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Serial link defaults (PA00P016 §3.4, §3.5).
const (
	DefaultT1      = 200 * time.Millisecond // longest gap between two bytes of a message
	DefaultT2      = 5 * time.Second        // longest wait for ACK/NAK after a message
	DefaultRepeats = 2                      // repeats after the first send
)

// LinkConfig tunes a Link. Zero fields take the specification's values.
type LinkConfig struct {
	T1      time.Duration // inter-byte time-out; on expiry the receiver sends NAK
	T2      time.Duration // acknowledgement time-out; on expiry the sender repeats
	Repeats int           // repeats after NAK or T2 before ErrTransmission; default 2
	// DuplicateWindow bounds how long after a good message an identical one is
	// treated as the sender's repeat (our ACK was lost) rather than a new
	// message. Default: (1+Repeats)·T2, the sender's whole repeat cycle.
	DuplicateWindow time.Duration
	MaxAPDU         int // largest APDU accepted; default MaxAPDULen
	// OnError, when set, is told about each line error: "nak_sent" (a bad
	// or incomplete frame from the ECR), "nak_received", "t2_timeout" and
	// "transmission_failed" (all repeats used up). For metrics.
	OnError func(kind string)
}

func (c LinkConfig) withDefaults() LinkConfig {
	if c.T1 <= 0 {
		c.T1 = DefaultT1
	}
	if c.T2 <= 0 {
		c.T2 = DefaultT2
	}
	if c.Repeats <= 0 {
		c.Repeats = DefaultRepeats
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = time.Duration(1+c.Repeats) * c.T2
	}
	if c.MaxAPDU <= 0 || c.MaxAPDU > MaxAPDULen {
		c.MaxAPDU = MaxAPDULen
	}
	return c
}

// Transport moves APDUs between posbridge (the PT) and one ECR. Link (serial)
// and TCPConn (TCP) implement it.
type Transport interface {
	// ReadAPDU returns the next APDU from the ECR.
	ReadAPDU(ctx context.Context) (APDU, error)
	// WriteAPDU delivers one APDU to the ECR.
	WriteAPDU(ctx context.Context, a APDU) error
}

var (
	_ Transport = (*Link)(nil)
	_ Transport = (*TCPConn)(nil)
)

// Link is the ZVT serial transport protocol over a byte stream (PA00P016 §3),
// seen from the PT. Serve runs the receiver: it decodes frames, answers every
// message at once with ACK (good) or NAK (bad CRC, bad stuffing, too long,
// malformed APDU, or a gap longer than T1 inside the message), and hands new
// APDUs to ReadAPDU. A message identical to the last good one, arriving within
// DuplicateWindow and before any of our own messages was acknowledged, is the
// ECR repeating because our ACK got lost: it is ACKed again but not delivered
// twice. While 16 received APDUs wait unread, further messages get NAK so that
// the receiver never blocks. WriteAPDU frames an APDU, sends it and waits T2
// for ACK; after NAK or T2 it repeats, at most Repeats times, then fails with
// ErrTransmission.
//
// No APDU bytes are logged, only control fields and lengths.
type Link struct {
	rw    io.ReadWriter
	clock Clock
	log   *slog.Logger
	cfg   LinkConfig

	wmu sync.Mutex // serialises writes of frames and ACK/NAK bytes
	smu sync.Mutex // one WriteAPDU at a time (the protocol is half duplex)

	mu     sync.Mutex
	waiter chan byte // set while WriteAPDU waits for ACK/NAK
	lastRx []byte    // last good APDU received, for duplicate detection
	lastAt time.Time

	rx      chan APDU
	done    chan struct{}
	err     error // why Serve ended; read only after done is closed
	started atomic.Bool
}

// NewLink returns a link over rw. A nil logger discards log output.
func NewLink(rw io.ReadWriter, clock Clock, logger *slog.Logger, cfg LinkConfig) *Link {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = SystemClock{}
	}
	return &Link{
		rw:    rw,
		clock: clock,
		log:   logger,
		cfg:   cfg.withDefaults(),
		rx:    make(chan APDU, 16),
		done:  make(chan struct{}),
	}
}

// Serve runs the receiver until ctx is cancelled (it then returns nil) or the
// stream fails. It takes ownership of rw: when it returns it closes rw if rw is
// an io.Closer, which also ends its reader goroutine. Read errors wrapping
// ErrReadTimeout are polling time-outs and are ignored. Serve may be called once.
func (l *Link) Serve(ctx context.Context) error {
	if !l.started.CompareAndSwap(false, true) {
		return errors.New("serving serial link: Serve called twice")
	}
	chunks := make(chan []byte, 16)
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { l.pump(chunks, readErr, stop) })

	err := l.loop(ctx, chunks, readErr)
	close(stop)
	if c, ok := l.rw.(io.Closer); ok {
		_ = c.Close()
		wg.Wait()
	}
	l.err = err
	close(l.done)
	return err
}

// pump copies bytes from rw into chunks until rw fails or stop closes.
func (l *Link) pump(chunks chan<- []byte, readErr chan<- error, stop <-chan struct{}) {
	buf := make([]byte, 512)
	for {
		n, err := l.rw.Read(buf)
		if n > 0 {
			select {
			case chunks <- bytes.Clone(buf[:n]):
			case <-stop:
				return
			}
		}
		if (n == 0 && err == nil) || errors.Is(err, ErrReadTimeout) {
			select {
			case <-stop:
				return
			default:
				continue
			}
		}
		if err != nil {
			select {
			case readErr <- err:
			case <-stop:
			}
			return
		}
	}
}

func (l *Link) loop(ctx context.Context, chunks <-chan []byte, readErr <-chan error) error {
	dec := NewFrameDecoder(l.cfg.MaxAPDU)
	var t1 Timer
	var t1C <-chan time.Time
	stopT1 := func() {
		if t1 != nil {
			t1.Stop()
			t1, t1C = nil, nil
		}
	}
	defer stopT1()
	for {
		select {
		case <-ctx.Done():
			return nil
		case rerr := <-readErr:
			// The pump queued any bytes it read before failing; answer them.
			for {
				select {
				case chunk := <-chunks:
					if err := l.handleChunk(dec, chunk); err != nil {
						return err
					}
					continue
				default:
				}
				return fmt.Errorf("reading serial link: %w", rerr)
			}
		case chunk := <-chunks:
			if err := l.handleChunk(dec, chunk); err != nil {
				return err
			}
			stopT1()
			if dec.InFrame() {
				t1 = l.clock.NewTimer(l.cfg.T1)
				t1C = t1.C()
			}
		case <-t1C:
			t1, t1C = nil, nil
			if dec.Abort() {
				l.log.Warn("serial message incomplete after T1; sending NAK", "t1", l.cfg.T1)
				if err := l.nak(); err != nil {
					return err
				}
			}
		}
	}
}

func (l *Link) handleChunk(dec *FrameDecoder, chunk []byte) error {
	for _, b := range chunk {
		if err := l.handleByte(dec, b); err != nil {
			return err
		}
	}
	return nil
}

func (l *Link) handleByte(dec *FrameDecoder, b byte) error {
	if dec.Idle() && (b == ACK || b == NAK) {
		l.deliverAck(b)
		return nil
	}
	raw, err := dec.Feed(b)
	if err != nil {
		l.log.Warn("rejecting serial message; sending NAK", "err", err)
		return l.nak()
	}
	if raw == nil {
		return nil
	}
	a, err := DecodeAPDU(raw)
	if err != nil {
		l.log.Warn("rejecting malformed APDU; sending NAK", "err", err)
		return l.nak()
	}
	if len(l.rx) == cap(l.rx) {
		// Only this goroutine sends on rx, so the check cannot go stale: the
		// receiver never blocks, and the ECR repeats the message later.
		l.log.Warn("too many unread messages; sending NAK", "apdu", a.String())
		return l.nak()
	}
	if err := l.writeByte(ACK); err != nil {
		return err
	}
	if l.isDuplicate(raw) {
		l.log.Info("repeated serial message acknowledged again, not delivered twice", "apdu", a.String())
		return nil
	}
	l.log.Debug("received", "msg", ControlName(a.Control()), "apdu", a.String())
	l.rx <- a
	return nil
}

func (l *Link) isDuplicate(raw []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if l.lastRx != nil && bytes.Equal(l.lastRx, raw) && now.Sub(l.lastAt) <= l.cfg.DuplicateWindow {
		l.lastAt = now
		return true
	}
	l.lastRx, l.lastAt = raw, now
	return false
}

func (l *Link) deliverAck(b byte) {
	l.mu.Lock()
	w := l.waiter
	if w != nil && b == ACK {
		// The ECR acknowledged a message of ours: it has moved on, so an
		// identical next message from it (typically its next 80 00 00) is
		// new. Forget the last one here, in the receiving goroutine, before
		// any following frame is parsed.
		l.lastRx = nil
	}
	l.mu.Unlock()
	if w == nil {
		l.log.Debug("acknowledgement byte while no message is outstanding; ignored", "byte", b)
		return
	}
	select {
	case w <- b:
	default:
	}
}

func (l *Link) write(p []byte) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	_, err := l.rw.Write(p)
	return err
}

// nak answers a bad frame and counts it.
func (l *Link) nak() error {
	l.report("nak_sent")
	return l.writeByte(NAK)
}

func (l *Link) report(kind string) {
	if l.cfg.OnError != nil {
		l.cfg.OnError(kind)
	}
}

func (l *Link) writeByte(b byte) error {
	if err := l.write([]byte{b}); err != nil {
		return fmt.Errorf("writing acknowledgement: %w", err)
	}
	return nil
}

// WriteAPDU sends one APDU to the ECR and waits for its ACK. It returns a
// *TransmissionError (errors.Is ErrTransmission) when the first send and all
// repeats were answered with NAK or not at all within T2, ctx.Err() when ctx
// ends first, and ErrClosed when Serve has stopped.
func (l *Link) WriteAPDU(ctx context.Context, a APDU) error {
	raw, err := a.Encode()
	if err != nil {
		return fmt.Errorf("writing APDU: %w", err)
	}
	frame := EncodeFrame(raw)
	name := ControlName(a.Control())

	l.smu.Lock()
	defer l.smu.Unlock()
	select {
	case <-l.done:
		return ErrClosed
	default:
	}
	acks := make(chan byte, 1)
	l.mu.Lock()
	l.waiter = acks
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.waiter = nil
		l.mu.Unlock()
	}()

	attempts := 1 + l.cfg.Repeats
	last := ""
	for i := range attempts {
		select {
		case <-acks: // drop a late acknowledgement of an earlier attempt
		default:
		}
		if err := l.write(frame); err != nil {
			return fmt.Errorf("writing %s frame: %w", name, err)
		}
		t := l.clock.NewTimer(l.cfg.T2)
		select {
		case b := <-acks:
			t.Stop()
			if b == ACK {
				l.mu.Lock()
				l.lastRx = nil // the ECR has moved on: an identical message is new
				l.mu.Unlock()
				l.log.Debug("sent", "msg", name, "apdu", a.String(), "attempt", i+1)
				return nil
			}
			last = "NAK"
			l.report("nak_received")
		case <-t.C():
			last = "T2 time-out"
			l.report("t2_timeout")
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-l.done:
			t.Stop()
			return ErrClosed
		}
		l.log.Warn("serial message not acknowledged", "msg", name, "attempt", i+1, "reason", last)
	}
	l.report("transmission_failed")
	return &TransmissionError{Attempts: attempts, Last: last}
}

// ReadAPDU returns the next APDU received from the ECR. After Serve has
// stopped it returns ErrClosed (wrapping Serve's error, if any).
func (l *Link) ReadAPDU(ctx context.Context) (APDU, error) {
	select {
	case a := <-l.rx:
		return a, nil
	case <-ctx.Done():
		return APDU{}, ctx.Err()
	case <-l.done:
		select {
		case a := <-l.rx:
			return a, nil
		default:
		}
		if l.err != nil {
			return APDU{}, fmt.Errorf("%w: %w", ErrClosed, l.err)
		}
		return APDU{}, ErrClosed
	}
}
