package rpc

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/posbridge/posbridge/internal/netutil"
)

// Guard wraps next with the Host and Origin checks and sets restrictive
// headers (X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer,
// X-Frame-Options: DENY) on every answer.
//
// Host must be a loopback name or address (localhost, 127.0.0.0/8, [::1])
// with any port, or be listed in AllowedHosts; this defeats DNS rebinding.
// A port, when present, must be a decimal number up to 65535
// ("localhost:80x", "localhost:" and "[::1]:" are refused).
// Origin, when present, must be listed in AllowedOrigins or be the server's
// own loopback origin: the same scheme://host:port as the Host header, with a
// loopback host and the listener's port, so the embedded console works.
// Anything else is answered 403.
func (s *Server) Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		if !s.admit(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

func setSecurityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// admit applies the Host and Origin rules and answers 403 on refusal.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) bool {
	if !s.hostAllowed(r.Host) {
		s.log.Info("request refused: host not allowed", "host", r.Host, "remote", r.RemoteAddr, "path", r.URL.Path)
		http.Error(w, "forbidden: host not allowed", http.StatusForbidden)
		return false
	}
	if !s.checkOrigin(r) {
		s.log.Info("request refused: origin not allowed", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr, "path", r.URL.Path)
		http.Error(w, "forbidden: origin not allowed", http.StatusForbidden)
		return false
	}
	return true
}

// hostAllowed applies the Host rule to a Host header value.
func (s *Server) hostAllowed(hostport string) bool {
	host, _, ok := splitHostPort(hostport)
	if !ok || host == "" {
		return false
	}
	if netutil.IsLoopbackHost(host) {
		return true
	}
	for _, a := range s.cfg.AllowedHosts {
		if strings.EqualFold(a, hostport) || strings.EqualFold(a, host) {
			return true
		}
	}
	return false
}

// checkOrigin applies the Origin rule; a request without Origin passes.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	for _, o := range s.allowedOrigins {
		if strings.EqualFold(origin, o) {
			return true
		}
	}
	return sameLoopbackOrigin(r, origin)
}

// sameLoopbackOrigin reports whether origin is the server's own loopback
// origin as addressed by r: scheme and host:port equal to r's, a loopback
// host, and the port of the listener that accepted r.
func sameLoopbackOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || validateOriginURL(u) != nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if !strings.EqualFold(u.Scheme, scheme) || !netutil.IsLoopbackHost(u.Hostname()) || !strings.EqualFold(u.Host, r.Host) {
		return false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, lport, err := net.SplitHostPort(addr.String()); err == nil && lport != port {
			return false
		}
	}
	return true
}

// splitHostPort splits a Host header value; the port is empty when absent
// and IPv6 brackets are removed. ok is false for a malformed value: a port
// that is empty or not a decimal number up to 65535 ("localhost:80x",
// "[::1]:"), an unclosed bracket, or an IPv6 address without brackets.
func splitHostPort(hostport string) (host, port string, ok bool) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return h, p, validPort(p)
	}
	if inner, found := strings.CutPrefix(hostport, "["); found {
		inner, found = strings.CutSuffix(inner, "]")
		return inner, "", found && !strings.ContainsAny(inner, "[]")
	}
	return hostport, "", !strings.ContainsAny(hostport, ":[]")
}

// validPort reports whether p is a TCP port number: 1-5 decimal digits, at
// most 65535.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

// validateOrigin checks that o has the form scheme://host[:port].
func validateOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil {
		return err
	}
	return validateOriginURL(u)
}

func validateOriginURL(u *url.URL) error {
	switch {
	case u.Scheme == "" || u.Host == "":
		return errors.New("must be scheme://host[:port]")
	case u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return errors.New("must not have a path, user, query or fragment")
	}
	return nil
}
