package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/rpc"
)

const testToken = "console-test-token"

// newServer serves the console over real HTTP with the real token check.
func newServer(t *testing.T, a *agent.Agent, demo bool) *httptest.Server {
	t.Helper()
	rs, err := rpc.NewServer(rpc.Config{
		Handler: rpc.HandlerFunc(nil),
		Tokens:  func() []string { return []string{testToken} },
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{Agent: a, CheckToken: rs.CheckToken, Demo: demo, Version: "v9.8.7", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
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
	return resp, string(b)
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func TestAssets(t *testing.T) {
	srv := newServer(t, nil, false)
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		contains           string
	}{
		{"index", "GET", "/", 200, "text/html; charset=utf-8", `<script type="module" src="/static/app.js">`},
		{"index by HEAD", "HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"app module", "GET", "/static/app.js", 200, "text/javascript; charset=utf-8", `from "./rpc.js"`},
		{"rpc module", "GET", "/static/rpc.js", 200, "text/javascript; charset=utf-8", `"posbridge.v1"`},
		{"ui module", "GET", "/static/ui.js", 200, "text/javascript; charset=utf-8", "export function h("},
		{"stylesheet", "GET", "/static/console.css", 200, "text/css; charset=utf-8", ":focus-visible"},
		{"icon", "GET", "/static/icon.svg", 200, "image/svg+xml", "<svg"},
		{"index only at /", "GET", "/static/index.html", 404, "text/plain; charset=utf-8", "not found"},
		{"no directory listing", "GET", "/static/", 404, "text/plain; charset=utf-8", "not found"},
		{"unknown asset", "GET", "/static/nope.js", 404, "text/plain; charset=utf-8", "not found"},
		{"path traversal", "GET", "/static/../console.go", 404, "text/plain; charset=utf-8", "not found"},
		{"unknown path", "GET", "/favicon.ico", 404, "text/plain; charset=utf-8", "not found"},
		{"unknown console path", "GET", "/console/nope", 404, "text/plain; charset=utf-8", "not found"},
		{"POST to the page", "POST", "/", 404, "text/plain; charset=utf-8", "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
			}
			if got := resp.Header.Get("Content-Security-Policy"); got != CSP {
				t.Errorf("Content-Security-Policy = %q, want %q", got, CSP)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("body lacks %q:\n%.300s", tc.contains, body)
			}
			if tc.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD answered a body of %d bytes", len(body))
			}
		})
	}
}

func TestCSPValue(t *testing.T) {
	want := "default-src 'self'; connect-src 'self' ws: ; img-src 'self' data:; style-src 'self'; script-src 'self'"
	if CSP != want {
		t.Fatalf("CSP = %q, want %q", CSP, want)
	}
}

func TestAssetRevalidation(t *testing.T) {
	srv := newServer(t, nil, false)
	resp, _ := get(t, srv.URL+"/static/app.js", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q; want an ETag and no-cache", etag, resp.Header.Get("Cache-Control"))
	}
	tests := []struct {
		name, inm string
		want      int
	}{
		{"same", etag, http.StatusNotModified},
		{"weak form", "W/" + etag, http.StatusNotModified},
		{"in a list", `"x", ` + etag, http.StatusNotModified},
		{"other", `"0000"`, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+"/static/app.js", http.Header{"If-None-Match": {tc.inm}})
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusNotModified && body != "" {
				t.Errorf("304 with a body of %d bytes", len(body))
			}
		})
	}
}

// TestPageFitsCSP checks the page needs nothing the CSP forbids: no inline
// script or style, no event-handler attributes, no external URLs, and that
// every asset it names is embedded. The scripts never write HTML strings.
func TestPageFitsCSP(t *testing.T) {
	index, err := staticFS.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := string(index)
	forbidden := []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`), // inline script body
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`),
		regexp.MustCompile(`(?:src|href)="(?:https?:)?//`),
	}
	for _, re := range forbidden {
		if m := re.FindString(page); m != "" {
			t.Errorf("index.html has %q, which the CSP blocks or which leaves the agent", m)
		}
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(tag, ` src="/static/`) {
			t.Errorf("index.html has the script tag %q without an embedded src", tag)
		}
	}
	refs := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("index.html names only %d assets", len(refs))
	}
	for _, r := range refs {
		if _, err := fs.Stat(staticFS, strings.TrimPrefix(r[1], "/")); err != nil {
			t.Errorf("index.html names %s, which is not embedded", r[1])
		}
	}
	scripts, _ := fs.Glob(staticFS, "static/*.js")
	importRE := regexp.MustCompile(`from "\./([^"]+)"`)
	for _, name := range scripts {
		src, _ := staticFS.ReadFile(name)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "http://", "https://", ".style."} {
			if strings.Contains(string(src), bad) {
				t.Errorf("%s uses %q", name, bad)
			}
		}
		for _, m := range importRE.FindAllStringSubmatch(string(src), -1) {
			if _, err := fs.Stat(staticFS, "static/"+m[1]); err != nil {
				t.Errorf("%s imports ./%s, which is not embedded", name, m[1])
			}
		}
	}
}

// TestScriptsFindTheirElements: every element the scripts look up by id
// ($("…")) is on the page, so a renamed element fails here, not in a store.
func TestScriptsFindTheirElements(t *testing.T) {
	index, err := staticFS.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(string(index), -1) {
		ids[m[1]] = true
	}
	for _, want := range []string{"codepay-banner", "codepay-banner-text", "codepay-banner-detail"} {
		if !ids[want] {
			t.Errorf("index.html lacks #%s", want)
		}
	}
	scripts, _ := fs.Glob(staticFS, "static/*.js")
	lookups := 0
	for _, name := range scripts {
		src, _ := staticFS.ReadFile(name)
		for _, m := range regexp.MustCompile(`\$\("([^"]+)"\)`).FindAllStringSubmatch(string(src), -1) {
			lookups++
			if !ids[m[1]] {
				t.Errorf("%s looks up #%s, which index.html lacks", name, m[1])
			}
		}
	}
	if lookups < 20 {
		t.Fatalf("found only %d element look-ups in the scripts", lookups)
	}
}

func TestInfo(t *testing.T) {
	tests := []struct {
		name     string
		demo     bool
		header   http.Header
		wantJSON string
	}{
		{"demo, no token", true, nil, `{"demo":true,"version":"v9.8.7"}`},
		{"not demo", false, nil, `{"demo":false,"version":"v9.8.7"}`},
		{"valid token", true, bearer(testToken), `{"demo":true,"version":"v9.8.7","authorized":true}`},
		{"wrong token", true, bearer("nope"), `{"demo":true,"version":"v9.8.7","authorized":false}`},
		{"not a bearer header", false, http.Header{"Authorization": {"Basic eDp5"}}, `{"demo":false,"version":"v9.8.7","authorized":false}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, nil, tc.demo)
			resp, body := get(t, srv.URL+"/console/info", tc.header)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if strings.TrimSpace(body) != tc.wantJSON {
				t.Errorf("body = %s, want %s", body, tc.wantJSON)
			}
		})
	}
}

// closedBatch makes two payments on TermA (one approved, one declined by
// the emulator's .51 rule) and closes the batch.
func closedBatch(t *testing.T) (*agenttest.Env, agent.BatchReport, agent.Payment) {
	t.Helper()
	e := agenttest.New(t, agenttest.Opts{})
	e.MustCreate(e.Sale("CSV1", agenttest.TermA, "12.34"))
	p := e.WaitFinal("CSV1")
	if p.State != agent.StateApproved {
		t.Fatalf("CSV1 is %s, want approved", p.State)
	}
	e.MustCreate(e.Sale("CSV2", agenttest.TermA, "3.51"))
	if p2 := e.WaitFinal("CSV2"); p2.State != agent.StateDeclined {
		t.Fatalf("CSV2 is %s, want declined", p2.State)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := e.Agent.BatchClose(ctx, agenttest.TermA, agent.SourceConsole)
	if err != nil {
		t.Fatalf("BatchClose: %v", err)
	}
	return e, rep, p
}

func TestBatchCSV(t *testing.T) {
	e, rep, paid := closedBatch(t)
	srv := newServer(t, e.Agent, false)
	url := srv.URL + "/console/batches/" + agenttest.TermA + "/1.csv"

	errTests := []struct {
		name   string
		path   string
		header http.Header
		status int
		body   string
	}{
		{"no token", "/console/batches/" + agenttest.TermA + "/1.csv", nil, 401, "unauthorized: missing or invalid token\n"},
		{"wrong token", "/console/batches/" + agenttest.TermA + "/1.csv", bearer("nope"), 401, "unauthorized: missing or invalid token\n"},
		{"token in the query is not a token", "/console/batches/" + agenttest.TermA + "/1.csv?token=" + testToken, nil, 401, "unauthorized: missing or invalid token\n"},
		{"no token, unknown batch", "/console/batches/" + agenttest.TermA + "/7.csv", nil, 401, "unauthorized: missing or invalid token\n"},
		{"unknown batch", "/console/batches/" + agenttest.TermA + "/7.csv", bearer(testToken), 404, "batch 7 of " + agenttest.TermA + " does not exist\n"},
		{"unknown terminal", "/console/batches/NOPE0001/1.csv", bearer(testToken), 404, "terminal NOPE0001 does not exist\n"},
		{"terminal without batches", "/console/batches/" + agenttest.TermOff + "/1.csv", bearer(testToken), 404, "batch 1 of " + agenttest.TermOff + " does not exist\n"},
		{"not csv", "/console/batches/" + agenttest.TermA + "/1.json", bearer(testToken), 404, "not found: want /console/batches/SN/BATCH_NO.csv\n"},
		{"batch zero", "/console/batches/" + agenttest.TermA + "/0.csv", bearer(testToken), 404, "not found: want /console/batches/SN/BATCH_NO.csv\n"},
		{"signed batch", "/console/batches/" + agenttest.TermA + "/+1.csv", bearer(testToken), 404, "not found: want /console/batches/SN/BATCH_NO.csv\n"},
		{"odd SN", "/console/batches/a.b/1.csv", bearer(testToken), 404, "not found: want /console/batches/SN/BATCH_NO.csv\n"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+tc.path, tc.header)
			if resp.StatusCode != tc.status || body != tc.body {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if resp.Header.Get("Content-Disposition") != "" {
				t.Errorf("an error answer carries Content-Disposition %q", resp.Header.Get("Content-Disposition"))
			}
		})
	}

	t.Run("closed batch", func(t *testing.T) {
		resp, body := get(t, url, bearer(testToken))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		for k, want := range map[string]string{
			"Content-Type":            "text/csv; charset=utf-8",
			"Content-Disposition":     `attachment; filename="posbridge-batch-` + agenttest.TermA + `-1.csv"`,
			"Cache-Control":           "no-store",
			"Content-Security-Policy": CSP,
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		r := csv.NewReader(strings.NewReader(body))
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatalf("the answer is not CSV: %v\n%s", err, body)
		}
		fields := map[string][]string{}
		var header []string
		var payRows [][]string
		for _, row := range rows {
			switch {
			case header != nil:
				payRows = append(payRows, row)
			case row[0] == "merchant_order_no":
				header = row
			default:
				fields[row[0]] = row[1:]
			}
		}
		want := map[string]string{
			"terminal": agenttest.TermA, "batch_no": "1", "state": "closed",
			"opened_at": rep.OpenedAt.UTC().Format(time.RFC3339), "closed_at": rep.ClosedAt.UTC().Format(time.RFC3339),
			"closed_by": "console", "currency": "USD", "local_count": "1", "local_total": "12.34", "local_tips": "0.00",
			"cloud_count": "1", "cloud_total": "12.34", "differences": agent.AgreeLine, "comparison": "agree", "cloud_settle_list": "",
		}
		for k, v := range want {
			if got := fields[k]; len(got) != 1 || got[0] != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if got := fields["local_sale"]; len(got) != 2 || got[0] != "1" || got[1] != "12.34" {
			t.Errorf("local_sale = %q, want [1 12.34]", got)
		}
		if strings.Join(header, ",") != strings.Join(csvPaymentHeader, ",") {
			t.Errorf("payment header = %q", header)
		}
		// BatchPayments lists the batch's approved payments: the declined one is not settled.
		if len(payRows) != 1 {
			t.Fatalf("%d payment rows, want 1: %q", len(payRows), payRows)
		}
		row := payRows[0]
		if paid.Card == nil {
			t.Fatal("the emulator returned no card for CSV1")
		}
		wantRow := []string{"CSV1", "sale", "approved", "12.34", "0.00", "USD", paid.AuthCode, paid.RefNo,
			paid.Card.Brand, paid.Card.MaskedPAN, paid.Card.EntryMode, paid.CreatedAt.UTC().Format(time.RFC3339)}
		if strings.Join(row, "|") != strings.Join(wantRow, "|") {
			t.Errorf("payment row = %q\nwant            %q", row, wantRow)
		}
		if !regexp.MustCompile(`^\d{6}\*+\d{4}$`).MatchString(paid.Card.MaskedPAN) {
			t.Errorf("masked PAN %q is not masked", paid.Card.MaskedPAN)
		}
	})

	t.Run("open batch", func(t *testing.T) {
		e.MustCreate(e.Sale("CSV3", agenttest.TermA, "5.00"))
		e.WaitFinal("CSV3")
		resp, body := get(t, srv.URL+"/console/batches/"+agenttest.TermA+"/2.csv", bearer(testToken))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		for _, want := range []string{"state,open\n", "closed_at,\n", "local_total,5.00\n", "cloud_total,\n", "comparison,\n",
			"differences,batch still open; compared when it closes\n", "\nCSV3,sale,approved,5.00,"} {
			if !strings.Contains(body, want) {
				t.Errorf("open batch CSV lacks %q:\n%s", want, body)
			}
		}
	})
}

func TestCSVSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"12.34", "12.34"},
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"+1+2", "'+1+2"},
		{"-5.00", "'-5.00"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=b", "a=b"},
		{"'already", "'already"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := csvSafe(tc.in); got != tc.want {
				t.Errorf("csvSafe(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestCSVInjection renders a batch whose text fields carry formulas, as a
// hostile CodePay answer or a crafted order number could, and checks that no
// cell of the file starts a formula.
func TestCSVInjection(t *testing.T) {
	count := int64(1)
	closed := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rep := agent.BatchReport{
		TerminalSN: "T1", BatchNo: 3, State: "closed", OpenedAt: closed.Add(-time.Hour), ClosedAt: &closed, ClosedBy: "@console",
		Local:       agent.BatchTotals{Count: 1, TotalAmount: "-1.00", Currency: "USD", Tips: "0.00", ByType: map[string]agent.TypeTotal{"refund": {Count: 1, Amount: "1.00"}}},
		Cloud:       &agent.CloudTotals{Count: &count, TotalAmount: "=1+1"},
		Differences: []string{"=cmd|' /C calc'!A0", "total: fine"},
	}
	ps := []agent.Payment{{
		MerchantOrderNo: "@evil", Type: "refund", State: "approved", Amount: "1.00", TipAmount: "0.00", Currency: "USD",
		AuthCode: "+123", RefNo: "-456", Card: &agent.Card{Brand: "=Visa", MaskedPAN: "476173******0119", EntryMode: "\tcontact"},
		CreatedAt: closed,
	}}
	out, err := renderCSV(rep, ps)
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(bytes.NewReader(out))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v", err)
	}
	seen := map[string]bool{}
	for _, row := range rows {
		for _, cell := range row {
			seen[cell] = true
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q starts a formula", cell)
			}
		}
	}
	for _, want := range []string{"'@console", "'-1.00", "'=1+1", "'=cmd|' /C calc'!A0", "total: fine", "'@evil", "'+123", "'-456", "'=Visa", "'\tcontact", "476173******0119"} {
		if !seen[want] {
			t.Errorf("no cell %q in:\n%s", want, out)
		}
	}
}

func TestParseBatchPath(t *testing.T) {
	tests := []struct {
		sn, file string
		want     int64
		ok       bool
	}{
		{"DEMO000001", "1.csv", 1, true},
		{"a-b_C", "42.csv", 42, true},
		{"DEMO000001", "007.csv", 7, true},
		{"DEMO000001", "0.csv", 0, false},
		{"DEMO000001", ".csv", 0, false},
		{"DEMO000001", "1.CSV", 0, false},
		{"DEMO000001", "1", 0, false},
		{"DEMO000001", "-1.csv", 0, false},
		{"DEMO000001", "+1.csv", 0, false},
		{"DEMO000001", "1e3.csv", 0, false},
		{"DEMO000001", "99999999999999999999.csv", 0, false},
		{"", "1.csv", 0, false},
		{"a/b", "1.csv", 0, false},
		{"a b", "1.csv", 0, false},
		{"a\"b", "1.csv", 0, false},
		{strings.Repeat("A", 65), "1.csv", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.sn+"/"+tc.file, func(t *testing.T) {
			got, ok := parseBatchPath(tc.sn, tc.file)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseBatchPath(%q, %q) = %d, %v; want %d, %v", tc.sn, tc.file, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParseBatchPath(f *testing.F) {
	for _, s := range [][2]string{{"DEMO000001", "1.csv"}, {"x", "007.csv"}, {"a/b", "1.csv"}, {"T", "-1.csv"}, {"T", "1e9.csv"}, {"T\"", "1.csv"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, sn, file string) {
		n, ok := parseBatchPath(sn, file)
		if !ok {
			if n != 0 {
				t.Fatalf("refused path with batch %d", n)
			}
			return
		}
		if n < 1 || !safeName(sn) || strings.ContainsAny(sn, "\"\\/;\r\n ") {
			t.Fatalf("accepted sn %q file %q as batch %d", sn, file, n)
		}
		if strings.TrimLeft(strings.TrimSuffix(file, ".csv"), "0") != strconv.FormatInt(n, 10) {
			t.Fatalf("file %q parsed as batch %d", file, n)
		}
	})
}

// FuzzRenderCSV checks, for any text in any field, that the CSV parses back,
// that no cell starts a formula, and that each value survives (after the
// defusing quote).
func FuzzRenderCSV(f *testing.F) {
	for _, s := range []string{"CSV1", "=1+1", "+", "-5.00", "@x", "a,b", "quote\"d", "line\nbreak", "\r\n", "\t", ""} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, orderNo, diff string) {
		rep := agent.BatchReport{TerminalSN: "T1", BatchNo: 1, State: "closed", Differences: []string{diff},
			Local: agent.BatchTotals{Currency: "USD", TotalAmount: "0.00", Tips: "0.00"}}
		ps := []agent.Payment{{MerchantOrderNo: orderNo, Type: "sale", State: "approved", Amount: "1.00", Currency: "USD"}}
		out, err := renderCSV(rep, ps)
		if err != nil {
			t.Fatalf("renderCSV: %v", err)
		}
		r := csv.NewReader(bytes.NewReader(out))
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, out)
		}
		for _, row := range rows {
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t", rune(cell[0])) {
					t.Fatalf("cell %q starts a formula", cell)
				}
			}
		}
		last := rows[len(rows)-1]
		if want := strings.ReplaceAll(csvSafe(orderNo), "\r\n", "\n"); last[0] != want && last[0] != strings.ReplaceAll(want, "\r", "\n") {
			t.Fatalf("order number %q came back as %q", orderNo, last[0])
		}
	})
}

func TestCSVWithoutAgent(t *testing.T) {
	srv := newServer(t, nil, false)
	resp, body := get(t, srv.URL+"/console/batches/T1/1.csv", bearer(testToken))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "batches are not available") {
		t.Fatalf("got %d %q, want 503", resp.StatusCode, body)
	}
}

// TestCSVThreeCases: the CSV says agree, lists the differences, or says
// not compared (with the words of the console and the CLI), keeps the
// SDK's settle list, and gives reports stored before "comparison" one.
func TestCSVThreeCases(t *testing.T) {
	closed := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	one, two := int64(1), int64(2)
	base := agent.BatchReport{TerminalSN: "T1", BatchNo: 3, State: "closed", OpenedAt: closed.Add(-time.Hour), ClosedAt: &closed, ClosedBy: "console",
		Local: agent.BatchTotals{Count: 1, TotalAmount: "12.34", Currency: "USD", Tips: "0.00"}}
	bindo := "note: 1 Bindo payments (3.00 USD) are settled by Bindo, not in the CodePay batch"
	tests := []struct {
		name   string
		mutate func(r *agent.BatchReport)
		want   []string // CSV rows
		not    []string
	}{
		{"agree", func(r *agent.BatchReport) {
			r.Cloud, r.Comparison, r.Differences = &agent.CloudTotals{Count: &one, TotalAmount: "12.34"}, agent.ComparisonAgree, []string{}
		}, []string{"comparison,agree", "cloud_count,1", "cloud_total,12.34", "differences," + agent.AgreeLine}, []string{"difference,"}},
		{"agree with a Bindo note", func(r *agent.BatchReport) {
			r.Cloud, r.Comparison, r.Differences = &agent.CloudTotals{Count: &one, TotalAmount: "12.34"}, agent.ComparisonAgree, []string{bindo}
		}, []string{"comparison,agree", "differences," + agent.AgreeLine, `difference,"` + bindo + `"`}, nil},
		{"differ", func(r *agent.BatchReport) {
			r.Cloud, r.Comparison = &agent.CloudTotals{Count: &two, TotalAmount: "17.34"}, agent.ComparisonDiffer
			r.Differences = []string{"count: CodePay has 2 transactions, posbridge 1", "total: CodePay has 17.34 USD, posbridge 12.34 USD (difference 5.00)"}
		}, []string{"comparison,differ", "cloud_count,2", `difference,"count: CodePay has 2 transactions, posbridge 1"`,
			`difference,"total: CodePay has 17.34 USD, posbridge 12.34 USD (difference 5.00)"`}, []string{agent.AgreeLine}},
		{"not compared", func(r *agent.BatchReport) {
			r.Comparison, r.Differences, r.CloudSettleList = agent.ComparisonNotCompared, []string{agent.NotComparedLine}, `[{"card":"VISA"}]`
		}, []string{"comparison,not_compared", "cloud_count,", "cloud_total,", "difference," + agent.NotComparedLine,
			`cloud_settle_list,"[{""card"":""VISA""}]"`}, []string{agent.AgreeLine}},
		{"stored before comparison, empty answer", func(r *agent.BatchReport) {
			r.Cloud, r.Differences = &agent.CloudTotals{}, []string{}
		}, []string{"comparison,not_compared", "difference," + agent.NotComparedLine}, []string{agent.AgreeLine}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := base
			tc.mutate(&rep)
			checkCSVRows(t, rep, tc.want, tc.not)
		})
	}
}

// checkCSVRows renders rep as CSV and checks it has each of the rows want
// and none of not (nor the word null).
func checkCSVRows(t *testing.T, rep agent.BatchReport, want, not []string) {
	t.Helper()
	out, err := renderCSV(rep, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, w := range want {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("CSV lacks the row %q:\n%s", w, text)
		}
	}
	for _, w := range append(not, "null") {
		if strings.Contains(text, w) {
			t.Errorf("CSV has %q:\n%s", w, text)
		}
	}
}

// TestCSVNotComparedFromTheEmulator: a batch closed against an emulator
// answering like the spec's batch.close sample (data {}) exports as not
// compared, with no cloud totals.
func TestCSVNotComparedFromTheEmulator(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{BatchShape: "empty"})
	e.MustCreate(e.Sale("CSVE1", agenttest.TermA, "4.00"))
	e.WaitFinal("CSVE1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.Agent.BatchClose(ctx, agenttest.TermA, agent.SourceConsole); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, e.Agent, false)
	resp, body := get(t, srv.URL+"/console/batches/"+agenttest.TermA+"/1.csv", bearer(testToken))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{"comparison,not_compared\n", "cloud_count,\n", "cloud_total,\n", "difference," + agent.NotComparedLine + "\n", "local_total,4.00\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("CSV lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, agent.AgreeLine) {
		t.Errorf("CSV claims agreement:\n%s", body)
	}
}

// TestCSVByMethod: a batch holding wallet, VA or link payments gets one row
// per payment method, in order; an all-card batch (no by_method) gets none.
func TestCSVByMethod(t *testing.T) {
	closed := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	rep := agent.BatchReport{TerminalSN: "T1", BatchNo: 1, State: "closed", ClosedAt: &closed, Comparison: agent.ComparisonNotCompared,
		Local: agent.BatchTotals{Count: 3, TotalAmount: "30.00", Currency: "USD", Tips: "0.00",
			ByMethod: map[string]agent.TypeTotal{"qr": {Count: 1, Amount: "5.00"}, "card": {Count: 1, Amount: "20.00"}, "link": {Count: 1, Amount: "5.00"}}}}
	body, err := renderCSV(rep, nil)
	if err != nil {
		t.Fatal(err)
	}
	csv := string(body)
	card, link, qr := strings.Index(csv, "local_method_card,1,20.00"), strings.Index(csv, "local_method_link,1,5.00"), strings.Index(csv, "local_method_qr,1,5.00")
	if card < 0 || link < card || qr < link {
		t.Errorf("method rows missing or out of order:\n%s", csv)
	}
	rep.Local.ByMethod = nil
	body, _ = renderCSV(rep, nil)
	if strings.Contains(string(body), "local_method_") {
		t.Errorf("an all-card batch has method rows:\n%s", body)
	}
}

// TestReceiptView: the receipt view asks the agent for the receipt
// (payment.receipt), shows its lines as text in a monospace block, offers
// both copies and the three paper widths, and prints through the browser;
// the print stylesheet hides everything but the receipt while one is open.
func TestReceiptView(t *testing.T) {
	read := func(name string) string { return staticText(t, name) }
	page, app, css := read("index.html"), read("app.js"), read("console.css")
	for _, want := range []string{`<dialog id="receipt-dialog"`, `<pre id="receipt-text" class="receipt-paper"`, `value="customer" checked`,
		`value="merchant"`, `<option value="32">`, `<option value="40" selected>`, `<option value="48">`, `id="receipt-print"`} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	for _, want := range []string{`call("payment.receipt", { merchant_order_no: r.no, copy, width })`, `pre.textContent = res.lines.join("\n")`,
		`window.print()`, `p.receipt_available`, `classList.add("receipt-open")`, `classList.remove("receipt-open")`} {
		if !strings.Contains(app, want) {
			t.Errorf("app.js lacks %s", want)
		}
	}
	if !strings.Contains(css, "font-family: var(--mono)") {
		t.Error("console.css does not set the receipt in the monospace font")
	}
	_, printCSS, ok := strings.Cut(css, "@media print")
	for _, want := range []string{"body.receipt-open > :not(#receipt-dialog) { display: none !important; }",
		"body.receipt-open .receipt-body > :not(.receipt-scroll) { display: none !important; }"} {
		if !ok || !strings.Contains(printCSS, want) {
			t.Errorf("console.css has no print rule %s", want)
		}
	}
}

// TestCSVBreakdownAddsUp: the CSV's breakdown is the screen's, and it adds
// up: the local_TYPE rows of what is in the total, local_tips and
// local_cashback make local_total; voids are listed apart. CodePay's total
// has the currency's decimals ("0" → "0.00", as the console shows it).
func TestCSVBreakdownAddsUp(t *testing.T) {
	closed := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	zero := int64(0)
	tests := []struct {
		name string
		rep  agent.BatchReport
		want []string
		not  []string
	}{
		{"voided sale, refund, cashback", agent.BatchReport{TerminalSN: "T1", BatchNo: 4, State: "closed", ClosedAt: &closed, Comparison: agent.ComparisonNotCompared,
			Local: agent.BatchTotals{Count: 3, TotalAmount: "31.00", Currency: "USD", Tips: "1.00", Cashback: "5.00",
				ByType:     map[string]agent.TypeTotal{"sale": {Count: 1, Amount: "10.00"}, "refund": {Count: 1, Amount: "-5.00"}, "cashback": {Count: 1, Amount: "20.00"}},
				NotInTotal: map[string]agent.TypeTotal{"void": {Count: 1, Amount: "2.00"}}}},
			[]string{"local_total,31.00", "local_tips,1.00", "local_cashback,5.00", "local_sale,1,10.00", "local_refund,1,'-5.00",
				"local_cashback,1,20.00", "local_void,1,2.00"}, nil},
		{"empty batch: CodePay's 0 has the currency's decimals", agent.BatchReport{TerminalSN: "T1", BatchNo: 5, State: "closed", ClosedAt: &closed,
			Comparison: agent.ComparisonAgree, Cloud: &agent.CloudTotals{Count: &zero, TotalAmount: "0"}, Differences: []string{},
			Local: agent.BatchTotals{Count: 0, TotalAmount: "0.00", Currency: "USD", Tips: "0.00", Cashback: "0.00", ByType: map[string]agent.TypeTotal{}}},
			[]string{"local_total,0.00", "cloud_count,0", "cloud_total,0.00", "differences," + agent.AgreeLine}, []string{"local_sale", "cloud_total,0\n"}},
		{"an unreadable CodePay total stays as sent", agent.BatchReport{TerminalSN: "T1", BatchNo: 6, State: "closed", ClosedAt: &closed,
			Comparison: agent.ComparisonDiffer, Cloud: &agent.CloudTotals{TotalAmount: "12.345"}, Differences: []string{"x"},
			Local: agent.BatchTotals{Count: 0, TotalAmount: "0.00", Currency: "USD", Tips: "0.00"}},
			[]string{"cloud_total,12.345"}, []string{"local_cashback"}},
		{"stored before the rule: void among the types", agent.BatchReport{TerminalSN: "T1", BatchNo: 7, State: "closed", ClosedAt: &closed, Comparison: agent.ComparisonNotCompared,
			Local: agent.BatchTotals{Count: 1, TotalAmount: "10.00", Currency: "USD", Tips: "0.00",
				ByType: map[string]agent.TypeTotal{"sale": {Count: 2, Amount: "12.00"}, "void": {Count: 1, Amount: "2.00"}}}},
			[]string{"local_sale,2,12.00", "local_void,1,2.00"}, []string{"local_cashback"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkCSVRows(t, tc.rep, tc.want, tc.not)
		})
	}
}

// TestCSVOfAVoidedSale: end to end against the emulator, a batch with a
// sale, a voided sale and a partial refund exports the breakdown the agent
// counts: the voided sale is not under sale, the refund is negative, and
// the rows add up to local_total.
func TestCSVOfAVoidedSale(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	sn := agenttest.TermA
	e.MustCreate(e.Sale("CSVV1", sn, "10.00"))
	e.WaitFinal("CSVV1")
	e.MustCreate(e.Sale("CSVV2", sn, "2.00"))
	e.WaitFinal("CSVV2")
	e.MustCreate(agent.CreateRequest{MerchantOrderNo: "CSVV3", Type: agent.TypeVoid, OrigMerchantOrderNo: "CSVV2", Source: agent.SourceConsole})
	if p := e.WaitFinal("CSVV3"); p.State != agent.StateApproved {
		t.Fatalf("void is %s", p.State)
	}
	e.MustCreate(agent.CreateRequest{MerchantOrderNo: "CSVV4", Type: agent.TypeRefund, TerminalSN: sn, Amount: "4.00", Currency: "USD",
		OrigMerchantOrderNo: "CSVV1", Source: agent.SourceConsole})
	if p := e.WaitFinal("CSVV4"); p.State != agent.StateApproved {
		t.Fatalf("refund is %s", p.State)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.Agent.BatchClose(ctx, sn, agent.SourceConsole); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, e.Agent, false)
	resp, body := get(t, srv.URL+"/console/batches/"+sn+"/1.csv", bearer(testToken))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{"local_count,2\n", "local_total,6.00\n", "local_tips,0.00\n", "local_cashback,0.00\n",
		"local_sale,1,10.00\n", "local_refund,1,'-4.00\n", "local_void,1,2.00\n", "comparison,agree\n", "cloud_total,6.00\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("CSV lacks %q:\n%s", want, body)
		}
	}
}

// TestInfoStoreName: the store's name, when configured, reaches the page
// (top bar, printouts) through /console/info.
func TestInfoStoreName(t *testing.T) {
	srv := httptest.NewServer(New(Config{StoreName: "Corner Bakery – Filiale 3", Version: "v1"}))
	t.Cleanup(srv.Close)
	_, body := get(t, srv.URL+"/console/info", nil)
	if want := `{"demo":false,"version":"v1","store":"Corner Bakery – Filiale 3"}`; strings.TrimSpace(body) != want {
		t.Errorf("info = %s, want %s", body, want)
	}
}

// TestConsoleScripts pins what the browser test cannot see from outside:
// the console's cancel, void and refund go through the API with source
// console (a cancel journals who asked; the payment keeps its own source),
// search and day totals are the agent's (payment.search, report.day), and
// no amount is ever parsed as a float in the browser.
func TestConsoleScripts(t *testing.T) {
	read := func(name string) string { return staticText(t, name) }
	app, ui := read("app.js"), read("ui.js")
	for _, want := range []string{
		`{ merchant_order_no: "", type: "void", orig_merchant_order_no: p.merchant_order_no, source: "console" }`,
		`{ merchant_order_no: "", orig_merchant_order_no: p.merchant_order_no, amount, currency: p.currency, source: "console" }`,
		`method: "payment.refund"`, `method: "payment.create"`, `call("payment.cancel", { merchant_order_no: ps.no, source: "console" })`,
		`call("payment.search", params)`, `call("report.day", date ? { date } : {})`, `params.cursor = state.next`,
	} {
		if !strings.Contains(app, want) {
			t.Errorf("app.js lacks %s", want)
		}
	}
	for name, src := range map[string]string{"app.js": app, "ui.js": ui} {
		for _, bad := range []string{"parseFloat(", "toFixed(", "Number(p.", "Number(amount", "Number(t.", "Number(r."} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s: amounts stay decimal strings", name, bad)
			}
		}
	}
}

// TestPrintViews: the batch report and the day totals each print alone,
// black on white, without the page around them.
func TestPrintViews(t *testing.T) {
	css, err := staticFS.ReadFile("static/console.css")
	if err != nil {
		t.Fatal(err)
	}
	_, printCSS, ok := strings.Cut(string(css), "@media print")
	for _, want := range []string{
		"body.report-open > :not(#report-dialog) { display: none !important; }",
		"body.print-day > :not(main), body.print-day dialog { display: none !important; }",
		"body.print-day #app > :not(#today)",
		".print-head { display: block;",
		"--text: #000;",
	} {
		if !ok || !strings.Contains(printCSS, want) {
			t.Errorf("console.css has no print rule %s", want)
		}
	}
}

// staticText is an embedded asset of the console as text.
func staticText(t *testing.T, name string) string {
	t.Helper()
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
