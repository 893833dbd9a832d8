package agent

// Pay-by-link through Bindo (method link with LinkProvider bindo): a
// pre-created order of the Bindo JS SDK spec
// (shared/specs/bindo-js-sdk-precreate-webhook.md, cited as "JS spec:N";
// cloud/bindo PreCreate). The customer pays on the page pay_redirect_url
// opens. The discipline is provider_link.go's: the payment is journaled
// `sending` with its derived uuid (trans_no) and create_sent before the
// pre-create leaves, parked, and only a query by that uuid
// (QueryPreCreate) moves it — never a second pre-create. A Bindo webhook
// about the order (/hooks/bindo, verified with ParseLinkWebhook) only makes
// the reconciler query at once.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// BindoLink is the part of the Bindo client method link uses with
// LinkProvider bindo (*bindo.Client): the uuid of an order number, the
// pre-create and its query.
type BindoLink interface {
	UUIDFor(merchantOrderNo string) string
	PreCreate(ctx context.Context, r bindo.PreCreateRequest) (*bindo.PaymentLink, error)
	QueryPreCreate(ctx context.Context, uuid string) (*bindo.Transaction, error)
	// Refund and Query refund a paid link and follow the refund
	// (provider_bindorefund.go).
	Refund(ctx context.Context, r bindo.RefundRequest) (*bindo.Transaction, error)
	Query(ctx context.Context, uuid, brn string) (*bindo.Transaction, error)
}

var _ BindoLink = (*bindo.Client)(nil)

// DefaultBindoLinkPoll is the least time between two queries of a waiting
// Bindo link: "We suggest that the interval between calls to the query API
// is 20 seconds" (JS spec:60). A webhook makes the agent query at once.
const DefaultBindoLinkPoll = 20 * time.Second

// MinBindoLinkExpiry is the shortest link_expires_in a Bindo link takes:
// txn_exp_at must still lie in the future when the pre-create arrives.
const MinBindoLinkExpiry = time.Minute

// clientIPOK reports whether s is an IP address in canonical form, as the
// Bindo client requires for X-CLIENT-IP.
func clientIPOK(s string) bool {
	ip, err := netip.ParseAddr(s)
	return err == nil && ip.Zone() == "" && ip.String() == s
}

// pollFloor is the least time between two queries of a waiting payment on
// route (0: the agent's poll interval and back-off alone).
func (a *Agent) pollFloor(route string) time.Duration {
	if route == RouteBindoLink {
		return a.cfg.BindoLinkPoll
	}
	return 0
}

// bindoLinkUUID is the uuid a Bindo link was pre-created with: journaled as
// trans_no with the intent, else derived again from the order number.
func (a *Agent) bindoLinkUUID(p *store.Payment) string {
	if p.TransNo != "" {
		return p.TransNo
	}
	return a.cfg.BindoLink.UUIDFor(p.MerchantOrderNo)
}

// bindoLinkOf is the journaled link a webhook or a query answer must match
// (PaymentLink.Check: same uuid, amount and currency).
func (a *Agent) bindoLinkOf(p *store.Payment) (*bindo.PaymentLink, error) {
	cur, err := money.LookupCurrency(p.Currency)
	if err != nil {
		return nil, fmt.Errorf("payment %s: %w", p.MerchantOrderNo, err)
	}
	return &bindo.PaymentLink{UUID: a.bindoLinkUUID(p), Amount: money.Amount{Minor: p.AmountMinor, Currency: cur}}, nil
}

// queryBindoLink asks Bindo (query by uuid) about a link payment; an error
// is no answer.
//
// closesItself: Bindo closes a pre-created order at its expiry and says so.
// The order has "the expiration time of the order", txn_exp_at or by
// default 15 minutes (JS spec:229), and an order not paid by then fails
// with 110010 "Time-Out Payment Failed — Please reprocess the pre-create
// orders and pay again" (JS spec:736); a failed order cannot be paid again
// (JS spec:61). So a link past its expiry can no longer be paid: a pending
// answer is not taken as expired (the gateway's 110010 is awaited), and no
// late checks are needed, unlike the QR wallet (latecheck.go).
func (a *Agent) queryBindoLink(ctx context.Context, p *store.Payment) (providerAnswer, error) {
	link, err := a.bindoLinkOf(p)
	if err != nil {
		return providerAnswer{}, err
	}
	t, err := a.cfg.BindoLink.QueryPreCreate(ctx, link.UUID)
	switch {
	case errors.Is(err, bindo.ErrNotFound):
		return providerAnswer{notFound: true, what: err.Error()}, nil
	case err != nil:
		return providerAnswer{}, err
	}
	if err := link.Check(t); err != nil {
		return providerAnswer{}, fmt.Errorf("query answer: %w", err)
	}
	ans := providerAnswer{what: "transaction_state " + t.State, closesItself: true, payURL: t.PayURL}
	if t.ErrorCode != "" {
		ans.what += " " + t.ErrorCode
		if t.Message != "" {
			ans.what += " (" + t.Message + ")"
		}
	}
	switch {
	case t.Approved: // success; still approved if later voided or refunded
		ans.paid = true
	case t.Status == bindo.StatusPending:
		ans.pending = true
	case t.ErrorCode == bindo.CodeTimeoutPayFailed:
		ans.expired = true
	case t.Status == bindo.StatusDeclined || t.Status == bindo.StatusFailed:
		ans.declined = true
	default:
		return providerAnswer{}, fmt.Errorf("query answered %s, which is not an outcome (never a failure); asking again", ans.what)
	}
	return ans, nil
}

// IsBindoLink reports whether uuid is a Bindo link payment of this journal
// (the /hooks/bindo handler then takes its webhook as a link's).
func (a *Agent) IsBindoLink(ctx context.Context, uuid string) (bool, error) {
	_, err := a.db.GetPaymentByTransNo(ctx, RouteBindoLink, strings.ToLower(uuid))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up bindo link: %w", err)
	}
	return true, nil
}

// ApplyBindoLinkWebhook takes a verified Bindo webhook about a pre-created
// order (bindo.Client.ParseLinkWebhook) as a hint: it must name a Bindo
// link payment of this journal by its uuid, with the same amount (which it
// must carry) and currency; then the reconciler queries Bindo at once, and
// only that answer moves the payment. A repeated webhook changes nothing
// more. Anything else is refused with ErrNotificationRejected.
func (a *Agent) ApplyBindoLinkWebhook(ctx context.Context, tx *bindo.Transaction) error {
	p, err := a.db.GetPaymentByTransNo(ctx, RouteBindoLink, strings.ToLower(tx.UUID))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: Bindo uuid %s is not a payment link of this agent", ErrNotificationRejected, tx.UUID)
	}
	if err != nil {
		return fmt.Errorf("apply bindo link webhook: %w", err)
	}
	link, err := a.bindoLinkOf(p)
	if err == nil && tx.Amount == nil {
		err = errors.New("the webhook carries no amount")
	}
	if err == nil {
		err = link.Check(tx)
	}
	if err != nil {
		a.log.Warn("bindo link webhook disagrees with the journal; ignored", "merchant_order_no", p.MerchantOrderNo, "err", err)
		return fmt.Errorf("%w: %s: %w", ErrNotificationRejected, p.MerchantOrderNo, err)
	}
	return a.queryNow(ctx, p, "Bindo webhook says "+string(tx.Status))
}
