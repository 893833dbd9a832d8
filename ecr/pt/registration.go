package pt

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/receipt"
)

// Printing defaults.
const (
	// DefaultPrintWidth is the line width of receipts for an ECR that did
	// not send its printer's width (tag 12, PA00P015 §2.1): 24 characters,
	// which every receipt printer takes, so no line is ever wrapped or cut
	// by the ECR.
	DefaultPrintWidth = 24
	// defaultTextBlock bounds the data of one Print Text-Block (06 D3) when
	// the ECR did not send its largest APDU (tag 1A).
	defaultTextBlock = 1024
	// minTextBlock is the smallest text block posbridge sends, whatever the
	// ECR announced: room for a line of MaxWidth characters.
	minTextBlock = 128
)

// registration is what the ECR set up with 06 00 (PA00P015 §2.1): the
// config byte and what its TLV container announced. It lasts until log-off
// and survives restarts (saved as a setting).
type registration struct {
	configByte byte
	tlv        bool   // the ECR sent BMP 06: the PT may send TLV containers (§9.2.2)
	textBlock  bool   // tag 26 lists 06 D3: receipts go as Print Text-Blocks (§3.6)
	listsLines bool   // tag 26 lists 06 D1
	width      int    // tag 12: the ECR printer's line width; 0 = not sent
	maxAPDU    int    // tag 1A: the largest APDU the ECR takes; 0 = not sent
	params     []byte // tag 1F04: receipt parameters; nil = not sent
}

// newRegistration reads a Registration; a malformed TLV value is an error.
func newRegistration(c zvt.Registration) (registration, error) {
	r := registration{configByte: c.ConfigByte, tlv: c.TLV != nil}
	o, err := zvt.ParseECROptions(c.TLV)
	if err != nil {
		return registration{}, err
	}
	r.textBlock, r.listsLines = o.Permits(zvt.CtrlPrintTextBlock), o.Permits(zvt.CtrlPrintLine)
	r.width, r.maxAPDU, r.params = o.PrinterWidth, o.MaxAPDU, o.ReceiptParams
	return r, nil
}

// String is the registration as saved in the journal's settings:
// "ba" (the config byte, as before print lines existed), then
// ";tlv", ";d3", ";d1", ";w=40", ";a=1024", ";rp=a8" as announced.
func (r registration) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%02x", r.configByte)
	for _, f := range []struct {
		on   bool
		text string
	}{{r.tlv, ";tlv"}, {r.textBlock, ";d3"}, {r.listsLines, ";d1"}} {
		if f.on {
			b.WriteString(f.text)
		}
	}
	if r.width > 0 {
		fmt.Fprintf(&b, ";w=%d", r.width)
	}
	if r.maxAPDU > 0 {
		fmt.Fprintf(&b, ";a=%d", r.maxAPDU)
	}
	if r.params != nil {
		b.WriteString(";rp=" + hex.EncodeToString(r.params))
	}
	return b.String()
}

// parseRegistration reads a saved registration; unknown parts are skipped.
func parseRegistration(v string) (registration, bool) {
	parts := strings.Split(v, ";")
	cb, err := strconv.ParseUint(parts[0], 16, 8)
	if err != nil || len(parts[0]) != 2 {
		return registration{}, false
	}
	r := registration{configByte: byte(cb)}
	for _, part := range parts[1:] {
		key, val, _ := strings.Cut(part, "=")
		switch key {
		case "tlv":
			r.tlv = true
		case "d3":
			r.textBlock = true
		case "d1":
			r.listsLines = true
		case "w":
			r.width, _ = strconv.Atoi(val)
		case "a":
			r.maxAPDU, _ = strconv.Atoi(val)
		case "rp":
			r.params, _ = hex.DecodeString(val)
		}
	}
	return r, true
}

// printMode is how one command's receipts go to the ECR.
type printMode struct {
	width     int
	textBlock bool   // 06 D3 instead of 06 D1
	maxData   int    // largest 06 D3 data block
	params    []byte // tag 1F04 in force; nil = posbridge's defaults
}

// printing reports whether the ECR takes this kind of receipt as print
// lines, and how (PA00P015 §2.1 Table 1): registered with "ECR prints
// payment receipts" (02) or "… administration receipts" (04) and print type
// 1 (80, "receipt-printout via ECR using Print Lines"). With print type 0 the
// ECR compiles its receipts from the status information and gets none; tag
// 1F04 bit 01 in the request or the registration asks for print lines for
// that command anyway (§9.4.2). reqParams is the request's 1F04 (nil: none).
func (p *PT) printing(admin bool, reqParams []byte) (printMode, bool) {
	p.mu.Lock()
	reg, registered := p.reg, p.registered
	p.mu.Unlock()
	bit := zvt.ConfigECRPrintsPayment
	if admin {
		bit = zvt.ConfigECRPrintsAdmin
	}
	params := reg.params
	if reqParams != nil {
		params = reqParams
	}
	byParams := len(params) > 0 && params[0]&zvt.ReceiptParamUseECRPrinter != 0
	if !registered || reg.configByte&bit == 0 || (reg.configByte&zvt.ConfigPrintLines == 0 && !byParams) {
		return printMode{}, false
	}
	m := printMode{width: p.cfg.PrintWidth, textBlock: reg.textBlock, maxData: defaultTextBlock, params: params}
	if reg.width > 0 {
		m.width = min(max(reg.width, receipt.MinWidth), receipt.MaxWidth)
	}
	if reg.maxAPDU > 0 {
		m.maxData = min(max(reg.maxAPDU-5, minTextBlock), 0xFFFF)
	}
	return m, true
}

// tlvAllowed reports whether the PT may send the ECR a TLV container: the
// ECR sent one at registration (until log-off) or in this request (§9.2.2).
func (p *PT) tlvAllowed(request []zvt.TLV) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return request != nil || (p.registered && p.reg.tlv)
}
