package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/store"
)

type batchReport struct {
	TerminalSN string  `json:"terminal_sn"`
	BatchNo    int64   `json:"batch_no"`
	State      string  `json:"state"`
	OpenedAt   string  `json:"opened_at"`
	ClosedAt   *string `json:"closed_at"`
	ClosedBy   string  `json:"closed_by"`
	Local      struct {
		Count       int                  `json:"count"`
		TotalAmount string               `json:"total_amount"`
		Currency    string               `json:"currency"`
		Tips        string               `json:"tips"`
		ByType      map[string]typeTotal `json:"by_type"`
		Cashback    string               `json:"cashback"`
		NotInTotal  map[string]typeTotal `json:"not_in_total"`
	} `json:"local"`
	Cloud *struct {
		Count       *int64 `json:"count"`
		TotalAmount string `json:"total_amount"`
	} `json:"cloud"`
	Differences     []string `json:"differences"`
	Comparison      string   `json:"comparison"`
	CloudSettleList string   `json:"cloud_settle_list"`
}

// typeTotal is a count and an amount of a breakdown line.
type typeTotal struct {
	Count  int    `json:"count"`
	Amount string `json:"amount"`
}

// comparison is the report's comparison; a report from an agent older than
// the field gets it derived as the agent derives stored ones
// (agent.BatchReport.FillComparison).
func (r batchReport) comparison() string {
	if r.Comparison != "" || r.State != store.BatchClosed {
		return r.Comparison
	}
	if r.Cloud == nil || (r.Cloud.Count == nil && r.Cloud.TotalAmount == "") {
		return agent.ComparisonNotCompared
	}
	for _, d := range r.Differences {
		if !strings.HasPrefix(d, "note: ") {
			return agent.ComparisonDiffer
		}
	}
	return agent.ComparisonAgree
}

func printReport(w io.Writer, r batchReport) {
	fmt.Fprintf(w, "Terminal %s  batch %d  %s  opened %s", r.TerminalSN, r.BatchNo, r.State, r.OpenedAt)
	if r.ClosedAt != nil {
		fmt.Fprintf(w, "  closed %s by %s", *r.ClosedAt, r.ClosedBy)
	}
	fmt.Fprintf(w, "\n  total   %d transactions  %s %s  (tips %s)\n", r.Local.Count, r.Local.TotalAmount, r.Local.Currency, r.Local.Tips)
	// The breakdown adds up to the total: each type's signed amount, plus
	// tips and cashback (agent.BatchTotals); voids and pre-auths follow,
	// outside the total.
	printTypes(w, r.Local.ByType, "")
	if r.Local.Cashback != "" && r.Local.Cashback != "0" && strings.Trim(r.Local.Cashback, "0.") != "" {
		fmt.Fprintf(w, "  %-10s      %s\n", "cashback", r.Local.Cashback)
	}
	printTypes(w, r.Local.NotInTotal, " (not in the total)")
	if r.Cloud != nil {
		n, total := "?", r.Cloud.TotalAmount
		if r.Cloud.Count != nil {
			n = fmt.Sprint(*r.Cloud.Count)
		}
		if total == "" {
			total = "?"
		}
		fmt.Fprintf(w, "  CodePay  %s transactions  %s\n", n, total)
	}
	if r.CloudSettleList != "" {
		fmt.Fprintf(w, "  CodePay settle list  %s\n", r.CloudSettleList)
	}
	// The three cases, in the console's and the CSV's words: agree, the
	// differences, or not compared (agent.NotComparedLine is then the
	// first of the differences).
	cmp := r.comparison()
	if cmp == agent.ComparisonAgree {
		fmt.Fprintf(w, "  %s\n", agent.AgreeLine)
	}
	if cmp == agent.ComparisonNotCompared && !slices.Contains(r.Differences, agent.NotComparedLine) {
		fmt.Fprintf(w, "  ! %s\n", agent.NotComparedLine)
	}
	for _, d := range r.Differences {
		fmt.Fprintf(w, "  ! %s\n", d)
	}
}

// printTypes prints breakdown lines, sorted by type.
func printTypes(w io.Writer, m map[string]typeTotal, note string) {
	types := make([]string, 0, len(m))
	for t := range m {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		fmt.Fprintf(w, "  %-10s %3d  %s%s\n", t, m[t].Count, m[t].Amount, note)
	}
}

// cmdBatch is `posbridge batch show [--terminal SN]` and `posbridge batch close --terminal SN`.
func cmdBatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "show" && args[0] != "close") {
		if wantsHelp(args) {
			printGroupHelp(stdout, "batch")
			return exitOK
		}
		printGroupHelp(stderr, "batch")
		return exitUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("batch "+sub, flag.ContinueOnError)
	af := addAgentFlags(fs)
	terminal := fs.String("terminal", "", "terminal serial number")
	if code, done := parseCommand("batch "+sub, fs, args[1:], stdout, stderr, fs.Parse); done {
		return code
	}
	if sub == "close" && *terminal == "" {
		fmt.Fprintln(stderr, "posbridge batch close: --terminal SN is required")
		return exitUsage
	}
	c, err := af.dial(ctx)
	if err != nil {
		return cliError(stderr, "batch "+sub, err)
	}
	defer c.close()
	var reports []json.RawMessage
	switch {
	case sub == "close":
		res, err := c.call("batch.close", map[string]any{"terminal_sn": *terminal, "source": "cli"})
		if err != nil {
			return cliError(stderr, "batch close", err)
		}
		reports = append(reports, res)
	case *terminal != "":
		res, err := c.call("batch.get", map[string]any{"terminal_sn": *terminal})
		if err != nil {
			return cliError(stderr, "batch show", err)
		}
		reports = append(reports, res)
	default:
		res, err := c.call("terminal.list", map[string]any{})
		if err != nil {
			return cliError(stderr, "batch show", err)
		}
		var tl struct {
			Terminals []struct {
				SN string `json:"sn"`
			} `json:"terminals"`
		}
		json.Unmarshal(res, &tl)
		for _, t := range tl.Terminals {
			res, err := c.call("batch.get", map[string]any{"terminal_sn": t.SN})
			if err != nil {
				return cliError(stderr, "batch show", err)
			}
			reports = append(reports, res)
		}
	}
	if *af.json {
		out, _ := json.MarshalIndent(reports, "", "  ")
		if len(reports) == 1 {
			out, _ = json.MarshalIndent(reports[0], "", "  ")
		}
		fmt.Fprintln(stdout, string(out))
		return exitOK
	}
	for i, raw := range reports {
		var r batchReport
		if err := json.Unmarshal(raw, &r); err != nil {
			return cliError(stderr, "batch "+sub, err)
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		printReport(stdout, r)
	}
	return exitOK
}

// cmdPayments is `posbridge payments list [--terminal SN] [--state S] [--limit N]`,
// `payments show ORDER_NO`, `payments history ORDER_NO`, `payments cancel
// ORDER_NO`, `payments alerts [--limit N]` and `payments handle-alert
// ORDER_NO [--note TEXT]`.
func cmdPayments(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || !slices.Contains([]string{"list", "show", "history", "cancel", "alerts", "handle-alert"}, args[0]) {
		if wantsHelp(args) {
			printGroupHelp(stdout, "payments")
			return exitOK
		}
		printGroupHelp(stderr, "payments")
		return exitUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("payments "+sub, flag.ContinueOnError)
	af := addAgentFlags(fs)
	var terminal, state, note *string
	var limit *int
	switch sub { // show and cancel take only the order number
	case "list":
		terminal = fs.String("terminal", "", "only this terminal")
		state = fs.String("state", "", "only this state")
		limit = fs.Int("limit", 50, "at most this many (1-500)")
	case "alerts":
		limit = fs.Int("limit", 50, "at most this many (1-500)")
	case "handle-alert":
		note = fs.String("note", "", "what was done (journaled with the payment; at most 200 characters)")
	}
	var pos []string
	if code, done := parseCommand("payments "+sub, fs, args[1:], stdout, stderr, func(a []string) (err error) {
		pos, err = parseInterleaved(fs, a)
		return err
	}); done {
		return code
	}
	if sub != "list" && sub != "alerts" && len(pos) != 1 {
		fmt.Fprintf(stderr, "posbridge payments %s: give exactly one ORDER_NO\n", sub)
		return exitUsage
	}
	c, err := af.dial(ctx)
	if err != nil {
		return cliError(stderr, "payments "+sub, err)
	}
	defer c.close()
	if sub == "alerts" {
		return printAlerts(c, *limit, *af.json, stdout, stderr)
	}
	if sub == "history" {
		return printHistory(ctx, c, *af.config, pos[0], *af.json, stdout, stderr)
	}
	if sub != "list" {
		method := map[string]string{"show": "payment.get", "cancel": "payment.cancel", "handle-alert": "alert.handle"}[sub]
		params := map[string]any{"merchant_order_no": pos[0]}
		switch sub {
		case "cancel":
			params["source"] = agent.SourceCLI
		case "handle-alert":
			params["source"], params["note"] = agent.SourceCLI, *note
		}
		res, err := c.call(method, params)
		var re *rpcError
		if sub == "show" && errors.As(err, &re) && re.Code == wsapi.CodeNotFound {
			if code, ok := showArchived(ctx, *af.config, pos[0], stdout, stderr); ok {
				return code
			}
		}
		if err != nil {
			return cliError(stderr, "payments "+sub, err)
		}
		out, _ := json.MarshalIndent(json.RawMessage(res), "", "  ")
		fmt.Fprintln(stdout, string(out))
		return exitOK
	}
	params := map[string]any{"limit": *limit}
	if *terminal != "" {
		params["terminal_sn"] = *terminal
	}
	if *state != "" {
		params["state"] = *state
	}
	res, err := c.call("payment.list", params)
	if err != nil {
		return cliError(stderr, "payments list", err)
	}
	if *af.json {
		out, _ := json.MarshalIndent(json.RawMessage(res), "", "  ")
		fmt.Fprintln(stdout, string(out))
		return exitOK
	}
	var raw struct {
		Payments []map[string]any `json:"payments"`
	}
	json.Unmarshal(res, &raw)
	fmt.Fprintf(stdout, "%-32s %-10s %-12s %-18s %14s  %s\n", "ORDER", "TYPE", "STATE", "TERMINAL", "AMOUNT", "CREATED")
	for _, p := range raw.Payments {
		fmt.Fprintf(stdout, "%-32v %-10v %-12v %-18v %10v %3v  %v\n", p["merchant_order_no"], p["type"], p["state"], p["terminal_sn"], p["amount"], p["currency"], strings.TrimSuffix(fmt.Sprint(p["created_at"]), "Z"))
	}
	return exitOK
}

// printAlerts prints the payments with an open alert (alert.list): a table,
// or the JSON answer.
func printAlerts(c *rpcClient, limit int, asJSON bool, stdout, stderr io.Writer) int {
	res, err := c.call("alert.list", map[string]any{"limit": limit})
	if err != nil {
		return cliError(stderr, "payments alerts", err)
	}
	if asJSON {
		out, _ := json.MarshalIndent(json.RawMessage(res), "", "  ")
		fmt.Fprintln(stdout, string(out))
		return exitOK
	}
	var l struct {
		Open     int `json:"open"`
		Payments []struct {
			MerchantOrderNo string `json:"merchant_order_no"`
			State           string `json:"state"`
			TerminalSN      string `json:"terminal_sn"`
			Amount          string `json:"amount"`
			Currency        string `json:"currency"`
			Alert           string `json:"alert"`
			UpdatedAt       string `json:"updated_at"`
		} `json:"payments"`
	}
	if err := json.Unmarshal(res, &l); err != nil {
		return cliError(stderr, "payments alerts", err)
	}
	if l.Open == 0 {
		fmt.Fprintln(stdout, "No open alerts.")
		return exitOK
	}
	fmt.Fprintf(stdout, "%d payments need attention (mark one handled: posbridge payments handle-alert ORDER_NO --note TEXT)\n", l.Open)
	for _, p := range l.Payments {
		fmt.Fprintf(stdout, "\n%s  %s %s  %s on %s  (%s)\n  %s\n", p.MerchantOrderNo, p.Amount, p.Currency, p.State, p.TerminalSN,
			strings.TrimSuffix(p.UpdatedAt, "Z"), p.Alert)
	}
	return exitOK
}

// printHistory prints payment.history: one line per journaled event, or
// the raw answer with --json. An order the agent no longer has is looked
// up in the archive files.
func printHistory(ctx context.Context, c *rpcClient, cfgPath, orderNo string, asJSON bool, stdout, stderr io.Writer) int {
	res, err := c.call("payment.history", map[string]any{"merchant_order_no": orderNo})
	var h wsapi.PaymentHistory
	var re *rpcError
	switch {
	case errors.As(err, &re) && re.Code == wsapi.CodeNotFound:
		f, _, evs, ok := findArchived(ctx, cfgPath, orderNo)
		if !ok {
			return cliError(stderr, "payments history", err)
		}
		h = wsapi.HistoryFrom(orderNo, agent.HistoryOf(evs))
		res, _ = json.Marshal(h)
		fmt.Fprintf(stderr, "posbridge payments history: %s is archived in %s (moved out of the journal by `posbridge journal archive`)\n", orderNo, f)
	case err != nil:
		return cliError(stderr, "payments history", err)
	default:
		if err := json.Unmarshal(res, &h); err != nil {
			return cliError(stderr, "payments history", err)
		}
	}
	if asJSON {
		out, _ := json.MarshalIndent(json.RawMessage(res), "", "  ")
		fmt.Fprintln(stdout, string(out))
		return exitOK
	}
	fmt.Fprintf(stdout, "History of %s, oldest first (times in UTC):\n", h.MerchantOrderNo)
	if h.Omitted > 0 {
		fmt.Fprintf(stdout, "  (%d earlier events left out)\n", h.Omitted)
	}
	for _, e := range h.Events {
		change := ""
		if e.ToState != "" {
			change = e.ToState
			if e.FromState != "" && e.FromState != e.ToState {
				change = e.FromState + " → " + e.ToState
			}
		}
		fmt.Fprintf(stdout, "  %s  %-13s %-26s %s\n", e.At.UTC().Format("2006-01-02 15:04:05.000"), e.Kind, change, e.Detail)
	}
	return exitOK
}

// findArchived looks an order the agent does not know up in the archive
// files of DATA/archive (newest first): the file, the payment and its
// events; ok is false when it is in none (or the configuration cannot be
// read).
func findArchived(ctx context.Context, cfgPath, orderNo string) (file string, p *store.Payment, evs []store.Event, ok bool) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return "", nil, nil, false
	}
	for _, f := range archiveFiles(cfg.Agent.DataDir) {
		if p, evs, err := store.ArchivedPayment(ctx, f, orderNo); err == nil {
			return f, p, evs, true
		}
	}
	return "", nil, nil, false
}

// showArchived prints an order the agent no longer has from the archive
// files; ok is false when it is in none.
func showArchived(ctx context.Context, cfgPath, orderNo string, stdout, stderr io.Writer) (int, bool) {
	f, p, events, ok := findArchived(ctx, cfgPath, orderNo)
	if !ok {
		return 0, false
	}
	out, _ := json.MarshalIndent(struct {
		wsapi.Payment
		Archive string `json:"archive"`
		Events  int    `json:"archived_events"`
	}{wsapi.PaymentFrom(agent.View(p)), f, len(events)}, "", "  ")
	fmt.Fprintln(stdout, string(out))
	fmt.Fprintf(stderr, "posbridge payments show: %s is archived in %s (moved out of the journal by `posbridge journal archive`)\n", orderNo, f)
	return exitOK, true
}

// parseInterleaved parses flags before and after the positional arguments
// (`payments show ORDER --url …` as well as `payments show --url … ORDER`;
// the flag package alone stops at the first positional argument) and
// returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
