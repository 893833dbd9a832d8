// Package zvt implements the ZVT protocol (ECR interface of German payment
// terminals) from the payment terminal's (PT's) side, as posbridge plays the PT
// towards legacy electronic cash registers (ECRs).
//
// The package is layered:
//
//   - Codec (pure byte slices, no I/O): CRC-16/KERMIT ([CRC16]), the serial frame
//     DLE STX <stuffed APDU> DLE ETX CRC-lo CRC-hi ([EncodeFrame], [FrameDecoder]),
//     the APDU ([APDU], [DecodeAPDU]), BMP fields ([DecodeFields], [EncodeFields]),
//     BER-TLV containers ([DecodeTLV], [EncodeTLV]) and BCD helpers.
//   - Messages: typed structs for the commands posbridge understands
//     ([Registration], [Authorization], [Reversal], [Refund], [EndOfDay],
//     [SendTotals], [AbortRequest], [LogOff], [RepeatReceipt], [StatusEnquiry])
//     and for the
//     PT's own messages ([StatusInformation], [IntermediateStatus], [Completion],
//     [Abort], [PrintLine], [PrintTextBlock] with [TextBlocks], [Response]).
//     [ParseCommand] turns an ECR APDU into one of them or reports
//     [ErrUnsupported]; [ParseECROptions] reads what a Registration's TLV
//     container announces.
//   - Transports: [Link] is the RS-232 link layer (ACK/NAK, timers T1/T2,
//     repeats, duplicate suppression) over any io.ReadWriter; [TCPConn] carries
//     bare APDUs over a stream; [OpenSerial] opens a real port with
//     go.bug.st/serial.
//
// Authorities: PA00P016 rev. 04 (transport and application protocol) and
// PA00P015 rev. 13.08 (commands, bitmaps, error codes). Card data never leaves
// this package in clear: BMP 22 is held masked only, track data lives in
// [Secret] values that redact themselves, and no APDU bytes are logged.
package zvt
