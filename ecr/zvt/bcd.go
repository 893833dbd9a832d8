package zvt

import "fmt"

// MaxAmount is the largest amount BMP 04 can carry: 12 BCD digits of minor units.
const MaxAmount int64 = 999_999_999_999

// EncodeBCD packs v into n bytes of BCD, two decimal digits per byte, most
// significant first, with leading zeros. It fails with ErrInvalidField when v
// needs more than 2n digits.
func EncodeBCD(v uint64, n int) ([]byte, error) {
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		lo := v % 10
		v /= 10
		hi := v % 10
		v /= 10
		out[i] = byte(hi<<4 | lo)
	}
	if v != 0 {
		return nil, fmt.Errorf("%w: does not fit %d BCD digits", ErrInvalidField, 2*n)
	}
	return out, nil
}

// DecodeBCD unpacks BCD bytes into an integer. Every nibble must be 0..9 and
// at most 9 bytes (18 digits) are accepted, so the value always fits.
func DecodeBCD(b []byte) (uint64, error) {
	if len(b) > 9 {
		return 0, fmt.Errorf("%w: %d BCD bytes exceed 18 digits", ErrTooLong, len(b))
	}
	var v uint64
	for _, x := range b {
		hi, lo := x>>4, x&0x0F
		if hi > 9 || lo > 9 {
			return 0, ErrBadBCD
		}
		v = v*100 + uint64(hi)*10 + uint64(lo)
	}
	return v, nil
}

// EncodeAmount converts an amount in minor units to the 6-byte BCD of BMP 04.
func EncodeAmount(minor int64) ([]byte, error) {
	if minor < 0 || minor > MaxAmount {
		return nil, fmt.Errorf("%w: amount %d outside 0..%d", ErrInvalidField, minor, MaxAmount)
	}
	return EncodeBCD(uint64(minor), 6)
}

// DecodeAmount converts the 6-byte BCD of BMP 04 to minor units.
func DecodeAmount(b []byte) (int64, error) {
	if len(b) != 6 {
		return 0, fmt.Errorf("%w: amount needs 6 bytes, got %d", ErrTruncated, len(b))
	}
	v, err := DecodeBCD(b)
	if err != nil {
		return 0, err
	}
	return int64(v), nil
}

// packDigits packs a string of exactly 2n decimal digits into n BCD bytes.
func packDigits(s string, n int) ([]byte, error) {
	if len(s) != 2*n {
		return nil, fmt.Errorf("%w: want %d digits, got %d", ErrInvalidField, 2*n, len(s))
	}
	out := make([]byte, n)
	for i := range n {
		hi, lo := s[2*i], s[2*i+1]
		if !isDigit(hi) || !isDigit(lo) {
			return nil, fmt.Errorf("%w: not a decimal digit", ErrInvalidField)
		}
		out[i] = (hi-'0')<<4 | (lo - '0')
	}
	return out, nil
}

// unpackDigits returns the decimal digits of BCD bytes as a string.
func unpackDigits(b []byte) (string, error) {
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		hi, lo := x>>4, x&0x0F
		if hi > 9 || lo > 9 {
			return "", ErrBadBCD
		}
		out = append(out, '0'+hi, '0'+lo)
	}
	return string(out), nil
}

// packPAN packs a (masked) card number for BMP 22: digits as BCD nibbles, '*'
// as the masking nibble E, an odd count padded with a trailing F nibble.
func packPAN(s string) ([]byte, error) {
	nib := make([]byte, 0, len(s)+1)
	for i := range len(s) {
		switch c := s[i]; {
		case isDigit(c):
			nib = append(nib, c-'0')
		case c == '*':
			nib = append(nib, 0x0E)
		default:
			return nil, fmt.Errorf("%w: card number may hold only digits and '*'", ErrInvalidField)
		}
	}
	if len(nib)%2 == 1 {
		nib = append(nib, 0x0F)
	}
	out := make([]byte, len(nib)/2)
	for i := range out {
		out[i] = nib[2*i]<<4 | nib[2*i+1]
	}
	return out, nil
}

// unpackPAN reverses packPAN: 0..9 are digits, E is a masked digit ('*'), and
// F is allowed only as the very last nibble (odd-length padding).
func unpackPAN(b []byte) (string, error) {
	out := make([]byte, 0, 2*len(b))
	for i, x := range b {
		for j, n := range [2]byte{x >> 4, x & 0x0F} {
			last := i == len(b)-1 && j == 1
			switch {
			case n <= 9:
				out = append(out, '0'+n)
			case n == 0x0E:
				out = append(out, '*')
			case n == 0x0F && last:
			default:
				return "", ErrBadBCD
			}
		}
	}
	return string(out), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
