package config

import "fmt"

// The [[ecr]] settings are defined here once: the defaults of an entry's
// serial line (ZVT's 9600 8N2, PA00P016 §2.1) and the checks of an entry on
// its own. Config applies both; the ECR side (package ecr) can use the same
// instead of repeating them.

// Defaults and values of an [[ecr]] entry.
const (
	// ECRProtocolZVT is the only [[ecr]] protocol.
	ECRProtocolZVT = "zvt"
	// DefaultECRBaud, DefaultECRDataBits, DefaultECRParity and
	// DefaultECRStopBits are ZVT's serial line: 9600 8N2.
	DefaultECRBaud     = 9600
	DefaultECRDataBits = 8
	DefaultECRParity   = "none"
	DefaultECRStopBits = 2
)

// SetDefaults fills the entry's unset serial settings with ZVT's 9600 8N2.
func (e *ECR) SetDefaults() {
	if e.Baud == 0 {
		e.Baud = DefaultECRBaud
	}
	if e.DataBits == 0 {
		e.DataBits = DefaultECRDataBits
	}
	if e.Parity == "" {
		e.Parity = DefaultECRParity
	}
	if e.StopBits == 0 {
		e.StopBits = DefaultECRStopBits
	}
}

// Problem returns the entry's first problem — protocol, line (exactly one of
// serial and tcp_listen), terminal, serial settings — as the field at fault
// ("" for the entry as a whole) and what is wrong; msg is "" when there is
// none. knownSN reports whether a terminal is configured; nil skips that
// check (the ECR side learns it from the terminal registry).
func (e ECR) Problem(knownSN func(sn string) bool) (field, msg string) {
	switch {
	case e.Protocol != ECRProtocolZVT:
		return "protocol", fmt.Sprintf("only %q is supported, got %q", ECRProtocolZVT, e.Protocol)
	case (e.Serial == "") == (e.TCPListen == ""):
		return "", "set exactly one of serial or tcp_listen"
	case knownSN != nil && !knownSN(e.TerminalSN):
		return "terminal_sn", fmt.Sprintf("no [[terminal]] with sn %q", e.TerminalSN)
	}
	switch e.Parity {
	case "none", "even", "odd":
	default:
		return "parity", fmt.Sprintf("want none, even or odd, got %q", e.Parity)
	}
	switch {
	case e.DataBits < 5 || e.DataBits > 8:
		return "data_bits", fmt.Sprintf("want 5-8, got %d", e.DataBits)
	case e.StopBits != 1 && e.StopBits != 2:
		return "stop_bits", fmt.Sprintf("want 1 or 2, got %d", e.StopBits)
	case e.PrintWidth != 0 && (e.PrintWidth < 20 || e.PrintWidth > 80):
		return "print_width", fmt.Sprintf("want 20-80 characters (0: 24), got %d", e.PrintWidth)
	}
	return "", ""
}
