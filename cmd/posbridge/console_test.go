package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/money"
)

// findChromium returns the browser for the console test: /usr/bin/chromium
// or chromium on PATH. Without one the test skips locally and fails in CI.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, c := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is not installed (apt-get install chromium); the console browser test needs it in CI")
	}
	t.Skip("Chromium not found; skipping the console browser test")
	return ""
}

// startDemoQR starts `posbridge demo` and returns it with the token, the
// CodePay emulator's URL and the QR wallet emulator's URL it prints.
func startDemoQR(t *testing.T, name, addr, dataDir string) (demo *proc, token, simURL, qrURL string) {
	t.Helper()
	demo = start(t, name, "demo", "--listen", addr, "--data", dataDir)
	tokRE := regexp.MustCompile(`Token\s+(\S+)`)
	consoleRE := regexp.MustCompile(`Console\s+(http://\S+)`)
	simRE := regexp.MustCompile(`CodePay cloud\s+(http://\S+)`)
	qrRE := regexp.MustCompile(`QR wallet\s+(http://\S+)`)
	var consoleURL string
	for (token == "" || consoleURL == "" || simURL == "" || qrURL == "") && demo.stdout.Scan() {
		line := demo.stdout.Text()
		if m := qrRE.FindStringSubmatch(line); m != nil {
			qrURL = m[1]
		}
		if m := tokRE.FindStringSubmatch(line); m != nil {
			token = m[1]
		}
		if m := consoleRE.FindStringSubmatch(line); m != nil {
			consoleURL = m[1]
		}
		if m := simRE.FindStringSubmatch(line); m != nil {
			simURL = m[1]
		}
	}
	go func() {
		for demo.stdout.Scan() {
		}
	}()
	if token == "" || consoleURL != "http://"+addr+"/" {
		t.Fatalf("demo printed token %q and console URL %q, want the URL http://%s/", token, consoleURL, addr)
	}
	waitHTTP(t, "http://"+addr+"/healthz")
	return demo, token, simURL, qrURL
}

// simAdmin calls the CodePay emulator's admin API.
func simAdmin(t *testing.T, method, url, body string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s = %d %s", method, url, resp.StatusCode, b)
	}
}

// stopDemo interrupts the demo and waits until it has exited.
func stopDemo(t *testing.T, demo *proc) {
	t.Helper()
	if err := demo.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- demo.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("demo did not stop within 15s of SIGINT")
	}
}

// browserRun is a console test's browser tab with its screenshot sequence.
type browserRun struct {
	t      *testing.T
	ctx    context.Context
	shots  string
	n      int
	mu     sync.Mutex
	errors []string
}

// step runs actions with a bound; on failure it saves a screenshot and fails.
func (b *browserRun) step(name string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed-" + name)
		b.t.Fatalf("%s: %v\nbrowser errors: %v", name, err, b.pageErrors())
	}
}

// text returns the text of an element.
func (b *browserRun) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.shot("failed-text")
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browserRun, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// poll waits until a JavaScript expression is truthy.
func poll(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond))
}

// shot saves a full-page PNG as artifacts/console/NN-name.png.
// The page scrolls to the top first: a full-page capture of a scrolled page
// draws the sticky header in the middle.
func (b *browserRun) shot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	_ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	b.capture(name, chromedp.FullScreenshot(100))
}

// shotView saves what the viewport shows (a modal dialog over the page).
func (b *browserRun) shotView(name string) { b.capture(name, chromedp.CaptureScreenshot()) }

func (b *browserRun) capture(name string, action chromedp.Action[[]byte]) {
	b.t.Helper()
	b.n++
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, action)
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("save screenshot: %v", err)
	}
}

func (b *browserRun) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// TestConsoleInBrowser drives the store console in headless Chromium against
// the real binary running `posbridge demo`: sign-in (refused, then accepted),
// live terminals, a test sale and its receipt (both copies, printed),
// closing the batch through the confirmation dialog, the report, batch
// history and the CSV download.
func TestConsoleInBrowser(t *testing.T) {
	chromium := findChromium(t)
	addr := freePort(t)
	dataDir := filepath.Join(t.TempDir(), "demo")
	demo, token, simURL, _ := startDemoQR(t, "demo", addr, dataDir)
	base := "http://" + addr + "/"

	shots, err := filepath.Abs(filepath.Join("..", "..", "artifacts", "console"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(shots, "*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	downloads := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium-profile")),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	b := &browserRun{t: t, ctx: bctx, shots: shots}

	// Start the browser; collect uncaught exceptions and console errors, and
	// every Content-Security-Policy violation the page sees.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	if err := chromedp.Listen(bctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			b.errors = append(b.errors, "exception: "+msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.errors = append(b.errors, "console.error: "+strings.Join(parts, " "))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads, EventsEnabled: new(true),
	}); err != nil {
		t.Fatalf("set download behaviour: %v", err)
	}

	// 1. The sign-in form; a wrong token is refused.
	b.step("open", 20*time.Second,
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	b.shot("signin")
	b.step("wrong token", 20*time.Second,
		chromedp.SendKeys(chromedp.ID("token"), "not-the-token"),
		chromedp.Click(chromedp.ID("signin-btn")),
		poll(`document.getElementById("signin-error").textContent === "Token refused"`, 10*time.Second),
	)
	if !eval[bool](b, `!document.getElementById("signin").hidden && sessionStorage.getItem("posbridge.token") === null`) {
		t.Fatal("after a refused token the sign-in form is gone or the token was kept")
	}
	b.shot("token-refused")

	// 2. Sign in with the printed token: both demo terminals, live.
	b.step("sign in", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("token").value = ""`),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("signin-btn")),
		chromedp.WaitVisible(chromedp.CSS(`article[data-sn="DEMO000001"]`)),
		chromedp.WaitVisible(chromedp.CSS(`article[data-sn="DEMO000002"]`)),
		poll(`document.getElementById("conn").dataset.state === "connected"`, 10*time.Second),
		poll(`document.querySelectorAll("#terminal-list .batch-count").length === 2`, 10*time.Second),
		chromedp.WaitVisible(chromedp.ID("sale-form")),
	)
	if got := eval[string](b, `sessionStorage.getItem("posbridge.token")`); got != token {
		t.Errorf("sessionStorage token = %q, want the signed-in token", got)
	}
	cards := b.text("#terminal-list")
	for _, want := range []string{"DEMO000001", "DEMO000002", "Demo counter (online)", "Demo back office (offline)", "lane 1", "lane 2"} {
		if !strings.Contains(cards, want) {
			t.Errorf("terminal cards lack %q:\n%s", want, cards)
		}
	}
	b.shot("terminals")

	// Keyboard: Enter on a terminal's "Close batch" opens the dialog with
	// the safe choice focused; Escape cancels and focus returns.
	b.step("keyboard dialog", 10*time.Second,
		chromedp.Focus(chromedp.CSS(`article[data-sn="DEMO000002"] button.close-batch`)),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.ID("close-dialog")),
		poll(`document.activeElement.id === "close-cancel"`, 5*time.Second),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotVisible(chromedp.ID("close-dialog")),
		poll(`document.activeElement.matches('article[data-sn="DEMO000002"] button.close-batch')`, 5*time.Second),
	)

	// 3. A sale on the offline terminal waits on it, so its batch cannot
	// close: the dialog shows the agent's reason and the batch stays open.
	b.step("sale on the offline terminal", 30*time.Second,
		chromedp.SetValue(chromedp.ID("sale-terminal"), "DEMO000002"),
		chromedp.SendKeys(chromedp.ID("sale-amount"), "5.00"),
		chromedp.Click(chromedp.ID("sale-submit")),
		poll(`document.querySelector('#payment-rows tr[data-order^=CONSOLE][data-state="on_terminal"]') &&
			document.querySelector('article[data-sn="DEMO000002"]').textContent.includes("Busy")`, 20*time.Second),
		chromedp.Click(chromedp.CSS(`article[data-sn="DEMO000002"] button.close-batch`)),
		chromedp.WaitVisible(chromedp.ID("close-dialog")),
		poll(`document.getElementById("close-count")?.textContent === "0 transactions"`, 10*time.Second),
		chromedp.Click(chromedp.ID("close-confirm")),
		poll(`document.getElementById("close-error").textContent.startsWith("Terminal is busy: payment CONSOLE") &&
			!document.getElementById("close-confirm").disabled`, 20*time.Second),
	)
	b.shotView("close-refused-busy")
	b.step("cancel refused close", 10*time.Second,
		chromedp.Click(chromedp.ID("close-cancel")),
		chromedp.WaitNotVisible(chromedp.ID("close-dialog")),
		poll(`document.querySelector('article[data-sn="DEMO000002"] h4').textContent === "Open batch 1"`, 5*time.Second),
	)

	// 3b. CodePay stops answering (HTTP 500 to every order.query): the
	// banner says since when and that payments are kept, the terminal cards
	// say it, and a sale being sent shows "Waiting for CodePay" rather than
	// a bare "Sending". Then CodePay answers again and the banner goes.
	if !eval[bool](b, `document.getElementById("codepay-banner").hidden &&
		document.querySelector('article[data-sn="DEMO000001"] .codepay-state').textContent === "CodePay reachable"`) {
		t.Fatal("the CodePay banner shows, or the card does not say CodePay is reachable, while it answers")
	}
	simAdmin(t, "POST", simURL+"/sim/faults", `{"method":"order.query","kind":"http500","count":100000}`)
	simAdmin(t, "POST", simURL+"/sim/faults", `{"method":"wisehub.cloud.pay.order","kind":"slow","count":1,"delay_ms":5000}`)
	b.step("CodePay unreachable", 15*time.Second,
		poll(`!document.getElementById("codepay-banner").hidden &&
			/^CodePay cannot be reached since \S.* \(\d+ failed calls? in a row\)\. Every payment is kept/.test(document.getElementById("codepay-banner-text").textContent) &&
			document.getElementById("codepay-banner-detail").textContent.includes("500") &&
			document.querySelector('article[data-sn="DEMO000001"] .codepay-state').textContent === "CodePay unreachable" &&
			document.querySelector('article[data-sn="DEMO000002"] .online-state').textContent === "Offline (last known)"`, 10*time.Second),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("sale-amount").value = ""`),
		chromedp.SetValue(chromedp.ID("sale-terminal"), "DEMO000001"),
		chromedp.SendKeys(chromedp.ID("sale-amount"), "3.51"),
		chromedp.Click(chromedp.ID("sale-submit")),
		poll(`[...document.querySelectorAll('#payment-rows tr[data-order^=CONSOLE][data-state="sending"]')].some(r =>
			r.querySelector(".badge").textContent === "Waiting for CodePay" && r.textContent.includes("3.51 USD"))`, 4*time.Second),
	)
	b.shot("codepay-unreachable")
	simAdmin(t, "DELETE", simURL+"/sim/faults", "")
	b.step("CodePay answers again", 30*time.Second,
		poll(`document.getElementById("codepay-banner").hidden &&
			document.querySelector('article[data-sn="DEMO000001"] .codepay-state').textContent === "CodePay reachable" &&
			document.querySelector('article[data-sn="DEMO000002"] .online-state').textContent === "Offline"`, 10*time.Second),
		// The sale sent during the outage ends (declined: .51) and frees the terminal.
		poll(`[...document.querySelectorAll('#payment-rows tr[data-order^=CONSOLE][data-state="declined"]')].some(r => r.textContent.includes("3.51 USD")) &&
			document.querySelector('article[data-sn="DEMO000001"] .facts dd').textContent === "Idle"`, 20*time.Second),
	)

	// 4. A test sale of 12.34 on DEMO000001, followed live to approved.
	b.step("test sale", 45*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.__states = [];
			new MutationObserver(() => {
				for (const r of document.querySelectorAll("#payment-rows tr[data-order^=CONSOLE]")) window.__states.push(r.dataset.order + " " + r.dataset.state);
			}).observe(document.getElementById("payment-rows"), {childList: true, subtree: true, attributes: true});`),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("sale-amount").value = ""`),
		chromedp.SetValue(chromedp.ID("sale-terminal"), "DEMO000001"),
		chromedp.SendKeys(chromedp.ID("sale-amount"), "12.34"),
		chromedp.Click(chromedp.ID("sale-submit")),
		poll(`[...document.querySelectorAll("#payment-rows tr[data-order^=CONSOLE]")].some(r =>
			r.dataset.state === "approved" && r.querySelector(".amount").textContent === "12.34 USD" &&
			r.textContent.includes("DEMO000001"))`, 40*time.Second),
		poll(`document.querySelector('article[data-sn="DEMO000001"] .batch-total').textContent === "12.34 USD"`, 10*time.Second),
	)
	orderNo := eval[string](b, `document.querySelector('#payment-rows tr[data-order^=CONSOLE][data-state="approved"]').dataset.order`)
	var states []string
	for _, s := range eval[[]string](b, `window.__states`) {
		if st, ok := strings.CutPrefix(s, orderNo+" "); ok && (len(states) == 0 || states[len(states)-1] != st) {
			states = append(states, st)
		}
	}
	if len(states) < 2 || states[len(states)-1] != "approved" {
		t.Errorf("the row of %s went through the states %v; want live updates ending in approved", orderNo, states)
	}
	if s := b.text("#sale-status"); !strings.Contains(s, orderNo) || !strings.Contains(s, "Approved") {
		t.Errorf("sale status = %q, want %s Approved", s, orderNo)
	}
	b.shot("sale-approved")

	// 4b. The sale's receipt: the customer copy as the agent lays it out,
	// then the merchant copy on 58 mm paper; Print prints it, and the print
	// stylesheet shows the receipt alone.
	b.step("receipt", 20*time.Second,
		chromedp.Click(chromedp.CSS(`tr[data-order="`+orderNo+`"] button.show-receipt`)),
		chromedp.WaitVisible(chromedp.ID("receipt-dialog")),
		poll(`document.getElementById("receipt-text").textContent.includes("TOTAL")`, 10*time.Second),
	)
	receiptText := b.text("#receipt-text")
	for _, want := range []string{"posbridge demo store", "SALE", orderNo, "DEMO000001", "476173******0119", "TOTAL", "12.34 USD", "APPROVED", "CUSTOMER COPY"} {
		if !strings.Contains(receiptText, want) {
			t.Errorf("receipt lacks %q:\n%s", want, receiptText)
		}
	}
	if font := eval[string](b, `getComputedStyle(document.getElementById("receipt-text")).fontFamily`); !strings.Contains(font, "monospace") {
		t.Errorf("receipt font = %q, want a monospace font", font)
	}
	b.shotView("receipt")
	b.step("merchant copy on 58 mm", 10*time.Second,
		chromedp.Click(chromedp.ID("receipt-copy-merchant")),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("receipt-width"); s.value = "32"; s.dispatchEvent(new Event("change")); })()`),
		poll(`(() => { const t = document.getElementById("receipt-text").textContent;
			const ls = t.split("\n");
			return t.includes("MERCHANT COPY") && !t.includes("CUSTOMER COPY") && ls.every(l => l.length <= 32) && ls.some(l => l.length === 32); })()`, 10*time.Second),
	)
	b.step("print", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.__printed = 0; window.print = () => { window.__printed++; };`),
		chromedp.Click(chromedp.ID("receipt-print")),
		poll(`window.__printed === 1`, 5*time.Second),
	)
	if _, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	const printed = "main:hidden header.topbar:hidden body>footer:hidden #receipt-h:hidden #receipt-width:hidden #receipt-print:hidden #receipt-text:shown"
	if got := eval[string](b, `["main", "header.topbar", "body>footer", "#receipt-h", "#receipt-width", "#receipt-print", "#receipt-text"].map(s =>
		s + ":" + (document.querySelector(s).getClientRects().length > 0 ? "shown" : "hidden")).join(" ")`); got != printed {
		t.Errorf("printing shows more than the receipt: %s, want %s", got, printed)
	}
	b.shotView("receipt-print")
	if _, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: ""}); err != nil {
		t.Fatal(err)
	}
	b.step("close receipt", 10*time.Second,
		chromedp.Click(chromedp.ID("receipt-done")),
		chromedp.WaitNotVisible(chromedp.ID("receipt-dialog")),
		poll(`!document.body.classList.contains("receipt-open")`, 5*time.Second),
	)

	// 5. Close batch: the dialog shows what is about to be closed.
	b.step("open close dialog", 20*time.Second,
		chromedp.Click(chromedp.CSS(`article[data-sn="DEMO000001"] button.close-batch`)),
		chromedp.WaitVisible(chromedp.ID("close-dialog")),
		poll(`document.getElementById("close-count")?.textContent === "1 transaction" &&
			document.getElementById("close-total")?.textContent === "12.34 USD"`, 10*time.Second),
	)
	if h := b.text("#close-h"); !strings.Contains(h, "Close batch 1 of Demo counter (online)") {
		t.Errorf("close dialog heading = %q", h)
	}
	b.shotView("close-dialog")

	// Confirm twice in a row: the button is disabled while the call runs, so
	// only one batch closes.
	if disabled := eval[bool](b, `(() => { const c = document.getElementById("close-confirm"); c.click(); c.click(); return c.disabled; })()`); !disabled {
		t.Error("the confirm button is not disabled while batch.close runs")
	}
	b.step("report", 30*time.Second,
		chromedp.WaitVisible(chromedp.ID("report-verdict")),
	)
	for sel, want := range map[string]string{
		"#report-h":           "Batch 1 of DEMO000001 closed",
		"#report-local-count": "1",
		"#report-local-total": "12.34 USD",
		"#report-verdict":     "Local and CodePay totals agree",
	} {
		if got := b.text(sel); strings.TrimSpace(got) != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	if sub := b.text("#report-sub"); !strings.Contains(sub, "Demo counter (online). Opened ") || !strings.Contains(sub, "through the console") {
		t.Errorf("report subtitle = %q", sub)
	}
	if eval[bool](b, `document.getElementById("close-dialog").open`) {
		t.Error("the confirmation dialog is still open after the close")
	}
	b.shotView("batch-report")

	// 6. Batch history: exactly one closed batch of DEMO000001; its report and CSV.
	b.step("history", 20*time.Second,
		chromedp.Click(chromedp.ID("report-done")),
		chromedp.WaitNotVisible(chromedp.ID("report-dialog")),
		poll(`document.querySelector('#history-rows tr[data-sn="DEMO000001"][data-batch="1"]')?.textContent.includes("Totals agree") &&
			document.querySelector('article[data-sn="DEMO000001"] h4').textContent === "Open batch 2"`, 10*time.Second),
		chromedp.ScrollIntoView(chromedp.ID("history")),
	)
	if n := eval[int](b, `document.querySelectorAll('#history-rows tr[data-sn="DEMO000001"][data-state="closed"]').length`); n != 1 {
		t.Errorf("history shows %d closed batches of DEMO000001, want exactly 1", n)
	}
	b.shot("history")
	b.step("history report", 20*time.Second,
		chromedp.Click(chromedp.CSS(`#history-rows tr[data-sn="DEMO000001"][data-batch="1"] button.view-batch`)),
		chromedp.WaitVisible(chromedp.ID("report-dialog")),
		poll(`document.getElementById("report-h").textContent === "Batch 1 of DEMO000001"`, 5*time.Second),
	)

	begins := chromedp.BrowserEvents(bctx, browser.DownloadWillBegin)
	progress := chromedp.BrowserEvents(bctx, browser.DownloadProgress)
	b.step("download", 10*time.Second, chromedp.Click(chromedp.ID("report-download")))
	var suggested string
	for ev, err := range begins {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		suggested = ev.SuggestedFilename
		break
	}
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download to finish: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			break
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("download cancelled")
		}
	}
	if suggested != "posbridge-batch-DEMO000001-1.csv" {
		t.Errorf("download file name = %q", suggested)
	}
	got, err := os.ReadFile(filepath.Join(downloads, suggested))
	if err != nil {
		t.Fatalf("read downloaded CSV: %v", err)
	}
	for _, want := range []string{"terminal,DEMO000001\n", "batch_no,1\n", "local_count,1\n", "local_total,12.34\n", "cloud_total,12.34\n",
		"comparison,agree\n", "differences,Local and CodePay totals agree\n", orderNo + ",sale,approved,12.34,0.00,USD,"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("downloaded CSV lacks %q:\n%s", want, got)
		}
	}
	// The same URL from Go with the token gives the same file.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"console/batches/DEMO000001/1.csv", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(direct, got) {
		t.Errorf("GET the CSV with the token: %d, equal to the download: %v", resp.StatusCode, bytes.Equal(direct, got))
	}
	b.step("downloaded", 5*time.Second,
		poll(`document.getElementById("report-status").textContent === "Saved posbridge-batch-DEMO000001-1.csv to your downloads."`, 5*time.Second))
	b.shotView("history-report-downloaded")

	b.step("close report", 10*time.Second,
		chromedp.Click(chromedp.ID("report-done")),
		chromedp.WaitNotVisible(chromedp.ID("report-dialog")),
	)

	// 6b. CodePay answers batch.close with data {} (the spec's batch.close
	// sample): the report says the totals were not compared, never that
	// they agree, and never shows "null".
	simAdmin(t, "POST", simURL+"/sim/mode", `{"batch_shape":"empty"}`)
	closeFromConsole(b, 2, "0 transactions", "not_compared")
	if got := strings.TrimSpace(b.text("#report-verdict")); got != "CodePay returned no totals — not compared" {
		t.Errorf("not compared verdict = %q", got)
	}
	if body := b.text("#report-body"); strings.Contains(body, "null") || strings.Contains(body, "agree") {
		t.Errorf("not compared report shows %q", body)
	}
	if cloud := eval[[]string](b, `[...document.querySelectorAll("#report-body table.compare tbody td:last-child")].map(td => td.textContent)`); strings.Join(cloud, ",") != "—,—,—" {
		t.Errorf("CodePay column of a not compared report = %q, want dashes", cloud)
	}
	b.shotView("batch-report-not-compared")
	b.step("history not compared", 10*time.Second,
		chromedp.Click(chromedp.ID("report-done")),
		chromedp.WaitNotVisible(chromedp.ID("report-dialog")),
		poll(`document.querySelector('#history-rows tr[data-sn="DEMO000001"][data-batch="2"]')?.textContent.includes("Not compared")`, 10*time.Second),
	)

	// 6c. CodePay has a sale posbridge never saw (made on the terminal by
	// another system) and answers totals with JSON numbers: the report
	// lists each difference.
	simAdmin(t, "POST", simURL+"/sim/mode", `{"batch_shape":"totals","amount_style":"number"}`)
	outsideSale(t, ctx, dataDir, simURL, "OUTSIDE-1", 500)
	closeFromConsole(b, 3, "0 transactions", "differ")
	verdict := b.text("#report-verdict")
	for _, want := range []string{"Local and CodePay totals differ:", "count: CodePay has 1 transactions, posbridge 0",
		"total: CodePay has 5.00 USD, posbridge 0.00 USD (difference 5.00)"} {
		if !strings.Contains(verdict, want) {
			t.Errorf("differ verdict lacks %q: %q", want, verdict)
		}
	}
	if strings.Contains(b.text("#report-body"), "null") {
		t.Error("the differ report shows null")
	}
	b.shotView("batch-report-differ")
	b.step("history differ", 10*time.Second,
		chromedp.Click(chromedp.ID("report-done")),
		chromedp.WaitNotVisible(chromedp.ID("report-dialog")),
		poll(`document.querySelector('#history-rows tr[data-sn="DEMO000001"][data-batch="3"]')?.textContent.includes("2 differences") &&
			document.querySelector('#history-rows tr[data-sn="DEMO000001"][data-batch="1"]')?.textContent.includes("Totals agree")`, 10*time.Second),
	)

	// 7. The agent restarts: the console shows it and reconnects by itself.
	stopDemo(t, demo)
	b.step("connection lost", 15*time.Second,
		poll(`document.getElementById("conn").dataset.state === "reconnecting" &&
			document.getElementById("conn-text").textContent.startsWith("Connection lost")`, 10*time.Second))
	b.shot("reconnecting")
	_, again, _, qrURL := startDemoQR(t, "demo2", addr, dataDir) // the QR step uses the restarted demo
	if again != token {
		t.Fatalf("the restarted demo has token %q, want the same token as before", again)
	}
	b.step("reconnected", 30*time.Second,
		poll(`document.getElementById("conn").dataset.state === "connected" &&
			document.querySelectorAll('#history-rows tr[data-state="closed"]').length === 3 &&
			document.querySelectorAll("#payment-rows tr[data-order^=CONSOLE]").length === 3`, 25*time.Second),
	)

	// 8. The same page on a tablet in portrait.
	b.step("tablet", 10*time.Second,
		chromedp.EmulateViewport(768, 1024),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
	)
	b.shot("tablet")
	b.step("desktop", 10*time.Second, chromedp.EmulateViewport(1280, 900))
	if _, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		// Reduced motion too: no colour transitions half-way in the capture.
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}, {Name: "prefers-reduced-motion", Value: "reduce"}},
	}); err != nil {
		t.Fatal(err)
	}
	b.shot("dark")

	// 8b. A wallet payment waiting for the customer: Show QR opens its code
	// large, with amount and expiry; the customer pays; the dialog says so.
	b.step("light again", 10*time.Second, chromedp.EmulateViewport(820, 1180))
	if _, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}, {Name: "prefers-reduced-motion", Value: "reduce"}},
	}); err != nil {
		t.Fatal(err)
	}
	qconn := dialWS(t, addr, token)
	wsCall(t, qconn, 1, "payment.create", map[string]any{"merchant_order_no": "CONSOLEQR1", "method": "qr", "amount": "5.00", "currency": "USD"})
	qconn.Close()
	b.step("show qr", 20*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`tr[data-order="CONSOLEQR1"] button.show-qr`)),
		chromedp.Click(chromedp.CSS(`tr[data-order="CONSOLEQR1"] button.show-qr`)),
		chromedp.WaitVisible(chromedp.CSS(`#qr-dialog img.qr-img`)),
		poll(`document.querySelector('#qr-dialog img.qr-img').naturalWidth > 0 && document.getElementById('qr-expiry').textContent.startsWith('Expires in')`, 10*time.Second),
	)
	if src := eval[string](b, `document.querySelector('#qr-dialog img.qr-img').src.slice(0, 26)`); src != "data:image/svg+xml;base64," {
		t.Errorf("QR image src starts %q", src)
	}
	if w := eval[float64](b, `document.querySelector('#qr-dialog img.qr-img').getBoundingClientRect().width`); w < 300 {
		t.Errorf("QR code is %.0f px wide on a tablet, too small to scan at arm's length", w)
	}
	if got := b.text("#qr-amount"); !strings.Contains(got, "5.00") || !strings.Contains(got, "CONSOLEQR1") {
		t.Errorf("#qr-amount = %q", got)
	}
	b.shotView("qr-code")
	simAdmin(t, http.MethodPost, qrURL+"/sim/payments/CONSOLEQR1/scan", "")
	b.step("qr paid", 20*time.Second,
		poll(`document.getElementById('qr-state').textContent.startsWith('Approved')`, 15*time.Second),
		chromedp.Click(chromedp.ID("qr-done")),
		chromedp.WaitNotVisible(chromedp.ID("qr-dialog")),
	)

	// 8c. A payment link for a phone order, created from the console: its
	// QR code opens the payment page.
	b.step("payment link", 20*time.Second,
		chromedp.ScrollIntoView(chromedp.ID("link-form")),
		chromedp.SendKeys(chromedp.ID("link-amount"), "7.25"),
		chromedp.SendKeys(chromedp.ID("link-description"), "phone order 42"),
		chromedp.Click(chromedp.ID("link-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#qr-dialog img.qr-img`)),
		poll(`document.getElementById('qr-h').textContent === 'Scan to open the payment page'`, 10*time.Second),
	)
	if got := b.text("#qr-amount"); !strings.Contains(got, "7.25") {
		t.Errorf("link #qr-amount = %q", got)
	}
	if got := b.text("#link-status"); !strings.Contains(got, "created: http") {
		t.Errorf("#link-status = %q", got)
	}
	b.step("link dialog closed", 10*time.Second,
		chromedp.Click(chromedp.ID("qr-done")),
		chromedp.WaitNotVisible(chromedp.ID("qr-dialog")),
	)

	// 9. Sign out forgets the token.
	b.step("sign out", 10*time.Second,
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("token")),
		poll(`sessionStorage.getItem("posbridge.token") === null && document.getElementById("app").hidden`, 5*time.Second),
	)
	b.shot("signed-out")

	if v := eval[[]string](b, `window.__csp`); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations: %v", v)
	}
	if errs := b.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
	if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the console test ran out of its 120 s")
	}
}

// closeFromConsole closes DEMO000001's batch batchNo through the console
// (its open batch holds count) and waits for the report with comparison.
func closeFromConsole(b *browserRun, batchNo int, count, comparison string) {
	b.t.Helper()
	b.step(fmt.Sprintf("close batch %d (%s)", batchNo, comparison), 30*time.Second,
		poll(fmt.Sprintf(`document.querySelector('article[data-sn="DEMO000001"] h4').textContent === "Open batch %d"`, batchNo), 10*time.Second),
		chromedp.Click(chromedp.CSS(`article[data-sn="DEMO000001"] button.close-batch`)),
		chromedp.WaitVisible(chromedp.ID("close-dialog")),
		poll(fmt.Sprintf(`document.getElementById("close-count")?.textContent === %q`, count), 10*time.Second),
		chromedp.Click(chromedp.ID("close-confirm")),
		poll(fmt.Sprintf(`document.getElementById("report-h").textContent === "Batch %d of DEMO000001 closed" &&
			document.getElementById("report-verdict")?.dataset.comparison === %q`, batchNo, comparison), 20*time.Second),
	)
}

// outsideSale makes an approved sale at the demo's CodePay emulator
// straight from the test, signed with the demo's keys: a payment CodePay
// knows and posbridge's journal does not.
func outsideSale(t *testing.T, ctx context.Context, dataDir, simURL, orderNo string, minor int64) {
	t.Helper()
	kb, err := os.ReadFile(filepath.Join(dataDir, "codepay-sim", "app_private_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := codepay.ParsePrivateKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := os.ReadFile(filepath.Join(dataDir, "codepay-sim", "gateway_public_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := codepay.ParsePublicKey(gb)
	if err != nil {
		t.Fatal(err)
	}
	c, err := codepay.New(codepay.Config{GatewayURL: simURL, AppID: demoAppID, MerchantNo: demoMerchantNo, StoreNo: demoStoreNo,
		PrivateKey: priv, GatewayPublicKey: gw})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateOrder(ctx, codepay.CreateOrderRequest{TerminalSN: demoOnline, MerchantOrderNo: orderNo, TransType: codepay.TransSale,
		Amount: money.Amount{Minor: minor, Currency: money.MustCurrency("USD")}, Description: "outside posbridge", Expires: time.Minute}); err != nil {
		t.Fatalf("sale outside posbridge: %v", err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		o, err := c.QueryOrder(ctx, orderNo, "")
		if err == nil && o.TransStatus == codepay.StatusCompleted {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outside sale did not complete: %+v, %v", o, err)
		}
	}
}
