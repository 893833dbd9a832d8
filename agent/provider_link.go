package agent

// Pay-by-link (method link): a CodePay Hosted Checkout order
// (cloud/codepay Checkout, pay.checkout) or, with LinkProvider bindo, a
// Bindo pre-created order (cloud/bindo PreCreate, provider_bindolink.go).
// The customer pays on the page pay_url opens, typically sent by the
// cashier on a phone order; the agent never sees card data. It follows the
// provider model of provider.go: journaled `sending` (create_sent) and
// parked before the create leaves, `on_terminal` ("waiting for the
// customer") once the link exists, and only a query answer about the order
// moves it. For CodePay: order.query by merchant_order_no, 2 → approved,
// 1 → declined (expired when CodePay says the order expired), 3 →
// cancelled, 9/0 → still waiting; a CodePay notification for the order
// (/hooks/codepay) only makes the reconciler query at once. A create is
// never sent twice.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// LinkCheckout is the part of the CodePay client method link uses
// (*codepay.Client); the order is queried through Config.CodePay.
type LinkCheckout interface {
	Checkout(ctx context.Context, r codepay.CheckoutRequest) (*codepay.CheckoutResponse, error)
}

var _ LinkCheckout = (*codepay.Client)(nil)

// Link providers (Config.LinkProvider, [link] provider).
const (
	LinkProviderCodePay = "codepay" // CodePay Hosted Checkout (the default)
	LinkProviderBindo   = "bindo"   // Bindo pre-create (provider_bindolink.go)
)

// isLinkRoute reports whether route is a payment link's.
func isLinkRoute(route string) bool {
	return route == RouteCodePayLink || route == RouteBindoLink
}

// DefaultLinkExpiry is how long a payment link may be paid when neither
// the request (link_expires_in) nor the configuration says otherwise.
const DefaultLinkExpiry = 24 * time.Hour

// MaxLinkExpiry is CodePay's limit for a hosted checkout (7 days).
const MaxLinkExpiry = codepay.MaxCheckoutExpires

func linkDefaults(cfg *Config) {
	if cfg.LinkExpiry <= 0 || cfg.LinkExpiry > MaxLinkExpiry {
		cfg.LinkExpiry = DefaultLinkExpiry
	}
	if cfg.LinkCurrency.Code == "" && len(cfg.Terminals) > 0 {
		cfg.LinkCurrency = cfg.Terminals[0].Currency
	}
	if cfg.LinkProvider == "" {
		cfg.LinkProvider = LinkProviderCodePay
	}
	if cfg.BindoLinkPoll <= 0 {
		cfg.BindoLinkPoll = DefaultBindoLinkPoll
	}
}

// linkRoute sets a link payment's route and currency (and, for Bindo, the
// uuid journaled with the intent). A provider that is not usable refuses
// the request before anything is journaled.
func (a *Agent) linkRoute(pr *providerReq) error {
	if a.cfg.LinkCurrency.Code == "" {
		return fieldErr("method", "method link needs a currency: no terminal is configured on this agent")
	}
	pr.currency = a.cfg.LinkCurrency
	switch a.cfg.LinkProvider {
	case LinkProviderCodePay:
		if a.cfg.Link == nil {
			return fieldErr("method", "method link needs CodePay hosted checkout, which is not enabled on this agent")
		}
		pr.route = RouteCodePayLink
	case LinkProviderBindo:
		if a.cfg.BindoLink == nil {
			return fieldErr("method", "method link is set to Bindo pre-create ([link] provider = \"bindo\"), but [bindo] is not configured on this agent")
		}
		if !clientIPOK(a.cfg.LinkClientIP) {
			return fieldErr("method", "method link through Bindo needs [bindo] link_client_ip (sent as X-CLIENT-IP), which is not set")
		}
		pr.route, pr.transNo = RouteBindoLink, a.cfg.BindoLink.UUIDFor(pr.orderNo)
	default:
		return fieldErr("method", "method link: unknown link provider %q on this agent", a.cfg.LinkProvider)
	}
	return nil
}

// linkParams checks the method parameters of a link payment.
func (a *Agent) linkParams(r CreateRequest, pr *providerReq) error {
	switch {
	case r.QRMode != "" || r.CustomerCode != "":
		return fieldErr("qr_mode", "qr_mode and customer_code are for method qr only")
	case r.VAMethod != "" || r.CustomerName != "" || r.CustomerEmail != "" || r.CustomerPhone != "":
		return fieldErr("va_method", "va_method and customer_* are for method va only")
	}
	lo, hi, limit := int64(1), int64(MaxLinkExpiry/time.Second), "CodePay's limit: 7 days"
	if pr.route == RouteBindoLink {
		lo, hi, limit = int64(MinBindoLinkExpiry/time.Second), int64(bindo.MaxLinkLifetime/time.Second), "Bindo's limit: 15 minutes"
	}
	switch {
	case r.LinkExpiresIn == 0 && pr.route == RouteBindoLink:
		pr.linkExpires = 0 // no txn_exp_at: Bindo's own default, 15 minutes
	case r.LinkExpiresIn == 0:
		pr.linkExpires = a.cfg.LinkExpiry
	case r.LinkExpiresIn < lo || r.LinkExpiresIn > hi:
		return fieldErr("link_expires_in", "want %d to %d seconds (%s), got %d", lo, hi, limit, r.LinkExpiresIn)
	default:
		pr.linkExpires = time.Duration(r.LinkExpiresIn) * time.Second
	}
	return nil
}

// linkLifetime is how long the link will be payable: the requested time,
// or Bindo's default when none is sent.
func (pr *providerReq) linkLifetime() time.Duration {
	if pr.linkExpires == 0 {
		return bindo.MaxLinkLifetime
	}
	return pr.linkExpires
}

// sendLinkCreate sends the create of a journaled link payment (CodePay's
// hosted checkout or Bindo's pre-create) once and applies the answer.
func (a *Agent) sendLinkCreate(ctx context.Context, p *store.Payment, pr *providerReq) (*store.Payment, error) {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	amount := money.Amount{Minor: p.AmountMinor, Currency: pr.currency}
	var payURL string
	var expires time.Time
	var err error
	if p.Route == RouteBindoLink {
		req := bindo.PreCreateRequest{UUID: p.TransNo, MerchantOrderNo: p.MerchantOrderNo, Amount: amount, ClientIP: a.cfg.LinkClientIP}
		if pr.linkExpires > 0 {
			req.ExpiresAt = p.CreatedAt.Add(pr.linkExpires) // the expiry journaled with the intent
		}
		var l *bindo.PaymentLink
		if l, err = a.cfg.BindoLink.PreCreate(callCtx, req); err == nil {
			payURL, expires = l.URL, l.ExpiresAt
		}
	} else {
		var res *codepay.CheckoutResponse
		if res, err = a.cfg.Link.Checkout(callCtx, codepay.CheckoutRequest{
			MerchantOrderNo: p.MerchantOrderNo, Amount: amount,
			Description: pr.description, Expires: pr.linkExpires, NotifyURL: a.cfg.NotifyURL,
		}); err == nil {
			payURL, expires = res.PayURL, res.ExpiresAt
		}
	}
	ended := a.clock.Now()
	if err != nil {
		return a.createFailed(ctx, p, err, ended)
	}
	return a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
		md, _ := methodOf(p)
		md.PayURL = payURL
		p.OptionsJSON = md.json()
		p.State = StateOnTerminal
		p.ExpiresAt = expires
		p.CreateEndedAt = ended
		p.NextCheckAt = ended.Add(max(a.cfg.PollInterval, a.pollFloor(p.Route)))
		return nil
	}, "payment link created; waiting for the customer to pay on the hosted page (until "+expires.UTC().Format(time.RFC3339)+")")
}

// lostLinkWithdrawn is the message of a CodePay link withdrawn by
// withdrawLostLink.
const lostLinkWithdrawn = "withdrawn: CodePay's answer to the link's create was lost, and with it the page address, so nobody could pay it; " +
	"CodePay closed the order (order.revoker) and the merchant keeps no money. Create a new link with a new order number"

// lostLink reports whether p is a CodePay link whose page address (pay_url)
// never reached posbridge: the create's answer was lost, or the process
// stopped before it was journaled. Only that answer carries pay_url;
// order.query does not (spec:171-180 and the query's fields).
func lostLink(p *store.Payment) bool {
	if p.Route != RouteCodePayLink || p.Type == TypeRefund {
		return false
	}
	md, _ := methodOf(p)
	return md.PayURL == ""
}

// withdrawLostLink closes a lost link (lostLink) that CodePay shows waiting
// for the customer: nobody has its address, so it would only wait until it
// expires (a day by default) while the cashier cannot give it to anyone. It
// is closed as payment.cancel closes a link (order.revoker, the intent
// journaled first, the outcome confirmed by a signed order.query; CodePay
// refunds the customer should one have paid). Without an answer the
// reconciler confirms the journaled revoke; when the revoke could not be
// sent, the next query of the payment tries again.
func (a *Agent) withdrawLostLink(ctx context.Context, no string) {
	cl, ok := a.cloudOrders()
	if !ok || !a.claimRevoke(no) {
		return
	}
	defer a.releaseRevoke(no)
	_, err := a.sendRevoke(ctx, cl, no, "a payment link whose page address was lost with CodePay's answer, so no customer can open it")
	if err != nil && !errors.Is(err, ErrCancelUnconfirmed) {
		a.log.Warn("lost payment link not withdrawn yet", "merchant_order_no", no, "err", err)
	}
}

// queryLink asks CodePay (order.query) about a link payment; an error is
// no answer.
func (a *Agent) queryLink(ctx context.Context, p *store.Payment) (providerAnswer, error) {
	o, err := a.cfg.CodePay.QueryOrder(ctx, p.MerchantOrderNo, p.TransNo)
	switch {
	case codepay.IsOrderNotFound(err):
		return providerAnswer{notFound: true, what: err.Error()}, nil
	case err != nil:
		return providerAnswer{}, err
	case o.Currency != "" && o.Currency != p.Currency:
		return providerAnswer{}, fmt.Errorf("order.query reports currency %s for a payment in %s", o.Currency, p.Currency)
	case o.OrderAmount != nil && *o.OrderAmount != p.AmountMinor:
		cur, _ := money.LookupCurrency(p.Currency)
		return providerAnswer{}, fmt.Errorf("order.query reports amount %s for a payment of %s", money.Format(*o.OrderAmount, cur), money.Format(p.AmountMinor, cur))
	}
	ans := providerAnswer{transNo: o.TransNo, what: "trans_status " + fmt.Sprint(int(o.TransStatus)), closesItself: true}
	if o.TransErrorCode != "" {
		ans.what += " " + o.TransErrorCode
		if o.TransErrorMsg != "" {
			ans.what += " (" + o.TransErrorMsg + ")"
		}
	}
	switch o.TransStatus {
	case codepay.StatusCompleted:
		ans.paid = true
	case codepay.StatusFailed:
		ans.expired = strings.Contains(strings.ToUpper(o.TransErrorCode), "EXPIRE")
		ans.declined = !ans.expired
	case codepay.StatusCancelled:
		ans.failed = true
	case codepay.StatusCreated, codepay.StatusProcessing:
		ans.pending = true
	default:
		return providerAnswer{}, fmt.Errorf("order.query answered %s, which is not an outcome (never a failure); asking again", ans.what)
	}
	return ans, nil
}
