package bindosim

import (
	"encoding/json"
	"net/http"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
)

// adminEndpoints is the index served at GET /sim/.
var adminEndpoints = []string{
	"GET  /sim/requests[?op=&uuid=]",
	"GET  /sim/transactions",
	"GET  /sim/transactions/{uuid_or_brn}",
	"POST /sim/transactions/{uuid}/outcome {\"state\":\"success|failed\",\"error_code\":\"\",\"error_desc\":\"\"}",
	"POST /sim/faults {\"op\":\"login|sale|precreate|query|void|refund|tips|\",\"kind\":\"http500|slow|drop_after_process|http401|process_late\",\"count\":1,\"delay_ms\":0}",
	"POST /sim/links/{uuid} {\"action\":\"pay|decline|abandon|expire\",\"error_code\":\"\"}",
	"POST /sim/settle",
	"GET  /sim/test-cards",
}

// adminRoutes wires /sim/. It has no authentication: loopback tool only.
func (s *Sim) adminRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /sim/{$}", func(w http.ResponseWriter, _ *http.Request) {
		writeAdminJSON(w, http.StatusOK, map[string]any{"emulator": "Bindo V3 gateway", "endpoints": adminEndpoints})
	})
	m.HandleFunc("GET /sim/requests", func(w http.ResponseWriter, r *http.Request) {
		list := s.Requests(r.URL.Query().Get("op"), r.URL.Query().Get("uuid"))
		if list == nil {
			list = []Request{}
		}
		writeAdminJSON(w, http.StatusOK, list)
	})
	m.HandleFunc("GET /sim/transactions", func(w http.ResponseWriter, _ *http.Request) {
		writeAdminJSON(w, http.StatusOK, s.Transactions())
	})
	m.HandleFunc("GET /sim/transactions/{id}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.Transaction(r.PathValue("id"))
		if !ok {
			writeAdminJSON(w, http.StatusNotFound, map[string]string{"error": "no such transaction"})
			return
		}
		writeAdminJSON(w, http.StatusOK, v)
	})
	m.HandleFunc("POST /sim/transactions/{id}/outcome", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			State     string `json:"state"`
			ErrorCode string `json:"error_code"`
			ErrorDesc string `json:"error_desc"`
		}
		if err := simkit.DecodeAdmin(r, &body); err != nil {
			writeAdminJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if body.State != stateSuccess && body.State != stateFailed {
			writeAdminJSON(w, http.StatusBadRequest, map[string]string{"error": `state must be "success" or "failed"`})
			return
		}
		s.ScriptOutcome(r.PathValue("id"), Outcome{State: body.State, ErrorCode: body.ErrorCode, ErrorDesc: body.ErrorDesc})
		writeAdminJSON(w, http.StatusOK, map[string]string{"scripted": r.PathValue("id")})
	})
	m.HandleFunc("POST /sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Op string `json:"op"`
			simkit.FaultBody[FaultKind]
		}
		if err := simkit.DecodeAdmin(r, &body); err != nil {
			writeAdminJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		f := Fault{Op: body.Op, Kind: body.Kind, Count: body.Count, Delay: body.Delay()}
		valid := false
		for _, k := range FaultKinds() {
			valid = valid || k == f.Kind
		}
		if !valid {
			writeAdminJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown fault kind"})
			return
		}
		s.InjectFault(f)
		writeAdminJSON(w, http.StatusOK, map[string]any{"injected": f.Kind})
	})
	m.HandleFunc("POST /sim/links/{id}", s.adminLink)
	m.HandleFunc("POST /sim/settle", func(w http.ResponseWriter, _ *http.Request) {
		writeAdminJSON(w, http.StatusOK, map[string]int{"settled": s.Settle()})
	})
	m.HandleFunc("GET /sim/test-cards", func(w http.ResponseWriter, _ *http.Request) {
		writeAdminJSON(w, http.StatusOK, TestCards())
	})
}

// writeAdminJSON answers with indented JSON.
func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	simkit.WriteJSON(w, status, v, func(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") })
}
