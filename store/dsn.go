package store

import (
	"net/url"
	"strings"
)

// writerPragmas are the per-connection settings of the writer pool. They live in
// the DSN so that every connection the pool opens gets them (a PRAGMA run with
// Exec would stick to a single pooled connection).
const writerPragmas = "_pragma=busy_timeout(10000)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(FULL)" +
	"&_pragma=foreign_keys(1)" +
	"&_txlock=immediate"

// readerPragmas are the reader pool's settings: the writer's durability and
// locking settings plus query_only, so a write through a reader fails loudly.
const readerPragmas = "_pragma=busy_timeout(10000)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(FULL)" +
	"&_pragma=foreign_keys(1)" +
	"&_pragma=query_only(1)"

// writerDSN returns the DSN of the writer pool for the absolute path p.
func writerDSN(p string) string { return "file:" + uriPath(p, isWindows) + "?" + writerPragmas }

// readerDSN returns the DSN of the reader pool for the absolute path p.
func readerDSN(p string) string { return "file:" + uriPath(p, isWindows) + "?" + readerPragmas }

// uriPath turns an absolute file system path into the path part of an SQLite
// "file:" URI. On Windows, backslashes become slashes and drive paths
// ("C:\x") and UNC paths ("\\host\share") get an extra leading slash, as
// SQLite's URI rules require ("/C:/x", "////host/share"). Characters with a
// meaning in URIs ('?', '#', '%', spaces, ...) are percent-escaped, so the
// path can never leak into the query string where the pragmas live.
func uriPath(p string, windows bool) string {
	if windows {
		p = strings.ReplaceAll(p, `\`, "/")
		switch {
		case len(p) >= 2 && p[1] == ':' && isASCIILetter(p[0]):
			p = "/" + p
		case strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///"):
			p = "//" + p
		}
	}
	return (&url.URL{Path: p}).EscapedPath()
}

func isASCIILetter(b byte) bool { return ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') }
