package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var (
	errNotSent = errors.New("not sent")
	errUnknown = errors.New("unknown")
	classes    = Classes{NotSent: errNotSent, UnknownOutcome: errUnknown}
)

func TestRoundTripClasses(t *testing.T) {
	// Nothing listens on port 1 (privileged, never a test server's; a port
	// freed by closing a listener can be taken by a parallel test's server).
	closed := "http://127.0.0.1:1"
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	}))
	defer drop.Close()
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(make([]byte, MaxResponseBytes+1))
	}))
	defer big.Close()
	redirect := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/elsewhere", http.StatusFound))
	defer redirect.Close()

	hc := NewClient(nil, 5*time.Second, nil)
	tests := []struct {
		name, url  string
		want       error // nil: answered
		wantStatus int
	}{
		{"connection refused", closed, errNotSent, 0},
		{"dropped after the request", drop.URL, errUnknown, 0},
		{"over-long body", big.URL, errUnknown, 0},
		{"redirect not followed", redirect.URL, nil, http.StatusFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, tc.url, strings.NewReader("{}"))
			status, _, err := classes.RoundTrip(hc, req, "test")
			if tc.want == nil {
				if err != nil || status != tc.wantStatus {
					t.Fatalf("RoundTrip = %d, %v; want %d", status, err, tc.wantStatus)
				}
				return
			}
			if !errors.Is(err, tc.want) || errors.Is(err, errNotSent) == errors.Is(err, errUnknown) {
				t.Fatalf("RoundTrip error = %v, want exactly %v", err, tc.want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   string
	}{
		{502, "", "Bad Gateway"},
		{502, "  <html>card 4111111111111111\n</html> ", "Bad Gateway: <html>card 411111******1111 </html>"},
		{429, "slow down\x00", "Too Many Requests: slow down"},
		{500, strings.Repeat("x", 200), "Internal Server Error: " + strings.Repeat("x", 120) + "..."},
	}
	for _, tc := range tests {
		if got := ErrorText(tc.status, []byte(tc.body)); got != tc.want {
			t.Errorf("ErrorText(%d, %q) = %q, want %q", tc.status, tc.body, got, tc.want)
		}
	}
}
