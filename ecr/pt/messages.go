package pt

import (
	"github.com/posbridge/posbridge/ecr/zvt"
)

// The PT's outgoing messages, one builder each. Every message the PT sends is
// built here from package zvt's typed messages (or its Ack/Nack builders),
// never assembled by hand.

// resultMessage is the final message of a command (PA00P015 §2.2.9): 06 0F
// (Completion) for result 00, otherwise 06 1E <result> (Abort), which carries
// the PT's currency only with result 6F, and tlv (tags 1F16, 1F17) when the
// ECR may receive it.
func resultMessage(code byte, currency int, tlv []zvt.TLV) zvt.APDU {
	if code == zvt.ResultOK {
		a, _ := zvt.Completion{}.Encode() // cannot fail: no fields
		return a
	}
	m := zvt.Abort{ResultCode: code, TLV: tlv}
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
// §2.1): status byte 00, the terminal ID, when the ECR sent a currency the
// PT's (currency 0 leaves it out), and the TLV container (nil: none).
func registrationCompletion(tid string, currency int, tlv []zvt.TLV) (zvt.APDU, error) {
	status := byte(0)
	return zvt.Completion{StatusByte: &status, TID: tid, Currency: currency, TLV: tlv}.Encode()
}

// statusEnquiryCompletion is the 06 0F answering a Status Enquiry (PA00P015
// §2.56.5): the software version ("" leaves it out), the terminal status and
// the TLV container with further status information (nil: none).
func statusEnquiryCompletion(swVersion string, status byte, tlv []zvt.TLV) (zvt.APDU, error) {
	return zvt.Completion{TerminalStatus: &status, SWVersion: swVersion, TLV: tlv}.Encode()
}

// printLineMessage is one 06 D1 Print Line (PA00P015 §3.5): an attribute
// (zvt.PrintNormal, or zvt.PrintLastLine to end a receipt) and the text,
// converted to the ZVT character set.
func printLineMessage(attr byte, text string) (zvt.APDU, error) {
	return zvt.PrintLine{Attribute: attr, Text: text}.Encode()
}

// textBlockMessages is one receipt as 06 D3 Print Text-Blocks (PA00P015
// §3.6) of at most maxData data bytes each, with its receipt type (1F07) and
// information (1F37); the last block ends the receipt.
func textBlockMessages(lines []string, receiptType, info byte, maxData int) ([]zvt.APDU, error) {
	blocks, err := zvt.TextBlocks(lines, receiptType, info, maxData)
	if err != nil {
		return nil, err
	}
	out := make([]zvt.APDU, 0, len(blocks))
	for _, b := range blocks {
		a, err := b.Encode()
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// intermediateStatusMessage is the 04 FF Intermediate Status-Information with one
// status code (PA00P015 §3.7).
func intermediateStatusMessage(code byte) zvt.APDU {
	a, _ := zvt.IntermediateStatus{Code: code}.Encode() // cannot fail: no timeout, no TLV
	return a
}
