package zvt

import (
	"fmt"
	"io"
	"time"

	"go.bug.st/serial"
)

// SerialConfig describes an RS-232 port for ZVT. Zero fields take the
// specification's line settings (PA00P016 §2.1): 9600 baud, 8 data bits, no
// parity, 2 stop bits.
type SerialConfig struct {
	BaudRate int // 9600 by default; 115200 is the optional alternative
	StopBits int // 1 or 2; default 2
	// ReadTimeout is how long one Read waits before reporting ErrReadTimeout,
	// so that readers can notice shutdown; default 100 ms. It is a polling
	// interval, not a protocol timer.
	ReadTimeout time.Duration
}

// SerialPort is an open serial port for a Link. Its Read reports go.bug.st's
// read time-out, which the library signals as (0, nil), as ErrReadTimeout, and
// its Write always writes the whole buffer or fails.
type SerialPort struct {
	port serial.Port
}

// OpenSerial opens a serial device (e.g. /dev/ttyUSB0 or COM3) for ZVT.
func OpenSerial(name string, cfg SerialConfig) (*SerialPort, error) {
	if cfg.BaudRate <= 0 {
		cfg.BaudRate = 9600
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 100 * time.Millisecond
	}
	stop := serial.TwoStopBits
	switch cfg.StopBits {
	case 0, 2:
	case 1:
		stop = serial.OneStopBit
	default:
		return nil, fmt.Errorf("opening serial port %s: %w: %d stop bits", name, ErrInvalidField, cfg.StopBits)
	}
	p, err := serial.Open(name, &serial.Mode{
		BaudRate: cfg.BaudRate,
		DataBits: 8,
		Parity:   serial.NoParity,
		StopBits: stop,
	})
	if err != nil {
		return nil, fmt.Errorf("opening serial port %s: %w", name, err)
	}
	if err := p.SetReadTimeout(cfg.ReadTimeout); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("setting read time-out on %s: %w", name, err)
	}
	return &SerialPort{port: p}, nil
}

// Read reads from the port; a read time-out gives (0, ErrReadTimeout).
func (s *SerialPort) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, err := s.port.Read(b)
	if n == 0 && err == nil {
		return 0, ErrReadTimeout
	}
	return n, err
}

// Write writes all of b.
func (s *SerialPort) Write(b []byte) (int, error) {
	total := 0
	for total < len(b) {
		n, err := s.port.Write(b[total:])
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

// Close closes the port; a Read blocked in another goroutine returns.
func (s *SerialPort) Close() error { return s.port.Close() }
