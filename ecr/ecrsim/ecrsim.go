// Package ecrsim is a test ECR (electronic cash register) for posbridge's ZVT
// payment-terminal side: it speaks ZVT from the ECR's end over a serial byte
// stream (typically a pseudo-terminal master) or TCP, runs whole command
// sequences and lets tests inject the faults of a real line (no
// acknowledgements, corrupted frames, split writes, noise).
//
// It is test-only code: nothing in posbridge's binary imports it.
package ecrsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posbridge/posbridge/ecr/zvt"
)

// Sentinel errors.
var (
	// ErrNoAck means the PT never acknowledged a frame (after the repeats).
	ErrNoAck = errors.New("no ACK from the PT")
	// ErrClosed means the line ended.
	ErrClosed = errors.New("line closed")
)

// Line is one ECR line.
type Line interface {
	// Send delivers one APDU to the PT.
	Send(ctx context.Context, a zvt.APDU) error
	// Receive returns the next APDU from the PT.
	Receive(ctx context.Context) (zvt.APDU, error)
}

// Serial is the ECR end of a serial line: DLE STX framing, CRC, ACK/NAK.
type Serial struct {
	w   io.Writer
	wmu sync.Mutex
	// T2 is how long Send waits for the PT's ACK; default 5 s.
	T2 time.Duration

	apdus  chan zvt.APDU
	acks   chan byte
	done   chan struct{}
	err    error
	frames atomic.Int64
	noAck  atomic.Bool

	fmu      sync.Mutex
	newFrame chan struct{} // closed and replaced on every frame
}

// NewSerial starts an ECR on a byte stream; it reads until the stream fails.
func NewSerial(rw io.ReadWriter) *Serial {
	s := &Serial{w: rw, T2: 5 * time.Second, apdus: make(chan zvt.APDU, 64), acks: make(chan byte, 16), done: make(chan struct{}), newFrame: make(chan struct{})}
	go s.read(rw)
	return s
}

// SetAckFrames switches the transport acknowledgement of the PT's frames on
// (the default) or off, simulating an ECR that went silent.
func (s *Serial) SetAckFrames(on bool) { s.noAck.Store(!on) }

// Frames counts the well-formed frames received from the PT, repeats included.
func (s *Serial) Frames() int64 { return s.frames.Load() }

// WaitFrames waits until at least n frames have arrived from the PT.
func (s *Serial) WaitFrames(ctx context.Context, n int64) error {
	for {
		s.fmu.Lock()
		ch := s.newFrame
		s.fmu.Unlock()
		if s.frames.Load() >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return ErrClosed
		}
	}
}

func (s *Serial) read(r io.Reader) {
	defer close(s.done)
	dec := zvt.NewFrameDecoder(0)
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if dec.Idle() && (b == zvt.ACK || b == zvt.NAK) {
				select {
				case s.acks <- b:
				default:
				}
				continue
			}
			raw, ferr := dec.Feed(b)
			if ferr != nil {
				_ = s.write([]byte{zvt.NAK})
				continue
			}
			if raw == nil {
				continue
			}
			a, aerr := zvt.DecodeAPDU(raw)
			if aerr != nil {
				_ = s.write([]byte{zvt.NAK})
				continue
			}
			s.frames.Add(1)
			s.fmu.Lock()
			close(s.newFrame)
			s.newFrame = make(chan struct{})
			s.fmu.Unlock()
			if s.noAck.Load() {
				continue
			}
			_ = s.write([]byte{zvt.ACK})
			select {
			case s.apdus <- a:
			default:
			}
		}
		if err != nil {
			s.err = err
			return
		}
	}
}

func (s *Serial) write(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, err := s.w.Write(b)
	return err
}

// SendRaw writes bytes as they are (corrupted frames, noise, split frames).
func (s *Serial) SendRaw(b []byte) error {
	if err := s.write(b); err != nil {
		return fmt.Errorf("write raw bytes: %w", err)
	}
	return nil
}

// WaitAck returns the next ACK or NAK byte from the PT.
func (s *Serial) WaitAck(ctx context.Context) (byte, error) {
	select {
	case b := <-s.acks:
		return b, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.done:
		return 0, ErrClosed
	}
}

// Send frames a, writes it and waits T2 for ACK, repeating after NAK or T2
// at most twice.
func (s *Serial) Send(ctx context.Context, a zvt.APDU) error {
	raw, err := a.Encode()
	if err != nil {
		return fmt.Errorf("encode APDU: %w", err)
	}
	frame := zvt.EncodeFrame(raw)
	for range 3 {
		for len(s.acks) > 0 {
			<-s.acks
		}
		if err := s.write(frame); err != nil {
			return fmt.Errorf("write frame: %w", err)
		}
		t := time.NewTimer(s.T2)
		select {
		case b := <-s.acks:
			t.Stop()
			if b == zvt.ACK {
				return nil
			}
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-s.done:
			t.Stop()
			return ErrClosed
		}
	}
	return ErrNoAck
}

// Receive returns the next APDU the PT sent (already acknowledged).
func (s *Serial) Receive(ctx context.Context) (zvt.APDU, error) {
	select {
	case a := <-s.apdus:
		return a, nil
	case <-ctx.Done():
		return zvt.APDU{}, ctx.Err()
	case <-s.done:
		select {
		case a := <-s.apdus:
			return a, nil
		default:
		}
		return zvt.APDU{}, ErrClosed
	}
}

// TCP is the ECR end of a ZVT TCP connection (bare APDUs).
type TCP struct {
	c     net.Conn
	apdus chan zvt.APDU
	done  chan struct{}
}

// DialTCP connects to a PT listening on addr.
func DialTCP(ctx context.Context, addr string) (*TCP, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial PT: %w", err)
	}
	t := &TCP{c: c, apdus: make(chan zvt.APDU, 64), done: make(chan struct{})}
	go func() {
		defer close(t.done)
		for {
			a, err := zvt.ReadAPDU(c)
			if err != nil {
				return
			}
			t.apdus <- a
		}
	}()
	return t, nil
}

// Send writes one APDU.
func (t *TCP) Send(ctx context.Context, a zvt.APDU) error {
	raw, err := a.Encode()
	if err != nil {
		return fmt.Errorf("encode APDU: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = t.c.SetWriteDeadline(dl)
	}
	if _, err := t.c.Write(raw); err != nil {
		return fmt.Errorf("write APDU: %w", err)
	}
	return nil
}

// SendRaw writes bytes as they are.
func (t *TCP) SendRaw(b []byte) error {
	_, err := t.c.Write(b)
	return err
}

// Receive returns the next APDU from the PT.
func (t *TCP) Receive(ctx context.Context) (zvt.APDU, error) {
	select {
	case a := <-t.apdus:
		return a, nil
	case <-ctx.Done():
		return zvt.APDU{}, ctx.Err()
	case <-t.done:
		select {
		case a := <-t.apdus:
			return a, nil
		default:
		}
		return zvt.APDU{}, ErrClosed
	}
}

// Close closes the connection.
func (t *TCP) Close() error { return t.c.Close() }

// Options steer Finish.
type Options struct {
	// Respond decides whether the ECR answers a PT message with 80 00 00;
	// nil answers every message.
	Respond func(a zvt.APDU) bool
	// OnMessage sees each PT message before it is answered.
	OnMessage func(a zvt.APDU)
	// OnAnswer sees the PT's first answer to the command.
	OnAnswer func(a zvt.APDU)
}

// Transcript is what the PT sent during one command.
type Transcript struct {
	// Answer is the PT's first response to the command (80 00 00 or 84 xx).
	Answer zvt.APDU
	// Messages are the PT's messages after the answer, in order, ending with
	// the completion (06 0F) or abort (06 1E).
	Messages []zvt.APDU
}

// Accepted reports whether the PT answered 80 00 00.
func (t Transcript) Accepted() bool { return t.Answer.Class == zvt.CCRCPositive && t.Answer.Instr == 0 }

// Count returns how many messages had control field ctrl.
func (t Transcript) Count(ctrl uint16) int {
	n := 0
	for _, m := range t.Messages {
		if m.Control() == ctrl {
			n++
		}
	}
	return n
}

// Status decodes the last Status-Information.
func (t Transcript) Status() (zvt.StatusInformation, bool) {
	for i := len(t.Messages) - 1; i >= 0; i-- {
		if t.Messages[i].Control() == zvt.CtrlStatusInformation {
			var si zvt.StatusInformation
			if err := si.Decode(t.Messages[i]); err != nil {
				return si, false
			}
			return si, true
		}
	}
	return zvt.StatusInformation{}, false
}

// PrintLines decodes the Print Lines (06 D1) among the messages, in order.
func (t Transcript) PrintLines() []zvt.PrintLine {
	var out []zvt.PrintLine
	for _, m := range t.Messages {
		var pl zvt.PrintLine
		if m.Control() == zvt.CtrlPrintLine && pl.Decode(m) == nil {
			out = append(out, pl)
		}
	}
	return out
}

// Receipts groups the Print Lines into receipts: each ends at a line whose
// attribute is 1xxx xxxx other than 80 and FF (PA00P015 §3.5); lines after
// the last end are left out.
func (t Transcript) Receipts() [][]string {
	var out [][]string
	var cur []string
	for _, pl := range t.PrintLines() {
		if pl.Text != "" || pl.Attribute&0x80 == 0 {
			cur = append(cur, pl.Text)
		}
		if pl.Attribute&0x80 != 0 && pl.Attribute != 0x80 && pl.Attribute != zvt.PrintLinefeed {
			out = append(out, cur)
			cur = nil
		}
	}
	return out
}

// End returns the final message (06 0F or 06 1E), if any.
func (t Transcript) End() (zvt.APDU, bool) {
	if n := len(t.Messages); n > 0 {
		if c := t.Messages[n-1].Control(); c == zvt.CtrlCompletion || c == zvt.CtrlAbort {
			return t.Messages[n-1], true
		}
	}
	return zvt.APDU{}, false
}

// Result is the result code of the final message: 00 for 06 0F, the code of 06 1E.
func (t Transcript) Result() (byte, bool) {
	end, ok := t.End()
	if !ok {
		return 0, false
	}
	if end.Control() == zvt.CtrlCompletion {
		return zvt.ResultOK, true
	}
	if len(end.Data) == 0 {
		return 0, false
	}
	return end.Data[0], true
}

// String lists the control fields, for failure messages.
func (t Transcript) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "answer %02X %02X;", t.Answer.Class, t.Answer.Instr)
	for _, m := range t.Messages {
		fmt.Fprintf(&b, " %02X %02X", m.Class, m.Instr)
		if len(m.Data) > 0 && (m.Control() == zvt.CtrlAbort || m.Control() == zvt.CtrlStatusInformation || m.Control() == zvt.CtrlIntermediateStatus) {
			fmt.Fprintf(&b, "(%02X…)", m.Data[0])
		}
	}
	return b.String()
}

// Do sends cmd and follows the PT until it gives the master rights back.
func Do(ctx context.Context, l Line, cmd zvt.APDU, o Options) (Transcript, error) {
	if err := l.Send(ctx, cmd); err != nil {
		return Transcript{}, fmt.Errorf("send %s: %w", zvt.ControlName(cmd.Control()), err)
	}
	return Finish(ctx, l, o)
}

// Finish follows the PT after a command was sent: it reads the answer and,
// if it is 80 00 00, every message up to the completion or abort, answering
// each with 80 00 00 (as Options say). Responses the PT sends meanwhile
// (its answer to an abort request) are recorded and not answered.
func Finish(ctx context.Context, l Line, o Options) (Transcript, error) {
	var tr Transcript
	a, err := l.Receive(ctx)
	if err != nil {
		return tr, fmt.Errorf("wait for the PT's answer: %w", err)
	}
	tr.Answer = a
	if o.OnAnswer != nil {
		o.OnAnswer(a)
	}
	if !tr.Accepted() {
		return tr, nil
	}
	for {
		m, err := l.Receive(ctx)
		if err != nil {
			return tr, fmt.Errorf("wait for the PT (%s): %w", tr.String(), err)
		}
		tr.Messages = append(tr.Messages, m)
		if m.Class == zvt.CCRCPositive || m.Class == zvt.CCRCNegative {
			continue
		}
		if o.OnMessage != nil {
			o.OnMessage(m)
		}
		if o.Respond == nil || o.Respond(m) {
			if err := l.Send(ctx, zvt.Ack()); err != nil {
				return tr, fmt.Errorf("answer %s: %w", zvt.ControlName(m.Control()), err)
			}
		}
		if c := m.Control(); c == zvt.CtrlCompletion || c == zvt.CtrlAbort {
			return tr, nil
		}
	}
}

// Sale builds an authorisation (06 01) for amount minor units; currency 0
// omits BMP 49.
func Sale(amount int64, currency int) zvt.APDU {
	return mustEncode(zvt.Authorization{Amount: &amount, Currency: currency})
}

// Reversal builds 06 30 for a receipt number.
func Reversal(receipt int) zvt.APDU {
	return mustEncode(zvt.Reversal{Password: "000000", ReceiptNo: receipt})
}

// Refund builds 06 31 for amount minor units against the payment with
// receipt number receipt (BMP 87, which zvt.Refund does not carry).
func Refund(amount int64, receipt int) zvt.APDU {
	a := mustEncode(zvt.Refund{Password: "000000", Amount: &amount})
	rn, _ := zvt.EncodeBCD(uint64(receipt), 2)
	a.Data = append(a.Data, zvt.BMPReceiptNo)
	a.Data = append(a.Data, rn...)
	return a
}

// Registration builds 06 00 with a config byte; currency 0 omits it.
func Registration(configByte byte, currency int) zvt.APDU {
	return mustEncode(zvt.Registration{Password: "000000", ConfigByte: configByte, Currency: currency})
}

func mustEncode(m zvt.Message) zvt.APDU {
	a, err := m.Encode()
	if err != nil {
		panic(err)
	}
	return a
}
