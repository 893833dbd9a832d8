package zvt

import (
	"errors"
	"testing"

	"go.bug.st/serial"
)

// fakePort is a go.bug.st/serial Port whose Read and Write follow a script.
type fakePort struct {
	serial.Port // other methods are not used
	reads       []fakeRead
	written     []byte
	maxWrite    int
}

type fakeRead struct {
	data string
	err  error
}

func (f *fakePort) Read(b []byte) (int, error) {
	r := f.reads[0]
	f.reads = f.reads[1:]
	return copy(b, r.data), r.err
}

func (f *fakePort) Write(b []byte) (int, error) {
	n := min(len(b), f.maxWrite)
	f.written = append(f.written, b[:n]...)
	return n, nil
}

func TestSerialPortReadTimeout(t *testing.T) {
	closed := &serial.PortError{}
	f := &fakePort{reads: []fakeRead{{"", nil}, {"AB", nil}, {"", closed}}}
	p := &SerialPort{port: f}
	buf := make([]byte, 8)
	if n, err := p.Read(buf); n != 0 || !errors.Is(err, ErrReadTimeout) {
		t.Errorf("timed-out read = %d, %v; want 0, ErrReadTimeout", n, err)
	}
	if n, err := p.Read(buf); n != 2 || err != nil || string(buf[:2]) != "AB" {
		t.Errorf("data read = %d, %v", n, err)
	}
	if _, err := p.Read(buf); !errors.As(err, new(*serial.PortError)) {
		t.Errorf("port error = %v, want it passed through", err)
	}
	if n, err := p.Read(nil); n != 0 || err != nil {
		t.Errorf("empty read = %d, %v; want 0, nil", n, err)
	}
}

func TestSerialPortWritesEverything(t *testing.T) {
	f := &fakePort{maxWrite: 3}
	p := &SerialPort{port: f}
	frame := EncodeFrame(regAPDU)
	if n, err := p.Write(frame); n != len(frame) || err != nil || string(f.written) != string(frame) {
		t.Errorf("Write = %d, %v; port got % X", n, err, f.written)
	}
}

func TestOpenSerialErrors(t *testing.T) {
	if _, err := OpenSerial("/dev/null-does-not-exist", SerialConfig{}); err == nil {
		t.Error("opening a missing device should fail")
	}
	if _, err := OpenSerial("/dev/null", SerialConfig{StopBits: 3}); !errors.Is(err, ErrInvalidField) {
		t.Errorf("3 stop bits: %v, want ErrInvalidField", err)
	}
}
