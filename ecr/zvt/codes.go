package zvt

// Control fields (CLASS<<8 | INSTR) of the messages this package handles.
const (
	CtrlRegistration       uint16 = 0x0600 // ECR→PT Registration
	CtrlAuthorization      uint16 = 0x0601 // ECR→PT Authorisation
	CtrlLogOff             uint16 = 0x0602 // ECR→PT Log-Off
	CtrlSendTotals         uint16 = 0x0610 // ECR→PT Send Turnover Totals
	CtrlRepeatReceipt      uint16 = 0x0620 // ECR→PT Repeat Receipt
	CtrlReversal           uint16 = 0x0630 // ECR→PT Reversal
	CtrlRefund             uint16 = 0x0631 // ECR→PT Refund
	CtrlEndOfDay           uint16 = 0x0650 // ECR→PT End-of-Day
	CtrlAbortRequest       uint16 = 0x06B0 // ECR→PT Abort
	CtrlStatusEnquiry      uint16 = 0x0501 // ECR→PT Status-Enquiry
	CtrlStatusInformation  uint16 = 0x040F // PT→ECR Status-Information
	CtrlIntermediateStatus uint16 = 0x04FF // PT→ECR Intermediate Status-Information
	CtrlCompletion         uint16 = 0x060F // PT→ECR Completion
	CtrlAbort              uint16 = 0x061E // PT→ECR Abort
	CtrlPrintLine          uint16 = 0x06D1 // PT→ECR Print Line
	CtrlPrintTextBlock     uint16 = 0x06D3 // PT→ECR Print Text-Block
)

// Response control bytes (PA00P016 §5.2.3).
const (
	CCRCPositive byte = 0x80 // 80 00: positive completion
	CCRCNegative byte = 0x84 // 84 xx: negative completion with error ID xx (84 00 is positive too)
)

// Config-byte bits of Registration (PA00P015 §2.1, Table 1).
const (
	ConfigECRPrintsPayment   byte = 0x02 // ECR prints payment receipts
	ConfigECRPrintsAdmin     byte = 0x04 // ECR prints administration receipts
	ConfigIntermediateStatus byte = 0x08 // ECR wants Intermediate Status (04 FF)
	ConfigECRControlsPayment byte = 0x10 // no amount entry on the PT
	ConfigECRControlsAdmin   byte = 0x20 // no administration functions started on the PT
	ConfigPrintLines         byte = 0x80 // PT sends receipts as Print Line / Text-Block
)

// ConfigAfterLogOff is the config byte the PT falls back to on Log-Off (PA00P015 §2.24).
const ConfigAfterLogOff byte = 0x86

// Result codes (PA00P015 §10), for BMP 27, Abort (06 1E) and 84 xx.
const (
	ResultOK                  byte = 0x00 // no error
	ResultAbort               byte = 0x6C // abort via time-out or abort key
	ResultWrongCurrency       byte = 0x6F // wrong currency
	ResultCommunicationError  byte = 0x7D // communication error
	ResultFunctionNotPossible byte = 0x83 // function not possible
	ResultProtocolError       byte = 0x9A // ZVT protocol error (parsing, missing element)
	ResultPleaseWait          byte = 0x9C // please wait
	ResultReceiverNotReady    byte = 0xA0 // receiver not ready
	ResultNoConnection        byte = 0xA3 // no connection
	ResultAlreadyReversed     byte = 0xB4 // already reversed
	ResultReversalNotPossible byte = 0xB5 // reversal not possible
	ResultMaxAmountExceeded   byte = 0xC3 // maximum amount exceeded
	ResultPrinterNotReady     byte = 0xCC // printer not ready (the ECR's answer to a print line it cannot print)
	ResultPaymentNotSupported byte = 0xC5 // payment method not supported
	ResultCurrencyNotAllowed  byte = 0xC6 // currency not applicable
	ResultSystemError         byte = 0xFF // system error
)

// Terminal status codes for the Status-Enquiry completion (PA00P015 §11).
const (
	TerminalReady      byte = 0x00 // PT ready
	TerminalPleaseWait byte = 0x9C // please wait
	TerminalOutOfOrder byte = 0xDF // out of order
)

// Intermediate status codes useful while the cloud works (PA00P015 §3.7, Table 17).
const (
	StatusWatchPINPad    byte = 0x01 // please watch PIN-pad
	StatusWaitingFEP     byte = 0x04 // PT is waiting for response from FEP
	StatusInsertCard     byte = 0x0A // insert card
	StatusRemoveCard     byte = 0x0B // please remove card
	StatusPleaseWait     byte = 0x0E // please wait...
	StatusIncorrectPIN   byte = 0x15 // incorrect PIN
	StatusPleaseWaitAlt  byte = 0x17 // please wait... (second text)
	StatusDeclined       byte = 0x1D // declined
	StatusNoMatchingCode byte = 0xFF // no code matches; see TLV tags 24 and 07
)

// Currency codes (ISO 4217 numeric) as carried in BMP 49.
const (
	CurrencyEUR = 978
	CurrencyUSD = 840
	CurrencyCHF = 756
)

// Status-Enquiry service-byte bits (PA00P015 §2.56.1, Table 12).
const (
	EnquiryNoSWVersion byte = 0x02 // do not send the software version in the completion
	EnquiryWithTLV     byte = 0x04 // send further status information in the completion's TLV container
)

// Print-line attributes (PA00P015 §3.5, Table 16; tag 09 in §3.6).
const (
	PrintNormal byte = 0x00 // normal text, no indent
	// PrintLastLine is 1xxx xxxx (not 80): the last line of a receipt, which
	// also marks the switch between merchant and customer receipt.
	PrintLastLine byte = 0x81
	PrintLinefeed byte = 0xFF // line feeds; the text is their count
)

// Receipt types of tag 1F07 and receipt-information bits of tag 1F37
// (PA00P015 §9.4.2), sent with a Print Text-Block.
const (
	ReceiptMerchant byte = 0x01 // transaction receipt, merchant copy
	ReceiptCustomer byte = 0x02 // transaction receipt, customer copy
	ReceiptAdmin    byte = 0x03 // administration receipt

	ReceiptPositive byte = 0x01 // receipt of an authorised transaction
	ReceiptNegative byte = 0x04 // receipt of an aborted or rejected transaction
)

// Receipt-parameter bits of tag 1F04, byte 0 (PA00P015 §9.4.2).
const (
	ReceiptParamCustomerPositive byte = 0x80 // customer receipt for a successful transaction
	ReceiptParamCustomerNegative byte = 0x40 // customer receipt for a failed transaction
	ReceiptParamMerchantPositive byte = 0x20 // merchant receipt for a successful transaction
	ReceiptParamMerchantNegative byte = 0x10 // merchant receipt for a failed transaction
	ReceiptParamCustomerFirst    byte = 0x08 // customer receipt before the merchant receipt
	ReceiptParamUseECRPrinter    byte = 0x01 // print on the ECR for this command regardless of the config byte
)

// Receipt IDs of tag 1F01 in Repeat Receipt (PA00P015 §9.4.2).
const (
	ReceiptIDLast     byte = 0x01 // the last receipt
	ReceiptIDMerchant byte = 0x02 // payment receipt, merchant copy
	ReceiptIDCustomer byte = 0x03 // payment receipt, customer copy
	ReceiptIDEndOfDay byte = 0x04 // end-of-day receipt
)
