package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// Batch errors.
var (
	// ErrTerminalBusy means a payment is on the terminal; the batch cannot close now.
	ErrTerminalBusy = errors.New("terminal is busy")
	// ErrBatchCloseRefused means CodePay refused batch.close; the batch stays open.
	ErrBatchCloseRefused = errors.New("batch close refused")
	// ErrBatchCloseUnknown means the outcome of batch.close is unknown; the batch
	// stays "closing" (no payment starts on the terminal) until a retry settles it.
	ErrBatchCloseUnknown = errors.New("batch close outcome unknown")
	// ErrNotAdjustable means the payment cannot take a tip adjustment.
	ErrNotAdjustable = errors.New("tip cannot be adjusted")
)

// TypeTotal is a count and an amount.
type TypeTotal struct {
	Count  int
	Amount string
}

// BatchTotals are a batch's totals as posbridge's journal has them.
//
// Count and TotalAmount follow the cloud's rule so the two compare: approved
// sales, completions and cashback sales that were not voided count positive
// (amount + tip + cashback), approved refunds negative; voids and pre-auths
// are not in them.
//
// The breakdown adds up to the total, so a report reads like a till slip:
// the counts in ByType add up to Count, and the amounts in ByType plus Tips
// plus Cashback add up to TotalAmount. ByType holds what each type adds:
// sales, completions and cashback sales that were not voided with their
// amount alone (tip and cash apart), refunds as a negative amount. What is
// approved but outside the total is in NotInTotal.
type BatchTotals struct {
	Count       int
	TotalAmount string
	Currency    string
	ByType      map[string]TypeTotal
	Tips        string
	// Cashback is the cash handed out with the cashback sales in the total.
	Cashback string
	// NotInTotal lists the approved payments outside the total: "void"
	// (each void with the amount it voided; the voided sale is left out of
	// ByType too) and "preauth" (the amount held, not captured). nil (absent
	// on the wire) when there are none.
	NotInTotal map[string]TypeTotal
	// ByRoute splits Count/TotalAmount by provider (codepay, bindo,
	// qrwallet, idpay).
	ByRoute map[string]TypeTotal
	// ByMethod splits Count/TotalAmount by payment method (card, qr, va);
	// nil (absent on the wire) when the batch holds card payments only.
	ByMethod map[string]TypeTotal
}

// CloudTotals are the totals CodePay returned from batch.close.
type CloudTotals struct {
	Count       *int64
	TotalAmount string
}

// Values of BatchReport.Comparison (closed batches only).
const (
	// ComparisonAgree: CodePay returned totals and they equal the journal's.
	ComparisonAgree = "agree"
	// ComparisonDiffer: CodePay returned totals and at least one differs.
	ComparisonDiffer = "differ"
	// ComparisonNotCompared: CodePay returned no totals that can be
	// compared (the spec's batch.close answers data {}), so nothing was.
	ComparisonNotCompared = "not_compared"
)

// NotComparedLine is the differences line of a report whose totals were
// not compared, and AgreeLine what consoles and the CLI say of a report
// whose totals agree; all of them use the same words.
const (
	NotComparedLine = "CodePay returned no totals — not compared"
	AgreeLine       = "Local and CodePay totals agree"
)

// BatchReport is a terminal batch: the open one with running totals, or a
// closed one with local and cloud totals and their differences. A closed
// report is kept in the journal as JSON (storedReport, batchjson.go); the
// WebSocket API's batch report is api/wsapi.BatchReport.
type BatchReport struct {
	TerminalSN  string
	BatchNo     int64
	State       string
	OpenedAt    time.Time
	ClosedAt    *time.Time
	ClosedBy    string
	Local       BatchTotals
	Cloud       *CloudTotals
	Differences []string
	Payments    []string
	// Comparison is ComparisonAgree, ComparisonDiffer or
	// ComparisonNotCompared once the batch is closed; "" before.
	// Cloud is nil exactly when it is ComparisonNotCompared.
	Comparison string
	// CloudSettleList is the settle_list CodePay's answer carried (the
	// Java SDK's BatchCloseResponse field), one line, at most 4 KiB.
	CloudSettleList string
}

func (a *Agent) terminalCurrency(sn string) (money.Currency, error) {
	switch {
	case sn == RouteQRWallet && a.cfg.QRWallet != nil:
		return a.cfg.QRWallet.Currency(), nil // the QR wallet's pseudo-desk
	case sn == RouteIDPay && a.cfg.IDPay != nil:
		return money.MustCurrency("IDR"), nil // the VA/QRIS gateway's pseudo-desk
	case sn == RouteCodePayLink && a.cfg.Link != nil:
		return a.cfg.LinkCurrency, nil // the payment links' pseudo-desk
	case sn == RouteBindoLink && a.cfg.BindoLink != nil:
		return a.cfg.LinkCurrency, nil // the Bindo payment links' pseudo-desk
	}
	t, err := a.reg.Lookup(sn)
	if err != nil {
		return money.Currency{}, fieldErr("terminal_sn", "unknown terminal %q", sn)
	}
	return t.Currency, nil
}

// localTotals sums approved payments (a batch's, or a day's: report.day)
// by the one rule of BatchTotals: the total as the cloud counts it, and a
// breakdown that adds up to it.
func localTotals(ps []store.Payment, cur money.Currency) BatchTotals {
	return totalsWith(ps, nil, cur)
}

// totalsWith is localTotals where earlier holds, by order number, the
// originals created before ps's period of the approved voids in ps: such a
// void counts as the reversal of its original, on its own day (day reports;
// a batch always holds a void with its original).
func totalsWith(ps []store.Payment, earlier map[string]*store.Payment, cur money.Currency) BatchTotals {
	voided := map[string]bool{}
	for _, p := range ps {
		if p.Type == TypeVoid && p.State == StateApproved {
			voided[p.OrigMerchantOrderNo] = true
		}
	}
	var t totalsAcc
	for i := range ps {
		p := &ps[i]
		if p.State != StateApproved {
			continue
		}
		switch {
		case countsInTotal(p.Type):
			if voided[p.MerchantOrderNo] {
				continue // neither the sale nor its void is in the total
			}
			t.tips += p.TipMinor
			t.cashback += p.CashbackMinor
			t.count(p, p.AmountMinor, p.AmountMinor+p.TipMinor+p.CashbackMinor)
		case p.Type == TypeRefund:
			t.count(p, -p.AmountMinor, -p.AmountMinor)
		default: // void, preauth
			if orig := earlier[p.OrigMerchantOrderNo]; p.Type == TypeVoid && orig != nil && countsInTotal(orig.Type) {
				t.tips -= orig.TipMinor
				t.cashback -= orig.CashbackMinor
				t.count(p, -orig.AmountMinor, -(orig.AmountMinor + orig.TipMinor + orig.CashbackMinor))
				continue
			}
			t.outside.add(p.Type, p.AmountMinor)
		}
	}
	out := BatchTotals{
		Count: t.n, TotalAmount: money.Format(t.total, cur), Currency: cur.Code,
		Tips: money.Format(t.tips, cur), Cashback: money.Format(t.cashback, cur),
		ByType: t.byType.totals(cur), ByRoute: t.byRoute.totals(cur),
	}
	if len(t.outside) > 0 {
		out.NotInTotal = t.outside.totals(cur)
	}
	if len(t.byMethod) > 1 || (len(t.byMethod) == 1 && t.byMethod[MethodCard] == nil) {
		out.ByMethod = t.byMethod.totals(cur)
	}
	return out
}

// countsInTotal reports whether a payment of type typ adds to a total when
// approved (a void of it takes it out again).
func countsInTotal(typ string) bool {
	return typ == TypeSale || typ == TypeCompletion || typ == TypeCashback
}

// totalsAcc accumulates localTotals in minor units.
type totalsAcc struct {
	n                         int
	total, tips, cashback     int64
	byType, byRoute, byMethod accMap
	outside                   accMap // void, preauth
}

// count adds p to the total: signed is what it adds to TotalAmount, typed
// what it adds to its ByType line (signed without tip and cash).
func (t *totalsAcc) count(p *store.Payment, typed, signed int64) {
	t.n++
	t.total += signed
	t.byType.add(p.Type, typed)
	route := p.Route
	if route == "" {
		route = RouteCodePay
	}
	t.byRoute.add(route, signed)
	method := MethodCard
	if md, ok := methodOf(p); ok {
		method = md.Method
	}
	t.byMethod.add(method, signed)
}

// acc is a count and a sum in minor units.
type acc struct {
	n   int
	sum int64
}

// accMap is an acc per key (type, route, method).
type accMap map[string]*acc

func (m *accMap) add(key string, amount int64) {
	if *m == nil {
		*m = accMap{}
	}
	a := (*m)[key]
	if a == nil {
		a = &acc{}
		(*m)[key] = a
	}
	a.n++
	a.sum += amount
}

// totals formats m; an empty map is {} (not nil).
func (m accMap) totals(cur money.Currency) map[string]TypeTotal {
	out := make(map[string]TypeTotal, len(m))
	for k, v := range m {
		out[k] = TypeTotal{Count: v.n, Amount: money.Format(v.sum, cur)}
	}
	return out
}

func (a *Agent) report(ctx context.Context, b *store.Batch) (BatchReport, error) {
	if b.State == store.BatchClosed && b.ReportJSON != "" {
		r, err := decodeReport(b.ReportJSON)
		if err != nil {
			return BatchReport{}, err
		}
		r.FillComparison()
		return r, nil
	}
	cur, err := a.terminalCurrency(b.TerminalSN)
	if err != nil {
		return BatchReport{}, err
	}
	ps, err := a.db.BatchPayments(ctx, b.ID)
	if err != nil {
		return BatchReport{}, err
	}
	r := BatchReport{
		TerminalSN: b.TerminalSN, BatchNo: b.BatchNo, State: b.State, OpenedAt: b.OpenedAt.UTC(),
		ClosedBy: b.ClosedBy, Local: localTotals(ps, cur), Differences: []string{}, Payments: []string{},
	}
	for _, p := range ps {
		r.Payments = append(r.Payments, p.MerchantOrderNo)
	}
	return r, nil
}

// BatchGet returns the terminal's current batch with its running totals.
func (a *Agent) BatchGet(ctx context.Context, sn string) (BatchReport, error) {
	if _, err := a.terminalCurrency(sn); err != nil {
		return BatchReport{}, err
	}
	b, err := a.db.CurrentBatch(ctx, sn)
	if err != nil {
		return BatchReport{}, fmt.Errorf("get batch: %w", err)
	}
	return a.report(ctx, b)
}

// BatchList returns batches newest first (all terminals when sn is "").
func (a *Agent) BatchList(ctx context.Context, sn string, limit int) ([]BatchReport, error) {
	if sn != "" {
		if _, err := a.terminalCurrency(sn); err != nil {
			return nil, err
		}
	}
	bs, err := a.db.ListBatches(ctx, sn, limit)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	out := make([]BatchReport, 0, len(bs))
	for i := range bs {
		r, err := a.report(ctx, &bs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// BatchReportOf returns one batch by number.
func (a *Agent) BatchReportOf(ctx context.Context, sn string, batchNo int64) (BatchReport, error) {
	b, err := a.db.GetBatch(ctx, sn, batchNo)
	if errors.Is(err, store.ErrNotFound) {
		return BatchReport{}, fmt.Errorf("%w: batch %d of %s", ErrNotFound, batchNo, sn)
	}
	if err != nil {
		return BatchReport{}, err
	}
	return a.report(ctx, b)
}

// BatchClose closes the terminal's batch at CodePay and locally; by names who
// asked (ws, cli, console, ecr). It refuses while a payment is on the
// terminal. A close whose outcome is unknown leaves the batch "closing" (no
// payment starts on the terminal meanwhile); calling BatchClose again
// continues that same close and never closes a second local batch.
func (a *Agent) BatchClose(ctx context.Context, sn, by string) (BatchReport, error) {
	cur, err := a.terminalCurrency(sn)
	if err != nil {
		return BatchReport{}, err
	}
	w := a.workers[sn]
	if w == nil {
		return a.closeDeskLocally(ctx, sn, by)
	}
	if _, err := a.db.Active(ctx, sn); err == nil {
		return BatchReport{}, a.busyError(ctx, sn)
	}
	// The worker may be between two steps; give it a moment to let go.
	if !w.lockWithin(ctx, 3*time.Second) {
		return BatchReport{}, a.busyError(ctx, sn)
	}
	defer w.unlock()
	if _, err := a.db.Active(ctx, sn); err == nil {
		return BatchReport{}, a.busyError(ctx, sn)
	}
	retry, err := a.db.BatchClosing(ctx, sn)
	if err != nil {
		return BatchReport{}, fmt.Errorf("close batch: %w", err)
	}
	b, err := a.db.BeginBatchClose(ctx, sn, by)
	if err != nil {
		return BatchReport{}, fmt.Errorf("close batch: %w", err)
	}
	a.log.Info("closing batch", "terminal_sn", sn, "batch_no", b.BatchNo, "by", by)
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	resp, err := a.cp.CloseBatch(callCtx, sn)
	cancel()
	if err != nil {
		var ge *codepay.GatewayError
		if errors.As(err, &ge) {
			if aerr := a.db.AbortBatchClose(context.WithoutCancel(ctx), b.ID); aerr != nil {
				a.log.Error("reopen batch after refused close", "err", aerr)
			}
			a.wake(sn)
			return BatchReport{}, fmt.Errorf("%w: CodePay answered %s: %s; the batch stays open", ErrBatchCloseRefused, ge.Code, ge.Msg)
		}
		return BatchReport{}, fmt.Errorf("%w: %v; no payment starts on %s until the close is retried", ErrBatchCloseUnknown, err, sn)
	}
	r, err := a.report(ctx, b)
	if err != nil {
		return BatchReport{}, err
	}
	r.Cloud, r.Comparison, r.Differences = a.compareCloud(r.Local, resp, cur, sn)
	r.CloudSettleList = resp.SettleList
	if retry && r.Comparison == ComparisonDiffer {
		r.Differences = append(r.Differences, "note: an earlier batch.close for this batch had an unknown outcome; if it reached CodePay, these cloud totals describe the empty batch after it — check the CodePay back office")
	}
	now := a.clock.Now().UTC()
	r.State, r.ClosedAt, r.ClosedBy = store.BatchClosed, &now, b.ClosedBy
	closed, err := a.db.FinishBatchClose(context.WithoutCancel(ctx), b.ID, encodeReport(r))
	if err != nil {
		return BatchReport{}, fmt.Errorf("close batch: %w", err)
	}
	if closed.ClosedAt.IsZero() {
		closed.ClosedAt = now
	}
	a.log.Info("batch closed", "terminal_sn", sn, "batch_no", r.BatchNo, "count", r.Local.Count, "total", r.Local.TotalAmount, "comparison", r.Comparison, "differences", len(r.Differences))
	a.publish(Event{Batch: &r})
	a.wake(sn)
	return r, nil
}

func (a *Agent) busyError(ctx context.Context, sn string) error {
	if p, err := a.db.Active(ctx, sn); err == nil {
		return fmt.Errorf("%w: payment %s is on terminal %s (%s); close the batch when it is final", ErrTerminalBusy, p.MerchantOrderNo, sn, p.State)
	}
	return fmt.Errorf("%w: terminal %s is starting a payment; try again in a moment", ErrTerminalBusy, sn)
}

// compareCloud turns CodePay's batch.close answer into the report's cloud
// totals, comparison and differences. Three cases, and only three:
//
//   - CodePay returned readable totals in the terminal's currency and they
//     equal the CodePay part of the journal's: ComparisonAgree, no
//     difference lines;
//   - they differ: ComparisonDiffer, one line per differing field;
//   - CodePay returned no totals (the spec's batch.close sample answers
//     data {}; the SDK's settle_list may hold none that can be read), or
//     totals that cannot be read as an amount of the terminal's currency:
//     ComparisonNotCompared, cloud nil and the one line NotComparedLine.
//     Nothing was compared, so nothing is said to agree.
//
// A note on Bindo payments (settled by Bindo, never in CodePay's batch)
// follows in every case.
func (a *Agent) compareCloud(local BatchTotals, resp *codepay.BatchCloseResponse, cur money.Currency, sn string) (*CloudTotals, string, []string) {
	var cloud *CloudTotals
	if resp.HasTotals() {
		cloud = &CloudTotals{Count: resp.Count, TotalAmount: resp.TotalAmount}
		field, reason := "", ""
		if resp.Currency != "" && !strings.EqualFold(resp.Currency, cur.Code) {
			field, reason = "price_currency", fmt.Sprintf("CodePay's totals are in %s, the terminal's currency is %s", resp.Currency, cur.Code)
		} else if resp.TotalAmount != "" {
			if _, err := money.ParseLenient(resp.TotalAmount, cur); err != nil {
				field, reason = "total_amount", fmt.Sprintf("%q is not an amount in %s", resp.TotalAmount, cur.Code)
			}
		}
		if field != "" {
			a.log.Warn("batch totals not compared; the batch is closed", "terminal_sn", sn, "method", codepay.MethodBatchClose, "field", field, "reason", reason)
			cloud = nil
		}
	}
	comparison, diffs := ComparisonNotCompared, []string{NotComparedLine}
	if cloud != nil {
		diffs = compareTotals(local, cloud, cur)
		comparison = ComparisonAgree
		if len(diffs) > 0 {
			comparison = ComparisonDiffer
		}
	}
	if b, ok := local.ByRoute[RouteBindo]; ok && b.Count > 0 {
		diffs = append(diffs, fmt.Sprintf("note: %d Bindo payments (%s %s) are settled by Bindo, not in the CodePay batch", b.Count, b.Amount, cur.Code))
	}
	return cloud, comparison, diffs
}

// compareTotals lists human-readable differences between the CodePay part
// of the local totals and the cloud's readable totals (see compareCloud).
func compareTotals(local BatchTotals, cloud *CloudTotals, cur money.Currency) []string {
	diffs := []string{}
	cp := local.ByRoute[RouteCodePay]
	if cp.Amount == "" {
		cp.Amount = money.Format(0, cur)
	}
	if cloud.Count != nil && *cloud.Count != int64(cp.Count) {
		diffs = append(diffs, fmt.Sprintf("count: CodePay has %d transactions, posbridge %d", *cloud.Count, cp.Count))
	}
	if cloud.TotalAmount != "" {
		cloudMinor, _ := money.ParseLenient(cloud.TotalAmount, cur)
		localMinor, _ := money.ParseLenient(cp.Amount, cur)
		if cloudMinor != localMinor {
			diffs = append(diffs, fmt.Sprintf("total: CodePay has %s %s, posbridge %s %s (difference %s)",
				money.Format(cloudMinor, cur), cur.Code, cp.Amount, cur.Code, money.Format(cloudMinor-localMinor, cur)))
		}
	}
	return diffs
}

// FillComparison gives a closed report stored before "comparison"
// existed its comparison, derived from what it holds: no cloud totals →
// not compared; no differences (notes aside) → agree; otherwise differ. Reports of that
// time stored an answer without totals as cloud {"count": null,
// "total_amount": ""} and no differences, which claimed agreement on
// nothing: such a report is not compared (cloud null, NotComparedLine).
// Reports that have a comparison, and open ones, are left as they are.
func (r *BatchReport) FillComparison() {
	if r.State != store.BatchClosed || r.Comparison != "" {
		return
	}
	if r.Cloud != nil && r.Cloud.Count == nil && r.Cloud.TotalAmount == "" {
		r.Cloud = nil
	}
	switch {
	case r.Cloud == nil:
		r.Comparison = ComparisonNotCompared
		if !slices.Contains(r.Differences, NotComparedLine) {
			r.Differences = append([]string{NotComparedLine}, r.Differences...)
		}
	default:
		// Notes ("note: …", e.g. on Bindo payments) are not differences.
		r.Comparison = ComparisonAgree
		for _, d := range r.Differences {
			if !strings.HasPrefix(d, "note: ") {
				r.Comparison = ComparisonDiffer
			}
		}
	}
	if r.Differences == nil {
		r.Differences = []string{}
	}
}

// TipAdjust sets the tip of an approved sale or completion before its batch
// closes (CodePay tip.adjustment); the batch totals follow.
func (a *Agent) TipAdjust(ctx context.Context, orderNo, tip string) (Payment, error) {
	p, err := a.db.GetPayment(ctx, orderNo)
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, fmt.Errorf("%w: %s", ErrNotFound, orderNo)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("adjust tip: %w", err)
	}
	cur, err := a.terminalCurrency(p.TerminalSN)
	if err != nil {
		return Payment{}, err
	}
	minor, err := parseAmountField("tip_amount", tip, cur, true)
	if err != nil {
		return Payment{}, err
	}
	if p.State != StateApproved {
		return Payment{}, fmt.Errorf("%w: %s is %s, only approved payments take tips", ErrNotAdjustable, orderNo, p.State)
	}
	if p.Type != TypeSale && p.Type != TypeCompletion {
		return Payment{}, fmt.Errorf("%w: %s is a %s; tips go on sales and completions", ErrNotAdjustable, orderNo, p.Type)
	}
	b, err := a.db.CurrentBatch(ctx, p.TerminalSN)
	if err != nil {
		return Payment{}, fmt.Errorf("adjust tip: %w", err)
	}
	if p.BatchID != b.ID || b.State != store.BatchOpen {
		return Payment{}, fmt.Errorf("%w: the batch of %s is closed (settled)", ErrNotAdjustable, orderNo)
	}
	if p.Route == RouteBindo {
		if a.cfg.Bindo == nil {
			return Payment{}, fmt.Errorf("%w: %s went through Bindo, which is not configured", ErrNotAdjustable, orderNo)
		}
		err = a.bindoTip(ctx, p, minor, cur)
	} else {
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
		err = a.cp.AdjustTip(callCtx, orderNo, money.Amount{Minor: minor, Currency: cur})
		cancel()
	}
	if err != nil {
		var ge *codepay.GatewayError
		if errors.As(err, &ge) {
			return Payment{}, fmt.Errorf("%w: CodePay refused: %s (code %s)", ErrNotAdjustable, ge.Msg, ge.Code)
		}
		var ve *codepay.ValidationError
		if errors.As(err, &ve) {
			return Payment{}, fieldErr("tip_amount", "%s", ve.Reason)
		}
		return Payment{}, fmt.Errorf("%w: adjust tip of %s: %v (the adjustment may or may not have been made; sending it again is safe)", ErrTipUnknown, orderNo, err)
	}
	np, err := a.transition(ctx, orderNo, []string{StateApproved}, func(p *store.Payment) error {
		p.TipMinor = minor
		return nil
	}, "tip adjusted to "+money.Format(minor, cur))
	if err != nil {
		return Payment{}, fmt.Errorf("adjust tip: %w", err)
	}
	return a.view(np), nil
}

// BatchPayments returns the payments of one batch (approved ones, oldest first).
func (a *Agent) BatchPayments(ctx context.Context, sn string, batchNo int64) ([]Payment, error) {
	b, err := a.db.GetBatch(ctx, sn, batchNo)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: batch %d of %s", ErrNotFound, batchNo, sn)
	}
	if err != nil {
		return nil, err
	}
	ps, err := a.db.BatchPayments(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Payment, len(ps))
	for i := range ps {
		out[i] = a.view(&ps[i])
	}
	return out, nil
}

// closeDeskLocally closes the batch of a provider's pseudo-desk (qr or va
// payments taken without a terminal): no provider has a batch close, so
// the report holds the journal's totals only (comparison not_compared).
func (a *Agent) closeDeskLocally(ctx context.Context, sn, by string) (BatchReport, error) {
	b, err := a.db.BeginBatchClose(ctx, sn, by)
	if err != nil {
		return BatchReport{}, fmt.Errorf("close batch: %w", err)
	}
	r, err := a.report(ctx, b)
	if err != nil {
		return BatchReport{}, err
	}
	now := a.clock.Now().UTC()
	r.State, r.ClosedAt, r.ClosedBy = store.BatchClosed, &now, b.ClosedBy
	r.Comparison, r.Differences = ComparisonNotCompared, []string{sn + " has no batch close: local totals only"}
	if _, err := a.db.FinishBatchClose(context.WithoutCancel(ctx), b.ID, encodeReport(r)); err != nil {
		return BatchReport{}, fmt.Errorf("close batch: %w", err)
	}
	a.publish(Event{Batch: &r})
	return r, nil
}
