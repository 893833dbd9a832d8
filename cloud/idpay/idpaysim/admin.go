package idpaysim

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
)

// routes wires the gateway endpoints and the admin API (no authentication:
// a loopback tool).
func (s *Sim) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST "+CreatePath, s.handleGateway(opCreate))
	m.HandleFunc("POST "+QueryPath, s.handleGateway(opQuery))
	m.HandleFunc("GET /sim/{$}", s.adminIndex)
	m.HandleFunc("GET /sim/requests", s.adminRequests)
	m.HandleFunc("GET /sim/orders", s.adminOrders)
	m.HandleFunc("GET /sim/orders/{no}", s.adminOrder)
	m.HandleFunc("POST /sim/orders/{no}/pay", s.adminAction(s.Pay))
	m.HandleFunc("POST /sim/orders/{no}/expire", s.adminAction(s.Expire))
	m.HandleFunc("POST /sim/orders/{no}/cancel", s.adminAction(s.Cancel))
	m.HandleFunc("POST /sim/orders/{no}/callback", s.adminRepeatCallback)
	m.HandleFunc("POST /sim/orders/{no}/script", s.adminScript)
	m.HandleFunc("POST /sim/faults", s.adminFault)
	m.HandleFunc("DELETE /sim/faults", s.adminClearFaults)
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	simkit.WriteJSON(w, status, v, json.Marshal)
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// adminEndpoints is the index served at GET /sim/.
var adminEndpoints = []string{
	"POST " + CreatePath + " (gateway: create a payment order)",
	"POST " + QueryPath + " (gateway: query an order)",
	"GET  /sim/requests[?op=create|query&order_no=]",
	"GET  /sim/orders",
	"GET  /sim/orders/{order_no}",
	"POST /sim/orders/{order_no}/pay      (the customer pays: VA transfer, QRIS scan, Alfamart counter, wallet confirm)",
	"POST /sim/orders/{order_no}/expire   (its payable time ends now; the status stays NO_PAY/OPEN_PAY_URL)",
	"POST /sim/orders/{order_no}/cancel   (PAY_CANCEL; a paid order counts as refunded, spec line 68)",
	"POST /sim/orders/{order_no}/callback (send the paid order's callback once more, spec line 116)",
	`POST /sim/orders/{order_no}/script {"op":"create","resp_code":"UNKNOWN|FAIL","process":true,"error_code":"","message":""}`,
	`POST /sim/orders/{order_no}/script {"op":"query","resp_code":"UNKNOWN","status":"","count":1}`,
	`POST /sim/faults {"op":"create|query|","kind":"http500|http500_after_process|http429|drop|drop_after_process|slow|bad_signature|unsigned","count":1,"delay_ms":0}`,
	"DELETE /sim/faults",
}

// GET /sim/
func (s *Sim) adminIndex(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"emulator": "Indonesian VA/QRIS gateway (id-va-qris-gateway)", "endpoints": adminEndpoints})
}

// GET /sim/requests
func (s *Sim) adminRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	list := s.Requests(q.Get("op"), q.Get("order_no"))
	if list == nil {
		list = []Request{}
	}
	writeJSON(w, http.StatusOK, list)
}

// GET /sim/orders
func (s *Sim) adminOrders(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Orders())
}

// GET /sim/orders/{no}
func (s *Sim) adminOrder(w http.ResponseWriter, r *http.Request) {
	v, ok := s.Order(r.PathValue("no"))
	if !ok {
		adminError(w, http.StatusNotFound, "order not found")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// adminAction serves pay, expire and cancel.
func (s *Sim) adminAction(act func(string) (OrderView, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := act(r.PathValue("no"))
		switch {
		case errors.Is(err, ErrUnknownOrder):
			adminError(w, http.StatusNotFound, err.Error())
		case err != nil:
			adminError(w, http.StatusConflict, err.Error())
		default:
			writeJSON(w, http.StatusOK, v)
		}
	}
}

// POST /sim/orders/{no}/callback
func (s *Sim) adminRepeatCallback(w http.ResponseWriter, r *http.Request) {
	no := r.PathValue("no")
	err := s.RepeatCallback(no)
	switch {
	case errors.Is(err, ErrUnknownOrder):
		adminError(w, http.StatusNotFound, err.Error())
	case err != nil:
		adminError(w, http.StatusConflict, err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]string{"order_no": no, "callback": "queued"})
	}
}

// POST /sim/orders/{no}/script
func (s *Sim) adminScript(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Op        string `json:"op"`
		RespCode  string `json:"resp_code"`
		Process   bool   `json:"process"`
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
		Status    string `json:"status"`
		Count     int    `json:"count"`
	}
	if err := simkit.DecodeAdmin(r, &body); err != nil {
		adminError(w, http.StatusBadRequest, "bad body: "+err.Error())
		return
	}
	no := r.PathValue("no")
	var err error
	switch body.Op {
	case opCreate:
		err = s.ScriptCreate(no, CreateScript{RespCode: body.RespCode, Process: body.Process, ErrorCode: body.ErrorCode, Message: body.Message})
	case opQuery:
		err = s.ScriptQuery(no, QueryScript{RespCode: body.RespCode, Status: body.Status, Count: body.Count})
	default:
		adminError(w, http.StatusBadRequest, `op must be "create" or "query"`)
		return
	}
	if err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// POST /sim/faults
func (s *Sim) adminFault(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Op      string    `json:"op"`
		Kind    FaultKind `json:"kind"`
		Count   int       `json:"count"`
		DelayMS int64     `json:"delay_ms"`
	}
	if err := simkit.DecodeAdmin(r, &body); err != nil {
		adminError(w, http.StatusBadRequest, "bad body: "+err.Error())
		return
	}
	if body.Count < 0 || body.DelayMS < 0 {
		adminError(w, http.StatusBadRequest, "count and delay_ms must not be negative")
		return
	}
	if body.Op != "" && body.Op != opCreate && body.Op != opQuery {
		adminError(w, http.StatusBadRequest, `op must be "create", "query" or empty`)
		return
	}
	f := Fault{Op: body.Op, Kind: body.Kind, Count: body.Count, Delay: time.Duration(body.DelayMS) * time.Millisecond}
	if err := s.InjectFault(f); err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// DELETE /sim/faults
func (s *Sim) adminClearFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearFaults()
	writeJSON(w, http.StatusOK, map[string]string{"faults": "cleared"})
}
