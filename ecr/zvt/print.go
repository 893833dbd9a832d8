package zvt

import (
	"fmt"
	"slices"
)

// Receipts on the ECR's printer (PA00P015 §3.5 Print Line, §3.6 Print
// Text-Block) and what an ECR announces about its printer at Registration
// (§2.1, tags of §9.4.2).

// ECROptions is what an ECR announces in the TLV container of its
// Registration (PA00P015 §2.1, §9.4.2) that the PT acts on.
type ECROptions struct {
	// PrinterWidth is tag 12: characters per line of the ECR's printer;
	// 0 when not sent.
	PrinterWidth int
	// Commands is tag 26: the ZVT commands (Ctrl* values) the ECR accepts
	// from the PT; nil when the ECR sent no list.
	Commands []uint16
	// MaxAPDU is tag 1A: the largest APDU the ECR can process; 0 when not sent.
	MaxAPDU int
	// ReceiptParams is tag 1F04 (ReceiptParam* bits in byte 0); nil when not sent.
	ReceiptParams []byte
	// MsgSeqID reports tag 1F73: the ECR offers message sequence ids (§5.1).
	MsgSeqID bool
	// Charsets reports tag 27 or 14: the ECR asked for a character set.
	Charsets bool
}

// ParseECROptions reads the tags of a Registration's TLV container that
// posbridge acts on; other tags are ignored. A malformed value of one of
// them is an error naming the tag.
func ParseECROptions(objs []TLV) (ECROptions, error) {
	var o ECROptions
	for _, t := range objs {
		var err error
		switch t.Tag {
		case TagPrinterWidth:
			o.PrinterWidth, err = parsePrinterWidth(t.Value)
		case TagPermittedCommands:
			o.Commands, err = parseCommandList(t)
		case TagMaxAPDU:
			o.MaxAPDU, err = parseBinary(t.Value, 3)
		case TagReceiptParams:
			o.ReceiptParams = t.Value
		case TagMsgSeqID:
			o.MsgSeqID = true
		case TagCharsets, TagCharset:
			o.Charsets = true
		}
		if err != nil {
			return ECROptions{}, fmt.Errorf("TLV %X: %w", t.Tag, err)
		}
	}
	return o, nil
}

// Permits reports whether the ECR listed ctrl in tag 26.
func (o ECROptions) Permits(ctrl uint16) bool { return slices.Contains(o.Commands, ctrl) }

func parsePrinterWidth(v []byte) (int, error) {
	if len(v) != 1 {
		return 0, fmt.Errorf("%w: printer width needs 1 byte, got %d", ErrInvalidField, len(v))
	}
	w, err := DecodeBCD(v)
	if err != nil {
		return 0, err
	}
	return int(w), nil
}

func parseCommandList(t TLV) ([]uint16, error) {
	items, err := t.Children()
	if err != nil {
		return nil, err
	}
	out := []uint16{}
	for _, it := range items {
		if it.Tag != TagZVTCommand {
			continue
		}
		if len(it.Value) != 2 {
			return nil, fmt.Errorf("%w: ZVT command needs 2 bytes, got %d", ErrInvalidField, len(it.Value))
		}
		out = append(out, uint16(it.Value[0])<<8|uint16(it.Value[1]))
	}
	return out, nil
}

// parseBinary reads a big-endian number of 1 to max bytes.
func parseBinary(v []byte, maxLen int) (int, error) {
	if len(v) == 0 || len(v) > maxLen {
		return 0, fmt.Errorf("%w: %d-byte number, want 1 to %d", ErrInvalidField, len(v), maxLen)
	}
	n := 0
	for _, b := range v {
		n = n<<8 | int(b)
	}
	return n, nil
}

// CommandList builds tag 26, the list of ZVT commands, with one tag 0A per
// command.
func CommandList(cmds ...uint16) (TLV, error) {
	items := make([]TLV, 0, len(cmds))
	for _, c := range cmds {
		items = append(items, TLV{Tag: TagZVTCommand, Value: []byte{byte(c >> 8), byte(c)}})
	}
	return NewConstructed(TagPermittedCommands, items...)
}

// PrinterWidthTLV builds tag 12 with a line width of 1 to 99 characters.
func PrinterWidthTLV(width int) (TLV, error) {
	b, err := EncodeBCD(uint64(width), 1)
	if err != nil || width < 1 {
		return TLV{}, fmt.Errorf("printer width %d: %w", width, ErrInvalidField)
	}
	return TLV{Tag: TagPrinterWidth, Value: b}, nil
}

// textBlockOverhead bounds the bytes of a Print Text-Block's data that are
// not text lines: BMP 06 with a 3-byte length, tag 25 with a 3-byte length,
// the attributes at both ends, tags 1F07 and 1F37.
const textBlockOverhead = 4 + 4 + 3 + 3 + 4 + 4

// TextBlocks lays one receipt out as Print Text-Blocks (PA00P015 §3.6): tag
// 25 holding attribute 09 00 (normal text) and the lines as tags 07, with
// 1F07 (receipt type, Receipt*) and 1F37 (receipt information). The lines
// are split over as many blocks as keep each block's data within maxData
// bytes; the last block ends with attribute 09 81, the end of the receipt.
// Text is converted to the ZVT character set; a line is never cut.
func TextBlocks(lines []string, receiptType, info byte, maxData int) ([]PrintTextBlock, error) {
	var blocks []PrintTextBlock
	var cur []TLV
	size := textBlockOverhead
	flush := func(last bool) error {
		items := append([]TLV{{Tag: TagAttribute, Value: []byte{PrintNormal}}}, cur...)
		if last {
			items = append(items, TLV{Tag: TagAttribute, Value: []byte{PrintLastLine}})
		}
		texts, err := NewConstructed(TagPrintTexts, items...)
		if err != nil {
			return err
		}
		blocks = append(blocks, PrintTextBlock{TLV: []TLV{texts,
			{Tag: TagReceiptType, Value: []byte{receiptType}}, {Tag: TagReceiptInfo, Value: []byte{info}}}})
		cur, size = nil, textBlockOverhead
		return nil
	}
	for _, l := range lines {
		t := TLV{Tag: TagTextLine, Value: EncodeText(l)}
		n := 3 + len(t.Value) // tag, length up to 81 xx
		if size+n > maxData && len(cur) > 0 {
			if err := flush(false); err != nil {
				return nil, fmt.Errorf("building print text block: %w", err)
			}
		}
		if size+n > maxData {
			return nil, fmt.Errorf("building print text block: %w: a %d-byte line does not fit %d bytes", ErrTooLong, len(t.Value), maxData)
		}
		cur = append(cur, t)
		size += n
	}
	if err := flush(true); err != nil {
		return nil, fmt.Errorf("building print text block: %w", err)
	}
	return blocks, nil
}

// PrintedLine is one line of a Print Text-Block as the ECR prints it.
type PrintedLine struct {
	Attribute byte // the tag 09 in force (Print* constants)
	Text      string
}

// Lines reads a Print Text-Block back: its text lines, each with the
// attribute in force, whether an attribute 1xxx xxxx (not 80) ended the
// receipt, and the receipt type of tag 1F07 (0 when absent).
func (m PrintTextBlock) Lines() (lines []PrintedLine, end bool, receiptType byte, err error) {
	attr := PrintNormal
	for _, o := range m.TLV {
		switch o.Tag {
		case TagReceiptType:
			if len(o.Value) != 1 {
				return nil, false, 0, fmt.Errorf("print text block: %w: receipt type of %d bytes", ErrInvalidField, len(o.Value))
			}
			receiptType = o.Value[0]
		case TagPrintTexts:
			items, cerr := o.Children()
			if cerr != nil {
				return nil, false, 0, fmt.Errorf("print text block: %w", cerr)
			}
			for _, it := range items {
				switch it.Tag {
				case TagAttribute:
					if len(it.Value) != 1 {
						return nil, false, 0, fmt.Errorf("print text block: %w: attribute of %d bytes", ErrInvalidField, len(it.Value))
					}
					attr = it.Value[0]
					end = attr&0x80 != 0 && attr != 0x80 && attr != PrintLinefeed
				case TagTextLine:
					lines = append(lines, PrintedLine{Attribute: attr, Text: DecodeText(it.Value)})
					end = false
				}
			}
		}
	}
	return lines, end, receiptType, nil
}
