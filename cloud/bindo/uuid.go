package bindo

import (
	"regexp"

	"github.com/google/uuid"
)

// uuidNamespace is posbridge's name-based UUID namespace for Bindo
// transactions (itself the version-5 UUID of the URL
// "https://github.com/posbridge/posbridge/cloud/bindo" in the RFC 9562 URL
// namespace, 5ca827e5-effe-5bc7-bfaf-ba9abac904ca). Changing it changes every derived uuid: never do.
var uuidNamespace = [16]byte{
	0x5c, 0xa8, 0x27, 0xe5, 0xef, 0xfe, 0x5b, 0xc7, 0xbf, 0xaf, 0xba, 0x9a, 0xba, 0xc9, 0x04, 0xca,
}

// DeriveUUID returns a stable RFC 9562 version-5 (SHA-1, name-based) UUID
// for name, in the canonical lower-case 8-4-4-4-12 form the gateway's
// examples use. The same name always gives the same uuid, so a transaction
// can be queried by it after a crash without having been answered.
func DeriveUUID(name string) string {
	return uuidV5(uuidNamespace, name)
}

// uuidV5 computes the version-5 UUID of name in namespace ns.
func uuidV5(ns [16]byte, name string) string {
	return uuid.NewSHA1(uuid.UUID(ns), []byte(name)).String()
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ValidUUID reports whether s is a UUID in the 8-4-4-4-12 hex form.
func ValidUUID(s string) bool { return uuidPattern.MatchString(s) }
