package pt

import (
	"github.com/posbridge/posbridge/ecr/zvt"
)

// The PT's outgoing messages, one builder each. Every message the PT sends is
// built here from package zvt's typed messages (or its Ack/Nack builders),
// never assembled by hand.

// resultMessage is the final message of a command (PA00P015 §2.2.9): 06 0F
// (Completion) for result 00, otherwise 06 1E <result> (Abort), which carries
// the PT's currency only with result 6F.
func resultMessage(code byte, currency int) zvt.APDU {
	if code == zvt.ResultOK {
		a, _ := zvt.Completion{}.Encode() // cannot fail: no fields
		return a
	}
	m := zvt.Abort{ResultCode: code}
	if code == zvt.ResultWrongCurrency {
		m.Currency = currency
	}
	a, err := m.Encode()
	if err != nil {
		a, _ = zvt.Abort{ResultCode: code}.Encode() // cannot fail: result code only
	}
	return a
}

// registrationCompletion is the 06 0F answering a Registration (PA00P015
// §2.1): status byte 00, the terminal ID and, when the ECR sent a currency,
// the PT's (currency 0 leaves it out).
func registrationCompletion(tid string, currency int) (zvt.APDU, error) {
	status := byte(0)
	return zvt.Completion{StatusByte: &status, TID: tid, Currency: currency}.Encode()
}

// statusEnquiryCompletion is the 06 0F answering a Status Enquiry (PA00P015
// §2.56): the software version ("" leaves it out) and the terminal status.
func statusEnquiryCompletion(swVersion string, status byte) (zvt.APDU, error) {
	return zvt.Completion{TerminalStatus: &status, SWVersion: swVersion}.Encode()
}

// intermediateStatusMessage is the 04 FF Intermediate Status-Information with one
// status code (PA00P015 §3.7).
func intermediateStatusMessage(code byte) zvt.APDU {
	a, _ := zvt.IntermediateStatus{Code: code}.Encode() // cannot fail: no timeout, no TLV
	return a
}
