package codepaysim

import (
	"encoding/json"
	"regexp"
)

// amountKeys are the data members the emulator writes as amounts, in every
// method's answer and in notifications.
var amountKeys = map[string]bool{
	"order_amount": true, "trans_amount": true, "tip_amount": true, "cashback_amount": true,
	"paid_amount": true, "total_amount": true, "trans_fee_c": true, "vat_amount": true,
}

// plainDecimal is an amount as money.Format writes it ("12.34", "-3.00", "0").
var plainDecimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// styleAmountsLocked rewrites the amounts of d (an answer's or a
// notification's data) in the current AmountStyle. The string form is what
// money.Format produced; the number form is that same text as a
// json.Number, so the JSON number is exact and never went through a float.
func (s *Sim) styleAmountsLocked(d map[string]any) {
	if s.mode.AmountStyle != AmountStyleNumber {
		return
	}
	styleAmounts(d)
}

func styleAmounts(d map[string]any) {
	for k, v := range d {
		if str, ok := v.(string); ok && amountKeys[k] && plainDecimal.MatchString(str) {
			d[k] = json.Number(str)
		}
	}
}

// batchDataLocked is the data of a batch.close answer in the current
// BatchShape for a batch of count orders totalling total (money.Format
// text; "0" for an empty batch) in currency ("" when empty).
func (s *Sim) batchDataLocked(count int, total, currency string) (map[string]any, error) {
	totals := map[string]any{"count": count, "total_amount": total}
	if currency != "" {
		totals["price_currency"] = currency
	}
	s.styleAmountsLocked(totals)
	switch s.mode.BatchShape {
	case BatchShapeEmpty:
		return map[string]any{}, nil
	case BatchShapeSDK:
		text, err := marshalNoEscape([]map[string]any{totals})
		if err != nil {
			return nil, err
		}
		return map[string]any{"settle_list": string(text)}, nil
	}
	return totals, nil
}
