package wsapi

import (
	"context"

	"github.com/posbridge/posbridge/api/rpc"
)

// alertListParams are the params of alert.list.
type alertListParams struct {
	Limit *int `json:"limit"`
}

// AlertList is alert.list's result: the payments with an open alert, the
// most recently changed first, and how many are open in all.
type AlertList struct {
	Open     int       `json:"open"`
	Payments []Payment `json:"payments"`
}

func (api *API) alertList(ctx context.Context, _ *rpc.Conn, p alertListParams) (AlertList, error) {
	limit, err := limitParam(p.Limit)
	if err != nil {
		return AlertList{}, err
	}
	ps, open, err := api.a.OpenAlerts(ctx, limit)
	if err != nil {
		return AlertList{}, appError(err)
	}
	out := AlertList{Open: open, Payments: paymentsFrom(ps)}
	if out.Payments == nil {
		out.Payments = []Payment{}
	}
	return out, nil
}

// alertHandleParams are the params of alert.handle.
type alertHandleParams struct {
	MerchantOrderNo string `json:"merchant_order_no"`
	Note            string `json:"note"`
	Source          string `json:"source"`
}

func (api *API) alertHandle(ctx context.Context, _ *rpc.Conn, p alertHandleParams) (Payment, error) {
	if err := requireOrderNo(p.MerchantOrderNo); err != nil {
		return Payment{}, err
	}
	return wrap(api.a.HandleAlert(ctx, p.MerchantOrderNo, p.Source, p.Note))
}
