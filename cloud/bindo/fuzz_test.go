package bindo

import (
	"errors"
	"testing"
)

// FuzzInterpret feeds arbitrary gateway answers to the response decoder: it
// must never panic, must classify every answer, and must never return clear
// PAN-like digit runs in the fields it keeps.
func FuzzInterpret(f *testing.F) {
	f.Add(200, []byte(specSaleResponse), true)
	f.Add(200, []byte(txBody(`"transaction_state":"pending"`)), true)
	f.Add(200, []byte(txBody(`"transaction_state":"failed","error_code":"110004"`)), false)
	f.Add(400, []byte(`{"transaction":{"transaction_state":"failed","error_code":"100001"}}`), true)
	f.Add(404, []byte(`{"transaction":{"transaction_state":"failed","error_code":"100013"}}`), false)
	f.Add(200, []byte(txBody(`"transaction_state":"success","amount":12.5,"currency":"HKD","refunded_amount":"1e3"`)), false)
	f.Add(200, []byte(txBody(`"credit_card":{"card_number":"4111111111111111"},"transaction_state":"success"`)), true)
	f.Add(500, []byte(``), true)
	f.Add(200, []byte(`{"transaction":null}`), true)
	f.Add(200, []byte(`[1,2,3]`), false)
	f.Fuzz(func(t *testing.T, status int, body []byte, mutation bool) {
		tx, err := interpret(OpSale, &rawResponse{status: status, body: body}, mutation, ident{uuid: wantUUID})
		if err == nil {
			if tx == nil {
				t.Fatal("nil transaction without error")
			}
			if tx.Final != tx.Status.Final() || tx.Status == "" {
				t.Fatalf("inconsistent status %q final %v", tx.Status, tx.Final)
			}
			if tx.UUID == "" && tx.BRN == "" {
				t.Fatal("transaction without identity")
			}
			for _, a := range []*int64{tx.Amount, tx.Tip, tx.Total, tx.Refunded} {
				if a != nil && *a < 0 {
					t.Fatalf("negative amount %d", *a)
				}
			}
			for _, s := range []string{tx.MaskedPAN, tx.Message, tx.EntryMode, tx.Brand} {
				if hasLongDigitRun(s) {
					t.Fatalf("kept field %q has a clear digit run", s)
				}
			}
			return
		}
		var ge *GatewayError
		if !errors.As(err, &ge) && !errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("unclassified error %v", err)
		}
		if errors.Is(err, ErrNotSent) {
			t.Fatalf("a received answer cannot be ErrNotSent: %v", err)
		}
		if ge != nil && hasLongDigitRun(ge.Message) {
			t.Fatalf("gateway message %q has a clear digit run", ge.Message)
		}
	})
}

// FuzzParseWebhook: never panics; accepted webhooks are classified.
func FuzzParseWebhook(f *testing.F) {
	f.Add([]byte(sampleWebhook))
	f.Add([]byte(`{"transaction":{"uuid":"u","transaction_state":"failed","error_code":"110004"}}`))
	f.Add([]byte(`{"transaction":{"brn":1,"transaction_state":"success","amount":"-1","currency":"JPY"}}`))
	f.Add([]byte(`{"transaction":{"brn":"1","transaction_state":"success","is_voided":true,"refunded_amount":"2","amount":"2","currency":"KWD"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tx, err := ParseWebhook(body)
		if err != nil {
			if !errors.Is(err, ErrBadWebhook) {
				t.Fatalf("error %v does not match ErrBadWebhook", err)
			}
			return
		}
		if tx.State == "" || (tx.UUID == "" && tx.BRN == "") || tx.Final != tx.Status.Final() {
			t.Fatalf("accepted incomplete webhook: %+v", tx)
		}
	})
}

// FuzzVerifyWebhook: never panics, and never accepts a signature for a
// different body.
func FuzzVerifyWebhook(f *testing.F) {
	f.Add([]byte(sampleWebhook), "deadbeef")
	f.Add([]byte(""), "")
	f.Add([]byte("x"), "sha256=AAAA")
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		if err := VerifyWebhook([]byte(testWebhookSecret), body, sig); err == nil {
			t.Fatalf("random signature %q accepted", sig)
		}
	})
}

func hasLongDigitRun(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			if run >= 12 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}
