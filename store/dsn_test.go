package store

import (
	"net/url"
	"strings"
	"testing"
)

func TestURIPath(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		windows bool
		want    string
	}{
		{"unix", "/var/lib/posbridge/posbridge.db", false, "/var/lib/posbridge/posbridge.db"},
		{"unix space", "/tmp/a b/x.db", false, "/tmp/a%20b/x.db"},
		{"unix query chars", "/tmp/x?y#z%.db", false, "/tmp/x%3Fy%23z%25.db"},
		{"unix backslash kept", `/tmp/a\b.db`, false, `/tmp/a%5Cb.db`},
		{"windows drive", `C:\ProgramData\posbridge\posbridge.db`, true, "/C:/ProgramData/posbridge/posbridge.db"},
		{"windows drive lower", `d:\data\j.db`, true, "/d:/data/j.db"},
		{"windows space", `C:\Program Files\posbridge\j.db`, true, "/C:/Program%20Files/posbridge/j.db"},
		{"windows forward slashes", `C:/x/j.db`, true, "/C:/x/j.db"},
		{"windows UNC", `\\server\share\j.db`, true, "////server/share/j.db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := uriPath(tc.path, tc.windows); got != tc.want {
				t.Errorf("uriPath(%q, %v) = %q, want %q", tc.path, tc.windows, got, tc.want)
			}
		})
	}
}

func TestDSNs(t *testing.T) {
	w := writerDSN("/data/j.db")
	for _, want := range []string{"file:/data/j.db?", "busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "_txlock=immediate"} {
		if !strings.Contains(w, want) {
			t.Errorf("writerDSN = %q, missing %q", w, want)
		}
	}
	r := readerDSN("/data/j.db")
	for _, want := range []string{"file:/data/j.db?", "busy_timeout(10000)", "query_only(1)"} {
		if !strings.Contains(r, want) {
			t.Errorf("readerDSN = %q, missing %q", r, want)
		}
	}
}

func FuzzURIPath(f *testing.F) {
	for _, s := range []string{"/var/lib/x.db", `C:\x\y.db`, `\\h\s\x.db`, "/a?b#c%d", "/ü/ж.db", "/a\x00b", ""} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, p string, windows bool) {
		got := uriPath(p, windows)
		// Nothing in the path may reach the query string or fragment.
		if strings.ContainsAny(got, "?#") {
			t.Fatalf("uriPath(%q) = %q contains ? or #", p, got)
		}
		// Unescaping gives back the (slashed) path.
		back, err := url.PathUnescape(got)
		if err != nil {
			t.Fatalf("uriPath(%q) = %q does not unescape: %v", p, got, err)
		}
		want := p
		if windows {
			want = strings.ReplaceAll(p, `\`, "/")
		}
		if !strings.HasSuffix(back, want) {
			t.Fatalf("uriPath(%q) = %q unescapes to %q, want suffix %q", p, got, back, want)
		}
	})
}
