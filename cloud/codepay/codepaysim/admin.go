package codepaysim

import (
	"net/http"
	"strings"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/internal/simkit"
)

// routes wires /api/entry and the admin API. The admin API has no
// authentication: the emulator is a loopback tool.
func (s *Sim) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /api/entry", s.handleEntry)
	m.HandleFunc("GET /sim/{$}", s.adminIndex)
	m.HandleFunc("GET /sim/requests", s.adminRequests)
	m.HandleFunc("GET /sim/orders", s.adminOrders)
	m.HandleFunc("GET /sim/orders/{no}", s.adminOrder)
	m.HandleFunc("POST /sim/orders/{no}/outcome", s.adminOutcome)
	m.HandleFunc("GET /sim/terminals", s.adminTerminals)
	m.HandleFunc("POST /sim/terminals/{sn}", s.adminSetTerminal)
	m.HandleFunc("POST /sim/faults", s.adminFault)
	m.HandleFunc("DELETE /sim/faults", s.adminClearFaults)
	m.HandleFunc("GET /sim/batches/{sn}", s.adminBatch)
	m.HandleFunc("POST /sim/checkout/{no}", s.adminCheckout)
	m.HandleFunc("GET "+checkoutPagePath+"{token}", s.checkoutPage)
	m.HandleFunc("GET /sim/mode", s.adminMode)
	m.HandleFunc("POST /sim/mode", s.adminSetMode)
	return m
}

// writeAdminJSON answers with compact JSON without HTML escaping.
func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	simkit.WriteJSON(w, status, v, marshalNoEscape)
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeAdminJSON(w, status, map[string]string{"error": msg})
}

// adminEndpoints is the index served at GET /sim/.
var adminEndpoints = []string{
	"GET  /sim/requests[?method=&merchant_order_no=]",
	"GET  /sim/orders",
	"GET  /sim/orders/{merchant_order_no}",
	"POST /sim/orders/{merchant_order_no}/outcome {\"status\":2|1|3,\"error_code\":\"\",\"error_msg\":\"\"}",
	"GET  /sim/terminals",
	"POST /sim/terminals/{sn} {\"online\":true|false}",
	"POST /sim/faults {\"method\":\"\",\"kind\":\"http500|slow|drop_after_process|bad_signature|unsigned|data_as_string\",\"count\":1,\"delay_ms\":0}",
	"DELETE /sim/faults",
	"GET  /sim/batches/{sn}",
	"POST /sim/checkout/{merchant_order_no} {\"action\":\"pay|decline|abandon|expire\",\"error_code\":\"\",\"error_msg\":\"\"}",
	"GET  /sim/mode",
	"POST /sim/mode {\"batch_shape\":\"totals|sdk|empty\",\"amount_style\":\"string|number\"}",
}

// GET /sim/
func (s *Sim) adminIndex(w http.ResponseWriter, _ *http.Request) {
	writeAdminJSON(w, http.StatusOK, map[string]any{"emulator": "CodePay Cloud Open API", "endpoints": adminEndpoints})
}

// GET /sim/requests[?method=&merchant_order_no=]
func (s *Sim) adminRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	list := s.Requests(q.Get("method"), q.Get("merchant_order_no"))
	if list == nil {
		list = []Request{}
	}
	writeAdminJSON(w, http.StatusOK, list)
}

// GET /sim/orders: every order (payments and refunds), oldest first.
func (s *Sim) adminOrders(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.advanceLocked(s.clock.Now())
	list := make([]OrderView, 0, len(s.orderList))
	for _, o := range s.orderList {
		list = append(list, s.viewLocked(o))
	}
	s.mu.Unlock()
	writeAdminJSON(w, http.StatusOK, list)
}

// GET /sim/orders/{no}
func (s *Sim) adminOrder(w http.ResponseWriter, r *http.Request) {
	v, ok := s.Order(r.PathValue("no"))
	if !ok {
		adminError(w, http.StatusNotFound, "order not found")
		return
	}
	writeAdminJSON(w, http.StatusOK, v)
}

// POST /sim/orders/{no}/outcome {"status":2|1|3,"error_code","error_msg","pay_scenario"}
// status scripts how the terminal finishes the order; pay_scenario (for an
// order not created yet) makes it a wallet/QR payment. At least one is needed.
func (s *Sim) adminOutcome(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Status      *int   `json:"status"`
		ErrorCode   string `json:"error_code"`
		ErrorMsg    string `json:"error_msg"`
		PayScenario string `json:"pay_scenario"`
	}
	if err := simkit.DecodeAdmin(r, &body); err != nil {
		adminError(w, http.StatusBadRequest, "bad body: "+err.Error())
		return
	}
	if body.Status == nil && body.PayScenario == "" {
		adminError(w, http.StatusBadRequest, "status (2 approved, 1 declined, 3 cancelled) or pay_scenario is required")
		return
	}
	var o Outcome
	if body.Status != nil {
		o = Outcome{Status: codepay.TransStatus(*body.Status), ErrorCode: body.ErrorCode, ErrorMsg: body.ErrorMsg}
		if !o.valid() {
			adminError(w, http.StatusBadRequest, "status must be 2 (approved), 1 (declined) or 3 (cancelled)")
			return
		}
	}
	sc := codepay.PayScenario(body.PayScenario)
	if sc != "" && !sc.Valid() {
		adminError(w, http.StatusBadRequest, "pay_scenario must be SWIPE_CARD, BSCANQR_PAY or SCANQR_PAY")
		return
	}
	no := r.PathValue("no")
	v, exists := s.Order(no)
	if body.Status != nil && exists && v.Status.Final() {
		adminError(w, http.StatusConflict, "order is already final")
		return
	}
	if sc != "" && exists {
		adminError(w, http.StatusConflict, "pay_scenario must be scripted before the order is created")
		return
	}
	if body.Status != nil {
		s.ScriptOutcome(no, o)
	}
	if sc != "" {
		s.ScriptPayScenario(no, sc)
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"merchant_order_no": no, "status": body.Status, "pay_scenario": body.PayScenario})
}

// GET /sim/terminals
func (s *Sim) adminTerminals(w http.ResponseWriter, _ *http.Request) {
	type term struct {
		SN     string `json:"sn"`
		Online bool   `json:"online"`
	}
	out := []term{}
	for _, t := range s.Terminals() {
		out = append(out, term(t))
	}
	writeAdminJSON(w, http.StatusOK, out)
}

// POST /sim/terminals/{sn} {"online":true|false}
func (s *Sim) adminSetTerminal(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Online *bool `json:"online"`
	}
	if err := simkit.DecodeAdmin(r, &body); err != nil || body.Online == nil {
		adminError(w, http.StatusBadRequest, `body must be {"online":true|false}`)
		return
	}
	sn := r.PathValue("sn")
	if err := s.SetOnline(sn, *body.Online); err != nil {
		adminError(w, http.StatusNotFound, err.Error())
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"sn": sn, "online": *body.Online})
}

// POST /sim/faults {"method","kind","count","delay_ms"}
func (s *Sim) adminFault(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Method string `json:"method"`
		simkit.FaultBody[FaultKind]
	}
	if err := simkit.DecodeAdmin(r, &body); err != nil {
		adminError(w, http.StatusBadRequest, "bad body: "+err.Error())
		return
	}
	if !body.Kind.valid() {
		kinds := make([]string, 0, len(FaultKinds()))
		for _, k := range FaultKinds() {
			kinds = append(kinds, string(k))
		}
		adminError(w, http.StatusBadRequest, "kind must be one of "+strings.Join(kinds, ", "))
		return
	}
	if body.Count < 0 || body.DelayMS < 0 {
		adminError(w, http.StatusBadRequest, "count and delay_ms must not be negative")
		return
	}
	f := Fault{Method: body.Method, Kind: body.Kind, Count: body.Count, Delay: body.Delay()}
	s.InjectFault(f)
	writeAdminJSON(w, http.StatusOK, body)
}

// DELETE /sim/faults
func (s *Sim) adminClearFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearFaults()
	writeAdminJSON(w, http.StatusOK, map[string]string{"faults": "cleared"})
}

// GET /sim/batches/{sn}
func (s *Sim) adminBatch(w http.ResponseWriter, r *http.Request) {
	rep, err := s.Batch(r.PathValue("sn"))
	if err != nil {
		adminError(w, http.StatusNotFound, err.Error())
		return
	}
	if rep.Closed == nil {
		rep.Closed = []BatchSummary{}
	}
	if rep.OpenOrders == nil {
		rep.OpenOrders = []string{}
	}
	writeAdminJSON(w, http.StatusOK, rep)
}

// GET /sim/mode
func (s *Sim) adminMode(w http.ResponseWriter, _ *http.Request) {
	writeAdminJSON(w, http.StatusOK, s.Mode())
}

// POST /sim/mode {"batch_shape":"totals|sdk|empty","amount_style":"string|number"}:
// an absent or empty member keeps its value; answers the mode now in force.
func (s *Sim) adminSetMode(w http.ResponseWriter, r *http.Request) {
	var body Mode
	if err := simkit.DecodeAdmin(r, &body); err != nil {
		adminError(w, http.StatusBadRequest, "bad body: "+err.Error())
		return
	}
	m, err := s.SetMode(body)
	if err != nil {
		adminError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), ErrInvalidConfig.Error()+": "))
		return
	}
	writeAdminJSON(w, http.StatusOK, m)
}
