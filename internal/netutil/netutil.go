// Package netutil holds the one definition of "a loopback host" that the
// listener guard, the configuration and the provider clients share.
package netutil

import (
	"net"
	"strings"
)

// IsLoopbackHost reports whether host (no port; IPv6 with or without
// brackets) is "localhost" or a loopback address (127.0.0.0/8, ::1).
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
