package card

import "strings"

// track2 is a parsed track 2 (ISO/IEC 7813) or track 2 equivalent (EMV tag 57).
type track2 struct {
	pan     string
	expiry  string // YYMM
	service string // 3 digits
	disc    string // discretionary data, digits
}

// normalised is the track without sentinels, padding or LRC, with '=' as the
// field separator.
func (t track2) normalised() string {
	return t.pan + "=" + t.expiry + t.service + t.disc
}

// Track limits (ISO/IEC 7813).
const (
	maxTrack2Data = 37 // characters between the sentinels
	maxTrack1Data = 76
	maxTrack1Name = 26
)

// parseTrack2 parses track 2 in any of the forms the package accepts:
//
//	;4761739001010119=22122011758928889?  (sentinels, optional LRC after '?')
//	4761739001010119=22122011758928889    (no sentinels)
//	4761739001010119D22122011758928889F   (hex form of EMV tag 57; D or d, F padding)
//
// The reason in an error never contains track data.
func parseTrack2(s string) (track2, string) {
	if s == "" {
		return track2{}, "required"
	}
	if len(s) > maxTrack2Data+3 {
		return track2{}, "too long for track 2"
	}
	data := s
	sentinels := false
	if data[0] == ';' {
		sentinels = true
		data = data[1:]
	}
	if q := strings.IndexByte(data, '?'); q >= 0 {
		after := data[q+1:]
		switch {
		case len(after) > 1:
			return track2{}, "data after the end sentinel"
		case len(after) == 1 && (after[0] < 0x30 || after[0] > 0x3F):
			return track2{}, "invalid character after the end sentinel"
		}
		sentinels = true
		data = data[:q]
	} else if sentinels {
		return track2{}, "start sentinel without end sentinel"
	}
	if !sentinels {
		// Nibble padding of the hex form (tag 57).
		data = strings.TrimRight(data, "Ff")
	}
	if data == "" {
		return track2{}, "empty"
	}
	if len(data) > maxTrack2Data {
		return track2{}, "too long for track 2"
	}
	sep := strings.IndexAny(data, "=Dd")
	if sep < 0 {
		return track2{}, "field separator ('=' or 'D') missing"
	}
	t := track2{pan: data[:sep]}
	if len(t.pan) < minPAN || len(t.pan) > maxPAN {
		return track2{}, "PAN must be 12 to 19 digits"
	}
	if !allDigits(t.pan) {
		return track2{}, "PAN is not all digits"
	}
	rest := data[sep+1:]
	if len(rest) < 7 {
		return track2{}, "expiry (YYMM) and service code (3 digits) missing after the separator"
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return track2{}, "non-digit after the separator"
		}
	}
	t.expiry, t.service, t.disc = rest[:4], rest[4:7], rest[7:]
	if !validYYMM(t.expiry) {
		return track2{}, "expiry is not a valid YYMM"
	}
	return t, ""
}

// track1 is a parsed track 1, format code B (ISO/IEC 7813).
type track1 struct {
	pan     string
	expiry  string
	service string
	norm    string // without sentinels and LRC, starting with 'B'
}

// parseTrack1 parses "%B" PAN "^" NAME "^" YYMM SERVICE DISCRETIONARY "?"
// [LRC]; the sentinels are optional, the name may be empty. The reason in an
// error never contains track data.
func parseTrack1(s string) (track1, string) {
	if len(s) > maxTrack1Data+3 {
		return track1{}, "too long for track 1"
	}
	data := s
	start := strings.HasPrefix(data, "%")
	if start {
		data = data[1:]
	}
	if q := strings.IndexByte(data, '?'); q >= 0 {
		after := data[q+1:]
		switch {
		case len(after) > 1:
			return track1{}, "data after the end sentinel"
		case len(after) == 1 && (after[0] < 0x20 || after[0] > 0x5F):
			return track1{}, "invalid character after the end sentinel"
		}
		data = data[:q]
	} else if start {
		return track1{}, "start sentinel without end sentinel"
	}
	if len(data) > maxTrack1Data {
		return track1{}, "too long for track 1"
	}
	for i := 0; i < len(data); i++ {
		if data[i] < 0x20 || data[i] > 0x7E || data[i] == '%' {
			return track1{}, "invalid character"
		}
	}
	if data == "" || data[0] != 'B' {
		return track1{}, "format code 'B' missing"
	}
	parts := strings.SplitN(data[1:], "^", 3)
	if len(parts) != 3 {
		return track1{}, "field separator '^' missing"
	}
	t := track1{pan: parts[0], norm: data}
	if len(t.pan) < minPAN || len(t.pan) > maxPAN {
		return track1{}, "PAN must be 12 to 19 digits"
	}
	if !allDigits(t.pan) {
		return track1{}, "PAN is not all digits"
	}
	if len(parts[1]) > maxTrack1Name {
		return track1{}, "name longer than 26 characters"
	}
	rest := parts[2]
	if len(rest) < 7 || !allDigits(rest[:7]) {
		return track1{}, "expiry (YYMM) and service code (3 digits) missing after the name"
	}
	if strings.IndexByte(rest, '^') >= 0 {
		return track1{}, "too many field separators"
	}
	t.expiry, t.service = rest[:4], rest[4:7]
	if !validYYMM(t.expiry) {
		return track1{}, "expiry is not a valid YYMM"
	}
	return t, ""
}

// validYYMM reports whether s is four digits with a month 01–12.
func validYYMM(s string) bool {
	if len(s) != 4 || !allDigits(s) {
		return false
	}
	m := prefix(s[2:], 2)
	return m >= 1 && m <= 12
}
