package bindosim

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
)

// maxBody bounds a request body.
const maxBody = 64 << 10

// Native-payment headers the spec requires for card-present sales.
var nativeHeaders = []string{"X-USER-APP-TYPE", "X-USER-APP-VERSION", "X-USER-DEVICE-TYPE", "X-USER-DEVICE-ID"}

// routes wires the login endpoint, the gateway endpoints and /sim/.
func (s *Sim) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /api/v2/login", s.endpoint(OpLogin, false, s.loginLocked))
	const base = "/gateway/v3/stores/{store}"
	m.HandleFunc("POST "+base+"/payment/transactions", s.endpoint(OpSale, true, s.saleLocked))
	m.HandleFunc("GET "+base+"/query/transactions/{id}", s.endpoint(OpQuery, true, s.queryLocked))
	m.HandleFunc("POST "+base+"/payment/void", s.endpoint(OpVoid, true, s.voidLocked))
	m.HandleFunc("POST "+base+"/payment/refund", s.endpoint(OpRefund, true, s.refundLocked))
	m.HandleFunc("POST "+base+"/payment/tips", s.endpoint(OpTips, true, s.tipsLocked))
	m.HandleFunc("POST "+base+"/payment/precreate", s.endpoint(OpPreCreate, true, s.preCreateLocked))
	m.HandleFunc("GET "+linkPath, s.endpoint(OpLinkPage, false, s.linkPageLocked))
	s.adminRoutes(m)
	return m
}

// reply is an HTTP status and a JSON body; code is the error_code, if any.
type reply struct {
	status int
	code   string
	body   any
}

// refusal answers with {"transaction": {"uuid"?, "transaction_state":
// "failed", "error_code", "error_desc"}}.
func refusal(status int, code, uuid, format string, args ...any) reply {
	desc := codeText(code)
	if format != "" {
		desc += ": " + fmt.Sprintf(format, args...)
	}
	t := map[string]any{"transaction_state": stateFailed, "error_code": code, "error_desc": desc}
	if uuid != "" {
		t["uuid"] = uuid
	}
	return reply{status: status, code: code, body: map[string]any{"transaction": t}}
}

func paramError(uuid, format string, args ...any) reply {
	return refusal(http.StatusBadRequest, CodeParameters, uuid, format, args...)
}

func unauthorized() reply {
	return reply{status: http.StatusUnauthorized, body: map[string]any{"message": "Unauthorized: invalid or missing X-USER-ACCESS-TOKEN"}}
}

type opFunc func(r *http.Request, body []byte, now time.Time) reply

// endpoint wraps an operation: it reads the body, records the request
// (redacted), applies faults, checks the token and the store, runs fn under
// the lock and writes the answer.
func (s *Sim) endpoint(op string, auth bool, fn opFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		defer clear(body) // may hold card data

		s.mu.Lock()
		now := s.clock.Now()
		s.advanceLocked(now)
		fault := s.faults.Take(op)
		rec := &Request{Time: now, Op: op, Path: r.URL.Path, Fault: fault.Kind, DeviceID: r.Header.Get("X-USER-DEVICE-ID")}
		rec.Body, rec.UUID, rec.OrigBRN = summarise(body)
		if op == OpQuery {
			rec.UUID = r.PathValue("id")
		}
		s.requests.Add(rec)
		if fault.Kind == FaultHTTP500 {
			rec.HTTPStatus = http.StatusInternalServerError
			s.mu.Unlock()
			s.log.Info("bindosim: injected HTTP 500", "op", op, "uuid", rec.UUID)
			http.Error(w, "internal server error (injected fault)", http.StatusInternalServerError)
			return
		}
		if fault.Kind == FaultProcessLate {
			rec.HTTPStatus = http.StatusBadGateway
			s.mu.Unlock()
			s.processLate(op, fn, r, bytes.Clone(body), fault.Delay)
			http.Error(w, "bad gateway (injected fault: the request reaches the gateway later)", http.StatusBadGateway)
			return
		}
		var rep reply
		switch {
		case fault.Kind == FaultHTTP401:
			rep = unauthorized()
		case auth && !s.authorizedLocked(r):
			rep = unauthorized()
		case auth && r.PathValue("store") != s.cfg.StoreID:
			rep = refusal(http.StatusNotFound, CodeParameters, "", "unknown store_id")
		case readErr != nil:
			rep = paramError("", "request body unreadable or larger than %d bytes", maxBody)
		default:
			rep = fn(r, body, now)
		}
		rec.HTTPStatus, rec.ErrorCode = rep.status, rep.code
		s.mu.Unlock()

		s.log.Info("bindosim: request", "op", op, "uuid", rec.UUID, "http_status", rep.status, "error_code", rep.code, "fault", string(fault.Kind))
		out, err := json.Marshal(rep.body)
		if simkit.EncodeFailed(w, s.log, "bindosim", err) ||
			!simkit.Misbehave(w, r, fault.Kind == FaultSlow, fault.Kind == FaultDropAfterProcess, fault.Delay) {
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(rep.status)
		_, _ = w.Write(out)
	}
}

// processLate runs a held request after delay, or when ReleaseHeld is
// called, as it arrives at the gateway (FaultProcessLate). The token was
// checked when it was sent.
func (s *Sim) processLate(op string, fn opFunc, r *http.Request, body []byte, delay time.Duration) {
	s.held.Add(delay, func() {
		defer clear(body) // may hold card data
		s.mu.Lock()
		now := s.clock.Now()
		s.advanceLocked(now)
		rep := fn(r, body, now)
		s.mu.Unlock()
		s.log.Info("bindosim: held request processed late", "op", op, "http_status", rep.status, "error_code", rep.code)
	})
}

// ReleaseHeld processes now every request a process_late fault still
// holds, as if each had just arrived; it returns how many.
func (s *Sim) ReleaseHeld() int { return s.held.Release() }

func (s *Sim) authorizedLocked(r *http.Request) bool {
	got := r.Header.Get("X-USER-ACCESS-TOKEN")
	return s.token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
}

// decodeStrict parses a JSON object body into v; wrong JSON types are
// parameter errors naming the field (never quoting the value).
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("field %s must be a JSON %s", te.Field, jsonTypeFor(te))
		}
		return errors.New("body is not a JSON object")
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

func jsonTypeFor(te *json.UnmarshalTypeError) string {
	if te.Type == nil {
		return "value of another type"
	}
	switch te.Type.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Struct, reflect.Pointer, reflect.Map:
		return "object"
	}
	return "string"
}

type loginBody struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	GrantType    string `json:"grant_type"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// loginLocked is POST /api/v2/login. A successful login issues a new token
// and invalidates the previous one.
func (s *Sim) loginLocked(_ *http.Request, body []byte, _ time.Time) reply {
	var lb loginBody
	if err := decodeStrict(body, &lb); err != nil {
		return reply{status: http.StatusBadRequest, body: map[string]any{"message": "invalid login request: " + err.Error()}}
	}
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	switch {
	case lb.GrantType != "password":
		return reply{status: http.StatusBadRequest, body: map[string]any{"message": `grant_type must be "password"`}}
	case !eq(lb.ClientID, s.cfg.ClientID) || !eq(lb.ClientSecret, s.cfg.ClientSecret):
		return reply{status: http.StatusUnauthorized, body: map[string]any{"message": "invalid client_id or client_secret"}}
	case !eq(lb.Username, s.cfg.Username) || !eq(lb.Password, s.cfg.Password):
		return reply{status: http.StatusUnauthorized, body: map[string]any{"message": "invalid username or password"}}
	}
	s.token = strings.ToLower(rand.Text())
	s.logins++
	s.log.Info("bindosim: login; previous token invalidated", "logins", s.logins)
	return reply{status: http.StatusOK, body: map[string]any{"user": map[string]any{
		"belongs_to_courier": false, "is_staff": true, "belongs_to_internal": false, "first_login": false,
		"access_token": s.token, "is_inventory_manager": false, "is_admin": true,
		"full_name": "Emulator User", "phone": "", "name": "emulator", "id": 23266,
		"email": s.cfg.Username, "belongs_to_reseller": false,
	}}}
}

// queryLocked is GET .../query/transactions/{id}: by uuid or brn.
func (s *Sim) queryLocked(r *http.Request, _ []byte, _ time.Time) reply {
	id := r.PathValue("id")
	t := s.findLocked(id)
	if t == nil {
		return refusal(http.StatusNotFound, CodeNoRecord, "", "")
	}
	return reply{status: http.StatusOK, body: map[string]any{"transaction": s.wireLocked(t, true)}}
}
