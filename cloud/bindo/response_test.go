package bindo

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/bindo/bindosim"
)

const wantUUID = "2d852f27-c5a4-4f64-9ab7-5c5e42493589"

// The spec's credit card sale response.
const specSaleResponse = `{"transaction": {"amount": "0.2", "merchant_id": "987654321", "transaction_type": "sale",
 "uuid": "2d852f27-c5a4-4f64-9ab7-5c5e42493589", "rrn": "2370549374775197696", "acquirer_name": "fake",
 "credit_card": {"response_code": "00", "card_number": "451461******4854", "card_reader_mode": "manual",
 "card_exp_date": "0925", "auth_code": "2370549374775197699"},
 "date_time": "2021-10-22T08:49:13.406434762Z", "total_amount": "0.2", "dcc_amount": "0",
 "transaction_state": "success", "currency": "HKD", "payment_method": "credit_card",
 "brn": "2370549374607450112", "acquirer_type": "visa"}}`

func txBody(fields string) string {
	return `{"transaction":{"uuid":"` + wantUUID + `","brn":"1",` + fields + `}}`
}

func TestInterpret(t *testing.T) {
	type want struct {
		status   Status
		final    bool
		class    error // expected error class; nil = success
		code     string
		notFound bool
	}
	tests := []struct {
		name     string
		http     int
		body     string
		mutation bool
		want     want
	}{
		{"spec sale response", 200, specSaleResponse, true, want{status: StatusApproved, final: true}},
		{"pending", 200, txBody(`"transaction_state":"pending"`), true, want{status: StatusPending}},
		{"unknown state is pending", 200, txBody(`"transaction_state":"processing"`), true, want{status: StatusPending}},
		{"decline", 200, txBody(`"transaction_state":"failed","error_code":"110003","error_desc":"Rejected By Issuer"`), true, want{status: StatusDeclined, final: true}},
		{"insufficient funds", 200, txBody(`"transaction_state":"failed","error_code":"110004"`), true, want{status: StatusDeclined, final: true}},
		{"risk flagged", 200, txBody(`"transaction_state":"failed","error_code":"100011"`), true, want{status: StatusDeclined, final: true}},
		{"time-out failed", 200, txBody(`"transaction_state":"failed","error_code":"110010"`), true, want{status: StatusFailed, final: true}},
		{"order closing", 200, txBody(`"transaction_state":"failed","error_code":"100024"`), true, want{status: StatusPending}},
		{"refusal in 200", 200, txBody(`"transaction_state":"failed","error_code":"100001","error_desc":"Parameters Error"`), true, want{class: &GatewayError{}, code: "100001"}},
		{"terminal busy", 200, txBody(`"transaction_state":"failed","error_code":"100007"`), true, want{class: &GatewayError{}, code: "100007"}},
		{"unlisted code on mutation", 200, txBody(`"transaction_state":"failed","error_code":"199997","error_desc":"Internal Error 3"`), true, want{class: ErrUnknownOutcome}},
		{"unlisted code on query", 200, txBody(`"transaction_state":"failed","error_code":"199997"`), false, want{status: StatusFailed, final: true}},
		{"no record on query", 200, `{"transaction":{"transaction_state":"failed","error_code":"100013"}}`, false, want{class: &GatewayError{}, code: "100013", notFound: true}},
		{"top-level error", 200, `{"error_code":"100016","error_desc":"The Currency Is Not Matched"}`, true, want{class: &GatewayError{}, code: "100016"}},
		{"4xx envelope", 400, `{"transaction":{"transaction_state":"failed","error_code":"100015","error_desc":"Transaction Amount Exceeded"}}`, true, want{class: &GatewayError{}, code: "100015"}},
		{"4xx plain text", 403, `Forbidden`, true, want{class: &GatewayError{}, code: "HTTP_403"}},
		{"404 no record", 404, `{"transaction":{"transaction_state":"failed","error_code":"100013"}}`, false, want{class: &GatewayError{}, code: "100013", notFound: true}},
		{"429 refused", 429, ``, true, want{class: &GatewayError{}, code: "HTTP_429"}},
		{"408", 408, ``, true, want{class: ErrUnknownOutcome}},
		{"500", 500, txBody(`"transaction_state":"success"`), true, want{class: ErrUnknownOutcome}},
		{"502", 502, ``, false, want{class: ErrUnknownOutcome}},
		{"redirect", 302, ``, true, want{class: ErrUnknownOutcome}},
		{"empty 200", 200, ``, true, want{class: ErrUnknownOutcome}},
		{"html 200", 200, `<html>ok</html>`, true, want{class: ErrUnknownOutcome}},
		{"no transaction", 200, `{"ok":true}`, true, want{class: ErrUnknownOutcome}},
		{"other uuid", 200, `{"transaction":{"uuid":"11111111-2222-5333-8444-555555555555","brn":"1","transaction_state":"success"}}`, true, want{class: ErrUnknownOutcome}},
		{"no ids on success", 200, `{"transaction":{"transaction_state":"success"}}`, false, want{class: ErrUnknownOutcome}},
		{"bad amount", 200, txBody(`"transaction_state":"success","amount":"abc","currency":"HKD"`), true, want{class: ErrUnknownOutcome}},
		{"unknown currency", 200, txBody(`"transaction_state":"success","amount":"1","currency":"XYZ"`), true, want{class: ErrUnknownOutcome}},
		{"refunded", 200, txBody(`"transaction_state":"success","amount":"10","currency":"HKD","refunded_amount":"10","refunded_times":1,"is_voided":false`), false, want{status: StatusRefunded, final: true}},
		{"partially refunded", 200, txBody(`"transaction_state":"success","amount":"10","tips_amount":"1","currency":"HKD","refunded_amount":"10.5"`), false, want{status: StatusPartiallyRefunded, final: true}},
		{"voided", 200, txBody(`"transaction_state":"success","is_voided":"true"`), false, want{status: StatusVoided, final: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := interpret(OpSale, &rawResponse{status: tc.http, body: []byte(tc.body)}, tc.mutation, ident{uuid: wantUUID})
			switch c := tc.want.class.(type) {
			case nil:
				if err != nil {
					t.Fatalf("interpret = %v, want %s", err, tc.want.status)
				}
				if tx.Status != tc.want.status || tx.Final != tc.want.final || tx.Approved != (tx.State == StateSuccess) {
					t.Fatalf("interpret = status %s final %v approved %v, want %s final %v", tx.Status, tx.Final, tx.Approved, tc.want.status, tc.want.final)
				}
			case *GatewayError:
				var ge *GatewayError
				if !errors.As(err, &ge) || ge.Code != tc.want.code || ge.HTTPStatus != tc.http {
					t.Fatalf("interpret error = %v, want *GatewayError %s", err, tc.want.code)
				}
				if errors.Is(err, ErrNotFound) != tc.want.notFound || errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrNotSent) {
					t.Fatalf("interpret error %v has the wrong classes", err)
				}
				_ = c
			default:
				if !errors.Is(err, tc.want.class) || errors.Is(err, ErrNotSent) {
					t.Fatalf("interpret error = %v, want %v", err, tc.want.class)
				}
			}
		})
	}
}

func TestInterpretFields(t *testing.T) {
	tx, err := interpret(OpSale, &rawResponse{status: 200, body: []byte(specSaleResponse)}, true, ident{uuid: strings.ToUpper(wantUUID)})
	if err != nil {
		t.Fatal(err)
	}
	want := Transaction{
		UUID: wantUUID, BRN: "2370549374607450112", Type: "sale", State: "success", Status: StatusApproved, Final: true, Approved: true,
		Currency: "HKD", AuthCode: "2370549374775197699", RefNo: "2370549374775197696", ResponseCode: "00",
		MaskedPAN: "451461******4854", Brand: "Visa", EntryMode: "manual", MerchantID: "987654321",
		Time: time.Date(2021, 10, 22, 8, 49, 13, 406434762, time.UTC),
	}
	if *tx.Amount != 20 || *tx.Total != 20 || tx.Tip != nil {
		t.Fatalf("amounts = %v %v %v, want 20 20 nil", tx.Amount, tx.Total, tx.Tip)
	}
	tx.Amount, tx.Total = nil, nil
	if *tx != want {
		t.Fatalf("interpret =\n%+v\nwant\n%+v", *tx, want)
	}
	// A clear PAN or long digit runs from the gateway never survive.
	body := txBody(`"transaction_state":"failed","error_code":"110003","error_desc":"card 4111111111111111 refused",
		"credit_card":{"card_number":"4111111111111111","card_reader_mode":"swipe","card_fallback":true}`)
	tx, err = interpret(OpSale, &rawResponse{status: 200, body: []byte(body)}, true, ident{uuid: wantUUID})
	if err != nil {
		t.Fatal(err)
	}
	if tx.MaskedPAN != visaMask || strings.Contains(tx.Message, visaPAN) || tx.EntryMode != "fallback_swipe" {
		t.Fatalf("interpret = %+v: PAN not masked or fallback lost", tx)
	}
	_, err = interpret(OpSale, &rawResponse{status: 400, body: []byte(`{"error_desc":"bad card_number 4111111111111111"}`)}, true, ident{})
	if err == nil || strings.Contains(err.Error(), visaPAN) {
		t.Fatalf("error %v reveals the PAN", err)
	}
	_, err = interpret(OpSale, &rawResponse{status: 502, body: []byte(`4111111111111111`)}, true, ident{})
	if err == nil || strings.Contains(err.Error(), visaPAN) {
		t.Fatalf("error %v reveals the body", err)
	}
}

func TestScrubDigits(t *testing.T) {
	tests := []struct{ in, want string }{
		{"card 4111111111111111 refused", "card 411111******1111 refused"},
		{"code 110003", "code 110003"},
		{"ref 123456789012", "ref ********9012"}, // 12 digits: the last four only (pan.Mask)
		{"line\nbreak\x00", "line break "},
		{"", ""},
	}
	for _, tc := range tests {
		if got := scrubDigits(tc.in); got != tc.want {
			t.Errorf("scrubDigits(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := scrubDigits(strings.Repeat("x", 500)); len(got) > maxErrorMessageLength+3 {
		t.Errorf("scrubDigits did not bound the length: %d", len(got))
	}
}

func TestWipingReader(t *testing.T) {
	b := []byte(visaT2)
	r := &wipingReader{b: b}
	buf := make([]byte, 8)
	if n, err := r.Read(buf); n != 8 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for i, c := range b {
		if c != 0 {
			t.Fatalf("byte %d not zeroed after Close", i)
		}
	}
	if _, err := r.Read(buf); err == nil {
		t.Fatalf("Read after Close succeeded")
	}
}

func assertNoSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range secrets {
		if strings.Contains(s, secret) {
			t.Fatalf("%s contains card data or a secret (%d chars starting %.4s...)", what, len(secret), secret)
		}
	}
}

// TestNoCardDataInLogsOrErrors drives every path that handles card data and
// checks the client's debug logs, every error text, the emulator's logs and
// its request log.
func TestNoCardDataInLogsOrErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var errs []string
	note := func(_ *Transaction, err error) {
		if err != nil {
			errs = append(errs, err.Error(), strings.ReplaceAll(strings.ReplaceAll(err.Error(), "*", ""), " ", ""))
		}
	}
	note(e.client.Sale(ctx, saleReq("NC1", 1000, visaCard(ModeContact))))
	note(e.client.Sale(ctx, saleReq("NC2", 1051, otherCard(ModeContactless))))
	bad := visaCard(ModeSwipe)
	bad.expiry = "2901"
	note(e.client.Sale(ctx, saleReq("NC3", 1000, bad))) // gateway refusal
	noICC := visaCard(ModeContact)
	noICC.icc = ""
	note(e.client.Sale(ctx, saleReq("NC4", 1000, noICC))) // validation
	badT2 := visaCard(ModeSwipe)
	badT2.track2 = visaPAN + "X"
	note(e.client.Sale(ctx, saleReq("NC5", 1000, badT2))) // validation
	e.sim.InjectFault(bindosim.Fault{Op: bindosim.OpSale, Kind: bindosim.FaultDropAfterProcess})
	note(e.client.Sale(ctx, saleReq("NC6", 1000, visaCard(ModeSwipe))))
	e.sim.InjectFault(bindosim.Fault{Op: bindosim.OpSale, Kind: bindosim.FaultHTTP401})
	note(e.client.Sale(ctx, saleReq("NC7", 1000, otherCard(ModeSwipe))))
	e.sim.InjectFault(bindosim.Fault{Op: bindosim.OpSale, Kind: bindosim.FaultHTTP500})
	note(e.client.Sale(ctx, saleReq("NC8", 1000, visaCard(ModeContactless))))
	e.clock.Advance(3 * time.Second)
	note(e.client.Query(ctx, DeriveUUID("NC1"), ""))
	note(e.client.Query(ctx, DeriveUUID("NC2"), ""))

	if len(errs) < 6 {
		t.Fatalf("only %d errors collected; the test did not exercise the error paths", len(errs)/2)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, visaMask) || !strings.Contains(logs, `"op":"sale"`) {
		t.Fatalf("client logs lack the masked PAN or the sale records:\n%s", logs)
	}
	assertNoSecrets(t, "client log", logs)
	assertNoSecrets(t, "emulator log", e.simLogs.String())
	for _, s := range errs {
		assertNoSecrets(t, "error", s)
	}
	rec, err := json.Marshal(e.sim.Requests("", ""))
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, "emulator request log", string(rec))
	view, _ := json.Marshal(e.sim.Transactions())
	assertNoSecrets(t, "emulator transactions", string(view))
	if !strings.Contains(string(rec), visaMask) {
		t.Fatalf("request log lacks the masked PAN")
	}
}
