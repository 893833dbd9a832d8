//go:build linux || darwin

package zvt

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestLinkOverPTY runs the serial transport on a real pseudo-terminal opened
// with go.bug.st/serial (9600 8N2), the ECR writing to the pty master. The
// deadlines only bound a broken run; nothing waits on them when it works.
func TestLinkOverPTY(t *testing.T) {
	ptmx, link, ctx, stop := ptyLink(t)

	// ECR → PT: the authorisation frame with a stuffed DLE.
	if _, err := ptmx.Write(EncodeFrame(hx(t, "06 01 07 04 00 00 00 00 10 00"))); err != nil {
		t.Fatal(err)
	}
	if got := readExactly(t, ptmx, 1); got[0] != ACK {
		t.Fatalf("PT answered % X, want ACK", got)
	}
	a, err := link.ReadAPDU(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := ParseCommand(a)
	if err != nil || *cmd.(Authorization).Amount != 1000 {
		t.Fatalf("ParseCommand = %#v, %v", cmd, err)
	}

	// PT → ECR: a status information whose frame contains DLEs.
	si, _ := StatusInformation{ResultCode: ResultOK, Amount: new(int64(1010)), ReceiptNo: new(10)}.Encode()
	raw, _ := si.Encode()
	done := make(chan error, 1)
	go func() { done <- link.WriteAPDU(ctx, si) }()
	frame := EncodeFrame(raw)
	if got := readExactly(t, ptmx, len(frame)); !bytes.Equal(got, frame) {
		t.Fatalf("ECR read % X, want % X", got, frame)
	}
	if apdu, err := feedAll(NewFrameDecoder(0), frame); err != nil || !bytes.Equal(apdu, raw) {
		t.Fatalf("frame does not decode to the APDU: %v", err)
	}
	if _, err := ptmx.Write([]byte{ACK}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WriteAPDU: %v", err)
	}
	stop()
}

// ptyLink serves a Link on a real pseudo-terminal opened with
// go.bug.st/serial (9600 8N2) and returns the pty master (the ECR's end),
// the link, its context (the deadline only bounds a broken run) and stop,
// which ends Serve and checks it ended cleanly.
func ptyLink(t *testing.T) (*os.File, *Link, context.Context, func()) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal available: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	port, err := OpenSerial(tty.Name(), SerialConfig{})
	_ = tty.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	link := NewLink(port, SystemClock{}, testLogger(t), LinkConfig{})
	serve := make(chan error, 1)
	go func() { serve <- link.Serve(ctx) }()
	return ptmx, link, ctx, func() {
		t.Helper()
		cancel()
		if err := <-serve; err != nil {
			t.Errorf("Serve = %v", err)
		}
	}
}

func readExactly(t *testing.T, f *os.File, n int) []byte {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(out) < n {
		k, err := f.Read(buf[:n-len(out)])
		out = append(out, buf[:k]...)
		if err != nil {
			t.Fatalf("reading pty after %d of %d bytes: %v", len(out), n, err)
		}
	}
	return out
}

// TestPrintLineOverPTY sends a Print Line through the serial link on a real
// pseudo-terminal: a 15-character line makes the length byte 10 (DLE), which
// the frame doubles; CP437 text goes byte for byte; the ECR's ACK completes
// the write.
func TestPrintLineOverPTY(t *testing.T) {
	ptmx, link, ctx, stop := ptyLink(t)

	pl, err := PrintLine{Attribute: PrintNormal, Text: "Kartenzahlung Ä"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := hx(t, "10 02 06 D1 10 10 00 4B 61 72 74 65 6E 7A 61 68 6C 75 6E 67 20 8E 10 03")
	done := make(chan error, 1)
	go func() { done <- link.WriteAPDU(ctx, pl) }()
	got := readExactly(t, ptmx, len(want)+2)
	if !bytes.Equal(got[:len(want)], want) {
		t.Fatalf("frame % X, want % X + CRC", got, want)
	}
	if _, err := ptmx.Write([]byte{ACK}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WriteAPDU: %v", err)
	}
	stop()
}
