package bindosim

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
)

// Pay-by-link: the JS SDK spec's pre-create
// (shared/specs/bindo-js-sdk-precreate-webhook.md lines 167-240), a stand-in
// for the hosted payment page the pay_redirect_url opens, and the customer's
// side of it as admin actions (pay, decline, abandon, let expire).

// linkPath is the hosted page of pay_redirect_url (spec lines 207, 508).
const linkPath = "/gateway/v3/payment/precreate/link"

// linkPayMethod is how a paid link reports its card: the JS SDK pays with
// a card token (spec lines 493, 501, 617).
const linkPayMethod = "credit_card_token"

// The card a paid link reports (the spec's Visa test card, masked).
const (
	linkCardMasked   = "411111******1111"
	linkCardAcquirer = "visa"
)

// linkInfo is what a pre-created order adds to a transaction.
type linkInfo struct {
	secret      string // X-CLIENT-SECRET of pay_redirect_url
	payURL      string
	clientIP    string // X-CLIENT-IP of the pre-create
	expiresAt   time.Time
	abandonedAt time.Time
}

func (t *txn) paymentMethod() string {
	if t.link != nil {
		return linkPayMethod
	}
	return "credit_card"
}

// LinkAction is what the customer does on a pre-created order's page.
type LinkAction string

// Link actions.
const (
	// LinkPay: the customer pays; the order succeeds at once.
	LinkPay LinkAction = "pay"
	// LinkDecline: the card is declined; the order fails (by default with
	// 110003) and cannot be paid again (spec line 61).
	LinkDecline LinkAction = "decline"
	// LinkAbandon: the customer leaves the page. Nothing changes at the
	// gateway: the order stays pending, and payable, until it expires.
	LinkAbandon LinkAction = "abandon"
	// LinkExpire: the expiry is reached now; the order fails with 110010
	// "Time-Out Payment Failed" (spec line 736), as it does by itself at
	// txn_exp_at.
	LinkExpire LinkAction = "expire"
)

// Errors of ActOnLink.
var (
	ErrNoLink    = errors.New("no pre-created order with that uuid")
	ErrLinkFinal = errors.New("pre-created order is already final")
)

// ActOnLink applies the customer's action to the pre-created order uuid.
// errorCode is the decline's error_code ("" means 110003); other actions
// ignore it. Final orders refuse every action (ErrLinkFinal).
func (s *Sim) ActOnLink(uuid string, a LinkAction, errorCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.advanceLocked(now)
	t := s.txns[lower(uuid)]
	if t == nil || t.link == nil {
		return fmt.Errorf("act on link %s: %w", uuid, ErrNoLink)
	}
	if t.state != statePending {
		return fmt.Errorf("act on link %s: %w (%s)", uuid, ErrLinkFinal, t.state)
	}
	switch a {
	case LinkPay:
		t.outcome = Outcome{State: stateSuccess}
		t.mode, t.masked, t.acquirer = linkPayMethod, linkCardMasked, linkCardAcquirer
	case LinkDecline:
		code := errorCode
		if code == "" {
			code = CodeRejectedByIssuer
		}
		t.outcome = Outcome{State: stateFailed, ErrorCode: code, ErrorDesc: codeText(code)}
		t.mode, t.masked, t.acquirer = linkPayMethod, linkCardMasked, linkCardAcquirer
	case LinkAbandon:
		t.link.abandonedAt = now
		s.log.Info("bindosim: customer left the payment page", "uuid", t.uuid)
		return nil
	case LinkExpire:
		t.outcome = expiredOutcome()
	default:
		return fmt.Errorf("act on link %s: unknown action %q", uuid, a)
	}
	t.dueAt = now
	s.finalizeLocked(t, now)
	return nil
}

func expiredOutcome() Outcome {
	return Outcome{State: stateFailed, ErrorCode: CodeTimeoutPayFailed, ErrorDesc: codeText(CodeTimeoutPayFailed)}
}

// preCreateLocked is POST .../payment/precreate (spec lines 167-240).
func (s *Sim) preCreateLocked(r *http.Request, body []byte, now time.Time) reply {
	req, id, rep := decodeTxn(body, typeSale)
	if rep != nil {
		return *rep
	}
	tx := req.Transaction
	ip, err := netip.ParseAddr(r.Header.Get("X-CLIENT-IP"))
	if err != nil {
		return paramError(id, "header X-CLIENT-IP is required for pre-create and must be an IP address")
	}
	switch {
	case tx.CreditCard != nil:
		return paramError(id, "credit_card is entered on the payment page, not sent with pre-create")
	case tx.PaymentMethod != "":
		return paramError(id, "payment_method is chosen on the payment page, not sent with pre-create")
	case tx.TipsAmount != "" || tx.SN != "" || tx.OriginBRN != "":
		return paramError(id, "pre-create takes uuid, amount, currency, transaction_type and txn_exp_at only")
	}
	cur, rep := parseCurrency(id, tx.Currency)
	if rep != nil {
		return *rep
	}
	amount, rep := parseAmount(id, "amount", tx.Amount, cur, false)
	if rep != nil {
		return *rep
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
	fp := fmt.Sprintf("precreate|%s|%d|%s|%s|%s", cur.Code, amount, tx.TxnExpAt, ip, notify)
	if rep, dup := s.duplicateLocked(id, fp); dup {
		return rep
	}
	secret := rand.Text()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	link := &linkInfo{
		secret: secret, clientIP: ip.String(), expiresAt: expAt,
		payURL: scheme + "://" + r.Host + linkPath + "?" + url.Values{"X-CLIENT-SECRET": {secret}}.Encode(),
	}
	t := &txn{
		uuid: id, brn: s.idLocked("22", now), typ: typeSale, state: statePending, cur: cur, amount: amount,
		createdAt: now, dueAt: expAt, outcome: expiredOutcome(), notifyURL: notify, fingerprint: fp, link: link,
	}
	s.addLocked(t)
	s.links[secret] = t
	return reply{status: http.StatusOK, body: map[string]any{"transaction": s.wireLocked(t, false)}}
}

// linkPageLocked is GET pay_redirect_url: the hosted page reading its
// order by X-CLIENT-SECRET ("Get Options By Pay Redirect URL" in the spec's
// data flow). The stand-in answers the order as JSON; paying happens through
// ActOnLink (POST /sim/links/{uuid}).
func (s *Sim) linkPageLocked(r *http.Request, _ []byte, _ time.Time) reply {
	t := s.links[r.URL.Query().Get("X-CLIENT-SECRET")]
	if t == nil {
		return refusal(http.StatusNotFound, CodeNoRecord, "", "unknown or missing X-CLIENT-SECRET")
	}
	return reply{status: http.StatusOK, body: map[string]any{"transaction": s.wireLocked(t, false)}}
}

// adminLink is POST /sim/links/{uuid} {"action", "error_code"}.
func (s *Sim) adminLink(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Action    LinkAction `json:"action"`
		ErrorCode string     `json:"error_code"`
	}
	if err := simkit.DecodeAdmin(r, &body); err != nil {
		writeAdminJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	switch body.Action {
	case LinkPay, LinkDecline, LinkAbandon, LinkExpire:
	default:
		writeAdminJSON(w, http.StatusBadRequest, map[string]string{"error": `action must be "pay", "decline", "abandon" or "expire"`})
		return
	}
	id := r.PathValue("id")
	switch err := s.ActOnLink(id, body.Action, body.ErrorCode); {
	case errors.Is(err, ErrNoLink):
		writeAdminJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case err != nil:
		writeAdminJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	default:
		v, _ := s.Transaction(id)
		writeAdminJSON(w, http.StatusOK, v)
	}
}
