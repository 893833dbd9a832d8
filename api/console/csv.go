package console

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/money"
)

// csvPaymentHeader names the columns of the payment rows.
var csvPaymentHeader = []string{
	"merchant_order_no", "type", "state", "amount", "tip_amount", "currency",
	"auth_code", "ref_no", "card_brand", "masked_pan", "entry_mode", "created_at",
}

// serveCSV answers GET /console/batches/{sn}/{batch_no}.csv.
func (h *handler) serveCSV(w http.ResponseWriter, r *http.Request) {
	if h.cfg.CheckToken == nil || !h.cfg.CheckToken(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="posbridge"`)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("unauthorized: missing or invalid token\n"))
		return
	}
	if h.cfg.Agent == nil {
		http.Error(w, "service unavailable: batches are not available", http.StatusServiceUnavailable)
		return
	}
	sn := r.PathValue("sn")
	batchNo, ok := parseBatchPath(sn, r.PathValue("file"))
	if !ok {
		notFound(w, "not found: want /console/batches/SN/BATCH_NO.csv")
		return
	}
	body, err := h.batchCSV(r, sn, batchNo)
	if err != nil {
		if errors.Is(err, agent.ErrNotFound) || errors.Is(err, agent.ErrInvalidParams) {
			if !h.terminalKnown(sn) {
				notFound(w, fmt.Sprintf("terminal %s does not exist", sn))
				return
			}
			notFound(w, fmt.Sprintf("batch %d of %s does not exist", batchNo, sn))
			return
		}
		h.log.Error("export batch csv", "terminal_sn", sn, "batch_no", batchNo, "err", err)
		http.Error(w, "internal error: the batch could not be exported (details in the agent's log)", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/csv; charset=utf-8")
	hd.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="posbridge-batch-%s-%d.csv"`, sn, batchNo))
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// terminalKnown reports whether sn is a configured terminal.
func (h *handler) terminalKnown(sn string) bool {
	for _, t := range h.cfg.Agent.Terminals() {
		if t.SN == sn {
			return true
		}
	}
	return false
}

// batchCSV renders one batch: a header section of "field,value" rows, an
// empty row, then one row per payment under csvPaymentHeader.
func (h *handler) batchCSV(r *http.Request, sn string, batchNo int64) ([]byte, error) {
	rep, err := h.cfg.Agent.BatchReportOf(r.Context(), sn, batchNo)
	if err != nil {
		return nil, fmt.Errorf("get batch report: %w", err)
	}
	ps, err := h.cfg.Agent.BatchPayments(r.Context(), sn, batchNo)
	if err != nil {
		return nil, fmt.Errorf("get batch payments: %w", err)
	}
	return renderCSV(rep, ps)
}

// renderCSV writes a batch report and its payments as CSV.
func renderCSV(rep agent.BatchReport, ps []agent.Payment) ([]byte, error) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	row := func(cells ...string) {
		for i, c := range cells {
			cells[i] = csvSafe(c)
		}
		_ = cw.Write(cells)
	}
	closedAt := ""
	if rep.ClosedAt != nil {
		closedAt = timeText(*rep.ClosedAt)
	}
	row("terminal", rep.TerminalSN)
	row("batch_no", strconv.FormatInt(rep.BatchNo, 10))
	row("state", rep.State)
	row("opened_at", timeText(rep.OpenedAt))
	row("closed_at", closedAt)
	row("closed_by", rep.ClosedBy)
	row("currency", rep.Local.Currency)
	row("local_count", strconv.Itoa(rep.Local.Count))
	row("local_total", rep.Local.TotalAmount)
	row("local_tips", rep.Local.Tips)
	if rep.Local.Cashback != "" { // absent in reports stored before it existed
		row("local_cashback", rep.Local.Cashback)
	}
	// The breakdown as the console shows it: the local_TYPE rows of sale,
	// refund (negative), completion and cashback, with local_tips and
	// local_cashback, add up to local_total; local_void and local_preauth
	// are not in it. A report stored before that rule listed voids and
	// pre-auths among the types; they come out the same way.
	for _, typ := range []string{agent.TypeSale, agent.TypeRefund, agent.TypeVoid, agent.TypePreAuth, agent.TypeCompletion, agent.TypeCashback} {
		t, ok := rep.Local.ByType[typ]
		if !ok {
			t, ok = rep.Local.NotInTotal[typ]
		}
		if ok {
			row("local_"+typ, strconv.Itoa(t.Count), t.Amount)
		}
	}
	for _, m := range sortedKeys(rep.Local.ByMethod) { // card, qr, va, link: present when not all card
		t := rep.Local.ByMethod[m]
		row("local_method_"+m, strconv.Itoa(t.Count), t.Amount)
	}
	cloudCount, cloudTotal := "", ""
	if rep.Cloud != nil {
		if rep.Cloud.Count != nil {
			cloudCount = strconv.FormatInt(*rep.Cloud.Count, 10)
		}
		cloudTotal = amountText(rep.Cloud.TotalAmount, rep.Local.Currency)
	}
	rep.FillComparison()
	row("comparison", rep.Comparison)
	row("cloud_count", cloudCount)
	row("cloud_total", cloudTotal)
	row("cloud_settle_list", rep.CloudSettleList)
	// The three cases, in the words of the console and the CLI: agree (then
	// only notes follow), differ (one row per difference), not compared
	// (its one line, agent.NotComparedLine, is among the differences).
	switch {
	case rep.State != "closed":
		row("differences", "batch still open; compared when it closes")
	case rep.Comparison == agent.ComparisonAgree:
		row("differences", agent.AgreeLine)
	}
	if rep.State == "closed" {
		for _, d := range rep.Differences {
			row("difference", d)
		}
	}
	_ = cw.Write(nil)
	row(append([]string(nil), csvPaymentHeader...)...)
	for _, p := range ps {
		var brand, pan, entry string
		if p.Card != nil {
			brand, pan, entry = p.Card.Brand, p.Card.MaskedPAN, p.Card.EntryMode
		}
		row(p.MerchantOrderNo, p.Type, p.State, p.Amount, p.TipAmount, p.Currency,
			p.AuthCode, p.RefNo, brand, pan, entry, timeText(p.CreatedAt))
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return nil, fmt.Errorf("write csv: %w", err)
	}
	return buf.Bytes(), nil
}

// csvSafe defuses spreadsheet formula injection: a cell starting with
// = + - @ (or a tab or carriage return) is prefixed with a single quote.
func csvSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// amountText writes CodePay's amount text with the currency's decimals,
// as the console shows it ("0" → "0.00" for USD); text that is not an
// amount of the currency stays as CodePay sent it.
func amountText(s, currency string) string {
	cur, err := money.LookupCurrency(currency)
	if err != nil {
		return s
	}
	minor, err := money.ParseLenient(s, cur)
	if err != nil {
		return s
	}
	return money.Format(minor, cur)
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// parseBatchPath checks the {sn} and {file} segments of a CSV URL and
// returns the batch number of "NO.csv": 1 or more, decimal digits only.
func parseBatchPath(sn, file string) (int64, bool) {
	numText, ok := strings.CutSuffix(file, ".csv")
	if !ok || numText == "" || !safeName(sn) {
		return 0, false
	}
	for _, c := range numText {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(numText, 10, 64)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// safeName reports whether s can be a terminal SN in a file name: 1–64 of
// letters, digits, '-' and '_'.
func safeName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
