package zvt

import (
	"errors"
	"fmt"
)

type decoder[T any] interface {
	*T
	Decode(APDU) error
}

func decodeAs[T any, P decoder[T]](a APDU) (T, error) {
	var v T
	err := P(&v).Decode(a)
	return v, err
}

func asCommand[T Command](v T, err error) (Command, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}

func asMessage[T Message](v T, err error) (Message, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}

// ParseCommand decodes an APDU the ECR sent to the PT into one of Registration,
// Authorization, Reversal, Refund, EndOfDay, SendTotals, AbortRequest,
// LogOff, RepeatReceipt or StatusEnquiry (values, not pointers). Any other control
// field gives an *UnsupportedError (errors.Is ErrUnsupported); malformed data
// gives an error naming the field. ResponseForError picks the PT's answer.
func ParseCommand(a APDU) (Command, error) {
	switch a.Control() {
	case CtrlRegistration:
		return asCommand(decodeAs[Registration](a))
	case CtrlAuthorization:
		return asCommand(decodeAs[Authorization](a))
	case CtrlReversal:
		return asCommand(decodeAs[Reversal](a))
	case CtrlRefund:
		return asCommand(decodeAs[Refund](a))
	case CtrlEndOfDay:
		return asCommand(decodeAs[EndOfDay](a))
	case CtrlSendTotals:
		return asCommand(decodeAs[SendTotals](a))
	case CtrlAbortRequest:
		return asCommand(decodeAs[AbortRequest](a))
	case CtrlLogOff:
		return asCommand(decodeAs[LogOff](a))
	case CtrlRepeatReceipt:
		return asCommand(decodeAs[RepeatReceipt](a))
	case CtrlStatusEnquiry:
		return asCommand(decodeAs[StatusEnquiry](a))
	}
	return nil, &UnsupportedError{Class: a.Class, Instr: a.Instr}
}

// ParseMessage decodes any APDU this package knows, in either direction:
// the commands of ParseCommand, the PT's StatusInformation,
// IntermediateStatus, Completion, Abort, PrintLine and PrintTextBlock, and
// Response (80 xx / 84 xx). It is what an ECR-side peer (tests, simulators)
// uses to read the PT.
func ParseMessage(a APDU) (Message, error) {
	switch a.Control() {
	case CtrlStatusInformation:
		return asMessage(decodeAs[StatusInformation](a))
	case CtrlIntermediateStatus:
		return asMessage(decodeAs[IntermediateStatus](a))
	case CtrlCompletion:
		return asMessage(decodeAs[Completion](a))
	case CtrlAbort:
		return asMessage(decodeAs[Abort](a))
	case CtrlPrintLine:
		return asMessage(decodeAs[PrintLine](a))
	case CtrlPrintTextBlock:
		return asMessage(decodeAs[PrintTextBlock](a))
	}
	if a.Class == CCRCPositive || a.Class == CCRCNegative {
		return asMessage(decodeAs[Response](a))
	}
	c, err := ParseCommand(a)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ResponseForError returns the PT's application response to a command that
// could not be parsed: 84 83 00 ("function not possible") for unsupported
// commands and unknown BMPs (PA00P015 §13), 84 9A 00 ("ZVT protocol error")
// for anything malformed.
func ResponseForError(err error) APDU {
	if errors.Is(err, ErrUnsupported) || errors.Is(err, ErrUnknownBMP) {
		return Nack(ResultFunctionNotPossible)
	}
	return Nack(ResultProtocolError)
}

// ControlName names a control field (CLASS<<8 | INSTR) for logs.
func ControlName(ctrl uint16) string {
	switch ctrl {
	case CtrlRegistration:
		return "registration"
	case CtrlAuthorization:
		return "authorisation"
	case CtrlLogOff:
		return "log-off"
	case CtrlRepeatReceipt:
		return "repeat receipt"
	case CtrlReversal:
		return "reversal"
	case CtrlRefund:
		return "refund"
	case CtrlEndOfDay:
		return "end-of-day"
	case CtrlSendTotals:
		return "send turnover totals"
	case CtrlAbortRequest:
		return "abort request"
	case CtrlStatusEnquiry:
		return "status enquiry"
	case CtrlStatusInformation:
		return "status information"
	case CtrlIntermediateStatus:
		return "intermediate status"
	case CtrlCompletion:
		return "completion"
	case CtrlAbort:
		return "abort"
	case CtrlPrintLine:
		return "print line"
	case CtrlPrintTextBlock:
		return "print text block"
	}
	switch ctrl >> 8 {
	case uint16(CCRCPositive):
		return "positive response"
	case uint16(CCRCNegative):
		return "negative response"
	}
	return fmt.Sprintf("%02X %02X", ctrl>>8, ctrl&0xFF)
}
