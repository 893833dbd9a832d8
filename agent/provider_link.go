package agent

// Pay-by-link (method link): a CodePay Hosted Checkout order
// (cloud/codepay Checkout, pay.checkout). The customer pays on the page
// pay_url opens, typically sent by the cashier on a phone order; the agent
// never sees card data. It follows the provider model of provider.go:
// journaled `sending` (create_sent) and parked before pay.checkout leaves,
// `on_terminal` ("waiting for the customer") once the link exists, and only
// an order.query answer about the merchant_order_no moves it: 2 → approved,
// 1 → declined (expired when CodePay says the order expired), 3 →
// cancelled, 9/0 → still waiting. A CodePay notification for the order
// (/hooks/codepay) only makes the reconciler query at once. A checkout is
// never sent twice.

import (
	"context"
	"fmt"
	"strings"
	"time"

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
}

// linkRoute sets a link payment's route and currency.
func (a *Agent) linkRoute(pr *providerReq) error {
	if a.cfg.Link == nil || a.cfg.LinkCurrency.Code == "" {
		return fieldErr("method", "method link needs CodePay hosted checkout, which is not enabled on this agent")
	}
	pr.route, pr.currency = RouteCodePayLink, a.cfg.LinkCurrency
	return nil
}

// linkParams checks the method parameters of a link payment.
func (a *Agent) linkParams(r CreateRequest, pr *providerReq) error {
	switch {
	case r.QRMode != "" || r.CustomerCode != "":
		return fieldErr("qr_mode", "qr_mode and customer_code are for method qr only")
	case r.VAMethod != "" || r.CustomerName != "" || r.CustomerEmail != "" || r.CustomerPhone != "":
		return fieldErr("va_method", "va_method and customer_* are for method va only")
	case r.LinkExpiresIn < 0 || r.LinkExpiresIn > int64(MaxLinkExpiry/time.Second):
		return fieldErr("link_expires_in", "want 1 to %d seconds (CodePay's limit: 7 days), got %d", int64(MaxLinkExpiry/time.Second), r.LinkExpiresIn)
	case r.LinkExpiresIn == 0:
		pr.linkExpires = a.cfg.LinkExpiry
	default:
		pr.linkExpires = time.Duration(r.LinkExpiresIn) * time.Second
	}
	return nil
}

// sendLinkCreate sends the hosted checkout of a journaled link payment and
// applies the answer.
func (a *Agent) sendLinkCreate(ctx context.Context, p *store.Payment, pr *providerReq) (*store.Payment, error) {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	res, err := a.cfg.Link.Checkout(callCtx, codepay.CheckoutRequest{
		MerchantOrderNo: p.MerchantOrderNo, Amount: money.Amount{Minor: p.AmountMinor, Currency: pr.currency},
		Description: pr.description, Expires: pr.linkExpires, NotifyURL: a.cfg.NotifyURL,
	})
	ended := a.clock.Now()
	if err != nil {
		return a.createFailed(ctx, p, err, ended)
	}
	return a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
		md, _ := methodOf(p)
		md.PayURL = res.PayURL
		p.OptionsJSON = md.json()
		p.State = StateOnTerminal
		p.ExpiresAt = res.ExpiresAt
		p.CreateEndedAt = ended
		p.NextCheckAt = ended.Add(a.cfg.PollInterval)
		return nil
	}, "payment link created; waiting for the customer to pay on the checkout page (until "+res.ExpiresAt.UTC().Format(time.RFC3339)+")")
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
