package zvt

// CRC16 returns the CRC-16/KERMIT of b: reflected polynomial 0x8408 (the bit
// reversal of x^16+x^12+x^5+1, which PA00P016 §3.3 calls "CRC-XModem"), initial
// value 0, no final XOR. For a frame it is computed over the unstuffed APDU
// bytes followed by ETX, and sent low byte first.
func CRC16(b []byte) uint16 {
	var crc uint16
	for _, x := range b {
		crc = crcUpdate(crc, x)
	}
	return crc
}

// crcUpdate continues a CRC-16/KERMIT with one more byte.
func crcUpdate(crc uint16, x byte) uint16 {
	crc ^= uint16(x)
	for range 8 {
		if crc&1 != 0 {
			crc = crc>>1 ^ 0x8408
		} else {
			crc >>= 1
		}
	}
	return crc
}
