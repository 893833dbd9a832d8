package qrwalletsim

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
)

// routes wires the API and the admin API. The admin API has no
// authentication: the emulator is a loopback tool.
func (s *Sim) routes() *http.ServeMux {
	m := http.NewServeMux()
	p := s.cfg.Paths
	m.HandleFunc("POST "+p.Token, s.api(EndpointToken, s.tokenLocked))
	m.HandleFunc("POST "+p.NativePay, s.api(EndpointNativePay, s.nativePayLocked))
	m.HandleFunc("POST "+p.QuickPay, s.api(EndpointQuickPay, s.quickPayLocked))
	m.HandleFunc("POST "+p.JSAPIPay, s.api(EndpointJSAPIPay, s.jsapiPayLocked))
	m.HandleFunc("POST "+p.Refund, s.api(EndpointRefund, s.refundLocked))
	m.HandleFunc("POST "+p.PaymentStatus, s.api(EndpointPaymentStatus, s.paymentStatusLocked))
	m.HandleFunc("POST "+p.RefundStatus, s.api(EndpointRefundStatus, s.refundStatusLocked))

	m.HandleFunc("GET /sim/{$}", s.adminIndex)
	m.HandleFunc("GET /sim/requests", s.adminRequests)
	m.HandleFunc("GET /sim/payments", s.adminPayments)
	m.HandleFunc("GET /sim/payments/{no}", s.adminPayment)
	m.HandleFunc("POST /sim/payments/{no}/scan", s.adminScan)
	m.HandleFunc("POST /sim/payments/{no}/pay-late", s.adminScan)
	m.HandleFunc("POST /sim/payments/{no}/pin", s.adminScan)
	m.HandleFunc("POST /sim/payments/{no}/script", s.adminScript)
	m.HandleFunc("POST /sim/faults", s.adminFault)
	m.HandleFunc("DELETE /sim/faults", s.adminClearFaults)
	m.HandleFunc("POST /sim/tokens/expire", s.adminExpireTokens)
	m.HandleFunc("GET /sim/mode", s.adminMode)
	m.HandleFunc("POST /sim/mode", s.adminSetMode)
	return m
}

// AdminEndpoints is the index served at GET /sim/.
var AdminEndpoints = []string{
	"GET    /sim/requests[?endpoint=&out_trade_no=]",
	"GET    /sim/payments",
	"GET    /sim/payments/{out_trade_no}",
	"POST   /sim/payments/{out_trade_no}/scan   (the customer scans the native QR code and pays)",
	"POST   /sim/payments/{out_trade_no}/pay-late   (the customer pays the code after its lifetime: the spec sets none)",
	"POST   /sim/payments/{out_trade_no}/pin   (the payer enters the PIN of a quick pay waiting for it, now)",
	`POST   /sim/payments/{out_trade_no}/script {"outcome":"paid|declined|pin|pin_abandoned","pin_delay_ms":0}`,
	`POST   /sim/faults {"endpoint":"","kind":"http500|http500_after_process|http429|drop|drop_after_process|slow|auth_refused|forged|malformed|conflicting_keys","count":1,"delay_ms":0}`,
	"DELETE /sim/faults",
	"POST   /sim/tokens/expire",
	"GET    /sim/mode",
	`POST   /sim/mode {"amount_style":"number|string","error_shape":"top|data","error_status":200|400,"sparse":false,"plain_slashes":false,"single_keys":false,"pending_code":"USERPAYING","pending_as_refusal":false,"not_found_message":"Transaction not found"}`,
}

func writeAdmin(w http.ResponseWriter, status int, v any) {
	simkit.WriteJSON(w, status, v, json.Marshal)
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeAdmin(w, status, map[string]string{"error": msg})
}

func (s *Sim) adminIndex(w http.ResponseWriter, _ *http.Request) {
	writeAdmin(w, http.StatusOK, map[string]any{"emulator": "QR wallet pay API", "paths": s.cfg.Paths, "endpoints": AdminEndpoints})
}

func (s *Sim) adminRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	list := s.Requests(q.Get("endpoint"), q.Get("out_trade_no"))
	if list == nil {
		list = []Request{}
	}
	writeAdmin(w, http.StatusOK, list)
}

func (s *Sim) adminPayments(w http.ResponseWriter, _ *http.Request) {
	writeAdmin(w, http.StatusOK, s.Payments())
}

func (s *Sim) adminPayment(w http.ResponseWriter, r *http.Request) {
	v, ok := s.Payment(r.PathValue("no"))
	if !ok {
		adminError(w, http.StatusNotFound, "payment not found")
		return
	}
	writeAdmin(w, http.StatusOK, v)
}

// adminScan is the customer paying: scanning the native code (scan,
// pay-late) or entering the PIN of a quick pay (pin).
func (s *Sim) adminScan(w http.ResponseWriter, r *http.Request) {
	var v PaymentView
	var err error
	if strings.HasSuffix(r.URL.Path, "/pin") {
		v, err = s.EnterPIN(r.PathValue("no"))
	} else {
		v, err = s.scan(r.PathValue("no"), strings.HasSuffix(r.URL.Path, "/pay-late"))
	}
	switch {
	case errors.Is(err, ErrUnknownPayment):
		adminError(w, http.StatusNotFound, err.Error())
	case err != nil:
		adminError(w, http.StatusConflict, err.Error())
	default:
		writeAdmin(w, http.StatusOK, v)
	}
}

func (s *Sim) adminScript(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Outcome    string `json:"outcome"`
		PINDelayMS int64  `json:"pin_delay_ms"`
	}
	if err := simkit.DecodeAdmin(r, &body); err != nil {
		adminError(w, http.StatusBadRequest, "bad body: "+err.Error())
		return
	}
	sc := Script{Outcome: body.Outcome, PINDelay: time.Duration(body.PINDelayMS) * time.Millisecond}
	if err := s.ScriptPayment(r.PathValue("no"), sc); err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeAdmin(w, http.StatusOK, map[string]string{"out_trade_no": r.PathValue("no"), "outcome": sc.Outcome})
}

func (s *Sim) adminFault(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Fault
		DelayMS int64 `json:"delay_ms"`
	}
	if err := simkit.DecodeAdmin(r, &body); err != nil {
		adminError(w, http.StatusBadRequest, "bad body: "+err.Error())
		return
	}
	f := body.Fault
	f.Delay = time.Duration(body.DelayMS) * time.Millisecond
	if err := s.InjectFault(f); err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeAdmin(w, http.StatusOK, map[string]any{"queued": f})
}

func (s *Sim) adminClearFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearFaults()
	writeAdmin(w, http.StatusOK, map[string]string{"faults": "cleared"})
}

func (s *Sim) adminExpireTokens(w http.ResponseWriter, _ *http.Request) {
	s.ExpireTokens()
	writeAdmin(w, http.StatusOK, map[string]string{"tokens": "expired"})
}

func (s *Sim) adminMode(w http.ResponseWriter, _ *http.Request) {
	writeAdmin(w, http.StatusOK, s.Mode())
}

func (s *Sim) adminSetMode(w http.ResponseWriter, r *http.Request) {
	var m Mode
	if err := simkit.DecodeAdmin(r, &m); err != nil {
		adminError(w, http.StatusBadRequest, "bad body: "+err.Error())
		return
	}
	m, err := s.SetMode(m)
	if err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeAdmin(w, http.StatusOK, m)
}
