package codepay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Shapes of a batch.close answer's data (BatchCloseResponse.Shape).
//
// The Cloud Open API documents two batch methods with different answers
// (/work/shared/specs/codepay-cloud-open-api.txt): the merchant-level
// "Batch Close" answers data {"count": 1, "total_amount": 100} (numbers),
// the terminal-level batch.close that posbridge calls answers data { }
// (empty). CodePay's Java SDK models the batch.close answer as one String
// field settle_list (response/BatchCloseResponse.java), merged from data
// (OpenApiClient.java lines 151-157). All three are accepted here.
const (
	// BatchShapeTotals: data has count and/or total_amount.
	BatchShapeTotals = "totals"
	// BatchShapeSettleList: data has settle_list (and no top-level totals).
	BatchShapeSettleList = "settle_list"
	// BatchShapeEmpty: data is absent, null or {}.
	BatchShapeEmpty = "empty"
	// BatchShapeUnknown: data has none of the documented members, or is not
	// an object at all.
	BatchShapeUnknown = "unknown"
)

// MaxSettleList bounds BatchCloseResponse.SettleList (bytes): longer text
// is cut at a character boundary and ends in "…".
const MaxSettleList = 4096

// maxTotalText bounds the total_amount text accepted as a number.
const maxTotalText = 32

// totalPattern is a plain decimal: optional minus, digits, optional
// fraction; no exponent, no spaces, no thousands separators.
var totalPattern = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// BatchCloseResponse is the data of a successful batch.close. The batch is
// closed at CodePay whatever the shape: a member that cannot be read only
// means the totals are not compared.
type BatchCloseResponse struct {
	// Shape is BatchShapeTotals, BatchShapeSettleList, BatchShapeEmpty or
	// BatchShapeUnknown.
	Shape string
	// Count and TotalAmount are the totals CodePay returned, when it
	// returned readable ones (HasTotals): Count nil when absent,
	// TotalAmount a plain decimal in major units ("100", "12.34",
	// "-3.5"; no currency given) or "" when absent.
	Count       *int64
	TotalAmount string
	// Currency is price_currency when the gateway sent one (as received).
	Currency string
	// SettleList is the SDK's settle_list as received, on one line and at
	// most MaxSettleList bytes; "" when absent.
	SettleList string
	// Unreadable names the member that was present but could not be read
	// (e.g. "total_amount", "settle_list", "data"); "" when none.
	Unreadable string
	PSN        string
}

// HasTotals reports whether the answer carries totals that can be
// compared with the journal's.
func (r *BatchCloseResponse) HasTotals() bool {
	return r != nil && r.Unreadable == "" && (r.Count != nil || r.TotalAmount != "")
}

// CloseBatch closes the terminal's current batch (batch.close).
//
// Once the gateway has signed code "0" the batch is closed at CodePay, so
// no member of data turns the answer into an error: an unreadable member
// is reported in Unreadable (and logged once at Warn) and the totals are
// then not compared.
func (c *Client) CloseBatch(ctx context.Context, terminalSN string) (*BatchCloseResponse, error) {
	if err := checkText("terminal_sn", terminalSN, true, maxIDLen); err != nil {
		return nil, err
	}
	env, err := c.call(ctx, MethodBatchClose, "", Params{"terminal_sn": terminalSN})
	if errors.Is(err, errNotObject) {
		// decodeEnvelope reaches objectFields only for a trusted code "0":
		// the close happened, only its data is not an object.
		r := &BatchCloseResponse{Shape: BatchShapeUnknown, Unreadable: "data"}
		c.warnUnreadable(ctx, r, "data is not a JSON object")
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	r, reason := parseBatchClose(env.Data)
	r.PSN = env.PSN
	if r.Unreadable != "" {
		c.warnUnreadable(ctx, r, reason)
	}
	return r, nil
}

func (c *Client) warnUnreadable(ctx context.Context, r *BatchCloseResponse, reason string) {
	c.log.WarnContext(ctx, "codepay batch close answer not understood; the batch is closed, its totals are not compared",
		"method", MethodBatchClose, "field", r.Unreadable, "reason", reason, "shape", r.Shape, "psn", r.PSN)
}

// parseBatchClose reads the data of a batch.close answer; reason explains
// Unreadable.
func parseBatchClose(f fields) (r *BatchCloseResponse, reason string) {
	r = &BatchCloseResponse{Currency: strings.TrimSpace(oneLine(f["price_currency"]))}
	_, hasCount := f["count"]
	_, hasTotal := f["total_amount"]
	sl, hasSettle := f["settle_list"]
	if hasSettle {
		r.SettleList = boundedLine(sl, MaxSettleList)
	}
	switch {
	case hasCount || hasTotal:
		r.Shape = BatchShapeTotals
		t, field, why := readTotals(f)
		if field != "" {
			r.Unreadable = field
			return r, why
		}
		r.Count, r.TotalAmount = t.count, t.total
		return r, ""
	case hasSettle:
		r.Shape = BatchShapeSettleList
		t, why := settleListTotals(sl)
		if why != "" {
			r.Unreadable = "settle_list"
			return r, why
		}
		r.Count, r.TotalAmount = t.count, t.total
		if r.Currency == "" {
			r.Currency = t.currency
		}
		return r, ""
	case len(f) == 0:
		r.Shape = BatchShapeEmpty
		return r, ""
	default:
		// Members we do not know: never guess totals from them.
		r.Shape = BatchShapeUnknown
		return r, ""
	}
}

type totals struct {
	count    *int64
	total    string
	currency string
}

// readTotals reads count and total_amount (JSON numbers or strings: 1,
// "1", 100, "100.00", 1.5); field names the first unreadable one.
func readTotals(f fields) (t totals, field, reason string) {
	if v, ok := f["count"]; ok {
		n, err := f.integer("count")
		if err != nil || n == nil || *n < 0 {
			return totals{}, "count", fmt.Sprintf("count %q is not a non-negative whole number", clip(v))
		}
		t.count = n
	}
	if v, ok := f["total_amount"]; ok {
		s := strings.TrimSpace(v)
		if len(s) > maxTotalText || !totalPattern.MatchString(s) {
			return totals{}, "total_amount", fmt.Sprintf("total_amount %q is not a plain decimal amount", clip(v))
		}
		t.total = s
	}
	return t, "", ""
}

// settleListTotals reads totals from settle_list only when it is JSON that
// needs no guessing: an object with count and total_amount, or a non-empty
// array of such objects in one currency (their counts and totals are
// added). Anything else gives no totals; reason says why.
func settleListTotals(s string) (totals, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return totals{}, "settle_list is empty"
	}
	var items []json.RawMessage
	switch s[0] {
	case '{':
		items = []json.RawMessage{json.RawMessage(s)}
	case '[':
		if err := json.Unmarshal([]byte(s), &items); err != nil {
			return totals{}, "settle_list is not valid JSON"
		}
		if len(items) == 0 {
			return totals{}, "settle_list is an empty list"
		}
	default:
		return totals{}, "settle_list is not a JSON object or array"
	}
	var out totals
	var count int64
	sum := decimal.Zero
	for i, raw := range items {
		f, err := objectFields(string(raw))
		if err != nil {
			return totals{}, fmt.Sprintf("settle_list item %d is not a JSON object", i)
		}
		if _, ok := f["count"]; !ok {
			return totals{}, fmt.Sprintf("settle_list item %d has no count", i)
		}
		if _, ok := f["total_amount"]; !ok {
			return totals{}, fmt.Sprintf("settle_list item %d has no total_amount", i)
		}
		t, field, why := readTotals(f)
		if field != "" {
			return totals{}, "settle_list: " + why
		}
		cur := strings.TrimSpace(f["price_currency"])
		if i > 0 && cur != out.currency {
			return totals{}, "settle_list mixes currencies"
		}
		out.currency = cur
		d, err := decimal.NewFromString(t.total)
		if err != nil {
			return totals{}, "settle_list: " + err.Error()
		}
		if *t.count > math.MaxInt64-count {
			return totals{}, "settle_list counts overflow"
		}
		sum = sum.Add(d)
		count += *t.count
	}
	out.count = &count
	out.total = sum.String()
	return out, ""
}

// boundedLine returns s on one line (control characters as spaces), cut
// to at most max bytes at a character boundary (ending in "…" when cut).
func boundedLine(s string, max int) string {
	s = oneLine(strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= max {
		return s
	}
	const ell = "…"
	cut := max - len(ell)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ell
}

// clip shortens gateway text quoted in a log reason.
func clip(s string) string { return boundedLine(s, 64) }
