package bindosim

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/pan"
)

// maxExpiry is the longest txn_exp_at the spec allows after creation, and
// the default expiry of a transaction.
const maxExpiry = 15 * time.Minute

type txnRequest struct {
	Transaction *reqTxn `json:"transaction"`
	NotifyURL   string  `json:"notify_url"`
}

type reqTxn struct {
	UUID            string   `json:"uuid"`
	TransactionType string   `json:"transaction_type"`
	PaymentMethod   string   `json:"payment_method"`
	SN              string   `json:"sn"`
	Amount          string   `json:"amount"`
	TipsAmount      string   `json:"tips_amount"`
	Currency        string   `json:"currency"`
	OriginBRN       string   `json:"origin_brn"`
	TxnExpAt        string   `json:"txn_exp_at"`
	NotifyURL       string   `json:"notify_url"`
	CreditCard      *reqCard `json:"credit_card"`
}

type reqCard struct {
	ReaderMode string `json:"card_reader_mode"`
	Number     string `json:"card_number"`
	ExpDate    string `json:"card_exp_date"`
	Fallback   bool   `json:"card_fallback"`
	IsMSD      bool   `json:"is_msd_card"`
	CardSN     string `json:"card_sn"`
	Track1     string `json:"card_track1"`
	Track2     string `json:"card_track2"`
	Track3     string `json:"card_track3"`
	ICCRequest string `json:"icc_request"`
	CVV        string `json:"cvv"`
	PIN        string `json:"pin"`
	HolderName string `json:"card_holder_name"`
}

// cardInfo is what the emulator keeps of a card: no PAN, track or ICC data.
type cardInfo struct {
	mode     string
	masked   string
	acquirer string
	fallback bool
	cardSN   string
	test     bool
}

type tipRecord struct {
	brn string
	tip int64
}

var (
	uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	snPattern   = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
	brnPattern  = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
)

func validNotifyURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// decodeTxn decodes {"transaction": {...}} and checks uuid and
// transaction_type.
func decodeTxn(body []byte, wantType string) (*txnRequest, string, *reply) {
	var req txnRequest
	if err := decodeStrict(body, &req); err != nil {
		r := paramError("", "%v", err)
		return nil, "", &r
	}
	tx := req.Transaction
	if tx == nil {
		r := paramError("", "the transaction object is required")
		return nil, "", &r
	}
	if !uuidPattern.MatchString(tx.UUID) {
		r := paramError("", "uuid is required and must be a UUID")
		return nil, "", &r
	}
	id := lower(tx.UUID)
	if tx.TransactionType != wantType {
		r := paramError(id, "transaction_type must be %q on this endpoint", wantType)
		return nil, "", &r
	}
	return &req, id, nil
}

func parseCurrency(id, code string) (money.Currency, *reply) {
	if code == "" {
		r := paramError(id, "currency is required")
		return money.Currency{}, &r
	}
	cur, err := money.LookupCurrency(code)
	if err != nil {
		r := refusal(http.StatusBadRequest, CodeCurrencyMismatch, id, "unknown currency")
		return money.Currency{}, &r
	}
	return cur, nil
}

// parseAmount reads a decimal-string amount with at most the currency's
// decimals; positive unless zeroOK.
func parseAmount(id, field, v string, cur money.Currency, zeroOK bool) (int64, *reply) {
	if v == "" {
		r := paramError(id, "%s is required", field)
		return 0, &r
	}
	minor, err := money.Parse(v, cur)
	if err != nil || (minor == 0 && !zeroOK) {
		r := paramError(id, "%s must be a positive decimal string with at most %d decimals for %s", field, cur.Exponent, cur.Code)
		return 0, &r
	}
	return minor, nil
}

// validateCard applies the credit_card rules per card_reader_mode. Messages
// name fields, never values.
func validateCard(id string, cc *reqCard) (cardInfo, *reply) {
	bad := func(format string, args ...any) (cardInfo, *reply) {
		r := paramError(id, format, args...)
		return cardInfo{}, &r
	}
	if cc == nil {
		return bad("credit_card is required")
	}
	switch cc.ReaderMode {
	case "manual", "swipe", "contact", "contactless":
	case "":
		return bad("credit_card.card_reader_mode is required")
	default:
		return bad("credit_card.card_reader_mode must be manual, swipe, contact or contactless")
	}
	if cc.Number == "" {
		return bad("credit_card.card_number is required")
	}
	if len(cc.Number) < 12 || len(cc.Number) > 19 || !pan.Luhn(cc.Number) {
		return bad("credit_card.card_number is not a valid card number")
	}
	if cc.ExpDate == "" {
		return bad("credit_card.card_exp_date is required")
	}
	if !validYYMM(cc.ExpDate) {
		return bad("credit_card.card_exp_date must be YYMM")
	}
	if cc.Fallback && cc.ReaderMode != "swipe" {
		return bad("credit_card.card_fallback is only allowed with card_reader_mode swipe")
	}
	if cc.ReaderMode != "manual" {
		if cc.Track2 == "" {
			return bad("credit_card.card_track2 is required for card_reader_mode %s", cc.ReaderMode)
		}
		pan, exp, ok := parseTrack2(cc.Track2)
		if !ok {
			return bad("credit_card.card_track2 is not track 2 data")
		}
		if pan != cc.Number {
			return bad("credit_card.card_track2 does not match card_number")
		}
		if exp != cc.ExpDate {
			return bad("credit_card.card_track2 expiry does not match card_exp_date")
		}
	}
	if cc.ReaderMode == "contact" || cc.ReaderMode == "contactless" {
		if cc.CardSN == "" {
			return bad("credit_card.card_sn is required for card_reader_mode %s", cc.ReaderMode)
		}
		if len(cc.CardSN) > 3 || !pan.AllDigits(cc.CardSN) {
			return bad("credit_card.card_sn must be 1-3 digits")
		}
		if cc.ICCRequest == "" {
			return bad("credit_card.icc_request is required for card_reader_mode %s", cc.ReaderMode)
		}
		if !isHex(cc.ICCRequest) || len(cc.ICCRequest)%2 != 0 {
			return bad("credit_card.icc_request must be hex-encoded EMV data")
		}
	}
	if cc.CVV != "" && (len(cc.CVV) < 3 || len(cc.CVV) > 4 || !pan.AllDigits(cc.CVV)) {
		return bad("credit_card.cvv must be 3 or 4 digits")
	}
	return cardInfo{
		mode: cc.ReaderMode, masked: pan.Mask(cc.Number), acquirer: acquirerType(cc.Number),
		fallback: cc.Fallback, cardSN: cc.CardSN, test: isTestCard(cc.Number),
	}, nil
}

// notifyTarget is the request's notify_url (top level wins), else the
// configured WebhookURL.
func (s *Sim) notifyTarget(req *txnRequest) (string, *reply) {
	for _, u := range []string{req.NotifyURL, req.Transaction.NotifyURL} {
		if u == "" {
			continue
		}
		if !validNotifyURL(u) {
			r := paramError(lower(req.Transaction.UUID), "notify_url must be an absolute http(s) URL")
			return "", &r
		}
		return u, nil
	}
	return s.cfg.WebhookURL, nil
}

// duplicateLocked answers a request whose uuid is already taken: the
// existing transaction when the parameters are the same, a refusal
// otherwise. ok is false when the uuid is new.
func (s *Sim) duplicateLocked(id, fp string) (reply, bool) {
	if _, isTip := s.tips[id]; isTip {
		return refusal(http.StatusConflict, CodeParameters, id, "uuid already used by a tips adjustment"), true
	}
	t, ok := s.txns[id]
	if !ok {
		return reply{}, false
	}
	if t.fingerprint != fp {
		return refusal(http.StatusConflict, CodeParameters, id, "uuid already used with different parameters"), true
	}
	return reply{status: http.StatusOK, body: map[string]any{"transaction": s.wireLocked(t, false)}}, true
}

// saleLocked is POST .../payment/transactions (native credit card).
func (s *Sim) saleLocked(r *http.Request, body []byte, now time.Time) reply {
	req, id, rep := decodeTxn(body, typeSale)
	if rep != nil {
		return *rep
	}
	tx := req.Transaction
	if tx.PaymentMethod != "credit_card" {
		return paramError(id, "payment_method must be credit_card (the only method emulated)")
	}
	cur, rep := parseCurrency(id, tx.Currency)
	if rep != nil {
		return *rep
	}
	amount, rep := parseAmount(id, "amount", tx.Amount, cur, false)
	if rep != nil {
		return *rep
	}
	var tip int64
	hasTip := tx.TipsAmount != ""
	if hasTip {
		if tip, rep = parseAmount(id, "tips_amount", tx.TipsAmount, cur, true); rep != nil {
			return *rep
		}
	}
	if amount+tip > money.MaxMinor {
		return paramError(id, "amount too large")
	}
	card, rep := validateCard(id, tx.CreditCard)
	if rep != nil {
		return *rep
	}
	if card.mode != "manual" {
		if !snPattern.MatchString(tx.SN) {
			return paramError(id, "sn (device serial number) is required for native payment")
		}
		for _, h := range nativeHeaders {
			if strings.TrimSpace(r.Header.Get(h)) == "" {
				return paramError(id, "header %s is required for native payment", h)
			}
		}
		if r.Header.Get("X-USER-DEVICE-ID") != tx.SN {
			return paramError(id, "header X-USER-DEVICE-ID must equal sn")
		}
	}
	expAt := now.Add(maxExpiry)
	if tx.TxnExpAt != "" {
		at, err := time.Parse(time.RFC3339, tx.TxnExpAt)
		if err != nil || !at.After(now) || at.After(now.Add(maxExpiry)) {
			return paramError(id, "txn_exp_at must be an RFC 3339 time within 15 minutes from now")
		}
		expAt = at
	}
	notify, rep := s.notifyTarget(req)
	if rep != nil {
		return *rep
	}
	fp := fmt.Sprintf("sale|%s|%d|%d|%t|%s|%s|%s", cur.Code, amount, tip, hasTip, card.masked, card.mode, tx.SN)
	if rep, dup := s.duplicateLocked(id, fp); dup {
		return rep
	}

	o, scripted := s.scripts[id]
	if !scripted {
		o = Outcome{State: stateSuccess}
		if !card.test && s.decline > 0 && amount%100 == int64(s.decline) {
			o = Outcome{State: stateFailed, ErrorCode: CodeInsufficientFunds, ErrorDesc: codeText(CodeInsufficientFunds)}
		}
	}
	t := &txn{
		uuid: id, brn: s.idLocked("22", now), typ: typeSale, state: statePending, cur: cur,
		amount: amount, tip: tip, hasTip: hasTip, mode: card.mode, fallback: card.fallback,
		masked: card.masked, acquirer: card.acquirer, cardSN: card.cardSN, sn: tx.SN,
		createdAt: now, dueAt: now.Add(s.pending), outcome: o, notifyURL: notify, fingerprint: fp,
	}
	if s.pending < 0 {
		t.dueAt = now
	}
	if expAt.Before(t.dueAt) {
		t.dueAt = expAt
		t.outcome = Outcome{State: stateFailed, ErrorCode: CodeTimeoutPayFailed, ErrorDesc: codeText(CodeTimeoutPayFailed)}
	}
	s.addLocked(t)
	if !t.dueAt.After(now) {
		s.finalizeLocked(t, now)
	}
	return reply{status: http.StatusOK, body: map[string]any{"transaction": s.wireLocked(t, false)}}
}

// originLocked finds the original sale of a void, refund or tips request.
func (s *Sim) originLocked(id, brn, op string) (*txn, *reply) {
	if !brnPattern.MatchString(brn) {
		r := paramError(id, "origin_brn is required")
		return nil, &r
	}
	orig := s.byBRN[brn]
	if orig == nil {
		r := refusal(http.StatusNotFound, CodeNoRecord, id, "original transaction not found")
		return nil, &r
	}
	if orig.typ != typeSale || orig.state != stateSuccess {
		r := refusal(http.StatusConflict, CodeParameters, id, "only an approved sale can be %s", op)
		return nil, &r
	}
	if orig.voided {
		r := refusal(http.StatusConflict, CodeParameters, id, "the original is voided")
		return nil, &r
	}
	return orig, nil
}

// childLocked creates an approved void or refund of orig.
func (s *Sim) childLocked(typ, id string, orig *txn, amount int64, sn, notify, fp string, now time.Time) *txn {
	t := &txn{
		uuid: id, brn: s.idLocked("22", now), typ: typ, state: statePending, cur: orig.cur, amount: amount,
		mode: orig.mode, fallback: orig.fallback, masked: orig.masked, acquirer: orig.acquirer, sn: sn,
		createdAt: now, dueAt: now, outcome: Outcome{State: stateSuccess}, origin: orig, notifyURL: notify, fingerprint: fp,
	}
	s.addLocked(t)
	s.finalizeLocked(t, now)
	return t
}

// voidLocked is POST .../payment/void: full amount, unsettled sales only.
func (s *Sim) voidLocked(_ *http.Request, body []byte, now time.Time) reply {
	req, id, rep := decodeTxn(body, typeVoid)
	if rep != nil {
		return *rep
	}
	tx := req.Transaction
	fp := fmt.Sprintf("void|%s|%s|%s", tx.OriginBRN, tx.Amount, tx.Currency)
	if rep, dup := s.duplicateLocked(id, fp); dup {
		return rep
	}
	orig, rep := s.originLocked(id, tx.OriginBRN, "voided")
	if rep != nil {
		return *rep
	}
	switch {
	case orig.settled:
		return refusal(http.StatusConflict, CodeParameters, id, "the original is settled: refund it instead")
	case orig.refunded > 0:
		return refusal(http.StatusConflict, CodeParameters, id, "the original has refunds: refund the rest instead")
	}
	full := orig.amount + orig.tip
	if tx.Currency != "" && tx.Currency != orig.cur.Code {
		return refusal(http.StatusBadRequest, CodeCurrencyMismatch, id, "currency differs from the original's")
	}
	if tx.Amount != "" {
		a, rep := parseAmount(id, "amount", tx.Amount, orig.cur, false)
		if rep != nil {
			return *rep
		}
		if a != full {
			return paramError(id, "a void is for the full amount of the original")
		}
	}
	notify, rep := s.notifyTarget(req)
	if rep != nil {
		return *rep
	}
	t := s.childLocked(typeVoid, id, orig, full, tx.SN, notify, fp, now)
	orig.voided, orig.voidedAt = true, now
	return reply{status: http.StatusOK, body: map[string]any{"transaction": s.wireLocked(t, false)}}
}

// refundLocked is POST .../payment/refund: full or partial, up to what is
// left of the original's captured amount (amount plus tip).
func (s *Sim) refundLocked(_ *http.Request, body []byte, now time.Time) reply {
	req, id, rep := decodeTxn(body, typeRefund)
	if rep != nil {
		return *rep
	}
	tx := req.Transaction
	fp := fmt.Sprintf("refund|%s|%s|%s", tx.OriginBRN, tx.Amount, tx.Currency)
	if rep, dup := s.duplicateLocked(id, fp); dup {
		return rep
	}
	orig, rep := s.originLocked(id, tx.OriginBRN, "refunded")
	if rep != nil {
		return *rep
	}
	cur, rep := parseCurrency(id, tx.Currency)
	if rep != nil {
		return *rep
	}
	if cur != orig.cur {
		return refusal(http.StatusBadRequest, CodeCurrencyMismatch, id, "currency differs from the original's")
	}
	amount, rep := parseAmount(id, "amount", tx.Amount, cur, false)
	if rep != nil {
		return *rep
	}
	if orig.refunded+amount > orig.amount+orig.tip {
		return refusal(http.StatusBadRequest, CodeAmountExceeded, id, "refunds would exceed the captured amount")
	}
	notify, rep := s.notifyTarget(req)
	if rep != nil {
		return *rep
	}
	t := s.childLocked(typeRefund, id, orig, amount, tx.SN, notify, fp, now)
	orig.refunded += amount
	orig.refundCount++
	return reply{status: http.StatusOK, body: map[string]any{"transaction": s.wireLocked(t, false)}}
}

// tipsLocked is POST .../payment/tips: sets the tip of an approved,
// unsettled, unrefunded sale and answers with the sale.
func (s *Sim) tipsLocked(_ *http.Request, body []byte, _ time.Time) reply {
	req, id, rep := decodeTxn(body, typeTips)
	if rep != nil {
		return *rep
	}
	tx := req.Transaction
	if _, taken := s.txns[id]; taken {
		return refusal(http.StatusConflict, CodeParameters, id, "uuid already used by a transaction")
	}
	orig, rep := s.originLocked(id, tx.OriginBRN, "tip-adjusted")
	if rep != nil {
		return *rep
	}
	cur, rep := parseCurrency(id, tx.Currency)
	if rep != nil {
		return *rep
	}
	if cur != orig.cur {
		return refusal(http.StatusBadRequest, CodeCurrencyMismatch, id, "currency differs from the original's")
	}
	tip, rep := parseAmount(id, "tips_amount", tx.TipsAmount, cur, true)
	if rep != nil {
		return *rep
	}
	if prev, seen := s.tips[id]; seen {
		if prev.brn != orig.brn || prev.tip != tip {
			return refusal(http.StatusConflict, CodeParameters, id, "uuid already used with different parameters")
		}
		return reply{status: http.StatusOK, body: map[string]any{"transaction": s.wireLocked(orig, true)}}
	}
	switch {
	case orig.settled:
		return refusal(http.StatusConflict, CodeParameters, id, "the original is settled")
	case orig.refunded > 0:
		return refusal(http.StatusConflict, CodeParameters, id, "the original has refunds")
	}
	orig.tip, orig.hasTip = tip, true
	s.tips[id] = tipRecord{brn: orig.brn, tip: tip}
	s.log.Info("bindosim: tip adjusted", "brn", orig.brn, "tip", amountText(tip, cur))
	return reply{status: http.StatusOK, body: map[string]any{"transaction": s.wireLocked(orig, true)}}
}
