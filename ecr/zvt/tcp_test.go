package zvt

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// TestTCPLoopback talks to a TCPConn over a real loopback socket, with the
// ECR writing its APDUs in arbitrary pieces.
func TestTCPLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ecr, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer ecr.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	pt := NewTCPConn(c, SystemClock{}, testLogger(t), TCPConfig{})
	defer pt.Close()

	long := APDU{Class: 0x06, Instr: 0xD3, Data: bytes.Repeat([]byte{0x10}, 1000)}
	longRaw, _ := long.Encode()
	cmds := [][]byte{hx(t, "06 01 07 04 00 00 00 00 10 00"), hx(t, "05 01 00"), longRaw}
	// Split the stream at awkward places: inside the header, inside the
	// extended length, byte by byte.
	var stream []byte
	for _, c := range cmds {
		stream = append(stream, c...)
	}
	writeErr := make(chan error, 1)
	go func() {
		for _, piece := range [][]byte{stream[:1], stream[1:2], stream[2:5], stream[5:14], stream[14:16], stream[16:17], stream[17:]} {
			if _, err := ecr.Write(piece); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	for i, want := range cmds {
		a, err := pt.ReadAPDU(t.Context())
		if err != nil {
			t.Fatalf("APDU %d: %v", i, err)
		}
		got, _ := a.Encode()
		if !bytes.Equal(got, want) {
			t.Fatalf("APDU %d = %d bytes %s..., want %s...", i, len(got), spaced(got[:3]), spaced(want[:3]))
		}
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}

	// PT → ECR: bare APDUs, no framing.
	if err := pt.WriteAPDU(t.Context(), Ack()); err != nil {
		t.Fatal(err)
	}
	si, _ := StatusInformation{ResultCode: ResultAbort}.Encode()
	if err := pt.WriteAPDU(t.Context(), si); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"80 00 00", "04 0F 02 27 6C"} {
		a, err := ReadAPDU(ecr)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := a.Encode()
		if !bytes.Equal(got, hx(t, want)) {
			t.Errorf("ECR read %s, want %s", spaced(got), want)
		}
	}

	// The ECR hangs up between APDUs: io.EOF.
	_ = ecr.Close()
	if _, err := pt.ReadAPDU(t.Context()); err != io.EOF {
		t.Errorf("after hang-up: %v, want io.EOF", err)
	}
}

func TestTCPTimeouts(t *testing.T) {
	t.Run("APDU incomplete after T3 closes the connection", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ptEnd, ecr := net.Pipe()
			defer ecr.Close()
			pt := NewTCPConn(ptEnd, SystemClock{}, testLogger(t), TCPConfig{})
			res := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := pt.ReadAPDU(t.Context())
				res <- err
			}()
			// Idle time before the first byte does not count.
			advance(time.Minute)
			if _, err := ecr.Write(hx(t, "06 01 07 04")); err != nil {
				t.Fatal(err)
			}
			err := <-res
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("ReadAPDU = %v, want ErrTimeout", err)
			}
			if got := time.Since(start); got != time.Minute+DefaultT3 {
				t.Errorf("gave up after %v, want %v", got, time.Minute+DefaultT3)
			}
			if _, err := ecr.Write([]byte{0}); err == nil {
				t.Error("connection should be closed after T3")
			}
		})
	})
	t.Run("slow but within T3 is fine", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ptEnd, ecr := net.Pipe()
			defer ecr.Close()
			pt := NewTCPConn(ptEnd, SystemClock{}, testLogger(t), TCPConfig{T3: 2 * time.Second})
			res := make(chan error, 1)
			go func() {
				a, err := pt.ReadAPDU(t.Context())
				if err == nil && a.Control() != CtrlAuthorization {
					err = errors.New("wrong APDU")
				}
				res <- err
			}()
			for _, piece := range []string{"06 01", "07 04 00 00", "00 00 10 00"} {
				if _, err := ecr.Write(hx(t, piece)); err != nil {
					t.Fatal(err)
				}
				advance(900 * time.Millisecond)
			}
			if err := <-res; err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("context cancels a wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ptEnd, ecr := net.Pipe()
			defer ecr.Close()
			pt := NewTCPConn(ptEnd, SystemClock{}, testLogger(t), TCPConfig{})
			ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
			defer cancel()
			if _, err := pt.ReadAPDU(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("ReadAPDU = %v, want DeadlineExceeded", err)
			}
			// The connection still works afterwards.
			go func() { _, _ = ecr.Write(hx(t, "05 01 00")) }()
			if a, err := pt.ReadAPDU(t.Context()); err != nil || a.Control() != CtrlStatusEnquiry {
				t.Errorf("after cancel: %v, %v", a, err)
			}
			// A write nobody reads is cut at T3 or by the context.
			wctx, wcancel := context.WithTimeout(t.Context(), time.Second)
			defer wcancel()
			if err := pt.WriteAPDU(wctx, Ack()); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WriteAPDU = %v, want DeadlineExceeded", err)
			}
			if err := pt.WriteAPDU(t.Context(), Ack()); err == nil {
				t.Error("WriteAPDU nobody reads should fail after T3")
			}
		})
	})
	t.Run("oversized APDU", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ptEnd, ecr := net.Pipe()
			defer ecr.Close()
			pt := NewTCPConn(ptEnd, SystemClock{}, testLogger(t), TCPConfig{MaxAPDU: 100})
			go func() { _, _ = ecr.Write(hx(t, "06 D3 FF 00 01")) }()
			if _, err := pt.ReadAPDU(t.Context()); !errors.Is(err, ErrTooLong) {
				t.Errorf("ReadAPDU = %v, want ErrTooLong", err)
			}
		})
	})
	t.Run("hang-up inside an APDU", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ptEnd, ecr := net.Pipe()
			pt := NewTCPConn(ptEnd, SystemClock{}, testLogger(t), TCPConfig{})
			go func() {
				_, _ = ecr.Write(hx(t, "06 01 07 04"))
				_ = ecr.Close()
			}()
			if _, err := pt.ReadAPDU(t.Context()); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("ReadAPDU = %v, want io.ErrUnexpectedEOF", err)
			}
		})
	})
}
