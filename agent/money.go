package agent

import (
	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/money"
)

func moneyAmount(minor int64, t device.Terminal) money.Amount {
	return money.Amount{Minor: minor, Currency: t.Currency}
}
