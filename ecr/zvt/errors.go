package zvt

import (
	"errors"
	"fmt"
)

// Sentinel errors; callers branch with errors.Is.
var (
	// ErrTruncated means the input ended before a complete structure was read.
	ErrTruncated = errors.New("truncated data")
	// ErrTrailingData means bytes follow the end of a structure whose length is fixed.
	ErrTrailingData = errors.New("trailing data")
	// ErrTooLong means a value exceeds the largest size its encoding can carry.
	ErrTooLong = errors.New("value too long")
	// ErrBadCRC means a serial frame arrived with a wrong CRC-16.
	ErrBadCRC = errors.New("bad frame CRC")
	// ErrBadStuffing means a DLE inside a serial frame was followed by a byte
	// other than DLE or ETX.
	ErrBadStuffing = errors.New("bad DLE stuffing")
	// ErrFrameTooLong means a serial frame exceeded the configured maximum size.
	ErrFrameTooLong = errors.New("frame too long")
	// ErrBadBCD means a BCD byte held a nibble that is not allowed at its position.
	ErrBadBCD = errors.New("bad BCD digit")
	// ErrBadVarLength means an LLVAR/LLLVAR length prefix was not made of F0..F9 bytes.
	ErrBadVarLength = errors.New("bad variable-length prefix")
	// ErrUnknownBMP means a BMP number is not in the table, so its length cannot be known.
	ErrUnknownBMP = errors.New("unknown BMP")
	// ErrDuplicateBMP means a BMP occurred twice in one data block.
	ErrDuplicateBMP = errors.New("duplicate BMP")
	// ErrMissingField means a mandatory parameter is absent.
	ErrMissingField = errors.New("missing mandatory field")
	// ErrInvalidField means a field value cannot be represented in its wire format.
	ErrInvalidField = errors.New("invalid field value")
	// ErrBadTLV means a BER-TLV tag or length is malformed.
	ErrBadTLV = errors.New("malformed TLV")
	// ErrUnsupported means the command is not implemented; the PT answers 84 83 00.
	ErrUnsupported = errors.New("unsupported command")
	// ErrTransmission means a message could not be delivered on the serial link
	// after the initial send and two repeats (PA00P016 §3.5).
	ErrTransmission = errors.New("transmission error")
	// ErrReadTimeout means a serial read returned no data within the port's read
	// timeout; go.bug.st/serial reports that as (0, nil), which we translate.
	ErrReadTimeout = errors.New("serial read timeout")
	// ErrTimeout means an application time-out such as T3 expired.
	ErrTimeout = errors.New("time-out")
	// ErrClosed means the transport has stopped.
	ErrClosed = errors.New("transport closed")
)

// FieldError reports a problem with one BMP, TLV tag or positional parameter.
// It never carries the field's value, which may be card data.
type FieldError struct {
	Field string // e.g. "BMP 04", "TLV 1F73", "password"
	Err   error
}

// Error implements error; it names the field, never its value.
func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the underlying sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

func bmpErr(bmp byte, err error) error {
	return &FieldError{Field: fmt.Sprintf("BMP %02X", bmp), Err: err}
}

func fieldErr(name string, err error) error {
	return &FieldError{Field: name, Err: err}
}

// UnsupportedError names a control field posbridge does not implement.
type UnsupportedError struct {
	Class, Instr byte
}

// Error implements error.
func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("command %02X %02X: %v", e.Class, e.Instr, ErrUnsupported)
}

// Unwrap returns ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }

// TransmissionError is returned by Link.WriteAPDU when every attempt failed.
type TransmissionError struct {
	Attempts int    // sends made, normally 3
	Last     string // what ended the last attempt: "NAK" or "T2 time-out"
}

// Error implements error.
func (e *TransmissionError) Error() string {
	return fmt.Sprintf("%v after %d attempts (last: %s)", ErrTransmission, e.Attempts, e.Last)
}

// Unwrap returns ErrTransmission.
func (e *TransmissionError) Unwrap() error { return ErrTransmission }
