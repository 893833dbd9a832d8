package codepaysim

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/money"
)

// TestClientInterop drives the emulator with posbridge's real CodePay client
// (cloud/codepay.Client): both sides must agree on signing, envelopes and
// decoding, and each fault must map to the client's error class.
func TestClientInterop(t *testing.T) {
	e := newEnv(t, nil)
	cl, err := codepay.New(codepay.Config{
		GatewayURL: e.srv.URL, AppID: testAppID, MerchantNo: testMerchant, StoreNo: testStore,
		PrivateKey: e.keys.appPriv, GatewayPublicKey: e.keys.gwPub,
		HTTPClient: e.srv.Client(), Now: e.clock.Now, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	usd := money.MustCurrency("USD")
	tip := int64(100)
	sale := func(no string, minor int64) codepay.CreateOrderRequest {
		return codepay.CreateOrderRequest{
			TerminalSN: snOnline, MerchantOrderNo: no, TransType: codepay.TransSale,
			Amount: money.Amount{Minor: minor, Currency: usd}, Description: "interop", Expires: 3 * time.Minute,
		}
	}

	req := sale("IO-1", 1234)
	req.TipAmount = &tip
	req.Attach = `{"lane":"1"}`
	created, err := cl.CreateOrder(ctx, req)
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	if created.TransNo == "" || created.TerminalOnlineStatus != codepay.TerminalOnline || created.TransAmount == nil || *created.TransAmount != 1334 {
		t.Fatalf("CreateOrder = %+v", created)
	}
	e.clock.Advance(2 * time.Second)
	o, err := cl.QueryOrder(ctx, "IO-1", "")
	if err != nil {
		t.Fatalf("QueryOrder: %v", err)
	}
	if o.TransStatus != codepay.StatusCompleted || o.TransAmount == nil || *o.TransAmount != 1334 ||
		o.TipAmount == nil || *o.TipAmount != 100 || len(o.AuthCode) != 6 || o.CardNo == "" || o.Attach != `{"lane":"1"}` {
		t.Fatalf("QueryOrder = %+v", o)
	}
	if err := cl.AdjustTip(ctx, "IO-1", money.Amount{Minor: 200, Currency: usd}); err != nil {
		t.Fatalf("AdjustTip: %v", err)
	}
	batch, err := cl.CloseBatch(ctx, snOnline)
	if err != nil {
		t.Fatalf("CloseBatch: %v", err)
	}
	if batch.Count == nil || *batch.Count != 1 || batch.TotalAmount != "14.34" {
		t.Fatalf("CloseBatch = %+v", batch)
	}

	refund, err := cl.SubmitRefund(ctx, codepay.RefundRequest{
		MerchantOrderNo: "IO-1-R", OrigMerchantOrderNo: "IO-1", Amount: money.Amount{Minor: 434, Currency: usd}, Description: "interop",
	})
	if err != nil || refund.TransNo == "" {
		t.Fatalf("SubmitRefund = %+v, %v", refund, err)
	}
	e.clock.Advance(2 * time.Second)
	if r, err := cl.QueryRefund(ctx, "IO-1-R", ""); err != nil || r.TransStatus != codepay.StatusCompleted || r.TransType != codepay.TransRefund {
		t.Fatalf("QueryRefund = %+v, %v", r, err)
	}

	off := sale("IO-2", 500)
	off.TerminalSN = snOffline
	if _, err := cl.CreateOrder(ctx, off); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CloseOrder(ctx, codepay.CloseOrderRequest{TerminalSN: snOffline, MerchantOrderNo: "IO-2"}); err != nil {
		t.Fatalf("CloseOrder: %v", err)
	}

	t.Run("refusal is a GatewayError", func(t *testing.T) {
		_, err := cl.CreateOrder(ctx, sale("IO-1", 100))
		var ge *codepay.GatewayError
		if !errors.As(err, &ge) || ge.Code != CodeDuplicateOrder || ge.PSN == "" {
			t.Fatalf("duplicate create = %v", err)
		}
		_, err = cl.CloseOrder(ctx, codepay.CloseOrderRequest{TerminalSN: snOnline, MerchantOrderNo: "IO-1"})
		if !errors.As(err, &ge) || ge.Code != CodeNotClosable {
			t.Fatalf("close of a paid order = %v", err)
		}
	})

	faults := []struct {
		kind    FaultKind
		wantErr error // nil: success
	}{
		{FaultHTTP500, codepay.ErrUnknownOutcome},
		{FaultDropAfterProcess, codepay.ErrUnknownOutcome},
		{FaultBadSignature, codepay.ErrBadSignature},
		{FaultUnsigned, codepay.ErrBadSignature},
		{FaultDataAsString, nil},
	}
	for i, f := range faults {
		t.Run(string(f.kind), func(t *testing.T) {
			no := "IO-F" + string(rune('A'+i))
			e.sim.InjectFault(Fault{Method: codepay.MethodPayOrder, Kind: f.kind})
			_, err := cl.CreateOrder(ctx, sale(no, 100))
			if f.wantErr == nil && err != nil {
				t.Fatalf("CreateOrder = %v, want success", err)
			}
			if f.wantErr != nil && !errors.Is(err, f.wantErr) {
				t.Fatalf("CreateOrder = %v, want %v", err, f.wantErr)
			}
			if n := e.sim.Count(codepay.MethodPayOrder, no); n != 1 {
				t.Errorf("emulator saw %d creates, want exactly 1 (never retried)", n)
			}
		})
	}

	t.Run("notification parses", func(t *testing.T) {
		rc := newReceiver(t, e.clock, func(int) (int, string) { return http.StatusOK, "success" })
		req := sale("IO-N", 700)
		req.NotifyURL = rc.srv.URL + "/hooks/codepay"
		if _, err := cl.CreateOrder(ctx, req); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		e.sim.RunDue(ctx)
		if rc.Count() != 1 {
			t.Fatalf("notifications = %d", rc.Count())
		}
		h := rc.Last()
		o, err := cl.ParseNotification(h.body, h.ctype)
		if err != nil || o.MerchantOrderNo != "IO-N" || o.TransStatus != codepay.StatusCompleted {
			t.Fatalf("ParseNotification = %+v, %v", o, err)
		}
	})
}
