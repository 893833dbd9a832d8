package zvt

import (
	"bytes"
	"fmt"
)

// Getters on a decoded field set. Absent BMPs give nil / "" / 0; present but
// malformed ones give an error naming the BMP (never its value).

func (fs fieldSet) byte1(n byte) *byte {
	v, ok := fs[n]
	if !ok {
		return nil
	}
	b := v[0]
	return &b
}

func (fs fieldSet) amount(n byte) (*int64, error) {
	v, ok := fs[n]
	if !ok {
		return nil, nil
	}
	a, err := DecodeAmount(v)
	if err != nil {
		return nil, bmpErr(n, err)
	}
	return &a, nil
}

func (fs fieldSet) number(n byte) (*int, error) {
	v, ok := fs[n]
	if !ok {
		return nil, nil
	}
	x, err := DecodeBCD(v)
	if err != nil {
		return nil, bmpErr(n, err)
	}
	i := int(x)
	return &i, nil
}

func (fs fieldSet) digits(n byte) (string, error) {
	v, ok := fs[n]
	if !ok {
		return "", nil
	}
	s, err := unpackDigits(v)
	if err != nil {
		return "", bmpErr(n, err)
	}
	return s, nil
}

func (fs fieldSet) currency() (int, error) {
	p, err := fs.number(BMPCurrency)
	if p == nil || err != nil {
		return 0, err
	}
	return *p, nil
}

// maskedPAN decodes BMP 22 and masks it at once, so a full card number never
// outlives this call.
func (fs fieldSet) maskedPAN() (string, error) {
	v, ok := fs[BMPPAN]
	if !ok {
		return "", nil
	}
	s, err := unpackPAN(v)
	clear(v)
	if err != nil {
		return "", bmpErr(BMPPAN, err)
	}
	return MaskPAN(s), nil
}

func (fs fieldSet) secret(n byte) Secret {
	v, ok := fs[n]
	if !ok {
		return nil
	}
	return Secret(v)
}

func (fs fieldSet) raw(n byte) []byte {
	v, ok := fs[n]
	if !ok {
		return nil
	}
	return v
}

// text decodes a CP437 text field, dropping trailing NUL bytes (BMP 8B is
// null-terminated) and, if pad is true, trailing spaces used as fixed-length
// padding.
func (fs fieldSet) text(n byte, pad bool) string {
	v, ok := fs[n]
	if !ok {
		return ""
	}
	cut := "\x00"
	if pad {
		cut = "\x00 "
	}
	return DecodeText(bytes.TrimRight(v, cut))
}

func (fs fieldSet) tlv() ([]TLV, error) {
	v, ok := fs[BMPTLV]
	if !ok {
		return nil, nil
	}
	objs, err := DecodeTLV(v)
	if err != nil {
		return nil, bmpErr(BMPTLV, err)
	}
	return objs, nil
}

// fieldWriter appends BMP fields and keeps the first error.
type fieldWriter struct {
	out []byte
	err error
}

func (w *fieldWriter) add(n byte, v []byte) {
	if w.err != nil {
		return
	}
	w.out, w.err = appendField(w.out, Field{BMP: n, Value: v})
}

func (w *fieldWriter) fail(n byte, err error) {
	if w.err == nil {
		w.err = bmpErr(n, err)
	}
}

func (w *fieldWriter) byte1(n byte, v *byte) {
	if v != nil {
		w.add(n, []byte{*v})
	}
}

func (w *fieldWriter) amount(n byte, v *int64) {
	if v == nil {
		return
	}
	b, err := EncodeAmount(*v)
	if err != nil {
		w.fail(n, err)
		return
	}
	w.add(n, b)
}

func (w *fieldWriter) number(n byte, v *int, size int) {
	if v == nil {
		return
	}
	if *v < 0 {
		w.fail(n, fmt.Errorf("%w: negative", ErrInvalidField))
		return
	}
	b, err := EncodeBCD(uint64(*v), size)
	if err != nil {
		w.fail(n, err)
		return
	}
	w.add(n, b)
}

func (w *fieldWriter) digits(n byte, s string, size int) {
	if s == "" {
		return
	}
	b, err := packDigits(s, size)
	if err != nil {
		w.fail(n, err)
		return
	}
	w.add(n, b)
}

func (w *fieldWriter) currency(cc int) {
	if cc == 0 {
		return
	}
	w.number(BMPCurrency, &cc, 2)
}

// pan writes BMP 22, masking first: posbridge never sends a full card number.
func (w *fieldWriter) pan(s string) {
	if s == "" {
		return
	}
	b, err := packPAN(MaskPAN(s))
	if err != nil {
		w.fail(BMPPAN, err)
		return
	}
	w.add(BMPPAN, b)
}

func (w *fieldWriter) secret(n byte, s Secret) {
	if s != nil {
		w.add(n, s)
	}
}

func (w *fieldWriter) raw(n byte, v []byte) {
	if v != nil {
		w.add(n, v)
	}
}

// text writes a variable-length CP437 text field; nulTerminated appends the
// NUL that BMP 8B carries.
func (w *fieldWriter) text(n byte, s string, nulTerminated bool) {
	if s == "" {
		return
	}
	b := EncodeText(s)
	if nulTerminated {
		b = append(b, 0)
	}
	w.add(n, b)
}

// fixedText writes a fixed-length CP437 text field padded with pad bytes.
func (w *fieldWriter) fixedText(n byte, s string, size int, pad byte) {
	if s == "" {
		return
	}
	b := EncodeText(s)
	if len(b) > size {
		w.fail(n, fmt.Errorf("%w: text longer than %d bytes", ErrInvalidField, size))
		return
	}
	for len(b) < size {
		b = append(b, pad)
	}
	w.add(n, b)
}

func (w *fieldWriter) tlv(objs []TLV) {
	if objs == nil || w.err != nil {
		return
	}
	v, err := EncodeTLV(objs)
	if err != nil {
		w.fail(BMPTLV, err)
		return
	}
	w.add(BMPTLV, v)
}
