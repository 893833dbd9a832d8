package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/api/server"
	"github.com/posbridge/posbridge/api/wsapi"
)

// TestOpenRPCServed: GET /v1/openrpc.json over real HTTP answers the
// embedded OpenRPC document as application/json, without a token (it holds
// nothing of the installation), behind the same Host and Origin checks as
// every local endpoint; other methods are refused.
func TestOpenRPCServed(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	rs, err := rpc.NewServer(rpc.Config{Handler: wsapi.New(e.Agent, nil), Tokens: func() []string { return []string{"tok-0123456789abcdef"} },
		AllowedOrigins: []string{"http://pos.example:3000"}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(server.Handler(server.Config{Agent: e.Agent, RPC: rs}))
	defer ts.Close()
	do := func(method string, header http.Header, host string) (*http.Response, []byte) {
		t.Helper()
		return request(t, method, ts.URL+"/v1/openrpc.json", host, header)
	}
	resp, body := do(http.MethodGet, nil, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/openrpc.json = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, wsapi.OpenRPC()) {
		t.Fatal("GET /v1/openrpc.json is not the embedded document")
	}
	var doc struct {
		OpenRPC string            `json:"openrpc"`
		Methods []json.RawMessage `json:"methods"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.OpenRPC == "" || len(doc.Methods) == 0 {
		t.Fatalf("document: openrpc %q, %d methods, %v", doc.OpenRPC, len(doc.Methods), err)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}

	for _, tc := range []struct {
		name   string
		method string
		header http.Header
		host   string
		want   int
	}{
		{"a wrong token is not looked at", http.MethodGet, http.Header{"Authorization": {"Bearer wrong"}}, "", http.StatusOK},
		{"allowed origin", http.MethodGet, http.Header{"Origin": {"http://pos.example:3000"}}, "", http.StatusOK},
		{"HEAD", http.MethodHead, nil, "", http.StatusOK},
		{"DNS rebinding", http.MethodGet, nil, "evil.example", http.StatusForbidden},
		{"foreign origin", http.MethodGet, http.Header{"Origin": {"https://evil.example"}}, "", http.StatusForbidden},
		{"POST", http.MethodPost, nil, "", http.StatusMethodNotAllowed},
	} {
		if resp, _ := do(tc.method, tc.header, tc.host); resp.StatusCode != tc.want {
			t.Errorf("%s: %s /v1/openrpc.json = %d, want %d", tc.name, tc.method, resp.StatusCode, tc.want)
		}
	}
}

// request makes an HTTP request with header and, unless host is "", that
// Host; it returns the response and its body.
func request(t *testing.T, method, url, host string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}
