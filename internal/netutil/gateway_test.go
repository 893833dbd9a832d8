package netutil

import (
	"errors"
	"strings"
	"testing"
)

func TestParseGatewayURL(t *testing.T) {
	tests := []struct {
		raw      string
		insecure bool
		want     error // nil = accepted
	}{
		{"https://codepay-open.codepay.me", false, nil},
		{"https://gw.example/prefix/", false, nil},
		{"http://127.0.0.1:8080", false, nil},
		{"http://localhost:9", false, nil},
		{"http://[::1]:9", false, nil},
		{"http://sim.lan:9", true, nil},
		{"", false, ErrURLRequired},
		{"gw.example", false, ErrURLNotAbsolute},
		{"https://", false, ErrURLNotAbsolute},
		{"https://:443", false, ErrURLNotAbsolute},
		{"https://u:p@gw.example", false, ErrURLCredentials},
		{"https://gw.example/?x=1", false, ErrURLQuery},
		{"https://gw.example/#f", false, ErrURLQuery},
		{"https://gw.example/?", false, ErrURLQuery},
		{"http://gw.example", false, ErrURLInsecure},
		{"http://127.0.0.1.evil.example", false, ErrURLInsecure},
		{"ftp://gw.example", false, ErrURLScheme},
		{"ftp://gw.example", true, ErrURLScheme},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			u, err := ParseGatewayURL(tc.raw, tc.insecure)
			if tc.want == nil {
				if err != nil || u == nil {
					t.Fatalf("ParseGatewayURL(%q) = %v, %v; want a URL", tc.raw, u, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseGatewayURL(%q) error = %v, want %v", tc.raw, err, tc.want)
			}
		})
	}
	if _, err := ParseGatewayURL("https://u:secret@", false); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v repeats a password", err)
	}
}
