package wsapi_test

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent/agenttest"
)

// iccFor builds a realistic EMV ICC request for a PAN (BER-TLV hex).
func iccFor(pan, track2Hex string) string {
	tlv := func(tag, value string) string {
		return tag + strings.ToUpper(hex.EncodeToString([]byte{byte(len(value) / 2)})) + value
	}
	return tlv("5A", pan) + tlv("5F24", "301231") + tlv("5F34", "01") + tlv("57", track2Hex) +
		tlv("82", "1980") + tlv("95", "0000008000") + tlv("9A", "261122") + tlv("9C", "00") +
		tlv("9F02", "000000001500") + tlv("9F26", "C2A1E2B3D4F5A6B7") + tlv("9F37", "1A2B3C4D")
}

// TestCardDataNeverPersistedLoggedOrEchoed runs native payments with the
// emulator's test cards in every reader mode, plus the fallback sequence, then
// searches the SQLite files (database, WAL, shared memory), every log line and
// every WebSocket message (receipts included) for the full PAN, the track 2
// string and the ICC data.
func TestCardDataNeverPersistedLoggedOrEchoed(t *testing.T) {
	logs := &agenttest.LogBuffer{}
	e := newWSEnvOpts(t, agenttest.Opts{Bindo: true, OfflineGrace: 300 * time.Millisecond, Logs: logs})
	c := e.dial(t)

	const (
		visaPAN  = "4111111111111111"
		visaT2   = "4111111111111111=30122011758928889"
		mcPAN    = "5555555555554444"
		mcT2     = ";5555555555554444=30122011758928889?"
		mcT2Hex  = "5555555555554444D30122011758928889"
		amexPAN  = "374340095639074"
		amexT2   = "374340095639074=30122011758928889"
		amexT2Hx = "374340095639074D30122011758928889F"
	)
	mcICC := iccFor(mcPAN, mcT2Hex)
	amexICC := iccFor(amexPAN+"F", amexT2Hx)
	secrets := []string{visaPAN, visaT2, mcPAN, mcT2, mcT2Hex, mcICC, strings.ToLower(mcICC), amexPAN, amexT2, amexICC,
		"30122011758928889", "C2A1E2B3D4F5A6B7"}

	sale := func(no, term string, card map[string]any, route string) {
		params := map[string]any{"merchant_order_no": no, "type": "sale", "terminal_sn": term, "amount": "15.00", "currency": "USD"}
		if card != nil {
			params["card"] = card
		}
		if route != "" {
			params["options"] = map[string]any{"route": route}
		}
		_, errObj, notes := c.call("payment.create", params)
		if errObj != nil {
			t.Fatalf("%s: %s", no, errObj)
		}
		if s := c.paymentStates(notes, no); s[len(s)-1] != "approved" && card != nil {
			t.Fatalf("%s ended %v", no, s)
		}
	}
	sale("PCI-SWIPE", agenttest.TermA, map[string]any{"reader_mode": "swipe", "track2": visaT2}, "native")
	sale("PCI-CONTACT", agenttest.TermA, map[string]any{"reader_mode": "contact", "track2": mcT2, "icc": mcICC}, "native")
	sale("PCI-CTLS", agenttest.TermA, map[string]any{"reader_mode": "contactless", "track2": amexT2, "icc": amexICC}, "native")
	// The fallback sequence: the offline terminal's payment fails having charged
	// nothing, then the same request plus card goes through Bindo.
	sale("PCI-FB", agenttest.TermOff, nil, "")
	sale("PCI-FB", agenttest.TermOff, map[string]any{"reader_mode": "swipe", "track2": visaT2}, "")
	// Bad card data: a clear error naming the field, never echoing the data.
	_, errObj, _ := c.call("payment.create", map[string]any{"merchant_order_no": "PCI-BAD", "type": "sale", "terminal_sn": agenttest.TermA,
		"amount": "1.00", "currency": "USD", "options": map[string]any{"route": "native"},
		"card": map[string]any{"reader_mode": "swipe", "track2": "4111111111111112=30122011758928889"}})
	if e := decodeErr(t, errObj); e.Code != -32602 || !strings.HasPrefix(e.Data.Field, "card") {
		t.Fatalf("Luhn failure → %+v", e)
	}
	// Their receipts (both copies) show the masked PAN at most.
	for _, no := range []string{"PCI-SWIPE", "PCI-CONTACT", "PCI-CTLS", "PCI-FB"} {
		for _, cp := range []string{"customer", "merchant"} {
			if _, errObj, _ := c.call("payment.receipt", map[string]any{"merchant_order_no": no, "copy": cp, "width": 32}); errObj != nil {
				t.Fatalf("receipt of %s: %s", no, errObj)
			}
		}
	}
	// Their histories too: the answers are among the messages searched below.
	for _, no := range []string{"PCI-SWIPE", "PCI-CONTACT", "PCI-CTLS", "PCI-FB", "PCI-BAD"} {
		if _, errObj, _ := c.call("payment.history", map[string]any{"merchant_order_no": no}); errObj != nil && no != "PCI-BAD" {
			t.Fatalf("history of %s: %s", no, errObj)
		}
	}
	res, _, _ := c.call("payment.get", map[string]any{"merchant_order_no": "PCI-CONTACT"})
	var p struct {
		Route string `json:"route"`
		Card  struct {
			MaskedPAN string `json:"masked_pan"`
			EntryMode string `json:"entry_mode"`
		} `json:"card"`
	}
	json.Unmarshal(res, &p)
	if p.Route != "bindo" || p.Card.MaskedPAN != "555555******4444" || p.Card.EntryMode != "contact" {
		t.Fatalf("payment object = %s", res)
	}

	var haystacks = map[string][]byte{"logs": logs.Bytes()}
	for _, m := range c.received() {
		haystacks["websocket messages"] = append(append(haystacks["websocket messages"], m...), '\n')
	}
	if len(haystacks["websocket messages"]) == 0 {
		t.Fatal("no WebSocket messages captured")
	}
	e.JournalFiles(haystacks)
	if len(haystacks["logs"]) == 0 {
		t.Fatal("no logs captured: the test would prove nothing")
	}
	for _, f := range agenttest.CardDataFound(haystacks, secrets) {
		t.Error(f)
	}
}
