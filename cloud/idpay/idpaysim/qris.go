package idpaysim

import (
	"fmt"
	"strconv"
	"strings"
)

// qrisPayload builds a dynamic QRIS payload in the EMVCo merchant-presented
// TLV form (IDs 00-63) for the amount in rupiah, ending in its CRC16.
// The document does not describe the payload (line 54 only says QRIS
// "supports all electronic wallets, all kinds of bank scan code
// payment"); this is a plausible one for tests and demos, not a payable code.
func qrisPayload(ref string, rupiah int64) string {
	var b strings.Builder
	tlv := func(id, v string) { fmt.Fprintf(&b, "%s%02d%s", id, len(v), v) }
	tlv("00", "01") // payload format indicator
	tlv("01", "12") // dynamic
	tlv("26", "0014ID.CO.QRIS.WWW0118936009150000000001")
	tlv("52", "5411")
	tlv("53", "360") // IDR
	tlv("54", strconv.FormatInt(rupiah, 10))
	tlv("58", "ID")
	tlv("59", "POSBRIDGE SIM")
	tlv("60", "JAKARTA")
	var add strings.Builder
	fmt.Fprintf(&add, "01%02d%s", len(ref), ref)
	tlv("62", add.String())
	b.WriteString("6304")
	return b.String() + fmt.Sprintf("%04X", crc16(b.String()))
}

// crc16 is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as EMVCo QR uses.
func crc16(s string) uint16 {
	crc := uint16(0xFFFF)
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
