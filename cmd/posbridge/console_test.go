package main

import (
	"bytes"
	"context"
	"encoding/json"
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
// live terminals, a test sale and its receipt (both copies, printed), a
// cancel, a void and a refund from a payment's detail (each confirmed in
// words first, each recorded with source console), closing the batch
// through the confirmation dialog, the report (its breakdown adds up) and
// its print view, batch history and the CSV download, the day's totals and
// their print view, search by order number, amount and card digits with a
// date range and paging, a payment that needs attention (its alert raised
// live: the banner, the row's marker, listed again after a reconnect, marked
// handled with a note), and the tablet layout (820 px) without sideways
// scrolling. Screenshots of each, at desktop and tablet sizes, go to
// artifacts/console.
func TestConsoleInBrowser(t *testing.T) {
	chromium := findChromium(t)
	started := time.Now()
	addr := freePort(t)
	dataDir := filepath.Join(t.TempDir(), "demo")
	demo, token, simURL, firstQR := startDemoQR(t, "demo", addr, dataDir)
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

	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
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
	moneyHelpers(b)

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

	// 3c. A POS queues a sale behind it; the manager cancels it from its
	// detail. The confirmation says what will happen, focus starts on Back;
	// the sale leaves the queue cancelled.
	qconn0 := dialWS(t, addr, token)
	wsCall(t, qconn0, 1, "payment.create", map[string]any{"merchant_order_no": "POS-42", "type": "sale", "terminal_sn": "DEMO000002", "amount": "4.00", "currency": "USD"})
	qconn0.Close()
	b.step("queued sale", 10*time.Second, poll(`document.querySelector('#payment-rows tr[data-order="POS-42"]')?.dataset.state === "queued"`, 5*time.Second))
	cancelFromConsole(b, "POS-42", "Cancel POS-42 of 4.00 USD, waiting in the queue of terminal Demo back office (offline) (DEMO000002). It is taken out of the queue; nothing is charged.",
		"cancel-queued-confirm")

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

	// 4c. A second sale, voided from its detail: the confirmation names the
	// amount, the card and what happens; the void runs on the terminal, and
	// the open batch neither counts the voided sale under Sales nor adds the
	// void: its breakdown adds up to the total, the void listed apart.
	voided := testSale(b, "2.00")
	openDetail(b, voided)
	// Its History: what the journal holds, oldest first, from the console's
	// acceptance to the terminal's approval.
	b.step("history", 10*time.Second,
		chromedp.Click(chromedp.CSS("#pay-history > summary")),
		poll(`(() => {
			const items = [...document.querySelectorAll("#pay-history-list li")];
			return items.length >= 3 && items[0].dataset.kind === "created" && items[0].textContent.includes("accepted from console") &&
				items.some(li => li.querySelector(".history-what").textContent === "On terminal → Approved");
		})()`, 10*time.Second),
	)
	b.shotView("payment-history")
	b.step("void asks first", 10*time.Second,
		chromedp.Click(chromedp.ID("pay-void")),
		chromedp.WaitVisible(chromedp.ID("pay-confirm")),
	)
	wantText(t, "void confirmation", b.text("#pay-confirm-text"), "Void "+voided+": 2.00 USD paid with the Visa card ending 0119.",
		"is sent to terminal Demo counter (online) (DEMO000001)", "the customer is not charged")
	b.shotView("void-confirm")
	b.step("void", 30*time.Second,
		chromedp.Click(chromedp.ID("pay-confirm-go")),
		poll(`/^Void VOID\d+ of 2\.00 USD: Approved\.$/.test(document.getElementById("pay-status").textContent)`, 25*time.Second),
		poll(`[...document.querySelectorAll('#payment-rows tr[data-order^=VOID]')].some(r => r.dataset.state === "approved" &&
			r.querySelector(".col-source").textContent === "console")`, 5*time.Second),
		poll(`document.querySelector('article[data-sn="DEMO000001"] .batch-total').textContent === "12.34 USD" &&
			document.querySelector('article[data-sn="DEMO000001"] .line-void')?.textContent.includes("2.00 USD")`, 10*time.Second),
	)
	closeDetail(b, voided)
	if got := eval[string](b, `[...document.querySelectorAll('article[data-sn="DEMO000001"] table.breakdown tr')].map(r => r.textContent).join("|")`); got !=
		"LineCountAmount|Sales112.34 USD|Total112.34 USD|Not in the total|Voids (the voided sale is left out too)12.00 USD" {
		t.Errorf("open batch breakdown = %q", got)
	}

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
	if got := eval[string](b, `[...document.querySelectorAll("#report-body table.breakdown tr")].map(r => r.textContent).join("|")`); got !=
		"LineCountAmount|Sales112.34 USD|Total112.34 USD|Not in the total|Voids (the voided sale is left out too)12.00 USD" {
		t.Errorf("report breakdown = %q", got)
	}
	b.shotView("batch-report")

	// 5b. Print: the report alone, black on white, headed by the store.
	printBatchReport(b, "batch-report-print")

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
	b.step("tag batch 1's row", 5*time.Second, chromedp.Evaluate[chromedp.Void](
		`document.querySelector('#history-rows tr[data-sn="DEMO000001"][data-batch="1"]').posbridgeKept = true`))
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
		"local_cashback,0.00\n", "local_sale,1,12.34\n", "local_void,1,2.00\n",
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
	if !eval[bool](b, `document.querySelector('#history-rows tr[data-sn="DEMO000001"][data-batch="1"]').posbridgeKept === true`) {
		t.Error("batch 1's history row was re-created when batch 2 closed; unchanged rows must keep their elements")
	}

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

	// 6d. An empty batch, CodePay answering its totals as "0": the CodePay
	// column has the currency's decimals, as posbridge's, and no "null".
	simAdmin(t, "POST", simURL+"/sim/mode", `{"batch_shape":"totals","amount_style":"string"}`)
	closeFromConsole(b, 4, "0 transactions", "agree")
	if got := eval[[]string](b, `[...document.querySelectorAll("#report-body table.compare tbody tr")].map(r => r.textContent)`); strings.Join(got, "|") !=
		"Transactions00|Total0.00 USD0.00 USD|Tips0.00 USD—" {
		t.Errorf("empty batch report = %q", got)
	}
	noNull(b, "the empty batch report")
	b.shotView("batch-report-empty")
	b.step("close empty report", 10*time.Second,
		chromedp.Click(chromedp.ID("report-done")),
		chromedp.WaitNotVisible(chromedp.ID("report-dialog")),
	)

	// 6e. A refund of part of the 12.34 sale (its batch is closed, so it is
	// refunded, not voided). Too much is refused in the agent's words; 5.00
	// is confirmed with amount, card and way, runs on the terminal and is
	// recorded with source console.
	openDetail(b, orderNo)
	b.step("refund form", 10*time.Second,
		chromedp.Click(chromedp.ID("pay-refund-open")),
		chromedp.WaitVisible(chromedp.ID("refund-amount")),
		poll(`document.activeElement.id === "refund-amount" && document.getElementById("refund-amount").value === "12.34" &&
			document.getElementById("refund-via").value === "terminal"`, 5*time.Second),
		chromedp.SetValue(chromedp.ID("refund-amount"), "20.00"),
		chromedp.KeyEvent(kb.Enter), // Enter reviews the refund
		chromedp.WaitVisible(chromedp.ID("pay-confirm")),
		chromedp.Click(chromedp.ID("pay-confirm-go")),
		poll(`document.getElementById("pay-error").textContent.startsWith("Amount: ") && !document.getElementById("refund-amount").closest("fieldset").hidden`, 10*time.Second),
	)
	if got := b.text("#pay-error"); !strings.Contains(got, "12.34") {
		t.Errorf("refusal of too large a refund = %q, want the agent's reason with the amount", got)
	}
	b.shotView("refund-refused")
	b.step("refund review", 10*time.Second,
		chromedp.SetValue(chromedp.ID("refund-amount"), "5.00"),
		chromedp.Click(chromedp.ID("refund-review")),
		chromedp.WaitVisible(chromedp.ID("pay-confirm")),
		poll(`document.activeElement.id === "pay-confirm-back"`, 5*time.Second),
	)
	wantText(t, "refund confirmation", b.text("#pay-confirm-text"),
		"Refund 5.00 USD of "+orderNo+" to the Visa card ending 0119 on terminal Demo counter (online) (DEMO000001): the refund is queued there and the customer presents the card to receive it.")
	b.shotView("refund-confirm")
	b.step("refund", 30*time.Second,
		chromedp.Click(chromedp.ID("pay-confirm-go")),
		poll(`/^Refund REFUND\d+ of 5\.00 USD: Approved\.$/.test(document.getElementById("pay-status").textContent)`, 25*time.Second),
		poll(`[...document.querySelectorAll('#payment-rows tr[data-order^=REFUND]')].some(r => r.dataset.state === "approved" &&
			r.querySelector(".col-source").textContent === "console" && r.querySelector(".amount").textContent === "5.00 USD")`, 5*time.Second),
	)
	b.shotView("refund-done")
	closeDetail(b, orderNo)
	refundNo := eval[string](b, `document.querySelector('#payment-rows tr[data-order^=REFUND]').dataset.order`)
	conn := dialWS(t, addr, token)
	var refund struct{ Source, Type, State, OrigMerchantOrderNo string }
	if err := json.Unmarshal(wsCall(t, conn, 1, "payment.get", map[string]any{"merchant_order_no": refundNo}), &refund); err != nil ||
		refund.Source != "console" || refund.Type != "refund" || refund.State != "approved" {
		t.Errorf("the console's refund in the journal = %+v, %v; want an approved refund with source console", refund, err)
	}
	var void struct{ Source string }
	voidNo := eval[string](b, `document.querySelector('#payment-rows tr[data-order^=VOID]').dataset.order`)
	if err := json.Unmarshal(wsCall(t, conn, 2, "payment.get", map[string]any{"merchant_order_no": voidNo}), &void); err != nil || void.Source != "console" {
		t.Errorf("the console's void has source %q, %v; want console", void.Source, err)
	}

	// 6f. Today's totals: the 12.34 sale and the 5.00 refund count (the
	// voided sale and its void do not), for the store and per terminal;
	// the breakdown adds up. Print day prints them alone.
	// The day is the one these payments were made on (the test may run
	// across midnight: then the exact figures are not checked).
	days := map[string]bool{}
	for i, no := range []string{orderNo, voided, voidNo, refundNo} {
		var p struct {
			CreatedAt time.Time `json:"created_at"`
		}
		if err := json.Unmarshal(wsCall(t, conn, 3+i, "payment.get", map[string]any{"merchant_order_no": no}), &p); err != nil {
			t.Fatal(err)
		}
		days[p.CreatedAt.Local().Format(time.DateOnly)] = true
	}
	if len(days) == 1 {
		var day string
		for d := range days {
			day = d
		}
		b.step("day totals", 15*time.Second,
			chromedp.ScrollIntoView(chromedp.ID("today")),
			chromedp.SetValue(chromedp.ID("today-date"), day), // the day these payments were made
			poll(`document.querySelector("#today-body .day-total")?.textContent === "7.34 USD" &&
				document.querySelector('#today-body tr[data-sn="DEMO000001"] .day-terminal-total')?.textContent === "7.34 USD"`, 10*time.Second),
		)
		if got := eval[string](b, `[...document.querySelectorAll("#today-body .day-store table.breakdown tr")].map(r => r.textContent).join("|")`); got !=
			"LineCountAmount|Sales112.34 USD|Refunds1-5.00 USD|Total27.34 USD|Not in the total|Voids (the voided sale is left out too)12.00 USD" {
			t.Errorf("day breakdown = %q", got)
		}
		if day == time.Now().Format(time.DateOnly) {
			wantText(t, "day heading", b.text("#today-h"), "Today's totals")
		}
	} else {
		t.Logf("the payments straddle midnight (%v): the day's figures are not checked", days)
		b.step("day totals", 5*time.Second, chromedp.ScrollIntoView(chromedp.ID("today")))
	}
	noNull(b, "the page with day totals")
	b.shot("day-totals")
	printDay(b, "day-print")

	// 6g. Search over the whole journal: by order number, amount, a card's
	// last 4 digits; a date range; paging. More payments first (wallet
	// payments waiting for the customer), so the day needs two pages of 10.
	for i := 1; i <= 6; i++ {
		wsCall(t, conn, 10+i, "payment.create", map[string]any{"merchant_order_no": fmt.Sprintf("PAGE%02d", i), "method": "qr", "amount": "1.00", "currency": "USD"})
	}
	conn.Close()
	search(b, "by order number", orderNo, "", "", 1)
	if got := eval[string](b, `document.querySelector("#payment-rows tr").dataset.order`); got != orderNo {
		t.Errorf("search by order number found %s", got)
	}
	wantText(t, "search status", b.text("#payments-status"), "1 payment found for “"+orderNo+"”")
	search(b, "by amount", "12.34", "", "", 1)
	search(b, "by order number's beginning", "PAGE", "", "", 6)
	search(b, "by the card's last 4 digits", "0119", "", "", -1)
	if !eval[bool](b, `[...document.querySelectorAll("#payment-rows tr")].every(r => r.querySelector(".col-card").textContent.endsWith("0119"))`) {
		t.Error("the search for 0119 found a payment without that card")
	}
	b.shot("search-card")
	// Every payment of this journal was made between the test's start and now.
	b.step("ten per page", 5*time.Second, chromedp.SetValue(chromedp.ID("page-size"), "10"))
	search(b, "the test's days, first page", "", started.Format(time.DateOnly), time.Now().Format(time.DateOnly), 10)
	b.step("next page", 15*time.Second,
		chromedp.Click(chromedp.ID("payments-more")),
		poll(`document.querySelectorAll("#payment-rows tr").length === 13 && document.getElementById("payments-more").hidden`, 10*time.Second),
	)
	b.shot("search-paged")
	search(b, "a day without payments", "", "2001-01-01", "2001-01-31", 0)
	wantText(t, "empty search", b.text("#payments-empty"), "No payments match this search.")
	b.step("refused search", 10*time.Second,
		chromedp.SetValue(chromedp.ID("search-q"), "#?!"),
		chromedp.Click(chromedp.ID("search-submit")),
		poll(`document.getElementById("payments-error").textContent.startsWith("Search refused: Search: want an order number")`, 5*time.Second),
	)
	b.step("clear search", 10*time.Second,
		chromedp.SetValue(chromedp.ID("page-size"), "50"),
		chromedp.Click(chromedp.ID("search-clear")),
		poll(`document.getElementById("payments-status").textContent.startsWith("Latest payments, updated live") &&
			document.querySelectorAll("#payment-rows tr").length === 13 && document.getElementById("payments-error").textContent === ""`, 10*time.Second),
	)

	// 6h. A payment that needs attention, raised while the page is open:
	// the QR wallet refuses a quick pay while the payer is still entering
	// the PIN (the emulator's pending_as_refusal mode), posbridge declines
	// it and keeps watching, and when the payer confirms (the emulator's
	// pin action), the payment gets an alert. The banner appears without a reload, with the count and the
	// alert's text; the payment's row is marked.
	if !eval[bool](b, `document.getElementById("alerts").hidden && !document.querySelector("#payment-rows tr.has-alert, #payment-rows .alert-mark")`) {
		t.Fatal("the alert banner or a row's alert marker shows before any payment has an alert")
	}
	simAdmin(t, "POST", firstQR+"/sim/mode", `{"pending_as_refusal":true}`)
	simAdmin(t, "POST", firstQR+"/sim/payments/QRALERT1/script", `{"outcome":"pin","pin_delay_ms":3600000}`)
	b.step("same page", 5*time.Second, chromedp.Evaluate[chromedp.Void](`window.__samePage = true`))
	aconn := dialWS(t, addr, token)
	wsCall(t, aconn, 1, "payment.create", map[string]any{"merchant_order_no": "QRALERT1", "method": "qr", "qr_mode": "quick",
		"customer_code": "134567890123456789", "amount": "3.52", "currency": "USD"})
	b.step("the quick pay declined", 20*time.Second,
		poll(`document.querySelector('#payment-rows tr[data-order="QRALERT1"]')?.dataset.state === "declined" &&
			document.getElementById("alerts").hidden`, 15*time.Second))
	simAdmin(t, "POST", firstQR+"/sim/payments/QRALERT1/pin", "") // the payer confirms after all
	b.step("alert raised live", 45*time.Second,
		chromedp.WaitVisible(chromedp.ID("alerts")),
		poll(`document.getElementById("alerts-count").textContent === "1 payment needs attention" &&
			document.querySelectorAll("#alerts-list li").length === 1 &&
			document.querySelector('#alerts-list li[data-order="QRALERT1"] .alert-text')?.textContent.startsWith("Paid after it was declined: the QR wallet shows this order paid") &&
			document.querySelector('#payment-rows tr[data-order="QRALERT1"]')?.dataset.state === "declined"`, 10*time.Second),
		poll(`document.querySelector('#payment-rows tr[data-order="QRALERT1"][data-alert="open"] .alert-mark')?.getAttribute("aria-label") === "Needs attention" &&
			document.querySelectorAll("#payment-rows tr.has-alert").length === 1`, 5*time.Second),
	)
	simAdmin(t, "POST", firstQR+"/sim/mode", `{"pending_as_refusal":false}`)
	if !eval[bool](b, `window.__samePage === true`) {
		t.Error("the page reloaded to show the alert")
	}
	wantText(t, "the banner's alert", b.text(`#alerts-list li[data-order="QRALERT1"]`), "QRALERT1", "3.52 USD", "QR wallet")
	if got := eval[string](b, `document.querySelector("#alerts .alerts-head").getAttribute("role") + " " +
		[...document.querySelectorAll("#alerts-list button")].map(e => e.tabIndex >= 0 && !e.disabled).join()`); got != "alert true,true" {
		t.Errorf("the banner's role and its buttons' focusability = %q, want \"alert true,true\"", got)
	}
	var alerts struct {
		Open     int
		Payments []struct {
			MerchantOrderNo string `json:"merchant_order_no"`
		}
	}
	if err := json.Unmarshal(wsCall(t, aconn, 2, "alert.list", map[string]any{}), &alerts); err != nil || alerts.Open != 1 ||
		len(alerts.Payments) != 1 || alerts.Payments[0].MerchantOrderNo != "QRALERT1" {
		t.Errorf("alert.list = %+v, %v; want QRALERT1 alone", alerts, err)
	}
	aconn.Close()
	b.step("top of the page", 5*time.Second, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	b.shotView("alert-banner")
	b.step("the marked row", 5*time.Second, chromedp.ScrollIntoView(chromedp.CSS(`#payment-rows tr[data-order="QRALERT1"]`)))
	b.shotView("alert-row")
	layoutFits(b, "desktop")

	// 7. The agent restarts: the console shows it and reconnects by itself.
	stopDemo(t, demo)
	b.step("forget the banner", 5*time.Second, chromedp.Evaluate[chromedp.Void](
		`document.getElementById("alerts-list").replaceChildren(); document.getElementById("alerts").hidden = true`))
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
			document.querySelectorAll('#history-rows tr[data-state="closed"]').length === 4 &&
			document.querySelectorAll("#payment-rows tr[data-order^=CONSOLE]").length === 4`, 25*time.Second),
	)
	// The banner was emptied while the agent was away (the page itself
	// never does): on reconnecting, alert.list brings the open alert back.
	b.step("alerts after reconnecting", 15*time.Second,
		poll(`document.getElementById("alerts").hidden === false &&
			document.getElementById("alerts-count").textContent === "1 payment needs attention" &&
			document.querySelector('#alerts-list li[data-order="QRALERT1"]') !== null`, 10*time.Second),
	)

	// 8. The same page on a tablet in portrait (820 px): the essential
	// columns of the payments and batch tables fit without scrolling
	// sideways, a long notice takes two lines at most; search, a refund's
	// confirmation and the print views at that size.
	b.step("tablet", 10*time.Second,
		chromedp.EmulateViewport(820, 1180),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
	)
	// A sale waiting on the offline terminal carries a long notice.
	oconn := dialWS(t, addr, token)
	wsCall(t, oconn, 1, "payment.create", map[string]any{"merchant_order_no": "OFFLINE1", "type": "sale", "terminal_sn": "DEMO000002", "amount": "3.00", "currency": "USD"})
	oconn.Close()
	b.step("long notice", 15*time.Second,
		poll(`document.querySelector('#payment-rows tr[data-order="OFFLINE1"] .detail')?.title.startsWith("Terminal DEMO000002 is offline.")`, 10*time.Second))
	layoutFits(b, "tablet")
	b.shot("tablet")
	b.step("tablet top", 5*time.Second, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	b.shotView("tablet-alert-banner")

	// 8a. The alert marked handled, on the tablet: the banner's button opens
	// the payment's detail at a confirmation that says what happens and
	// asks for a note; Back returns to the detail, whose own button asks
	// again. A note the agent refuses is shown as its other refusals are;
	// then the banner goes, the row's marker too, and the detail says when
	// the alert was handled. The alert's text stays on the payment.
	b.step("mark handled asks first", 10*time.Second,
		chromedp.Click(chromedp.CSS(`#alerts-list li[data-order="QRALERT1"] button.handle-alert`)),
		chromedp.WaitVisible(chromedp.ID("payment-dialog")),
		chromedp.WaitVisible(chromedp.ID("handle-note")),
		poll(`document.getElementById("pay-h").textContent.endsWith(" QRALERT1") && document.activeElement.id === "handle-note"`, 5*time.Second),
	)
	wantText(t, "mark handled confirmation", b.text("#pay-confirm-text"), "Mark the alert on QRALERT1 (3.52 USD) handled",
		"The alert stays on the payment; it is no longer listed as needing attention.")
	wantText(t, "the detail's alert", b.text("#pay-alert"), "Needs attention: Paid after it was declined: the QR wallet shows this order paid")
	b.shotView("tablet-alert-handle-confirm")
	b.step("mark handled: back", 10*time.Second,
		chromedp.Click(chromedp.ID("pay-confirm-back")),
		chromedp.WaitNotVisible(chromedp.ID("pay-confirm")),
		poll(`document.activeElement.id === "pay-handle"`, 5*time.Second),
		chromedp.Click(chromedp.ID("pay-handle")),
		chromedp.WaitVisible(chromedp.ID("handle-note")),
		poll(`document.activeElement.id === "handle-note" && document.getElementById("handle-note").value === ""`, 5*time.Second),
	)
	b.step("note refused", 15*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("handle-note").value = "x".repeat(201)`),
		chromedp.Click(chromedp.ID("pay-confirm-go")),
		poll(`document.getElementById("pay-error").textContent === "Note: at most 200 characters of text" &&
			!document.getElementById("pay-confirm").hidden && !document.getElementById("handle-note").disabled &&
			!document.getElementById("alerts").hidden`, 10*time.Second),
	)
	// Rows are updated in place: a row that did not change keeps its element
	// (a click on it is never lost to another row's update).
	b.step("tag OFFLINE1's row", 5*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#payment-rows tr[data-order="OFFLINE1"]').posbridgeKept = true`))
	b.step("mark handled", 20*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("handle-note").value = ""`),
		chromedp.SendKeys(chromedp.ID("handle-note"), "Sale recorded by hand"),
		chromedp.KeyEvent(kb.Enter), // Enter in the note confirms
		poll(`document.getElementById("pay-status").textContent === "The alert on QRALERT1 is marked handled; it stays on the payment." &&
			document.getElementById("pay-error").textContent === ""`, 15*time.Second),
		chromedp.WaitNotVisible(chromedp.ID("alerts")),
		poll(`/^Handled at \S/.test(document.getElementById("pay-alert-handled")?.textContent) &&
			document.getElementById("pay-alert").textContent.includes("Paid after it was declined") && !document.getElementById("pay-handle") &&
			document.querySelector('#payment-rows tr[data-order="QRALERT1"]:not([data-alert]):not(.has-alert)') !== null &&
			!document.querySelector('#payment-rows tr[data-order="QRALERT1"] .alert-mark')`, 10*time.Second),
	)
	b.shotView("tablet-alert-handled")
	closeDetail(b, "QRALERT1")
	if kept := eval[bool](b, `document.querySelector('#payment-rows tr[data-order="OFFLINE1"]').posbridgeKept === true`); !kept {
		t.Error("OFFLINE1's row was re-created when QRALERT1's row changed; unchanged rows must keep their elements")
	}
	hconn := dialWS(t, addr, token)
	var handled struct {
		Alert          string    `json:"alert"`
		AlertHandledAt time.Time `json:"alert_handled_at"`
	}
	if err := json.Unmarshal(wsCall(t, hconn, 1, "payment.get", map[string]any{"merchant_order_no": "QRALERT1"}), &handled); err != nil ||
		!strings.HasPrefix(handled.Alert, "Paid after it was declined") || handled.AlertHandledAt.IsZero() {
		t.Errorf("QRALERT1 after Mark handled = %+v, %v; want its alert kept, with alert_handled_at", handled, err)
	}
	if err := json.Unmarshal(wsCall(t, hconn, 2, "alert.list", map[string]any{}), &alerts); err != nil || alerts.Open != 0 || len(alerts.Payments) != 0 {
		t.Errorf("alert.list after Mark handled = %+v, %v; want none open", alerts, err)
	}
	hconn.Close()
	// That sale is on the terminal: cancelling it withdraws it at CodePay.
	cancelFromConsole(b, "OFFLINE1", "Cancel OFFLINE1 of 3.00 USD, waiting on terminal Demo back office (offline) (DEMO000002). The order is withdrawn from the terminal at CodePay; nothing is charged.",
		"tablet-cancel-confirm")
	search(b, "tablet search", "0119", "", "", -1)
	b.shot("tablet-search")
	openDetail(b, orderNo)
	b.step("tablet refund review", 10*time.Second,
		chromedp.Click(chromedp.ID("pay-refund-open")),
		chromedp.WaitVisible(chromedp.ID("refund-amount")),
		chromedp.SetValue(chromedp.ID("refund-amount"), "1.00"),
		chromedp.Click(chromedp.ID("refund-review")),
		chromedp.WaitVisible(chromedp.ID("pay-confirm")),
	)
	wantText(t, "tablet refund confirmation", b.text("#pay-confirm-text"), "Refund 1.00 USD of "+orderNo+" to the Visa card ending 0119")
	b.shotView("tablet-refund-confirm")
	b.step("tablet refund not confirmed", 10*time.Second,
		chromedp.Click(chromedp.ID("pay-confirm-back")),
		poll(`document.activeElement.id === "refund-amount"`, 5*time.Second),
	)
	closeDetail(b, orderNo)
	b.step("tablet clear search", 10*time.Second, chromedp.Click(chromedp.ID("search-clear")),
		poll(`document.getElementById("payments-status").textContent.startsWith("Latest payments")`, 5*time.Second))
	b.step("tablet report", 20*time.Second,
		chromedp.ScrollIntoView(chromedp.ID("history")),
		chromedp.Click(chromedp.CSS(`#history-rows tr[data-sn="DEMO000001"][data-batch="1"] button.view-batch`)),
		chromedp.WaitVisible(chromedp.ID("report-dialog")),
	)
	b.shotView("tablet-batch-report")
	printBatchReport(b, "tablet-batch-report-print")
	b.step("tablet report closed", 10*time.Second, chromedp.Click(chromedp.ID("report-done")), chromedp.WaitNotVisible(chromedp.ID("report-dialog")))
	printDay(b, "tablet-day-print")
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
		t.Fatal("the console test ran out of its 240 s")
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

// wantText fails the test unless got holds each of wants.
func wantText(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s = %q, want it to hold %q", what, got, w)
		}
	}
}

// noNull fails the test when the page shows the words null, undefined or
// NaN: a value the page failed to write.
func noNull(b *browserRun, where string) {
	b.t.Helper()
	if bad := eval[string](b, `(document.body.innerText.match(/\b(null|undefined|NaN)\b/) || [""])[0]`); bad != "" {
		b.t.Errorf("%s shows %q", where, bad)
	}
}

// testSale starts a test sale on DEMO000001 from the form and returns its
// order number once it is approved.
func testSale(b *browserRun, amount string) string {
	b.t.Helper()
	b.step("test sale of "+amount, 30*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("sale-amount").value = ""; document.getElementById("sale-status").textContent = ""`),
		chromedp.SetValue(chromedp.ID("sale-terminal"), "DEMO000001"),
		chromedp.SendKeys(chromedp.ID("sale-amount"), amount),
		chromedp.Click(chromedp.ID("sale-submit")),
		poll(`/^Test sale CONSOLE\d+ of `+regexp.QuoteMeta(amount)+` USD on DEMO000001: Approved/.test(document.getElementById("sale-status").textContent)`, 25*time.Second),
	)
	return eval[string](b, `document.getElementById("sale-status").textContent.match(/CONSOLE\d+/)[0]`)
}

// openDetail opens a payment's detail from its row.
func openDetail(b *browserRun, orderNo string) {
	b.t.Helper()
	row := `#payment-rows tr[data-order="` + orderNo + `"] button.open-payment`
	b.step("open "+orderNo, 10*time.Second,
		chromedp.ScrollIntoView(chromedp.CSS(row)),
		chromedp.Click(chromedp.CSS(row)),
		chromedp.WaitVisible(chromedp.ID("payment-dialog")),
		poll(`document.getElementById("pay-h").textContent.endsWith(" `+orderNo+`")`, 5*time.Second),
	)
}

// closeDetail closes the payment detail; focus returns to the payment's row.
func closeDetail(b *browserRun, orderNo string) {
	b.t.Helper()
	b.step("close "+orderNo, 10*time.Second,
		chromedp.Click(chromedp.ID("pay-done")),
		chromedp.WaitNotVisible(chromedp.ID("payment-dialog")),
		poll(`document.activeElement.matches('#payment-rows tr[data-order="`+orderNo+`"] button.open-payment')`, 5*time.Second),
	)
}

// printMedia switches the page to print media (true) or back to screen.
func printMedia(b *browserRun, on bool) {
	b.t.Helper()
	media := ""
	if on {
		media = "print"
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: media}); err != nil {
		b.t.Fatal(err)
	}
}

// shown reports, for each selector, whether its element is laid out
// ("sel:shown" or "sel:hidden"), space separated.
func shown(b *browserRun, sels ...string) string {
	b.t.Helper()
	js, _ := json.Marshal(sels)
	return eval[string](b, string(js)+`.map(s => s + ":" + (document.querySelector(s)?.getClientRects().length > 0 ? "shown" : "hidden")).join(" ")`)
}

// printBatchReport prints the open batch report: Print calls the browser's print
// once, and the print stylesheet shows the report alone, headed by the
// store's name, without the dialog's buttons.
func printBatchReport(b *browserRun, shot string) {
	b.t.Helper()
	b.step("print report", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.__printed = 0; window.print = () => { window.__printed++; };`),
		chromedp.Click(chromedp.ID("report-print")),
		poll(`window.__printed === 1`, 5*time.Second),
	)
	printMedia(b, true)
	const want = "main:hidden header.topbar:hidden #report-h:shown #report-body:shown #report-print-head:shown #report-download:hidden #report-done:hidden"
	if got := shown(b, "main", "header.topbar", "#report-h", "#report-body", "#report-print-head", "#report-download", "#report-done"); got != want {
		b.t.Errorf("printing the report shows %s, want %s", got, want)
	}
	wantText(b.t, "report print heading", b.text("#report-print-head"), "posbridge demo store", "Batch report: batch ", "Printed ")
	b.shotView(shot)
	printMedia(b, false)
}

// printDay prints the day totals: the section alone, headed by the store's
// name, without the day picker and buttons.
func printDay(b *browserRun, shot string) {
	b.t.Helper()
	b.step("print day", 10*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.__printed = 0; window.print = () => { window.__printed++; };`),
		chromedp.ScrollIntoView(chromedp.ID("today-print")),
		chromedp.Click(chromedp.ID("today-print")),
		poll(`window.__printed === 1 && document.body.classList.contains("print-day")`, 5*time.Second),
	)
	printMedia(b, true)
	const want = "#today:shown #today-body:shown #today-print-head:shown #today-form:hidden #terminals:hidden #payments:hidden #history:hidden header.topbar:hidden body>footer:hidden"
	if got := shown(b, "#today", "#today-body", "#today-print-head", "#today-form", "#terminals", "#payments", "#history", "header.topbar", "body>footer"); got != want {
		b.t.Errorf("printing the day shows %s, want %s", got, want)
	}
	wantText(b.t, "day print heading", b.text("#today-print-head"), "posbridge demo store", "Day totals of ", "Printed ")
	b.shot(shot)
	printMedia(b, false)
	b.step("after print", 5*time.Second,
		chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event("afterprint"))`),
		poll(`!document.body.classList.contains("print-day")`, 5*time.Second),
	)
}

// search runs a payment search from the form and waits for its answer:
// want rows (-1: at least one).
func search(b *browserRun, name, query, from, to string, want int) {
	b.t.Helper()
	rows := fmt.Sprintf(`document.querySelectorAll("#payment-rows tr").length === %d`, want)
	if want < 0 {
		rows = `document.querySelectorAll("#payment-rows tr").length > 0`
	}
	b.step("search "+name, 15*time.Second,
		chromedp.ScrollIntoView(chromedp.ID("payment-filters")),
		// Typed as a person would leave them (chromedp.SetValue cannot empty a search field).
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById("search-q").value = %q;
			document.getElementById("filter-from").value = %q; document.getElementById("filter-to").value = %q`, query, from, to)),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("payments-status").textContent = ""`),
		chromedp.Click(chromedp.ID("search-submit")),
		poll(`/ found for /.test(document.getElementById("payments-status").textContent) && `+rows, 10*time.Second),
	)
}

// layoutFits checks the payments and batch tables: no sideways scrolling,
// the essential payment columns shown, no reason or notice over two lines,
// and a page no wider than the window.
func layoutFits(b *browserRun, size string) {
	b.t.Helper()
	problems := eval[string](b, `(() => {
		const out = [];
		for (const id of ["payment-table", "history-table"]) {
			const wrap = document.getElementById(id).closest(".table-wrap");
			if (wrap.scrollWidth > wrap.clientWidth + 1) {
				out.push(id + " scrolls sideways (" + wrap.scrollWidth + " > " + wrap.clientWidth + "): " +
					[...document.querySelectorAll("#" + id + " thead th")].map(th => th.textContent + "=" + Math.round(th.getBoundingClientRect().width)).join(" "));
			}
		}
		for (const c of ["col-time", "col-order", "col-type", "col-amount", "col-state", "col-card"]) {
			if (document.querySelector("#payment-table thead th." + c).getClientRects().length === 0) out.push(c + " is hidden");
		}
		for (const d of document.querySelectorAll("#payment-rows .detail")) {
			const lh = parseFloat(getComputedStyle(d).lineHeight), hgt = d.getBoundingClientRect().height;
			if (hgt > 2 * lh + 2) out.push("a reason takes " + Math.round(hgt / lh) + " lines: " + d.textContent);
		}
		if (document.documentElement.scrollWidth > window.innerWidth) out.push("the page is " + document.documentElement.scrollWidth + " px wide");
		return out.join("; ");
	})()`)
	if problems != "" {
		b.shot("failed-layout-" + size)
		b.t.Errorf("%s layout: %s", size, problems)
	}
}

// cancelFromConsole cancels a payment from its detail, checking the
// confirmation says confirm, and waits until its row says cancelled.
func cancelFromConsole(b *browserRun, orderNo, confirm, shot string) {
	b.t.Helper()
	openDetail(b, orderNo)
	b.step("cancel "+orderNo+" asks first", 10*time.Second,
		chromedp.Click(chromedp.ID("pay-cancel")),
		chromedp.WaitVisible(chromedp.ID("pay-confirm")),
		poll(`document.activeElement.id === "pay-confirm-back"`, 5*time.Second),
	)
	wantText(b.t, "cancel confirmation", b.text("#pay-confirm-text"), confirm)
	b.shotView(shot)
	b.step("cancel "+orderNo, 20*time.Second,
		chromedp.Click(chromedp.ID("pay-confirm-go")),
		poll(`document.getElementById("pay-status").textContent === "`+orderNo+` is cancelled; nothing was charged."`, 15*time.Second),
		poll(`document.querySelector('#payment-rows tr[data-order="`+orderNo+`"]').dataset.state === "cancelled"`, 5*time.Second),
	)
	closeDetail(b, orderNo)
}

// moneyHelpers checks, in the browser, the page's helpers for amounts:
// they rewrite and add decimal strings exactly, never through a float.
func moneyHelpers(b *browserRun) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	fails, err := chromedp.Run(ctx, chromedp.Evaluate[string](`import("/static/ui.js").then(m => {
		const out = [];
		const eq = (what, got, want) => { if (got !== want) out.push(what + " = " + JSON.stringify(got) + ", want " + JSON.stringify(want)); };
		eq("withScale 0", m.withScale("0", 2), "0.00");
		eq("withScale 12.3", m.withScale("12.3", 2), "12.30");
		eq("withScale 12.345", m.withScale("12.345", 2), "12.345");
		eq("withScale JPY", m.withScale("500", 0), "500");
		eq("isZero", [m.isZero("0.00"), m.isZero("-0"), m.isZero("0.01")].join(), "true,true,false");
		eq("isNegative", [m.isNegative("-5.00"), m.isNegative("-0.00"), m.isNegative("5")].join(), "true,false,false");
		eq("add", m.addAmounts("12.34", "1.66"), "14.00");
		eq("add 0.1+0.2", m.addAmounts("0.1", "0.2"), "0.3");
		eq("add large", m.addAmounts("999999999999.99", "0.01"), "1000000000000.00");
		eq("add mixed scale", m.addAmounts("0.05", "0.5"), "0.55");
		eq("last4", m.last4("476173******0119"), "0119");
		eq("field words", m.apiErrorText({ message: "amount: refund exceeds the original amount 12.34", data: { field: "amount" } }),
			"Amount: refund exceeds the original amount 12.34");
		return out.join("; ");
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("money helpers: %v", err)
	}
	if fails != "" {
		b.t.Errorf("money helpers: %s", fails)
	}
}
